"""The outcome of one sandboxed run and how an exit is classified into a status."""

from __future__ import annotations

import signal as signals
from dataclasses import dataclass
from typing import Literal

from qd.errors import QDError
from qd.sandbox.limits import SandboxLimits

Status = Literal["ok", "timeout", "crashed", "oom", "killed", "error"]
#: Exit codes of the launcher when it cannot set the sandbox up or exec the program.
LAUNCH_FAILED = (125, 126, 127)
LAUNCH_PREFIX = "qd-sandbox: "
_MEMORY_MARKERS = ("MemoryError", "std::bad_alloc", "Cannot allocate memory", "out of memory")


class SandboxError(QDError):
    """The sandbox itself cannot run (bad argument, isolation unavailable, no temp dir)."""


@dataclass(frozen=True)
class SandboxResult:
    """What happened to one sandboxed program.

    Attributes:
        status: "ok" (exit 0, result written when one was expected), "timeout" (wall clock),
            "crashed" (non-zero exit or fatal signal), "oom" (memory limit), "killed" (CPU or
            file-size limit, or an outside SIGKILL), "error" (setup failed, the program
            could not be started, or it exited 0 without writing the expected result).
        returncode: Exit code when the program exited normally, else None.
        signal: Number of the signal that ended the program, else None.
        stdout: Start of standard output (UTF-8, undecodable bytes replaced).
        stderr: Start of standard error.
        stdout_truncated: True when stdout was longer than `output_bytes`.
        stderr_truncated: True when stderr was longer than `output_bytes`.
        duration_s: Wall-clock seconds from start to exit (or to the kill).
        peak_memory_mb: Largest resident set (VmHWM) of any one process of the run, MiB,
            sampled every 50 ms (the cgroup's members, else the main process); None when
            nothing was measured (e.g. bwrap without a pids cgroup).
        result: Text of the result file, None when the program wrote none.
        result_truncated: True when the result file was longer than `result_bytes`.
        reason: One human-readable sentence explaining `status`.
        isolation: The mode that ran: "bwrap" or "process".
    """

    status: Status
    returncode: int | None
    signal: int | None
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    duration_s: float
    peak_memory_mb: float | None
    result: str | None
    result_truncated: bool
    reason: str
    isolation: str

    @property
    def ok(self) -> bool:
        """True when `status` is "ok"."""
        return self.status == "ok"


@dataclass(frozen=True)
class Exit:
    """How the main process ended, as seen by the runner.

    Attributes:
        returncode: Exit code for a normal exit, else None.
        signal: Terminating signal, else None.
        timed_out: The runner killed it at the wall-clock limit.
        setup_error: Set when the sandbox could not be set up (message).
    """

    returncode: int | None
    signal: int | None
    timed_out: bool = False
    setup_error: str | None = None


def signal_name(number: int) -> str:
    """`SIGSEGV` for 11; `signal 99` for numbers Python does not know."""
    try:
        return signals.Signals(number).name
    except ValueError:
        return f"signal {number}"


def classify(
    end: Exit,
    stderr: str,
    limits: SandboxLimits,
    result_file: str | None,
    result_present: bool,
) -> tuple[Status, str]:
    """Turn the end of a run into a status and a reason.

    Args:
        end: How the main process ended.
        stderr: Captured standard error (memory errors and launcher messages are found here).
        limits: The run's limits, quoted in reasons.
        result_file: Name of the expected result file, None when none is expected.
        result_present: Whether the program wrote the result file.

    Returns:
        (status, reason).
    """
    tail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if end.setup_error is not None:
        return "error", f"sandbox setup failed: {end.setup_error}"
    if end.timed_out:
        return "timeout", f"wall-clock timeout after {limits.timeout_s:g} s; process tree killed"
    failed = end.signal is not None or end.returncode != 0
    if failed and any(marker in stderr for marker in _MEMORY_MARKERS):
        return "oom", f"memory limit ({limits.memory_mb} MiB address space) exceeded: {tail}"
    if end.signal is not None:
        return _classify_signal(end.signal, limits)
    if end.returncode != 0 and "File too large" in stderr:  # EFBIG (Python ignores SIGXFSZ)
        return "crashed", f"file size limit ({limits.file_size_mb} MiB) exceeded: {tail}"
    if end.returncode in LAUNCH_FAILED and tail.startswith(LAUNCH_PREFIX):
        detail = tail[len(LAUNCH_PREFIX) :]
        return "error", detail if end.returncode != 125 else f"sandbox setup failed: {detail}"
    if end.returncode != 0:
        detail = f": {tail}" if tail else ""
        return "crashed", f"exited with code {end.returncode}{detail}"
    if result_file is not None and not result_present:
        return "error", f"exited with code 0 without writing {result_file}"
    return "ok", "exited with code 0"


def _classify_signal(number: int, limits: SandboxLimits) -> tuple[Status, str]:
    if number == signals.SIGXCPU:
        return "killed", f"CPU time limit ({limits.effective_cpu_s} s per process) exceeded"
    if number == signals.SIGXFSZ:
        return "killed", f"file size limit ({limits.file_size_mb} MiB) exceeded"
    if number == signals.SIGKILL:
        return "killed", "killed by SIGKILL from outside the sandbox (possibly the OOM killer)"
    return "crashed", f"killed by {signal_name(number)}"
