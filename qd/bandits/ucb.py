"""UCB1 (Auer et al. 2002) and its non-stationary variants, discounted and sliding-window UCB.

Discounted and sliding-window UCB follow Garivier & Moulines 2011, "On upper-confidence bound
policies for switching bandit problems" (ALT).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from qd.bandits.base import ArmStats, BanditBase, BanditConfig, register_bandit

Scale = Literal["std", "max", "none"]


class UCB1Config(BanditConfig):
    """Config of `ucb1`: index = mean / scale + c · sqrt(ln T / n)."""

    name: Literal["ucb1"] = "ucb1"
    exploration: float = Field(0.5, ge=0, description="Bonus constant c.")
    scale: Scale = Field(
        "std", description="Divide means by the pooled reward std, the largest |reward|, or 1."
    )


class DiscountedUCBConfig(UCB1Config):
    """Config of `discounted_ucb`: UCB over sums discounted by γ at every pull."""

    name: Literal["discounted_ucb"] = "discounted_ucb"  # type: ignore[assignment]
    exploration: float = Field(0.25, ge=0, description="Bonus constant c.")
    discount: float = Field(0.998, gt=0, le=1, description="Discount γ per pull.")


class SlidingWindowUCBConfig(UCB1Config):
    """Config of `sliding_window_ucb`: UCB over the last `window` pulls only."""

    name: Literal["sliding_window_ucb"] = "sliding_window_ucb"  # type: ignore[assignment]
    exploration: float = Field(0.15, ge=0, description="Bonus constant c.")
    window: int = Field(200, ge=1, description="Pulls remembered.")


def reward_scale(bandit: BanditBase, scale: Scale) -> float:
    """Return the reward unit of the UCB index.

    `std` is the pooled standard deviation of the recorded rewards (UCB1-Normal-like, for
    unbounded rewards), `max` the largest |reward| seen (rewards mapped into [0, 1], as in
    ShinkaEvolve's adaptive scaling), `none` is 1.
    """
    if scale == "none":
        return 1.0
    if scale == "std":
        stats = bandit.stats
        total = float(stats.count.sum())
        if total > 0:
            mean = float(stats.reward.sum()) / total
            var = float(stats.reward_sq.sum()) / total - mean * mean
            if var > 1e-12 * max(bandit.scale, 1.0) ** 2:
                return math.sqrt(var)
    return bandit.scale if bandit.scale > 0 else 1.0


def ucb_scores(bandit: BanditBase, exploration: float, scale: Scale) -> np.ndarray:
    """Return the UCB indices of every arm, per unit cost in `per_cost` mode.

    The index of arm i is m_i / s + c · sqrt(ln T / n_i), where m_i is its (discounted or
    windowed) mean reward, s the reward unit (`reward_scale`), n_i its (discounted or
    windowed) pull weight and T the sum of the n_i.
    """
    stats = bandit.stats
    total = max(float(stats.count.sum()), math.e)
    count = np.maximum(stats.count, 1e-12)
    bonus = exploration * np.sqrt(math.log(total) / count)
    return bandit.per_cost(stats.mean_reward() / reward_scale(bandit, scale) + bonus)


def unexplored(bandit: BanditBase, allowed: np.ndarray) -> np.ndarray:
    """Return the allowed arms without weight in the statistics (unpulled, or out of window)."""
    return allowed & (bandit.stats.count <= 0)


@register_bandit("ucb1")
class UCB1(BanditBase):
    """UCB1: pull every arm once, then the arm with the highest upper confidence bound."""

    Config = UCB1Config

    def _choose(self, allowed: np.ndarray) -> int:
        fresh = unexplored(self, allowed)
        if fresh.any():
            return self.uniform(fresh)
        cfg = self.config
        assert isinstance(cfg, UCB1Config)
        return self.argmax(ucb_scores(self, cfg.exploration, cfg.scale), allowed)


@register_bandit("discounted_ucb")
class DiscountedUCB(UCB1):
    """Discounted UCB: old observations fade by γ per pull, so the index tracks drift."""

    Config = DiscountedUCBConfig


@register_bandit("sliding_window_ucb")
class SlidingWindowUCB(UCB1):
    """Sliding-window UCB: only the last τ pulls enter the means and the bonus."""

    Config = SlidingWindowUCBConfig

    def _make_stats(self) -> ArmStats:
        cfg = self.config
        assert isinstance(cfg, SlidingWindowUCBConfig)
        return ArmStats(self.n_arms, window=cfg.window)
