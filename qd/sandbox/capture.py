"""Bounded, non-blocking capture of a child's output while waiting for its exit or a deadline."""

from __future__ import annotations

import os
import selectors
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class BoundedBuffer:
    """Keeps the first `cap` bytes fed to it and counts the rest."""

    cap: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0

    def feed(self, chunk: bytes) -> None:
        """Append what still fits; count everything."""
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.total += len(chunk)

    @property
    def truncated(self) -> bool:
        """True when more bytes arrived than were kept."""
        return self.total > len(self.data)

    def text(self) -> str:
        """Decode the kept bytes (invalid UTF-8 replaced)."""
        return self.data.decode("utf-8", "replace")


class Pump:
    """Multiplexes a child's pipes and its pidfd in the calling thread (no helper threads).

    Args:
        pid: The child (direct child of this process) to reap.
        streams: fd -> buffer for each pipe to read (stdout, stderr, bwrap's info fd).
        pidfd: A pidfd of `pid`, or None to poll with WNOHANG.
        tick: Called while waiting (memory sampling): after 6, 12, 25 ms, then every `TICK_S`.
    """

    TICK_S = 0.05

    def __init__(
        self,
        pid: int,
        streams: dict[int, BoundedBuffer],
        pidfd: int | None,
        tick: Callable[[], None] | None = None,
    ) -> None:
        self.pid = pid
        self.streams = streams
        self.pidfd = pidfd
        self.tick = tick
        self.selector = selectors.DefaultSelector()
        for fd in streams:
            os.set_blocking(fd, False)
            self.selector.register(fd, selectors.EVENT_READ)
        if pidfd is not None:
            self.selector.register(pidfd, selectors.EVENT_READ)

    def wait(self, deadline: float) -> bool:
        """Read output until the child exits or `deadline` (time.monotonic) passes.

        The child is not reaped (`reap` does that), so its PID and process group stay
        reserved while the rest of the run is killed.

        Returns:
            True when the child exited, False at the deadline.
        """
        next_tick, period = time.monotonic(), self.TICK_S / 8  # sample early runs densely
        while True:
            now = time.monotonic()
            if self.tick is not None and now >= next_tick:
                self.tick()
                next_tick, period = now + period, min(period * 2, self.TICK_S)
            if self._exited():
                return True
            remaining = deadline - now
            if remaining <= 0:
                return False
            if self.tick is not None:
                remaining = min(remaining, max(0.0, next_tick - now))
            elif self.pidfd is None:
                remaining = min(remaining, self.TICK_S)
            for key, _ in self.selector.select(remaining):
                if key.fd != self.pidfd:
                    self._read(key.fd)

    def reap(self) -> int:
        """Reap the exited or killed child; returns its wait status."""
        _, status = os.waitpid(self.pid, 0)
        return status

    def drain(self, timeout_s: float) -> None:
        """Read the pipes to EOF (all writers killed) or until `timeout_s` passes."""
        deadline = time.monotonic() + timeout_s
        if self.pidfd is not None:
            self.selector.unregister(self.pidfd)
            self.pidfd = None
        while self.selector.get_map() and time.monotonic() < deadline:
            for key, _ in self.selector.select(max(0.0, deadline - time.monotonic())):
                self._read(key.fd)

    def read_available(self) -> None:
        """Read whatever the pipes hold right now, without waiting."""
        for key, _ in self.selector.select(0):
            if key.fd != self.pidfd:
                self._read(key.fd)

    def close(self) -> None:
        """Close the selector; the fds stay open (their owners close them)."""
        self.selector.close()

    def _exited(self) -> bool:
        state = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return state is not None

    def _read(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self.streams[fd].feed(chunk)
        else:
            self.selector.unregister(fd)
