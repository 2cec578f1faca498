"""Per-run pids cgroups: cap a run's task count and kill every task of a run, escaped or not."""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time

from qd.sandbox.procs import kill_verified

log = logging.getLogger(__name__)
_lock = threading.Lock()
_base: list[str | None] = []  # [] = not probed yet; [None] = no usable pids cgroup
_PREFIX = "qd-sandbox-"
#: An empty run cgroup older than this was left by a qd process that died without removing it
#: (SIGKILL): a live run's cgroup is empty only between its creation and the child joining it,
#: and between the child's exit and its removal, a few milliseconds each.
STALE_AFTER_S = 60.0


class PidsCgroup:
    """A cgroup `<base>/qd-sandbox-<token>` with a pids limit.

    A process that joins it (the launcher writes its PID to `cgroup.procs` before exec) takes
    every descendant with it; leaving requires write access to the cgroup filesystem, which a
    sandboxed program does not have (bwrap: not mounted; process mode: Landlock).

    Args:
        path: The cgroup directory (already created).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = "/" + os.path.basename(path)

    @classmethod
    def create(cls, pids_max: int) -> PidsCgroup | None:
        """Create a cgroup limited to `pids_max` tasks; None when no pids cgroup is writable."""
        base = pids_base()
        if base is None:
            return None
        sweep_stale(base)
        path = os.path.join(base, f"{_PREFIX}{secrets.token_hex(8)}")
        try:
            os.mkdir(path)
            _write(os.path.join(path, "pids.max"), str(pids_max))
        except OSError as err:
            log.warning("cannot create a pids cgroup under %s: %s", base, err)
            _rmdir(path)
            return None
        return cls(path)

    @property
    def procs_file(self) -> str:
        """The file a process writes its PID to in order to join."""
        return os.path.join(self.path, "cgroup.procs")

    def pids(self) -> list[int]:
        """PIDs currently in the cgroup."""
        try:
            with open(self.procs_file) as handle:
                return [int(line) for line in handle if line.strip()]
        except OSError:
            return []

    def kill_all(self, timeout_s: float = 5.0) -> int:
        """Forbid new tasks, then SIGKILL members until the cgroup is empty.

        Returns:
            Number of processes signalled.
        """
        try:
            _write(os.path.join(self.path, "pids.max"), "0")
        except OSError:
            pass
        killed = 0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            members = self.pids()
            if not members:
                break
            killed += sum(kill_verified(pid, self._holds) for pid in members)
            time.sleep(0.002)
        return killed

    def remove(self) -> None:
        """Delete the (emptied) cgroup; retried briefly while exiting tasks are released."""
        for _ in range(200):
            if _rmdir(self.path):
                return
            time.sleep(0.005)
        log.warning("cgroup %s could not be removed (still populated)", self.path)

    def _holds(self, pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/cgroup") as handle:
                return any(line.rstrip("\n").endswith(self.name) for line in handle)
        except OSError:
            return False


def sweep_stale(base: str, older_than_s: float = STALE_AFTER_S) -> int:
    """Remove the empty run cgroups under `base` that dead qd processes left behind.

    Only empty cgroups can be removed (the kernel refuses a populated one), so a live run's
    cgroup is never touched while it holds the run; the age rules out one being set up.

    Returns:
        Number of cgroups removed.
    """
    now, removed = time.time(), 0
    try:
        names = [n for n in os.listdir(base) if n.startswith(_PREFIX)]
    except OSError:
        return 0
    for name in names:
        path = os.path.join(base, name)
        try:
            stale = now - os.stat(path).st_mtime > older_than_s
        except OSError:
            continue
        if stale and _rmdir(path):
            removed += 1
    if removed:
        log.info("removed %d empty run cgroups left by dead qd processes", removed)
    return removed


def pids_base() -> str | None:
    """Return the writable cgroup dir per-run cgroups go under, or None (probed once)."""
    with _lock:
        if not _base:
            _base.append(_probe())
        return _base[0]


def _probe() -> str | None:
    for base in _candidates():
        probe = os.path.join(base, f"qd-sandbox-probe-{secrets.token_hex(4)}")
        try:
            os.mkdir(probe)
        except OSError:
            continue
        try:
            _write(os.path.join(probe, "pids.max"), "1")
            return base
        except OSError:
            continue
        finally:
            _rmdir(probe)
    log.info("no writable pids cgroup; sandboxes track processes without one")
    return None


def _candidates() -> list[str]:
    """Cgroup dirs of this process that have the pids controller (v1 first, then v2)."""
    own = {}  # controller list ("" for v2) -> path
    try:
        with open("/proc/self/cgroup") as handle:
            for line in handle:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                own[controllers] = path
    except (OSError, ValueError):
        return []
    found = []
    for root, mount, fstype, options in _cgroup_mounts():
        if fstype == "cgroup" and "pids" in options:
            path = next((p for c, p in own.items() if "pids" in c.split(",")), None)
        elif fstype == "cgroup2":
            path = own.get("")
        else:
            continue
        if path is None:
            continue
        if root != "/" and path.startswith(root):
            path = path[len(root) :]
        base = os.path.join(mount, path.lstrip("/"))
        if fstype == "cgroup" or "pids" in _read(os.path.join(base, "cgroup.subtree_control")):
            found.append(base)
    return found


def _cgroup_mounts() -> list[tuple[str, str, str, list[str]]]:
    mounts = []
    try:
        with open("/proc/self/mountinfo") as handle:
            for line in handle:
                left, _, right = line.partition(" - ")
                fields, tail = left.split(), right.split()
                if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
                    mounts.append((fields[3], fields[4], tail[0], tail[2].split(",")))
    except OSError:
        pass
    return mounts


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False
