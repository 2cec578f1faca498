"""Iso+line-DD variation (Vassiliades & Mouret 2018) over pyribs' `IsoLineEmitter`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from ribs.archives import ArchiveBase
from ribs.emitters import EmitterBase, IsoLineEmitter

from mutators.base import EmitterConfig, EmitterContext, EmitterFamily
from mutators.registry import register_emitter


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
