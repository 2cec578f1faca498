"""CVT-MAP-Elites archive (Vassiliades et al. 2018) over pyribs' `CVTArchive`.

Centroids of a centroidal Voronoi tessellation replace grid cells, so the number of cells stays
fixed however many measures there are.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import Field
from ribs.archives import ArchiveBase, CVTArchive

from archives.base import ArchiveConfig, ArchiveFamily, annealing_kwargs
from archives.registry import register_archive
from qd.errors import SpecError

if TYPE_CHECKING:
    import torch

    from archives.tensor import TensorArchive


class CVTConfig(ArchiveConfig):
    """Config of the `cvt` archive."""

    name: Literal["cvt"] = "cvt"
    centroids: int = Field(1000, ge=2, le=1_000_000, description="Number of Voronoi cells.")
    samples: int = Field(
        20_000, ge=10, le=10_000_000, description="Samples used by k-means to place centroids."
    )


@register_archive("cvt")
class CVT(ArchiveFamily):
    """Voronoi cells around k-means centroids of uniform samples of the measure space."""

    Config = CVTConfig
    supports_learning_rate = True

    def __init__(self, config: CVTConfig, geometry) -> None:  # noqa: ANN001 - see base
        super().__init__(config, geometry)
        self._centroids = None

    def build(self, learning_rate: float | None, seed: int | None) -> ArchiveBase:
        """Build a pyribs `CVTArchive`; result and emitter archives share the same centroids."""
        cfg = self.config
        assert isinstance(cfg, CVTConfig)
        if cfg.samples < cfg.centroids:
            raise SpecError(
                f"archive.samples: {cfg.samples} is fewer than archive.centroids "
                f"({cfg.centroids}); use at least as many samples as centroids"
            )
        g = self.geometry
        archive = CVTArchive(
            solution_dim=g.solution_dim,
            centroids=self._centroids if self._centroids is not None else cfg.centroids,
            samples=cfg.samples,
            ranges=g.measure_bounds,
            qd_score_offset=g.qd_score_offset,
            seed=seed,
            **g.fields_kwargs(),
            **annealing_kwargs(learning_rate, g.threshold_min),
        )
        self._centroids = archive.centroids
        return archive

    def build_torch(
        self,
        learning_rate: float | None,
        seed: int | None,
        device: torch.device | str,
        dtype: torch.dtype | None = None,
    ) -> TensorArchive:
        """Build the torch `TensorArchive` twin of `build`, on the very same centroids.

        The centroids are those of the pyribs archives of this family; when none was built
        yet, one is built (with the geometry's seed, as `QDArchive` builds its first) to place
        them, so both backends get the same cells whichever is built first.
        """
        import torch

        from archives.tensor import CVTIndex, TensorArchive, reject_extra_fields

        g = self.geometry
        reject_extra_fields(g)
        if self._centroids is None:
            self.build(learning_rate, g.seed)
        dtype = torch.float64 if dtype is None else dtype
        index = CVTIndex(self._centroids, device=device, dtype=dtype)
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
