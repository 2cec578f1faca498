"""Stateless parent selectors (MAP-Elites, roulette, power law, ShinkaEvolve, novelty).

Uniform selection is MAP-Elites' (Mouret & Clune 2015); power-law rank and the sigmoid around
the median damped by 1/(1 + children) follow ShinkaEvolve (Lange et al. 2025,
arXiv:2509.19349); novelty weighting follows novelty search (Lehman & Stanley 2011).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from qd.selection.base import SelectorBase, SelectorConfig, register_selector
from qd.selection.pool import ElitePool


def shifted(values: np.ndarray, floor: float) -> np.ndarray:
    """Return `values` − min + floor · range (all ones when every value is equal)."""
    low, span = float(values.min()), float(values.max() - values.min())
    if span <= 0:
        return np.ones_like(values)
    return values - low + floor * span


def competition_rank(values: np.ndarray) -> np.ndarray:
    """Return 1 + the number of strictly better (larger) values, per entry (ties share)."""
    order = np.sort(values)
    return 1 + (values.shape[0] - np.searchsorted(order, values, side="right"))


class UniformConfig(SelectorConfig):
    """Config of `uniform`."""

    name: Literal["uniform"] = "uniform"


@register_selector("uniform")
class Uniform(SelectorBase):
    """Every elite equally likely (MAP-Elites)."""

    Config = UniformConfig

    def weights(self, pool: ElitePool) -> np.ndarray:
        """Return ones."""
        return np.ones(len(pool))


class FitnessProportionalConfig(SelectorConfig):
    """Config of `fitness_proportional`."""

    name: Literal["fitness_proportional"] = "fitness_proportional"
    floor: float = Field(0.01, ge=0, description="Weight of the worst elite, as range share.")


@register_selector("fitness_proportional")
class FitnessProportional(SelectorBase):
    """Roulette wheel on the objective shifted so the worst elite weighs `floor` · range."""

    Config = FitnessProportionalConfig

    def weights(self, pool: ElitePool) -> np.ndarray:
        """Return the shifted objectives."""
        cfg = self.config
        assert isinstance(cfg, FitnessProportionalConfig)
        return shifted(pool.objectives, cfg.floor)


class PowerLawConfig(SelectorConfig):
    """Config of `power_law`."""

    name: Literal["power_law"] = "power_law"
    alpha: float = Field(1.0, ge=0, description="Exponent: weight = rank^-alpha (rank 1 best).")


@register_selector("power_law")
class PowerLaw(SelectorBase):
    """Weight rank^-α by objective (rank 1 = best; ties share the better rank).

    α = 0 is uniform; a large α approaches hill climbing from the best elite.
    """

    Config = PowerLawConfig

    def weights(self, pool: ElitePool) -> np.ndarray:
        """Return rank^-alpha."""
        cfg = self.config
        assert isinstance(cfg, PowerLawConfig)
        return competition_rank(pool.objectives).astype(np.float64) ** -cfg.alpha


class ShinkaWeightedConfig(SelectorConfig):
    """Config of `shinka_weighted`."""

    name: Literal["shinka_weighted"] = "shinka_weighted"
    sharpness: float = Field(10.0, ge=0, description="λ of sigmoid(λ · (f − median)).")
    standardise: bool = Field(
        True, description="Divide f − median by the objectives' std (scale-free λ)."
    )


@register_selector("shinka_weighted")
class ShinkaWeighted(SelectorBase):
    """Weight sigmoid(λ · (f − median f)) / (1 + children), as ShinkaEvolve describes.

    Good elites are preferred, and an elite that already has many children is damped so that
    others get their turn.
    """

    Config = ShinkaWeightedConfig

    def weights(self, pool: ElitePool) -> np.ndarray:
        """Return the sigmoid weights damped by the children counts."""
        cfg = self.config
        assert isinstance(cfg, ShinkaWeightedConfig)
        f = pool.objectives
        z = f - np.median(f)
        std = float(f.std())
        if cfg.standardise and std > 0:
            z = z / std
        score = 1.0 / (1.0 + np.exp(-np.clip(cfg.sharpness * z, -500, 500)))
        return score / (1.0 + np.maximum(pool.children, 0))


class NoveltyConfig(SelectorConfig):
    """Config of `novelty`."""

    name: Literal["novelty"] = "novelty"
    power: float = Field(1.0, ge=0, description="Exponent on the shifted novelty.")
    floor: float = Field(0.01, ge=0, description="Weight of the least novel, as range share.")
    fitness_power: float = Field(
        0.0, ge=0, description="Exponent on shifted objectives multiplied in (0: novelty only)."
    )


@register_selector("novelty")
class Novelty(SelectorBase):
    """Weight (shifted novelty)^power · (shifted objective)^fitness_power; needs pool.novelty."""

    Config = NoveltyConfig

    def weights(self, pool: ElitePool) -> np.ndarray:
        """Return the novelty weights."""
        cfg = self.config
        assert isinstance(cfg, NoveltyConfig)
        if pool.novelty is None:
            raise ValueError("the novelty selector needs ElitePool.novelty")
        w = shifted(pool.novelty, cfg.floor) ** cfg.power
        if cfg.fitness_power > 0:
            w = w * shifted(pool.objectives, cfg.floor) ** cfg.fitness_power
        return w
