"""Thompson sampling (Thompson 1933; Agrawal & Goyal 2012), Gaussian and Beta-on-success.

Both variants can discount old observations by γ per pull (discounted Thompson sampling,
Raj & Kalyani 2017), which keeps the posteriors wide enough to follow drifting arms. In
`per_cost` mode each posterior draw is divided by the arm's relative mean cost, as in budgeted
Thompson sampling (Xia et al. 2015).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from qd.bandits.base import BanditBase, BanditConfig, register_bandit


class ThompsonGaussianConfig(BanditConfig):
    """Config of `thompson_gaussian`."""

    name: Literal["thompson_gaussian"] = "thompson_gaussian"
    discount: float = Field(1.0, gt=0, le=1, description="Discount γ per pull (1: stationary).")
    prior_strength: float = Field(
        8.0, gt=0, description="Pseudo-pulls of the prior (pooled mean and variance)."
    )
    sigma: float | None = Field(
        None, gt=0, description="Known reward noise; None estimates it per arm."
    )


class ThompsonBetaConfig(BanditConfig):
    """Config of `thompson_beta`: a pull succeeds when its reward exceeds `threshold`."""

    name: Literal["thompson_beta"] = "thompson_beta"
    discount: float = Field(1.0, gt=0, le=1, description="Discount γ per pull (1: stationary).")
    alpha: float = Field(1.0, gt=0, description="Prior successes.")
    beta: float = Field(1.0, gt=0, description="Prior failures.")
    threshold: float = Field(0.0, description="Rewards above this count as successes.")


@register_bandit("thompson_gaussian")
class ThompsonGaussian(BanditBase):
    """Gaussian Thompson sampling over (discounted) reward means.

    The posterior of arm i is N(μ_i, σ_i² / (n_i + n0)) with μ_i the mean shrunk towards the
    pooled mean by n0 = `prior_strength` pseudo-pulls, and σ_i² the arm's sample variance shrunk
    likewise towards the pooled variance (or `sigma`² when given).
    """

    Config = ThompsonGaussianConfig

    def _choose(self, allowed: np.ndarray) -> int:
        cfg = self.config
        assert isinstance(cfg, ThompsonGaussianConfig)
        s = self.stats
        n0, total = cfg.prior_strength, float(s.count.sum())
        if total > 0:
            m0 = float(s.reward.sum()) / total
            v0 = max(float(s.reward_sq.sum()) / total - m0 * m0, 0.0)
        else:
            m0, v0 = 0.0, 0.0
        if v0 <= 1e-12 * max(self.scale, 1.0) ** 2:
            v0 = max(self.scale, 1.0) ** 2
        mean = (s.reward + n0 * m0) / (s.count + n0)
        if cfg.sigma is not None:
            var = np.full(self.n_arms, cfg.sigma**2)
        else:
            spread = np.maximum(s.reward_sq - s.reward * s.reward / np.maximum(s.count, 1e-12), 0)
            var = (spread + n0 * v0) / (s.count + n0)
        draw = mean + np.sqrt(var / (s.count + n0)) * self.rng.standard_normal(self.n_arms)
        return self.argmax(self.per_cost(draw), allowed)


@register_bandit("thompson_beta")
class ThompsonBeta(BanditBase):
    """Beta-Bernoulli Thompson sampling on the success rate (reward > threshold).

    The size of an improvement is ignored: only whether there was one. The statistics record
    the success indicator as the reward.
    """

    Config = ThompsonBetaConfig

    def _transform(self, reward: float) -> float:
        cfg = self.config
        assert isinstance(cfg, ThompsonBetaConfig)
        return 1.0 if reward > cfg.threshold else 0.0

    def _choose(self, allowed: np.ndarray) -> int:
        cfg = self.config
        assert isinstance(cfg, ThompsonBetaConfig)
        s = self.stats
        draw = self.rng.beta(cfg.alpha + s.reward, cfg.beta + s.count - s.reward)
        return self.argmax(self.per_cost(draw), allowed)
