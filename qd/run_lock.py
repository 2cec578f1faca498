"""One live run per folder: an exclusive `flock` on `run.lock`, released by the kernel on death.

The lock file also records the holder's pid, host and start time so that a refused second run
can say who holds the folder; a lock left by a killed process is free again and is taken over.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
from pathlib import Path
from typing import IO

from qd.errors import QDError

LOCK_FILE = "run.lock"
log = logging.getLogger(__name__)


class RunLockedError(QDError):
    """Another live process is running in this folder."""

    exit_code = 2


class RunLock:
    """Hold `folder/run.lock` for the lifetime of a run (use as a context manager)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_FILE
        self._handle: IO[str] | None = None
        #: Who held the lock before, when it was taken over from a dead process.
        self.stale_holder: str | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise `RunLockedError` naming the live holder."""
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(handle)
            handle.close()
            raise RunLockedError(
                f"{self.path.parent} is in use by another qd process ({holder}); "
                "wait for it to finish or stop it first"
            ) from None
        previous = _read_holder(handle)
        if previous != "unknown holder":
            self.stale_holder = previous
            log.warning("taking over the lock of a process that is gone (%s)", previous)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": dt.datetime.now(dt.UTC).isoformat()}))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        """Clear and release the lock."""
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.flush()
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(handle: IO[str]) -> str:
    handle.seek(0)
    try:
        info = json.loads(handle.read() or "null")
    except json.JSONDecodeError:
        return "unknown holder"
    if not isinstance(info, dict):
        return "unknown holder"
    return f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started')}"
