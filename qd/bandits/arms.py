"""Named arms: a product of factors (e.g. models × operators), pulled jointly or per factor."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qd.bandits.base import BanditBase, BanditConfig, make_bandit


class ArmSpace:
    """The arms formed by every combination of named factor levels.

    `ArmSpace({"model": ["a", "b"], "operator": ["diff", "full"]})` has 4 arms; arm indices
    run over the product in row-major order (the last factor varies fastest).

    Args:
        factors: Factor name → its levels (unique names, at least one level each).
    """

    def __init__(self, factors: Mapping[str, Sequence[str]]) -> None:
        if not factors:
            raise ValueError("an arm space needs at least one factor")
        self.factors: dict[str, list[str]] = {}
        for name, levels in factors.items():
            levels = [str(level) for level in levels]
            if not levels or len(set(levels)) != len(levels):
                raise ValueError(f"factor {name!r} needs unique, non-empty levels")
            self.factors[str(name)] = levels
        self.sizes = [len(levels) for levels in self.factors.values()]

    @property
    def n_arms(self) -> int:
        """Number of joint arms (the product of the factor sizes)."""
        return int(np.prod(self.sizes))

    def index(self, arm: Mapping[str, str]) -> int:
        """Joint index of an arm given as factor → level."""
        if set(arm) != set(self.factors):
            raise ValueError(f"an arm names every factor: {', '.join(self.factors)}")
        parts = []
        for name, levels in self.factors.items():
            if arm[name] not in levels:
                raise ValueError(f"unknown {name} {arm[name]!r}; choose one of: {levels}")
            parts.append(levels.index(arm[name]))
        return int(np.ravel_multi_index(parts, self.sizes))

    def levels_of(self, index: int) -> list[int]:
        """Per-factor level indices of joint arm `index`."""
        return [int(i) for i in np.unravel_index(int(index), self.sizes)]

    def arm(self, index: int) -> dict[str, str]:
        """Return the arm with joint index `index` as factor → level."""
        parts = self.levels_of(index)
        return {name: levels[i] for (name, levels), i in zip(self.factors.items(), parts,
                                                              strict=True)}

    def labels(self) -> list[str]:
        """Readable names of the joint arms, e.g. "a/diff"."""
        return ["/".join(combo) for combo in itertools.product(*self.factors.values())]


class FactorisedBandit:
    """A bandit over an `ArmSpace`, joint or factorised.

    Joint (`factorised=False`): one policy over all `n_arms` combinations; it can learn
    interactions (model a is good with operator x only) but needs every combination pulled.
    Factorised: one policy per factor, each choosing its level independently and each updated
    with the reward and cost of the joint pull; it learns from fewer pulls and scales to large
    products, at the price of assuming the factors' effects add up.

    It implements the `Bandit` protocol over joint indices; `select_arm()` returns the names.

    Args:
        space: The arms.
        config: Config of the policy used for the joint bandit or for every factor.
        seed: Seed; factor bandits get independent streams spawned from it.
        factorised: One bandit per factor instead of one over the product.
    """

    def __init__(self, space: ArmSpace, config: BanditConfig | Mapping[str, Any],
                 seed: int | None = None, factorised: bool = False) -> None:
        self.space, self.factorised = space, factorised
        self.n_arms = space.n_arms
        if factorised:
            seeds = np.random.SeedSequence(seed).generate_state(len(space.sizes))
            self.bandits = [make_bandit(config, size, int(s))
                            for size, s in zip(space.sizes, seeds, strict=True)]
        else:
            self.bandits = [make_bandit(config, space.n_arms, seed)]

    def select(self) -> int:
        """Choose the next joint arm index."""
        if not self.factorised:
            return self.bandits[0].select()
        parts = [b.select() for b in self.bandits]
        return int(np.ravel_multi_index(parts, self.space.sizes))

    def select_arm(self) -> dict[str, str]:
        """Choose the next arm as factor → level."""
        return self.space.arm(self.select())

    def update(self, arm: int | Mapping[str, str], reward: float, cost: float = 1.0) -> None:
        """Record a pull of `arm` (joint index or factor → level)."""
        index = arm if isinstance(arm, int | np.integer) else self.space.index(arm)
        if not self.factorised:
            self.bandits[0].update(int(index), reward, cost)
            return
        for bandit, level in zip(self.bandits, self.space.levels_of(int(index)), strict=True):
            bandit.update(level, reward, cost)

    def state_dict(self) -> dict[str, Any]:
        """Return the state of every underlying bandit."""
        return {"factors": self.space.factors, "factorised": self.factorised,
                "bandits": [b.state_dict() for b in self.bandits]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state saved by `state_dict` over the same arm space and mode."""
        if state["factors"] != self.space.factors or state["factorised"] != self.factorised:
            raise ValueError("state was saved over another arm space or mode")
        for bandit, sub in zip(self.bandits, state["bandits"], strict=True):
            bandit.load_state_dict(sub)

    @property
    def policies(self) -> list[BanditBase]:
        """The underlying bandits (one, or one per factor)."""
        return list(self.bandits)
