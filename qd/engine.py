"""The numeric QD loop: ask a batch from the emitters → evaluate it → tell the archive → report.

The engine only orchestrates; persistence, progress and reports subscribe as `EngineListener`s.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from qd.build import Components
from qd.events import EngineListener, RunEnd, RunStart
from qd.types import IterationMetrics


class Engine:
    """Run ask → evaluate → tell iterations until the evaluation budget is spent.

    The budget is counted in evaluations; the last iteration is always whole, so a run spends
    the budget rounded up to a multiple of the batch size (see `planned_evaluations`).

    Args:
        components: Built by `qd.build.build_components`.
        budget: Evaluations to spend.
        listeners: Receive start / iteration / end events.
    """

    def __init__(
        self, components: Components, budget: int, listeners: Sequence[EngineListener] = ()
    ) -> None:
        self.components = components
        self.budget = budget
        self.listeners = list(listeners)
        self.iteration = 0
        self.evaluations = 0
        self._stop_reason: str | None = None

    @property
    def planned_evaluations(self) -> int:
        """The budget rounded up to whole iterations."""
        batch = self.components.batch_size
        return -(-self.budget // batch) * batch

    def request_stop(self, reason: str = "stopped") -> None:
        """Ask the loop to end after the current iteration (safe from a signal handler)."""
        self._stop_reason = reason

    def step(self) -> tuple[int, int]:
        """Run one iteration; returns (iteration, evaluations) after it."""
        c = self.components
        solutions = c.scheduler.ask()
        objectives, measures = c.evaluator(solutions)
        c.scheduler.tell(objectives, measures)
        self.iteration += 1
        self.evaluations += len(solutions)
        return self.iteration, self.evaluations

    def run(self) -> RunEnd:
        """Iterate until the budget is spent or `request_stop` is called."""
        c = self.components
        start = RunStart(
            budget=self.budget,
            batch_size=c.batch_size,
            evaluations=self.evaluations,
            info={"planned_evaluations": self.planned_evaluations, "device": str(c.device)},
        )
        for listener in self.listeners:
            listener.on_start(start)
        t0 = time.perf_counter()
        while self.evaluations < self.budget and self._stop_reason is None:
            self.step()
            if self.listeners:
                metrics = IterationMetrics.from_stats(
                    self.iteration, self.evaluations, c.archive.stats(), time.perf_counter() - t0
                )
                for listener in self.listeners:
                    listener.on_iteration(metrics)
        end = RunEnd(
            iterations=self.iteration,
            evaluations=self.evaluations,
            elapsed_s=time.perf_counter() - t0,
            stats=c.archive.stats(),
            reason=self._stop_reason or "budget",
        )
        for listener in self.listeners:
            listener.on_end(end)
        return end
