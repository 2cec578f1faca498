"""MAP-Elites Gaussian mutation (Mouret & Clune 2015) over pyribs' `GaussianEmitter`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from ribs.archives import ArchiveBase
from ribs.emitters import EmitterBase, GaussianEmitter

from mutators.base import EmitterConfig, EmitterContext, EmitterFamily
from mutators.registry import register_emitter
from mutators.torch.base import seed_of
from mutators.torch.gaussian import GaussianGroup


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

    def build_torch(self, archive: Any, context: EmitterContext, seeds: list[int],
                    device: Any) -> GaussianGroup:
        """All `count` emitters as one torch group of `count x batch_size` children."""
        cfg = self.config
        assert isinstance(cfg, GaussianConfig)
        return GaussianGroup(archive, self.x0(context), context.bounds,
                             cfg.count * cfg.batch_size, seed_of(seeds), cfg.sigma)
