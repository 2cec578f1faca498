"""Protocols of the extension points every family implements (problems, archives, emitters)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import torch

    from qd.types import ArchiveStats

Bounds = tuple[tuple[float, float], ...]


@runtime_checkable
class Problem(Protocol):
    """A numeric / policy problem evaluated as one batched torch call.

    Attributes:
        solution_dim: Length D of a solution vector.
        measure_dim: Number M of measures (behaviour descriptors).
        measure_bounds: (low, high) per measure, length M; archives default to these ranges.
        objective_bounds: (worst, best) objective; `worst` offsets the QD score (kept positive).
        solution_bounds: (low, high) per solution coordinate, or None when unbounded.
        x0: Default centre of the search, shape (D,).
    """

    solution_dim: int
    measure_dim: int
    measure_bounds: Bounds
    objective_bounds: tuple[float, float]
    solution_bounds: Bounds | None
    x0: np.ndarray

    def evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Evaluate a batch.

        Args:
            solutions: Tensor of shape (batch_size, solution_dim) on the run's device.

        Returns:
            objectives of shape (batch_size,) and measures of shape (batch_size, measure_dim).
        """
        ...


class Archive(Protocol):
    """What the engine needs from an archive: add a batch, sample elites, summarise."""

    def add(self, solutions: np.ndarray, objectives: np.ndarray, measures: np.ndarray) -> Any:
        """Insert a batch: solutions (B, D), objectives (B,), measures (B, M)."""
        ...

    def sample_elites(self, n: int) -> dict[str, np.ndarray]:
        """Draw `n` elites uniformly (with replacement) as a dict of arrays."""
        ...

    def stats(self) -> ArchiveStats:
        """QD score, normalised QD score, coverage, best objective, number of elites."""
        ...


class Component(Protocol):
    """A registered component class: it carries its pydantic config model."""

    Config: ClassVar[type]
