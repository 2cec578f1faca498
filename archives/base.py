"""`QDArchive`: one wrapper over any pyribs archive, with QD metrics and an optional result archive.

An archive family is a small class registered by name that knows how to build its pyribs archive
from its config and an `ArchiveGeometry` (what the problem and the emitters impose).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from ribs.archives import ArchiveBase

from qd.components import ComponentConfig
from qd.errors import SpecError
from qd.protocols import Bounds
from qd.types import ArchiveStats


@dataclass(frozen=True)
class ArchiveGeometry:
    """What an archive needs to know besides its own config.

    Attributes:
        solution_dim: Length of a solution vector.
        measure_bounds: Default (low, high) per measure, from the problem.
        qd_score_offset: Subtracted from objectives in the QD score (the problem's worst objective).
        learning_rate: Archive learning rate (CMA-MAE threshold annealing); None = plain elitism.
        threshold_min: Initial cell threshold when `learning_rate` is set.
        seed: Seed of the archive's own RNG (elite sampling).
        extra_fields: Extra per-elite fields kept by pyribs (name -> (shape, dtype)), e.g. the
            raw observation behind a learned measure.
    """

    solution_dim: int
    measure_bounds: Bounds
    qd_score_offset: float
    learning_rate: float | None = None
    threshold_min: float = -math.inf
    seed: int | None = None
    extra_fields: tuple[tuple[str, tuple[int, ...], str], ...] = ()

    def fields_kwargs(self) -> dict[str, Any]:
        """Pyribs keyword arguments for the extra fields (none when there are none)."""
        if not self.extra_fields:
            return {}
        return {"extra_fields": {name: (shape, dtype) for name, shape, dtype in self.extra_fields}}


class ArchiveConfig(ComponentConfig):
    """Options every archive family accepts."""

    ranges: list[tuple[float, float]] | None = Field(
        None, description="(low, high) per measure; default: the problem's measure bounds."
    )
    qd_score_offset: float | None = Field(
        None, description="Subtracted from objectives in the QD score; default: worst objective."
    )


class ArchiveFamily:
    """Base of a registered archive family: builds the pyribs archive for a config."""

    Config: ClassVar[type[ArchiveConfig]]
    #: Whether the family accepts an archive learning rate (needed by CMA-MAE).
    supports_learning_rate: ClassVar[bool] = False

    def __init__(self, config: ArchiveConfig, geometry: ArchiveGeometry) -> None:
        self.config = config
        ranges = config.ranges if config.ranges is not None else geometry.measure_bounds
        if len(ranges) != len(geometry.measure_bounds):
            raise SpecError(
                f"archive.ranges: has {len(ranges)} entries but the problem has "
                f"{len(geometry.measure_bounds)} measures"
            )
        offset = geometry.qd_score_offset
        if config.qd_score_offset is not None:
            offset = config.qd_score_offset
        self.geometry = replace(geometry, measure_bounds=tuple(map(tuple, ranges)))
        self.geometry = replace(self.geometry, qd_score_offset=offset)

    @property
    def measure_dim(self) -> int:
        """Number of measures."""
        return len(self.geometry.measure_bounds)

    def build(self, learning_rate: float | None, seed: int | None) -> ArchiveBase:
        """Build a pyribs archive; `learning_rate` is None for a plain elitist archive."""
        raise NotImplementedError

    def build_torch(self, learning_rate: float | None, seed: int | None, device: Any) -> Any:
        """Build the same archive as an `archives.tensor.TensorArchive` on `device`; families
        without a torch implementation keep this default (the build step names those that have
        one).
        """
        raise NotImplementedError

    def coverage(self, archive: ArchiveBase) -> float:
        """Fraction of cells filled; families without cells override this."""
        return float(archive.stats.coverage)


def annealing_kwargs(learning_rate: float | None, threshold_min: float) -> dict[str, float]:
    """Pyribs keyword arguments for a CMA-MAE soft-threshold archive (none when elitist)."""
    if learning_rate is None:
        return {}
    return {"learning_rate": learning_rate, "threshold_min": threshold_min}


class QDArchive:
    """The run's archive: what emitters see (`search`) and what is reported (`result`).

    With an archive learning rate (CMA-MAE), emitters work on a soft-threshold archive and every
    solution is also inserted in an elitist *result* archive of the same geometry, as pyribs'
    `Scheduler(result_archive=...)` does; statistics and elites always come from the result.

    On the pyribs backend both are pyribs archives; on the torch backend (`device` given) both
    are `archives.tensor.TensorArchive`s on that device, with the same cells and the same
    admission rule, so `add`, `elites` and `stats` mean the same on either.
    """

    def __init__(self, family: ArchiveFamily, device: Any = None) -> None:
        self.family = family
        self.device = device
        geometry = family.geometry
        self.search = self._build(geometry.learning_rate, geometry.seed)
        self.separate_result: Any = None
        if geometry.learning_rate is not None:
            result_seed = int(np.random.SeedSequence(geometry.seed).generate_state(1)[0])
            self.separate_result = self._build(None, result_seed)

    @property
    def on_torch(self) -> bool:
        """Whether the archives are tensors on a torch device."""
        return self.device is not None

    def _build(self, learning_rate: float | None, seed: int | None) -> Any:
        if self.device is None:
            return self.family.build(learning_rate, seed)
        return self.family.build_torch(learning_rate, seed, self.device)

    def attach(self, search: Any, result: Any) -> None:
        """Use restored archives (from a checkpoint) instead of the ones built here."""
        self.search, self.separate_result = search, result

    @property
    def result(self) -> Any:
        """The elitist archive whose elites and statistics are reported."""
        return self.separate_result if self.separate_result is not None else self.search

    def add(self, solutions: Any, objectives: Any, measures: Any, **fields: np.ndarray) -> Any:
        """Insert a batch into both archives; returns the add info of the emitters' archive."""
        info = self.search.add(solutions, objectives, measures, **fields)
        if self.separate_result is not None:
            self.separate_result.add(solutions, objectives, measures, **fields)
        return info

    def clear(self) -> None:
        """Empty both archives."""
        for archive in (self.search, self.separate_result):
            if archive is not None:
                archive.clear()

    def remeasure(self, measures_of: Callable[[dict[str, np.ndarray]], np.ndarray]) -> None:
        """Re-insert every elite under new measures (a learned measure space after a refit).

        Each archive is emptied and takes its elites back in one batch, with measures computed
        by `measures_of` from the elites' fields; where several land in one new cell the best
        one stays (for `proximity`: those novel enough under the new measures). CMA-MAE's
        acceptance thresholds restart from the re-inserted elites.
        """
        core = ("solution", "objective", "measures", "index", "threshold")
        for archive in (self.search, self.separate_result):
            if archive is None or archive.empty:
                continue
            data = archive.data()
            archive.clear()
            extra = {k: v for k, v in data.items() if k not in core}
            archive.add(data["solution"], data["objective"], measures_of(data), **extra)

    def sample_elites(self, n: int) -> dict[str, np.ndarray]:
        """Draw `n` elites of the result archive uniformly, with replacement."""
        return self.result.sample_elites(n)

    def elites(self) -> dict[str, np.ndarray]:
        """All elites of the result archive (host arrays): solution, objective, measures,
        index.
        """
        return self.result.data()

    def stats(self) -> ArchiveStats:
        """QD score, normalised QD score, coverage, best and mean objective, number of elites."""
        s = self.result.stats
        empty = s.num_elites == 0
        return ArchiveStats(
            num_elites=int(s.num_elites),
            coverage=self.family.coverage(self.result),
            qd_score=float(s.qd_score),
            norm_qd_score=float(s.norm_qd_score),
            best=None if empty else float(s.obj_max),
            mean=None if empty else float(s.obj_mean),
        )
