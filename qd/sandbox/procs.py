"""Find and SIGKILL the processes of one run by scanning /proc, safely against PID reuse."""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Callable


def pidfd(pid: int) -> int | None:
    """Open a pidfd for `pid`; None when the process is gone or pidfds are unsupported."""
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None


def kill_verified(pid: int, belongs: Callable[[int], bool]) -> bool:
    """SIGKILL `pid` if it still belongs to the run once pinned by a pidfd.

    The pidfd is opened first, then ownership is checked, so a PID reused by an unrelated
    process between the scan and the kill is never signalled.

    Args:
        pid: Process id found by a scan.
        belongs: Re-checks that `pid` is one of the run's processes.

    Returns:
        True when a signal was sent.
    """
    fd = pidfd(pid)
    if fd is None:
        if not hasattr(os, "pidfd_open") and belongs(pid):
            return _kill(pid)
        return False
    try:
        if not belongs(pid):
            return False
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def wait_gone(fd: int, timeout_s: float) -> bool:
    """Wait until the process behind pidfd `fd` has exited; True when it did in time."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0, int(timeout_s * 1000))))


def vm_hwm_kib(pid: int) -> int:
    """Peak resident set (VmHWM) of the process's current image in KiB; 0 when unknown."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def has_marker(pid: int, needle: bytes) -> bool:
    """Whether /proc/<pid>/environ contains the NUL-delimited `needle` entry."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read()
    except OSError:
        return False
    return needle in environ.split(b"\0")


def marked_pids(needle: bytes) -> list[int]:
    """PIDs of live processes whose environment holds `needle` (e.g. b"VAR=token")."""
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me and has_marker(int(entry), needle):
            found.append(int(entry))
    return found


def kill_marked(needle: bytes, timeout_s: float = 5.0) -> int:
    """SIGKILL every process carrying `needle` until a scan finds none.

    Processes are stopped first (SIGSTOP cannot be caught), so a fork bomb cannot outrun the
    scan; then all of them are killed.

    Args:
        needle: The marker entry, `VAR=token`.
        timeout_s: Give up after this long (a process that cleared its environment is missed).

    Returns:
        Number of processes signalled.
    """
    deadline = time.monotonic() + timeout_s
    seen: set[int] = set()
    while time.monotonic() < deadline:
        fresh = [pid for pid in marked_pids(needle) if pid not in seen]
        if not fresh:
            break
        for pid in fresh:
            if _signal_verified(pid, needle, signal.SIGSTOP):
                seen.add(pid)
    for pid in seen:
        kill_verified(pid, lambda p: has_marker(p, needle))
    return len(seen)


def _signal_verified(pid: int, needle: bytes, number: int) -> bool:
    fd = pidfd(pid)
    if fd is None:
        return False
    try:
        if not has_marker(pid, needle):
            return False
        signal.pidfd_send_signal(fd, number)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except OSError:
        return False
