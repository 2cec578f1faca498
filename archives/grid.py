"""MAP-Elites grid archive (Mouret & Clune 2015) over pyribs' `GridArchive`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field
from ribs.archives import ArchiveBase, GridArchive

from archives.base import ArchiveConfig, ArchiveFamily, annealing_kwargs
from archives.registry import register_archive
from qd.errors import SpecError

if TYPE_CHECKING:
    import torch

    from archives.tensor import TensorArchive


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

    def build_torch(
        self,
        learning_rate: float | None,
        seed: int | None,
        device: torch.device | str,
        dtype: torch.dtype | None = None,
    ) -> TensorArchive:
        """Build the torch `TensorArchive` twin of `build` (same cells, same admission rule)."""
        import torch

        from archives.tensor import GridIndex, TensorArchive, reject_extra_fields

        cfg = self.config
        assert isinstance(cfg, GridConfig)
        g = self.geometry
        reject_extra_fields(g)
        dtype = torch.float64 if dtype is None else dtype
        cells = resolve_cells(cfg.cells, self.measure_dim)
        index = GridIndex(cells, g.measure_bounds, cfg.epsilon, device=device, dtype=dtype)
        return TensorArchive(
            index,
            g.solution_dim,
            learning_rate=1.0 if learning_rate is None else learning_rate,
            threshold_min=-math.inf if learning_rate is None else g.threshold_min,
            qd_score_offset=g.qd_score_offset,
            device=device,
            dtype=dtype,
            seed=seed,
        )
