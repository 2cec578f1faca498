"""Asymmetric UCB in the style ShinkaEvolve describes (Lange et al. 2025, arXiv:2509.19349).

Only improvements count: the reward of a child is max(child − max(parent, baseline), 0), so a
model that sometimes produces worse programs is not punished for it. Sums and pull weights
are discounted exponentially (the policy tracks drift), an ε share of the choices goes to the
arms that are not the current best, and costs can enter through the shared cost modes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import Field

from qd.bandits.base import BanditBase, BanditConfig, register_bandit
from qd.bandits.ucb import Scale, ucb_scores, unexplored


def improvement(child: float, parent: float | None = None, baseline: float | None = None) -> float:
    """Return the asymmetric reward max(child − max(parent, baseline), 0).

    Args:
        child: Score of the new program.
        parent: Score of the program it was derived from; None when there is none.
        baseline: A floor every child has to beat (e.g. the initial program's score).
    """
    refs = [v for v in (parent, baseline) if v is not None]
    ref = max(refs) if refs else 0.0
    return max(float(child) - ref, 0.0)


class AsymmetricUCBConfig(BanditConfig):
    """Config of `asymmetric_ucb`."""

    name: Literal["asymmetric_ucb"] = "asymmetric_ucb"
    exploration: float = Field(0.15, ge=0, description="Bonus constant c of c·sqrt(2 ln T / n).")
    epsilon: float = Field(0.02, ge=0, le=1, description="Share of pulls given to non-best arms.")
    discount: float = Field(0.995, gt=0, le=1, description="Exponential discount γ per pull.")
    baseline: float | None = Field(None, description="Score every child has to beat.")
    scale: Scale = Field("std", description="Reward unit: pooled std, largest improvement, 1.")


@register_bandit("asymmetric_ucb")
class AsymmetricUCB(BanditBase):
    """UCB over discounted, clipped improvements with ε-exploration.

    `update(arm, reward)` clips `reward` at 0 (pass child − parent, or use `update_scores`).
    The index is m_i / s + c · sqrt(2 ln T / n_i) over discounted sums, where s is the reward
    unit (`scale`: the pooled std by default, or the largest improvement as in ShinkaEvolve);
    with probability ε a uniformly random allowed arm other than the best is pulled instead.
    """

    Config = AsymmetricUCBConfig

    def __init__(self, config: BanditConfig, n_arms: int, seed: int | None = None) -> None:
        super().__init__(config, n_arms, seed)
        assert isinstance(config, AsymmetricUCBConfig)
        self.baseline = config.baseline

    def set_baseline(self, score: float | None) -> None:
        """Change the score every child has to beat."""
        self.baseline = None if score is None else float(score)

    def update_scores(self, arm: int, child: float, parent: float | None = None,
                      cost: float = 1.0) -> float:
        """Update with the improvement of `child` over its parent and the baseline.

        Returns:
            The reward recorded.
        """
        reward = improvement(child, parent, self.baseline)
        self.update(arm, reward, cost)
        return reward

    def _transform(self, reward: float) -> float:
        return max(reward, 0.0)

    def _choose(self, allowed: np.ndarray) -> int:
        fresh = unexplored(self, allowed)
        if fresh.any():
            return self.uniform(fresh)
        cfg = self.config
        assert isinstance(cfg, AsymmetricUCBConfig)
        best = self.argmax(ucb_scores(self, cfg.exploration * math.sqrt(2.0), cfg.scale), allowed)
        others = allowed.copy()
        others[best] = False
        if others.any() and self.rng.random() < cfg.epsilon:
            return self.uniform(others)
        return best

    def _extra_state(self) -> dict[str, Any]:
        return {"baseline": self.baseline}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.baseline = state["baseline"]
