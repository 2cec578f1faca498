"""Iso+line-DD variation (Vassiliades & Mouret 2018) over pyribs' `IsoLineEmitter`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from ribs.archives import ArchiveBase
from ribs.emitters import EmitterBase, IsoLineEmitter

from mutators.base import EmitterConfig, EmitterContext, EmitterFamily
from mutators.registry import register_emitter
from mutators.torch.base import seed_of
from mutators.torch.gaussian import IsoLineGroup


class IsoLineConfig(EmitterConfig):
    """Config of the `iso_line` emitter."""

    name: Literal["iso_line"] = "iso_line"
    iso_sigma: float = Field(0.01, gt=0, description="Isotropic Gaussian noise.")
    line_sigma: float = Field(0.2, ge=0, description="Noise along the line between two elites.")


@register_emitter("iso_line")
class IsoLine(EmitterFamily):
    """Perturb an elite isotropically plus along the direction to a second elite."""

    Config = IsoLineConfig

    def _build_one(self, archive: ArchiveBase, context: EmitterContext, seed: int) -> EmitterBase:
        cfg = self.config
        assert isinstance(cfg, IsoLineConfig)
        return IsoLineEmitter(
            archive,
            iso_sigma=cfg.iso_sigma,
            line_sigma=cfg.line_sigma,
            x0=self.x0(context),
            bounds=context.bounds,
            batch_size=cfg.batch_size,
            seed=seed,
        )

    def build_torch(self, archive: Any, context: EmitterContext, seeds: list[int],
                    device: Any) -> IsoLineGroup:
        """All `count` emitters as one torch group of `count x batch_size` children."""
        cfg = self.config
        assert isinstance(cfg, IsoLineConfig)
        return IsoLineGroup(archive, self.x0(context), context.bounds,
                            cfg.count * cfg.batch_size, seed_of(seeds), cfg.iso_sigma,
                            cfg.line_sigma)
