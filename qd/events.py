"""Engine events and the listener base class that progress displays and run writers subclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qd.types import ArchiveStats, IterationMetrics


@dataclass(frozen=True)
class RunStart:
    """Sent once before the first iteration."""

    budget: int
    batch_size: int
    evaluations: int
    info: dict[str, Any]


@dataclass(frozen=True)
class RunEnd:
    """Sent once after the last iteration."""

    iterations: int
    evaluations: int
    elapsed_s: float
    stats: ArchiveStats
    reason: str  # "budget" or "stopped"
    details: dict[str, Any] = field(default_factory=dict)  # family-specific, into summary.json


@dataclass(frozen=True)
class ProgramStatus:
    """Sent by program runs after every proposal, whenever an LLM call starts or ends, and
    once at the end: what the LLM side is doing.
    """

    proposals: int
    in_flight: int  # proposal LLM calls reserved or running now (not proposals in flight)
    llm_calls: int
    tokens: int
    cost_usd: float
    failures: dict[str, int]


class EngineListener:
    """Receives engine events; every hook is a no-op unless overridden."""

    def on_start(self, event: RunStart) -> None:
        """Called before the first iteration."""

    def on_iteration(self, metrics: IterationMetrics) -> None:
        """Called after every iteration."""

    def on_end(self, event: RunEnd) -> None:
        """Called after the last iteration (also when stopped early)."""

    def on_status(self, status: ProgramStatus) -> None:
        """Called by program runs after every proposal, LLM call start and end, and at the
        end (before `on_end`).
        """

    def on_abort(self, error: BaseException) -> None:
        """Called when the run ends with an exception (after which it propagates)."""
