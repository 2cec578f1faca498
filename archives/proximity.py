"""Novelty-search archive (Lehman & Stanley 2011) over pyribs' `ProximityArchive`.

A solution enters when its novelty (mean distance to its k nearest neighbours in measure space)
exceeds a threshold; with `local_competition` it may also replace a less fit neighbour. The archive
has no cells, so qd reports coverage on a reference grid over the measure ranges instead of
pyribs' value (which is always 1).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field
from ribs.archives import ArchiveBase, ProximityArchive

from archives.base import ArchiveConfig, ArchiveFamily
from archives.grid import default_cells
from archives.registry import register_archive
from qd.errors import SpecError


class ProximityConfig(ArchiveConfig):
    """Config of the `proximity` (novelty) archive."""

    name: Literal["proximity"] = "proximity"
    k_neighbors: int = Field(15, ge=1, le=10_000, description="k of the k-NN novelty.")
    novelty_threshold: float | None = Field(
        None, gt=0, description="Novelty needed to enter; default 2% of the measure-space diagonal."
    )
    local_competition: bool = Field(False, description="Let fitter neighbours replace elites.")
    coverage_cells: int | None = Field(
        None, ge=2, le=1000, description="Reference-grid cells per measure used for coverage."
    )


@register_archive("proximity")
class Proximity(ArchiveFamily):
    """Unstructured novelty archive; coverage is measured on a reference grid."""

    Config = ProximityConfig

    def build(self, learning_rate: float | None, seed: int | None) -> ArchiveBase:
        """Build a pyribs `ProximityArchive` (no learning rate: CMA-MAE needs cells)."""
        cfg = self.config
        assert isinstance(cfg, ProximityConfig)
        if learning_rate is not None:
            raise SpecError(
                "archive.name: 'proximity' does not support an archive learning rate; "
                "use 'grid' or 'cvt' with the cma_mae emitter"
            )
        bounds = np.asarray(self.geometry.measure_bounds, dtype=float)
        self._low, self._high = bounds[:, 0], bounds[:, 1]
        cells = cfg.coverage_cells or default_cells(self.measure_dim)[0]
        self._cells = cells
        threshold = cfg.novelty_threshold
        if threshold is None:
            threshold = 0.02 * float(np.linalg.norm(self._high - self._low))
        return ProximityArchive(
            solution_dim=self.geometry.solution_dim,
            measure_dim=self.measure_dim,
            k_neighbors=cfg.k_neighbors,
            novelty_threshold=threshold,
            local_competition=cfg.local_competition,
            qd_score_offset=self.geometry.qd_score_offset,
            seed=seed,
            **self.geometry.fields_kwargs(),
        )

    def coverage(self, archive: ArchiveBase) -> float:
        """Fraction of reference-grid cells (over `ranges`) that hold at least one elite."""
        if archive.empty:
            return 0.0
        measures = archive.data("measures")
        scaled = (measures - self._low) / (self._high - self._low)
        idx = np.clip((scaled * self._cells).astype(np.int64), 0, self._cells - 1)
        flat = np.ravel_multi_index(idx.T, (self._cells,) * self.measure_dim)
        return float(np.unique(flat).size / self._cells**self.measure_dim)
