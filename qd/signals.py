"""Turn SIGINT / SIGTERM into a clean stop request for the duration of a run."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

#: Exit code of `qd evolve` per stop reason (others: 0). A judge that keeps failing is a runtime
#: failure; the run is saved and resumable once the judge works again.
EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143, "judge_failed": 1}


@contextmanager
def stop_on_signals(request_stop: Callable[[str], None]) -> Iterator[None]:
    """Within the block, the first SIGINT/SIGTERM calls `request_stop("SIGINT"|"SIGTERM")`;
    a second SIGINT interrupts at once. Outside the main thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: FrameType | None) -> None:
        request_stop(signal.Signals(signum).name)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    try:
        for sig in previous:
            signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
