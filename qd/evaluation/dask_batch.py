"""Batched evaluation on a dask.distributed cluster: one task per chunk, results in order."""

from __future__ import annotations

import logging
import math
import time
import uuid
from typing import Any

import numpy as np

from qd.components import ComponentConfig
from qd.evaluation.dask_cluster import ClusterError, DaskCluster
from qd.protocols import Problem

log = logging.getLogger(__name__)

#: Worker-side cache: one built evaluator per (problem name, config JSON) and worker process.
_WORKER_EVALUATORS: dict[str, Any] = {}

#: Errors that mean "the worker or the connection went away", not "the problem failed".
LOST_WORKER_ERRORS = ("KilledWorker", "CommClosedError", "CancelledError", "FutureCancelledError")


def evaluate_chunk(name: str, config_json: str, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate one chunk on a worker with the problem built once per process, on CPU.

    Args:
        name: The problem's registry name.
        config_json: The problem's validated config as JSON (paths already absolute).
        chunk: Solutions of shape (b, D).

    Returns:
        objectives (b,) and measures (b, M), float64.
    """
    key = f"{name}\n{config_json}"
    evaluator = _WORKER_EVALUATORS.get(key)
    if evaluator is None:
        import torch

        from problems import problem_registry
        from qd.evaluation.batch import BatchEvaluator

        cls = problem_registry.get(name)
        config = cls.Config.model_validate_json(config_json)
        device = torch.device("cpu")
        evaluator = BatchEvaluator(cls(config, device), device, None)
        _WORKER_EVALUATORS[key] = evaluator
    return evaluator(chunk)  # type: ignore[no-any-return]


def is_lost_worker(error: BaseException) -> bool:
    """Whether an exception from a future means the task's worker or connection was lost."""
    return type(error).__name__ in LOST_WORKER_ERRORS or isinstance(error, ConnectionError)


class DaskBatchEvaluator:
    """Evaluate numpy batches on a dask cluster, bit-identical to `BatchEvaluator` on CPU.

    The batch is split into chunks (`chunk_size`, default batch / worker threads), one task per
    chunk; each worker builds the problem once from its registry name and config. At most
    `max_in_flight` chunks are submitted at a time. A chunk whose worker dies is resubmitted up
    to `retries` times, then the run stops with a `ClusterError`; if no chunk finishes within
    `timeout_s` the run stops as well, so it never hangs.

    Args:
        problem: The problem built locally (for its name and measure count).
        config: The problem's validated config (`config.name` is its registry name).
        cluster: `local:N`, `tcp://HOST:PORT`, or an existing `DaskCluster`.
        chunk_size: Solutions per task (None: batch / worker threads).
        max_in_flight: Chunks submitted at once (None: 2 × worker threads).
        retries: Resubmissions of a chunk whose worker was lost.
        timeout_s: Longest wait for the next chunk to finish.
    """

    def __init__(self, problem: Problem, config: ComponentConfig, cluster: str | DaskCluster,
                 chunk_size: int | None = None, *, max_in_flight: int | None = None,
                 retries: int = 3, timeout_s: float = 600.0) -> None:
        self.problem = problem
        self.problem_name = str(config.name)  # type: ignore[attr-defined]
        self.config_json = config.model_dump_json()
        self.cluster = cluster if isinstance(cluster, DaskCluster) else DaskCluster(cluster)
        self.chunk_size = chunk_size
        self.max_in_flight = max_in_flight
        self.retries = retries
        self.timeout_s = timeout_s
        self.name = type(problem).__name__
        self.resubmitted = 0

    def __call__(self, solutions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate solutions of shape (B, D) on the cluster.

        Returns:
            objectives (B,) and measures (B, M) as float64 numpy arrays, in input order.
        """
        batch = np.ascontiguousarray(solutions, dtype=np.float64)
        client = self.cluster.client
        workers = self.cluster.slots()
        size = self.chunk_size or max(1, math.ceil(batch.shape[0] / workers))
        chunks = [batch[i : i + size] for i in range(0, batch.shape[0], size)]
        results = self._run_chunks(client, chunks, self.max_in_flight or 2 * workers)
        obj = np.concatenate([r[0] for r in results])
        meas = np.concatenate([r[1] for r in results]).reshape(batch.shape[0], -1)
        m = self.problem.measure_dim
        if obj.shape != (batch.shape[0],) or meas.shape != (batch.shape[0], m):
            raise ClusterError(f"{self.name}: the cluster returned objectives {obj.shape} and "
                               f"measures {meas.shape}; expected ({batch.shape[0]},) and "
                               f"({batch.shape[0]}, {m})")
        return obj, meas

    def _submit(self, client: Any, chunk: np.ndarray, index: int, attempt: int) -> Any:
        key = f"qd-chunk-{index}-{attempt}-{uuid.uuid4().hex}"
        return client.submit(evaluate_chunk, self.problem_name, self.config_json, chunk,
                             key=key, pure=False)

    def _run_chunks(self, client: Any, chunks: list[np.ndarray], limit: int) -> list[Any]:
        from distributed import wait

        results: list[Any] = [None] * len(chunks)
        attempts = [0] * len(chunks)
        pending = list(range(len(chunks)))[::-1]  # popped from the end: submission order
        running: dict[Any, int] = {}
        try:
            while pending or running:
                while pending and len(running) < limit:
                    index = pending.pop()
                    running[self._submit(client, chunks[index], index, attempts[index])] = index
                started = time.monotonic()
                try:
                    done, _ = wait(list(running), timeout=self.timeout_s,
                                   return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = set()
                if not done:
                    raise ClusterError(
                        f"no evaluation finished on {self.cluster.address.text} within "
                        f"{time.monotonic() - started:.0f} s ({len(running)} chunk(s) waiting); "
                        "are the workers alive?"
                    )
                for future in done:
                    index = running.pop(future)
                    self._collect(future, index, attempts, pending, results)
        finally:
            for future in running:
                future.cancel()
        return results

    def _collect(self, future: Any, index: int, attempts: list[int], pending: list[int],
                 results: list[Any]) -> None:
        if future.status == "finished":
            results[index] = future.result()
            return
        try:
            error = future.exception()
        except BaseException as exc:  # noqa: BLE001 - a cancelled future raises its reason
            error = exc
        if error is None or not is_lost_worker(error):
            future.result()  # re-raises the problem's own error (not retried: deterministic)
            raise ClusterError(f"chunk {index} ended as {future.status}")  # pragma: no cover
        if attempts[index] >= self.retries:
            raise ClusterError(
                f"chunk {index} of the batch failed {attempts[index] + 1} times because its "
                f"worker was lost ({type(error).__name__}: {error}); giving up"
            )
        attempts[index] += 1
        self.resubmitted += 1
        log.warning("worker lost; chunk resubmitted",
                    extra={"chunk": index, "attempt": attempts[index], "error": repr(error)})
        pending.append(index)

    def close(self) -> None:
        """Close the client and any local cluster started for this evaluator."""
        self.cluster.close()
