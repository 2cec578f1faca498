"""Immutable records shared by every family: archive statistics and per-iteration metrics."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class ArchiveStats:
    """Summary of an archive at one moment.

    Attributes:
        num_elites: Number of elites stored.
        coverage: Fraction of the archive's cells holding an elite, in [0, 1].
        qd_score: Sum over elites of (objective - qd_score_offset).
        norm_qd_score: `qd_score` divided by the number of cells.
        best: Highest objective of any elite, or None when the archive is empty.
        mean: Mean objective of the elites, or None when the archive is empty.
    """

    num_elites: int
    coverage: float
    qd_score: float
    norm_qd_score: float
    best: float | None
    mean: float | None


@dataclass(frozen=True)
class IterationMetrics:
    """What the engine reports after each ask → evaluate → tell iteration."""

    iteration: int
    evaluations: int
    num_elites: int
    coverage: float
    qd_score: float
    norm_qd_score: float
    best: float | None
    elapsed_s: float

    @classmethod
    def from_stats(
        cls, iteration: int, evaluations: int, stats: ArchiveStats, elapsed_s: float
    ) -> IterationMetrics:
        """Combine counters with an `ArchiveStats` snapshot."""
        return cls(
            iteration=iteration,
            evaluations=evaluations,
            num_elites=stats.num_elites,
            coverage=stats.coverage,
            qd_score=stats.qd_score,
            norm_qd_score=stats.norm_qd_score,
            best=stats.best,
            elapsed_s=elapsed_s,
        )

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain dict, for JSON lines and tables."""
        return {f: getattr(self, f) for f in METRIC_FIELDS}


#: Field names of `IterationMetrics`, in order (column order of metrics tables).
METRIC_FIELDS = tuple(f.name for f in dataclasses.fields(IterationMetrics))
