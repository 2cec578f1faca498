"""Progress displays for `qd evolve`: a rich live bar on a terminal, one line per N iterations
otherwise. Both are engine listeners; the engine never imports this module.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from qd.events import EngineListener, ProgramStatus, RunEnd, RunStart
from qd.types import IterationMetrics


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def describe(m: IterationMetrics, rate: float, status: ProgramStatus | None = None) -> str:
    """One-line state of the run: QD score, coverage, best, evaluations per second, and for
    program runs LLM calls in flight, cost so far and failure counts.
    """
    text = (
        f"qd_score {_fmt(m.qd_score, 6)}  coverage {m.coverage:.2%}  best {_fmt(m.best)}  "
        f"elites {m.num_elites}  {rate:,.2f} evals/s"
    )
    if status is not None:
        failed = ", ".join(f"{k} {v}" for k, v in sorted(status.failures.items())) or "none"
        text += (f"  | llm calls {status.llm_calls} ({status.in_flight} in flight), "
                 f"${status.cost_usd:.4f}, failed: {failed}")
    return text


class RichProgress(EngineListener):
    """Live progress bar over the evaluation budget with ETA and the archive's state."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]evolve"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("evals"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[state]}"),
            console=self.console,
            transient=False,
        )
        self._task = None
        self._status: ProgramStatus | None = None
        self._last: IterationMetrics | None = None

    def on_status(self, status: ProgramStatus) -> None:
        """Remember the latest program-run status (shown with the next update)."""
        self._status = status
        if self._last is not None:
            self.on_iteration(self._last)

    def on_abort(self, error: BaseException) -> None:
        """Stop the live display so the error prints cleanly."""
        self._progress.stop()

    def on_start(self, event: RunStart) -> None:
        """Start the live display."""
        self._progress.start()
        self._task = self._progress.add_task(
            "evolve", total=event.info.get("planned_evaluations", event.budget),
            completed=event.evaluations, state="",
        )

    def on_iteration(self, metrics: IterationMetrics) -> None:
        """Advance the bar."""
        self._last = metrics
        rate = metrics.evaluations / max(metrics.elapsed_s, 1e-9)
        self._progress.update(
            self._task, completed=metrics.evaluations, state=describe(metrics, rate, self._status)
        )

    def on_end(self, event: RunEnd) -> None:
        """Stop the live display."""
        self._progress.stop()


class LineProgress(EngineListener):
    """Plain progress for logs and pipes: one line every `every` iterations and at the end."""

    def __init__(self, stream: TextIO, every: int = 10) -> None:
        self.stream = stream
        self.every = every
        self._budget = 0
        self._last: IterationMetrics | None = None
        self._status: ProgramStatus | None = None
        self._printed: tuple[int, ProgramStatus | None] | None = None

    def on_status(self, status: ProgramStatus) -> None:
        """Remember the latest program-run status (printed with the next line)."""
        self._status = status

    def on_abort(self, error: BaseException) -> None:
        """Print the last state before the error propagates."""
        if self._last is not None:
            self._line(self._last)

    def on_start(self, event: RunStart) -> None:
        """Remember the budget."""
        self._budget = event.info.get("planned_evaluations", event.budget)

    def on_iteration(self, metrics: IterationMetrics) -> None:
        """Print a line every `every` iterations."""
        self._last = metrics
        if metrics.iteration % self.every == 0:
            self._line(metrics)

    def on_end(self, event: RunEnd) -> None:
        """Print the final line unless the same line was just printed."""
        if self._last is not None and self._printed != (self._last.iteration, self._status):
            self._line(self._last)

    def _line(self, m: IterationMetrics) -> None:
        self._printed = (m.iteration, self._status)
        rate = m.evaluations / max(m.elapsed_s, 1e-9)
        pct = 100.0 * m.evaluations / max(self._budget, 1)
        print(
            f"iter {m.iteration}  evals {m.evaluations}/{self._budget} ({pct:.0f}%)  "
            f"elapsed {m.elapsed_s:.0f}s  {describe(m, rate, self._status)}",
            file=self.stream,
            flush=True,
        )
