"""Which isolation a run gets: cached, thread-safe probes and one warning per fallback."""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Callable

from qd.sandbox import seccomp
from qd.sandbox.cgroup import pids_base
from qd.sandbox.result import SandboxError

log = logging.getLogger(__name__)
_lock = threading.RLock()
_cache: dict[str, object] = {}
_warned: set[str] = set()


def once(key: str, compute: Callable[[], object]) -> object:
    """`compute()` the first time `key` is asked for, the cached value afterwards."""
    with _lock:
        if key not in _cache:
            _cache[key] = compute()
        return _cache[key]


def warn_once(key: str, message: str, *args: object) -> None:
    """Log a warning the first time `key` is seen in this process."""
    with _lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning(message, *args)


def landlock_abi() -> int:
    """Landlock ABI version of the running kernel (0 when unavailable)."""

    def probe() -> int:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            abi = libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
        except (OSError, AttributeError):
            return 0
        return max(0, int(abi))

    return int(once("landlock", probe))  # type: ignore[call-overload]


def resolve(requested: str, bwrap_probe: Callable[[], str | None]) -> str:
    """Turn "auto" / "bwrap" / "process" into the mode that will run.

    Args:
        requested: `SandboxLimits.isolation`.
        bwrap_probe: Runs a trivial program under bwrap; returns None when it works, else why not.

    Returns:
        "bwrap" or "process".

    Raises:
        SandboxError: "bwrap" was requested explicitly and does not work here.
    """
    if requested == "process":
        _warn_process_gaps()
        return "process"
    problem = once("bwrap", bwrap_probe)
    if problem is None:
        return "bwrap"
    if requested == "bwrap":
        raise SandboxError(f"isolation 'bwrap' is unavailable here: {problem}")
    warn_once(
        "fallback",
        "bubblewrap sandbox unavailable (%s); falling back to process isolation, which has no "
        "namespaces: see docs/sandbox.md (install with: apt-get install -y bubblewrap)",
        problem,
    )
    _warn_process_gaps()
    return "process"


def _warn_process_gaps() -> None:
    abi = landlock_abi()
    if abi < 1:
        warn_once("landlock", "Landlock unavailable: process-isolated programs can read and "
                  "write every file the engine can")  # fmt: skip
    elif abi < 4:
        warn_once("landlock-net", "Landlock ABI %d has no network rules; only seccomp blocks "
                  "sockets for process-isolated programs", abi)  # fmt: skip
    if not seccomp.supported():
        warn_once("seccomp", "no seccomp filter for this CPU architecture: process-isolated "
                  "programs may open sockets")  # fmt: skip
    if pids_base() is None and os.geteuid() == 0:
        warn_once("nproc", "no writable pids cgroup and running as root: max_processes is not "
                  "enforced for process-isolated programs")  # fmt: skip
