"""Uniform random arm choice: the baseline every learning policy has to beat."""

from __future__ import annotations

from typing import Literal

import numpy as np

from qd.bandits.base import BanditBase, BanditConfig, register_bandit


class UniformConfig(BanditConfig):
    """Config of the `uniform` policy (only the shared cost options)."""

    name: Literal["uniform"] = "uniform"


@register_bandit("uniform")
class Uniform(BanditBase):
    """Pull every allowed arm with the same probability; rewards are recorded, never used.

    In `budget` mode the choice is uniform over the arms that fit the budget; `per_cost` has no
    effect.
    """

    Config = UniformConfig
    learns = False

    def _choose(self, allowed: np.ndarray) -> int:
        return self.uniform(allowed)
