"""MAP-Elites Gaussian mutation (Mouret & Clune 2015) over pyribs' `GaussianEmitter`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from ribs.archives import ArchiveBase
from ribs.emitters import EmitterBase, GaussianEmitter

from mutators.base import EmitterConfig, EmitterContext, EmitterFamily
from mutators.registry import register_emitter


class GaussianConfig(EmitterConfig):
    """Config of the `gaussian` emitter."""

    name: Literal["gaussian"] = "gaussian"
    sigma: float = Field(0.5, gt=0, description="Standard deviation of the Gaussian mutation.")


@register_emitter("gaussian")
class Gaussian(EmitterFamily):
    """Pick random elites, add isotropic Gaussian noise (clipped to the problem's bounds)."""

    Config = GaussianConfig

    def _build_one(self, archive: ArchiveBase, context: EmitterContext, seed: int) -> EmitterBase:
        cfg = self.config
        assert isinstance(cfg, GaussianConfig)
        return GaussianEmitter(
            archive,
            sigma=cfg.sigma,
            x0=self.x0(context),
            bounds=context.bounds,
            batch_size=cfg.batch_size,
            seed=seed,
        )
