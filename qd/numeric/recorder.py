"""Persist a numeric run as it goes: every iteration into the store, checkpoints on a schedule."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qd.numeric.checkpoint import save_checkpoint
from qd.numeric.iteration import EvaluatedBatch
from qd.store import RunStore
from qd.types import IterationMetrics

log = logging.getLogger(__name__)


class RunRecorder:
    """Records iterations in the run store and writes bulk checkpoints.

    A checkpoint is due every `every_iterations` iterations (0 = never by count) or when
    `every_seconds` have passed since the last one (0 = never by time), and always at the end.
    Checkpoint placement does not affect results: resume replays the stored iterations after
    the newest checkpoint.

    Args:
        folder: The run folder.
        store: The run's open store.
        every_iterations: Checkpoint period in iterations (0 disables).
        every_seconds: Checkpoint period in seconds (0 disables).
        keep: Checkpoints kept on disk (older ones are deleted).
        on_checkpoint: Called with the iteration after each checkpoint (e.g. to write
            `archive.npz`).
        mode: Which evaluations to store: "all", "elites" or "none" (`qd.numeric.storage`).
    """

    def __init__(
        self,
        folder: Path,
        store: RunStore,
        every_iterations: int = 0,
        every_seconds: float = 60.0,
        keep: int = 2,
        on_checkpoint: Callable[[int], None] | None = None,
        mode: str = "all",
    ) -> None:
        self.folder = Path(folder)
        self.store = store
        self.every_iterations = every_iterations
        self.every_seconds = every_seconds
        self.keep = keep
        self.on_checkpoint = on_checkpoint
        self.mode = mode
        self._last_time = time.monotonic()
        self._last_iteration = -1

    def record(self, batch: EvaluatedBatch, metrics: IterationMetrics) -> None:
        """Store one iteration (the rows `mode` keeps + metrics) in a single transaction."""
        with self.store.transaction():
            if self.mode == "all":
                self.store.batches.record(metrics.iteration, *batch.host())
            elif self.mode == "elites":
                rows = batch.admitted
                if bool(rows.any()):
                    self.store.batches.record(metrics.iteration, *batch.host(rows))
            self.store.metrics.add(metrics)

    def due(self, iteration: int) -> bool:
        """Whether a checkpoint should be taken after `iteration`."""
        if self.every_iterations and iteration % self.every_iterations == 0:
            return True
        return bool(self.every_seconds) and time.monotonic() - self._last_time >= self.every_seconds

    def checkpoint(self, iteration: int, state: dict[str, Any]) -> None:
        """Write a checkpoint of `state` as of `iteration` (skipped if already taken)."""
        if iteration == self._last_iteration:
            return
        t0 = time.perf_counter()
        path = save_checkpoint(self.folder, self.store, iteration, state, self.keep)
        if self.on_checkpoint is not None:
            self.on_checkpoint(iteration)
        self._last_time, self._last_iteration = time.monotonic(), iteration
        log.info("checkpoint", extra={"event": "checkpoint", "iteration": iteration,
                                      "file": path.name,
                                      "seconds": round(time.perf_counter() - t0, 4)})
