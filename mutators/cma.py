"""CMA-ME and CMA-MAE emitters over pyribs' `EvolutionStrategyEmitter`.

CMA-ME: Fontaine et al., "Covariance Matrix Adaptation for the Rapid Illumination of Behavior
Space" (GECCO 2020): CMA-ES ranked by archive improvement, restarted when it stops improving.
CMA-MAE: Fontaine & Nikolaidis, "Covariance Matrix Adaptation MAP-Annealing" (GECCO 2023): the
archive keeps soft thresholds updated with learning rate alpha, and the ES ranks by improvement
over the thresholds.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field
from ribs.archives import ArchiveBase
from ribs.emitters import EmitterBase, EvolutionStrategyEmitter

from mutators.base import EmitterConfig, EmitterContext, EmitterFamily
from mutators.registry import register_emitter
from mutators.torch.base import seed_of
from mutators.torch.es import ESEmitterGroup, check_torch_support

Ranker = Literal["2imp", "imp", "obj", "2obj", "rd", "2rd", "nov"]


class _ESConfig(EmitterConfig):
    sigma0: float = Field(0.5, gt=0, description="Initial step size of CMA-ES.")
    es: Literal["cma_es", "sep_cma_es", "lm_ma_es", "openai_es"] = Field(
        "cma_es", description="Evolution strategy (pyribs name)."
    )


class CMAMEConfig(_ESConfig):
    """Config of the `cma_me` emitter."""

    name: Literal["cma_me"] = "cma_me"
    ranker: Ranker = Field("2imp", description="Ranking of offspring (pyribs ranker name).")
    selection_rule: Literal["filter", "mu"] = "filter"
    restart_rule: Literal["no_improvement", "basic"] = "no_improvement"


class CMAMAEConfig(_ESConfig):
    """Config of the `cma_mae` emitter."""

    name: Literal["cma_mae"] = "cma_mae"
    learning_rate: float = Field(0.01, gt=0, le=1, description="Archive learning rate alpha.")
    threshold_min: float | None = Field(
        None, description="Initial cell threshold; default: the problem's worst objective."
    )
    ranker: Ranker = Field("imp", description="Ranking of offspring (pyribs ranker name).")
    selection_rule: Literal["filter", "mu"] = "mu"
    restart_rule: Literal["no_improvement", "basic"] = "basic"


class _ESFamily(EmitterFamily):
    def _build_one(self, archive: ArchiveBase, context: EmitterContext, seed: int) -> EmitterBase:
        cfg = self.config
        assert isinstance(cfg, CMAMEConfig | CMAMAEConfig)
        return EvolutionStrategyEmitter(
            archive,
            x0=self.x0(context),
            sigma0=cfg.sigma0,
            ranker=cfg.ranker,
            es=cfg.es,
            selection_rule=cfg.selection_rule,
            restart_rule=cfg.restart_rule,
            bounds=context.bounds,
            batch_size=cfg.batch_size,
            seed=seed,
        )

    def build_torch(
        self, archive: Any, context: EmitterContext, seeds: list[int], device: torch.device
    ) -> ESEmitterGroup:
        """One torch group for the family's `count` emitters (run.backend = "torch").

        The group's single generator is seeded with `seed_of(seeds)` (a SeedSequence of all the
        emitters' seeds, in order), so the same seeds give the same run; the streams are not
        those of the numpy backend's emitters. Raises SpecError for an `es` or `ranker` the
        torch backend lacks.
        """
        cfg = self.config
        assert isinstance(cfg, CMAMEConfig | CMAMAEConfig)
        check_torch_support(cfg.es, cfg.ranker)
        return ESEmitterGroup(
            archive,
            count=cfg.count,
            x0=self.x0(context),
            sigma0=cfg.sigma0,
            ranker=cfg.ranker,
            es=cfg.es,
            selection_rule=cfg.selection_rule,
            restart_rule=cfg.restart_rule,
            bounds=context.bounds,
            batch_size=cfg.batch_size,
            seed=seed_of(seeds),
            device=device,
        )


@register_emitter("cma_me")
class CMAME(_ESFamily):
    """CMA-ME: CMA-ES ranked by (two-stage) improvement of the archive."""

    Config = CMAMEConfig


@register_emitter("cma_mae")
class CMAMAE(_ESFamily):
    """CMA-MAE: CMA-ES over an archive with soft thresholds (learning rate alpha)."""

    Config = CMAMAEConfig

    @property
    def archive_learning_rate(self) -> float | None:
        """The configured alpha."""
        assert isinstance(self.config, CMAMAEConfig)
        return self.config.learning_rate

    @property
    def archive_threshold_min(self) -> float | None:
        """The configured threshold_min (None: the problem's worst objective)."""
        assert isinstance(self.config, CMAMAEConfig)
        return self.config.threshold_min
