"""MAP-Elites grid archive (Mouret & Clune 2015) over pyribs' `GridArchive`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from ribs.archives import ArchiveBase, GridArchive

from archives.base import ArchiveConfig, ArchiveFamily, annealing_kwargs
from archives.registry import register_archive
from qd.errors import SpecError


def default_cells(measure_dim: int, total: int = 10_000) -> list[int]:
    """About `total` cells spread evenly over the measures (at most 100 per measure)."""
    return [max(2, min(100, round(total ** (1.0 / measure_dim))))] * measure_dim


def resolve_cells(cells: list[int] | None, measure_dim: int) -> list[int]:
    """The configured cells per measure, or the default; the count must match the measures."""
    if cells is None:
        return default_cells(measure_dim)
    if len(cells) != measure_dim:
        raise SpecError(
            f"archive.cells: has {len(cells)} entries but the problem has {measure_dim} measures"
        )
    return list(cells)


class GridConfig(ArchiveConfig):
    """Config of the `grid` archive."""

    name: Literal["grid"] = "grid"
    cells: list[Annotated[int, Field(ge=1, le=1_000_000)]] | None = Field(
        None, description="Cells per measure; default about 10,000 cells in all."
    )
    epsilon: float = Field(1e-6, ge=0, description="Tolerance when comparing objectives.")


@register_archive("grid")
class Grid(ArchiveFamily):
    """A regular grid of cells over the measure ranges, one elite per cell."""

    Config = GridConfig
    supports_learning_rate = True

    def build(self, learning_rate: float | None, seed: int | None) -> ArchiveBase:
        """Build a pyribs `GridArchive`."""
        cfg = self.config
        assert isinstance(cfg, GridConfig)
        g = self.geometry
        cells = resolve_cells(cfg.cells, self.measure_dim)
        extra = annealing_kwargs(learning_rate, g.threshold_min)
        return GridArchive(
            solution_dim=g.solution_dim,
            dims=cells,
            ranges=g.measure_bounds,
            epsilon=cfg.epsilon,
            qd_score_offset=g.qd_score_offset,
            seed=seed,
            **g.fields_kwargs(),
            **extra,
        )
