"""Shared base of numeric emitter families: each builds `count` pyribs emitters from its config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from ribs.archives import ArchiveBase
from ribs.emitters import EmitterBase

from qd.components import ComponentConfig
from qd.errors import SpecError
from qd.protocols import Bounds


class EmitterConfig(ComponentConfig):
    """Options every emitter family accepts."""

    count: int = Field(1, ge=1, le=1000, description="How many emitters of this kind to run.")
    batch_size: int = Field(36, ge=1, le=10_000_000, description="Solutions each emitter asks.")
    x0: list[float] | None = Field(None, description="Search centre; default: the problem's.")


@dataclass(frozen=True)
class EmitterContext:
    """What the problem imposes on emitters.

    Attributes:
        x0: Default search centre, shape (solution_dim,).
        bounds: (low, high) per coordinate, or None when unbounded.
        problem: The run's problem (after `EmitterFamily.adapt_problem`), for emitters that
            need more than the solution space (e.g. Go-Explore steps the environment itself).
    """

    x0: np.ndarray
    bounds: Bounds | None
    problem: Any = None


class EmitterFamily:
    """Base of a registered emitter family."""

    Config: ClassVar[type[EmitterConfig]]
    #: What the emitters' solutions are: "problem" (the problem's own solution vectors) or
    #: another space the family maps the problem to in `adapt_problem` (e.g. "states").
    solution_space: ClassVar[str] = "problem"

    def __init__(self, config: EmitterConfig) -> None:
        self.config = config

    def adapt_problem(self, problem: Any) -> Any:
        """The problem the run evaluates; families searching another space wrap it here."""
        return problem

    @property
    def archive_learning_rate(self) -> float | None:
        """Archive learning rate this family needs (CMA-MAE), or None for an elitist archive."""
        return None

    @property
    def archive_threshold_min(self) -> float | None:
        """Initial cell threshold this family needs (None: the problem's worst objective)."""
        return None

    def x0(self, context: EmitterContext) -> np.ndarray:
        """The configured centre or the problem's, checked against the solution dimension."""
        if self.config.x0 is None:
            return context.x0
        x0 = np.asarray(self.config.x0, dtype=float)
        if x0.shape != context.x0.shape:
            raise SpecError(
                f"emitters.x0: has {x0.size} entries but solutions have {context.x0.size}"
            )
        return x0

    def build(
        self, archive: ArchiveBase, context: EmitterContext, seeds: list[int]
    ) -> list[EmitterBase]:
        """Build `config.count` pyribs emitters, the i-th seeded with `seeds[i]`."""
        return [self._build_one(archive, context, seed) for seed in seeds]

    def _build_one(self, archive: ArchiveBase, context: EmitterContext, seed: int) -> EmitterBase:
        raise NotImplementedError

    def build_torch(self, archive: Any, context: EmitterContext, seeds: list[int],
                    device: Any) -> Any:
        """Build one torch-backend group (`mutators.torch.TensorEmitterGroup`) of
        `config.count` emitters on `archive` (a `TensorArchive`), seeded from `seeds`.

        Families without a torch implementation keep this default; the build step then tells
        the user which families the torch backend has.
        """
        raise NotImplementedError
