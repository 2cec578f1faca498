"""Sliding-boundaries MAP-Elites (Fontaine et al. 2019) over pyribs' `SlidingBoundariesArchive`.

Cell boundaries are re-placed periodically at the percentiles of recent solutions' measures, for
measure spaces whose occupied region is unknown in advance.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from ribs.archives import ArchiveBase, SlidingBoundariesArchive

from archives.base import ArchiveConfig, ArchiveFamily
from archives.grid import resolve_cells
from archives.registry import register_archive
from qd.errors import SpecError


class SlidingBoundariesConfig(ArchiveConfig):
    """Config of the `sliding_boundaries` archive."""

    name: Literal["sliding_boundaries"] = "sliding_boundaries"
    cells: list[Annotated[int, Field(ge=1, le=100_000)]] | None = Field(
        None, description="Cells per measure; default about 10,000 cells in all."
    )
    remap_frequency: int = Field(100, ge=1, description="Re-place boundaries every N additions.")
    buffer_capacity: int = Field(1000, ge=1, description="Recent solutions kept for remapping.")


@register_archive("sliding_boundaries")
class SlidingBoundaries(ArchiveFamily):
    """A grid whose boundaries follow the distribution of recent measures."""

    Config = SlidingBoundariesConfig

    def build(self, learning_rate: float | None, seed: int | None) -> ArchiveBase:
        """Build a pyribs `SlidingBoundariesArchive` (no learning rate: elitist only)."""
        cfg = self.config
        assert isinstance(cfg, SlidingBoundariesConfig)
        if learning_rate is not None:
            raise SpecError(
                "archive.name: 'sliding_boundaries' does not support an archive learning rate; "
                "use 'grid' or 'cvt' with the cma_mae emitter"
            )
        cells = resolve_cells(cfg.cells, self.measure_dim)
        g = self.geometry
        return SlidingBoundariesArchive(
            solution_dim=g.solution_dim,
            dims=cells,
            ranges=g.measure_bounds,
            qd_score_offset=g.qd_score_offset,
            remap_frequency=cfg.remap_frequency,
            buffer_capacity=cfg.buffer_capacity,
            seed=seed,
            **g.fields_kwargs(),
        )
