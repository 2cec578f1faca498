"""The numeric QD loop: ask a batch from the emitters → evaluate it → tell the archive → record.

The engine only orchestrates; persistence goes through a `RunRecorder`, and progress displays and
run-folder writers subscribe as `EngineListener`s.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from qd.events import EngineListener, RunEnd, RunStart
from qd.numeric.build import Components
from qd.numeric.iteration import run_iteration
from qd.numeric.recorder import RunRecorder
from qd.types import IterationMetrics


class Engine:
    """Run ask → evaluate → tell iterations until the evaluation budget is spent.

    The budget is counted in evaluations; the last iteration is always whole, so a run spends
    the budget rounded up to a multiple of the batch size (see `planned_evaluations`).

    Args:
        components: Built by `qd.numeric.build.build_components` (and possibly restored).
        budget: Total evaluations to spend, including those of earlier sessions of the run.
        listeners: Receive start / iteration / end events.
        recorder: Stores every iteration and writes checkpoints; None keeps the run in memory.
        iteration: Iterations already done (when resuming).
        evaluations: Evaluations already done (when resuming).
        elapsed_s: Run time of earlier sessions (when resuming).
    """

    def __init__(
        self,
        components: Components,
        budget: int,
        listeners: Sequence[EngineListener] = (),
        recorder: RunRecorder | None = None,
        *,
        iteration: int = 0,
        evaluations: int = 0,
        elapsed_s: float = 0.0,
    ) -> None:
        self.components = components
        self.budget = budget
        self.listeners = list(listeners)
        self.recorder = recorder
        self.iteration = iteration
        self.evaluations = evaluations
        self._elapsed_before = elapsed_s
        self._t0 = time.perf_counter()
        self._stop_reason: str | None = None

    @property
    def planned_evaluations(self) -> int:
        """The budget rounded up to whole iterations."""
        batch = self.components.evaluations_per_iteration
        return -(-self.budget // batch) * batch

    @property
    def elapsed_s(self) -> float:
        """Run time over all sessions of this run."""
        return self._elapsed_before + time.perf_counter() - self._t0

    def request_stop(self, reason: str = "stopped") -> None:
        """Ask the loop to end after the current iteration (safe from a signal handler)."""
        self._stop_reason = reason

    def state(self) -> dict[str, Any]:
        """The full resumable state: components plus counters."""
        return {
            "components": self.components.state(),
            "iteration": self.iteration,
            "evaluations": self.evaluations,
            "elapsed_s": self.elapsed_s,
        }

    def step(self) -> IterationMetrics:
        """Run and record one iteration; returns its metrics."""
        c = self.components
        recorder = self.recorder
        batch = run_iteration(c, self.iteration + 1,
                              admitted=recorder is not None and recorder.mode == "elites")
        self.iteration += 1
        if batch.refit is not None and recorder is not None:
            recorder.store.events.add("refit", **batch.refit)
        self.evaluations += batch.size
        metrics = IterationMetrics.from_stats(
            self.iteration, self.evaluations, c.archive.stats(), self.elapsed_s
        )
        if recorder is not None:
            recorder.record(batch, metrics)
            if recorder.due(self.iteration):
                recorder.checkpoint(self.iteration, self.state())
        return metrics

    def run(self) -> RunEnd:
        """Iterate until the budget is spent or `request_stop` is called."""
        c = self.components
        self._t0 = time.perf_counter()
        start = RunStart(
            budget=self.budget,
            batch_size=c.batch_size,
            evaluations=self.evaluations,
            info={"planned_evaluations": self.planned_evaluations, "device": str(c.device),
                  "iteration": self.iteration},
        )
        for listener in self.listeners:
            listener.on_start(start)
        try:
            while self.evaluations < self.budget and self._stop_reason is None:
                metrics = self.step()
                for listener in self.listeners:
                    listener.on_iteration(metrics)
        except BaseException as error:
            for listener in self.listeners:
                listener.on_abort(error)
            raise
        if self.recorder is not None:
            self.recorder.checkpoint(self.iteration, self.state())
        end = RunEnd(
            iterations=self.iteration,
            evaluations=self.evaluations,
            elapsed_s=self.elapsed_s,
            stats=c.archive.stats(),
            reason=self._stop_reason or "budget",
        )
        for listener in self.listeners:
            listener.on_end(end)
        return end
