"""EXP3, the adversarial bandit of Auer, Cesa-Bianchi, Freund & Schapire 2002 (SIAM J. Comput.).

Rewards are scaled into [0, 1] by the largest value seen so far (reward, or reward per unit
cost in `per_cost` mode; negative values count as 0); the importance-weighted estimate updates
log-weights, so no stationarity is assumed. `forgetting` < 1 shrinks the log-weights towards
uniform at every pull, which lets the policy follow drift faster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import Field

from qd.bandits.base import BanditBase, BanditConfig, register_bandit


class EXP3Config(BanditConfig):
    """Config of `exp3`."""

    name: Literal["exp3"] = "exp3"
    gamma: float = Field(0.3, gt=0, le=1, description="Uniform exploration mix γ.")
    forgetting: float = Field(
        1.0, gt=0, le=1, description="Factor on the log-weights per pull (1: none)."
    )


@register_bandit("exp3")
class EXP3(BanditBase):
    """EXP3: p = (1 − γ) · softmax(w) + γ / K over the allowed arms; w_j += γ x̂_j / K."""

    Config = EXP3Config

    def __init__(self, config: BanditConfig, n_arms: int, seed: int | None = None) -> None:
        super().__init__(config, n_arms, seed)
        self.log_w = np.zeros(n_arms)
        self.value_scale = 0.0
        self.probs = np.full(n_arms, 1.0 / n_arms)

    def probabilities(self, allowed: np.ndarray) -> np.ndarray:
        """Return the EXP3 distribution over the allowed arms."""
        cfg = self.config
        assert isinstance(cfg, EXP3Config)
        w = np.where(allowed, np.exp(self.log_w - self.log_w[allowed].max()), 0.0)
        k = int(allowed.sum())
        return (1.0 - cfg.gamma) * w / w.sum() + np.where(allowed, cfg.gamma / k, 0.0)

    def _choose(self, allowed: np.ndarray) -> int:
        self.probs = self.probabilities(allowed)
        return int(self.rng.choice(self.n_arms, p=self.probs))

    def _observe(self, arm: int, value: float, cost: float) -> None:
        cfg = self.config
        assert isinstance(cfg, EXP3Config)
        if cfg.cost_mode == "per_cost":
            value /= cost
        value = max(value, 0.0)
        self.value_scale = max(self.value_scale, value)
        x = value / self.value_scale if self.value_scale > 0 else 0.0
        p = max(float(self.probs[arm]), 1e-12)
        self.log_w *= cfg.forgetting
        self.log_w[arm] += cfg.gamma * (x / p) / self.n_arms
        self.log_w -= self.log_w.max()

    def _extra_state(self) -> dict[str, Any]:
        return {"log_w": self.log_w.tolist(), "value_scale": self.value_scale,
                "probs": self.probs.tolist()}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.log_w = np.asarray(state["log_w"], dtype=np.float64)
        self.value_scale = float(state["value_scale"])
        self.probs = np.asarray(state["probs"], dtype=np.float64)
