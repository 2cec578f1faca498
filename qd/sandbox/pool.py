"""SandboxPool: run many sandboxed programs in parallel from a fixed number of threads."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from qd.sandbox.limits import SandboxLimits
from qd.sandbox.result import SandboxResult
from qd.sandbox.runner import run_sandboxed


@dataclass(frozen=True)
class SandboxJob:
    """One program to run: the arguments of `run_sandboxed`.

    Attributes:
        argv: Program and arguments.
        files: Files to create in the temp dir first.
        limits: Limits (None: defaults).
        result_file: Result file name, or None when no result is expected.
    """

    argv: Sequence[str]
    files: Mapping[str, bytes | str] = field(default_factory=dict)
    limits: SandboxLimits | None = None
    result_file: str | None = "result.json"


class SandboxPool:
    """A thread pool whose workers each run one sandbox at a time.

    A sandbox costs its worker one thread that mostly sleeps in `select`, so the pool size is
    how many programs run at once. Timeouts are wall-clock: keep `max_workers` at or below the
    cores the programs may use, or slow neighbours will push candidates into timeouts.

    Args:
        max_workers: Programs run at once (default: CPUs available to this process).

    Example:
        >>> with SandboxPool(4) as pool:                              # doctest: +SKIP
        ...     results = pool.map([SandboxJob(["python3", "eval.py"], files) for files in batch])
    """

    def __init__(self, max_workers: int | None = None) -> None:
        workers = max_workers or len(os.sched_getaffinity(0)) or 1
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="qd-sandbox")

    def submit(self, job: SandboxJob) -> Future[SandboxResult]:
        """Start `job` when a worker is free; the future never fails for program errors."""
        return self._executor.submit(
            run_sandboxed, job.argv, job.files, job.limits, result_file=job.result_file
        )

    def map(self, jobs: Iterable[SandboxJob]) -> list[SandboxResult]:
        """Run all jobs, at most `max_workers` at once; results in the order of `jobs`."""
        futures = [self.submit(job) for job in jobs]
        return [future.result() for future in futures]

    def close(self) -> None:
        """Wait for running sandboxes (each ends by its timeout) and drop queued ones."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
