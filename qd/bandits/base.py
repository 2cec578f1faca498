"""Bandit protocol, registry, per-arm statistics and the cost modes shared by every policy."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import Field, model_validator

from qd.components import ComponentConfig
from qd.registry import Registry

bandit_registry: Registry[type] = Registry("bandit")
register_bandit = bandit_registry.register

CostMode = Literal["ignore", "per_cost", "budget"]


@runtime_checkable
class Bandit(Protocol):
    """A multi-armed bandit with an internal numpy Generator seeded at construction.

    Every policy chooses arms with `select()` and learns from `update(arm, reward, cost)`; its
    whole state, RNG included, round-trips through `state_dict()` / `load_state_dict()` as JSON.
    """

    n_arms: int

    def select(self) -> int:
        """Choose the next arm (an index in `range(n_arms)`)."""
        ...

    def update(self, arm: int, reward: float, cost: float = 1.0) -> None:
        """Record the reward of one pull of `arm` and what it cost (> 0)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Return the full state as JSON-serialisable plain data."""
        ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by `state_dict()` of a bandit with the same config."""
        ...


class BanditConfig(ComponentConfig):
    """Options shared by every bandit policy.

    `cost_mode` chooses how pull costs enter the choice: `ignore` maximises reward per pull,
    `per_cost` maximises reward per unit cost (ratio of the reward and cost estimates), and
    `budget` maximises reward per pull among the arms whose estimated cost fits the remaining
    budget (paced over the remaining pulls when `horizon` is given).
    """

    cost_mode: CostMode = Field("ignore", description="ignore | per_cost | budget.")
    budget: float | None = Field(None, gt=0, description="Total cost allowed (budget mode).")
    horizon: int | None = Field(None, ge=1, description="Planned pulls, to pace the budget.")
    min_share: float = Field(0.0, ge=0.0, le=1.0, description="Forced exploration, as a "
                             "fraction of an equal share: an allowed arm with fewer than "
                             "min_share / arms of the pulls so far is pulled next (the furthest "
                             "behind first), so an arm that failed a few times early is still "
                             "tried; 0.5 keeps each of 3 arms above 1/6 of the pulls. 0: off.")

    @model_validator(mode="after")
    def _budget_needs_budget(self) -> BanditConfig:
        if self.cost_mode == "budget" and self.budget is None:
            raise ValueError("cost_mode 'budget' needs a budget")
        return self


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """Return the bit generator state of `rng` as plain JSON data (a deep copy)."""
    state = rng.bit_generator.state
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in state.items()}


def new_rng(seed: int | None, state: Mapping[str, Any] | None = None) -> np.random.Generator:
    """Return a PCG64 generator seeded with `seed`, or restored from a `rng_state` dict."""
    rng = np.random.default_rng(seed)
    if state is not None:
        rng.bit_generator.state = {k: (dict(v) if isinstance(v, Mapping) else v)
                                   for k, v in state.items()}
    return rng


class ArmStats:
    """Per-arm sums of pulls, reward, squared reward and cost, discounted or windowed.

    With `discount` γ < 1 every sum is multiplied by γ before each new observation (discounted
    UCB, Garivier & Moulines 2011); with `window` τ only the last τ observations count
    (sliding-window UCB, same paper). `pulls` always counts every pull, undiscounted.

    Args:
        n_arms: Number of arms.
        discount: Factor γ in (0, 1]; 1 keeps all the history at full weight.
        window: Length of the sliding window, or None for the discounted sums.
    """

    def __init__(self, n_arms: int, discount: float = 1.0, window: int | None = None) -> None:
        self.n_arms, self.discount, self.window = n_arms, float(discount), window
        self.count = np.zeros(n_arms)
        self.reward = np.zeros(n_arms)
        self.reward_sq = np.zeros(n_arms)
        self.cost = np.zeros(n_arms)
        self.pulls = np.zeros(n_arms, dtype=np.int64)
        self._history: list[list[float]] = [[], [], []]  # arms, rewards, costs (window only)

    def add(self, arm: int, reward: float, cost: float) -> None:
        """Record one observation of `arm`."""
        self.pulls[arm] += 1
        if self.window is not None:
            self._push(arm, reward, cost)
            return
        if self.discount < 1.0:
            for arr in (self.count, self.reward, self.reward_sq, self.cost):
                arr *= self.discount
        self._accumulate(arm, 1.0, reward, cost)

    def _accumulate(self, arm: int, sign: float, reward: float, cost: float) -> None:
        self.count[arm] += sign
        self.reward[arm] += sign * reward
        self.reward_sq[arm] += sign * reward * reward
        self.cost[arm] += sign * cost

    def _push(self, arm: int, reward: float, cost: float) -> None:
        arms, rewards, costs = self._history
        arms.append(arm)
        rewards.append(reward)
        costs.append(cost)
        self._accumulate(arm, 1.0, reward, cost)
        if len(arms) > (self.window or 0):
            old = arms.pop(0)
            self._accumulate(old, -1.0, rewards.pop(0), costs.pop(0))
            if self.count[old] <= 0.5:  # the arm left the window: clear rounding residue
                self.count[old] = self.reward[old] = self.reward_sq[old] = self.cost[old] = 0.0

    def mean_reward(self) -> np.ndarray:
        """Mean reward per arm (0 where an arm has no weight)."""
        if self.count.min() > 0:
            return self.reward / self.count
        return np.divide(self.reward, self.count, out=np.zeros(self.n_arms),
                         where=self.count > 0)

    def mean_cost(self) -> np.ndarray:
        """Mean cost per arm (NaN where an arm has no weight)."""
        if self.count.min() > 0:
            return self.cost / self.count
        return np.divide(self.cost, self.count, out=np.full(self.n_arms, np.nan),
                         where=self.count > 0)

    def state_dict(self) -> dict[str, Any]:
        """Return the sums (and the window) as plain lists."""
        return {"count": self.count.tolist(), "reward": self.reward.tolist(),
                "reward_sq": self.reward_sq.tolist(), "cost": self.cost.tolist(),
                "pulls": self.pulls.tolist(), "history": [list(h) for h in self._history]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the sums saved by `state_dict`."""
        for key in ("count", "reward", "reward_sq", "cost"):
            setattr(self, key, np.asarray(state[key], dtype=np.float64))
        self.pulls = np.asarray(state["pulls"], dtype=np.int64)
        self._history = [list(h) for h in state["history"]]
        self._history[0] = [int(a) for a in self._history[0]]


class BanditBase:
    """Common machinery of the registered policies: RNG, statistics, cost modes, state.

    Subclasses set `Config`, implement `_choose(allowed)` and may override `_transform` (what
    a raw reward becomes before it is recorded), `_make_stats`, `_observe`, `_extra_state` and
    `_load_extra_state`.

    Args:
        config: The policy's config model.
        n_arms: Number of arms (≥ 1).
        seed: Seed of the internal numpy Generator.
    """

    Config: ClassVar[type[BanditConfig]]
    learns: ClassVar[bool] = True  # False for baselines that ignore rewards (tests use it)

    def __init__(self, config: BanditConfig, n_arms: int, seed: int | None = None) -> None:
        if n_arms < 1:
            raise ValueError(f"a bandit needs at least one arm, got {n_arms}")
        if not isinstance(config, self.Config):
            raise TypeError(f"{type(self).__name__} needs a {self.Config.__name__}")
        self.config, self.n_arms = config, int(n_arms)
        self.rng = new_rng(seed)
        self.t, self.spent, self.scale = 0, 0.0, 0.0
        self.stats = self._make_stats()
        self._everyone = np.ones(self.n_arms, dtype=bool)
        self._everyone.flags.writeable = False

    def _make_stats(self) -> ArmStats:
        return ArmStats(self.n_arms, getattr(self.config, "discount", 1.0))

    # -- choosing ---------------------------------------------------------------------------
    def select(self) -> int:
        """Choose the next arm: one behind its `min_share` of the pulls, else the policy's."""
        allowed = self.allowed()
        behind = self.behind(allowed)
        if behind.any():
            return self.argmax(np.where(behind, -self.stats.pulls, -np.inf), behind)
        return int(self._choose(allowed))

    def behind(self, allowed: np.ndarray) -> np.ndarray:
        """The allowed arms pulled less than `min_share / n_arms` of all pulls."""
        share = self.config.min_share / self.n_arms
        if share <= 0 or self.t == 0:
            return np.zeros(self.n_arms, dtype=bool)
        return allowed & (self.stats.pulls < share * self.t)

    def _choose(self, allowed: np.ndarray) -> int:
        raise NotImplementedError

    def allowed(self) -> np.ndarray:
        """Arms the cost mode allows now (all of them unless in budget mode)."""
        cfg = self.config
        if cfg.cost_mode != "budget" or cfg.budget is None:
            return self._everyone
        left = cfg.budget - self.spent
        if cfg.horizon is not None and self.t < cfg.horizon:
            left /= cfg.horizon - self.t
        cost = self.stats.mean_cost()
        mask = np.isnan(cost) | (cost <= left)
        if not mask.any():  # nothing fits: the cheapest known arm
            mask[int(np.nanargmin(cost))] = True
        return mask

    def per_cost(self, values: np.ndarray) -> np.ndarray:
        """Divide `values` by each arm's mean cost in `per_cost` mode (else return them).

        An arm without a cost estimate gets the cheapest known one (optimism).
        """
        if self.config.cost_mode != "per_cost":
            return values
        cost = self.stats.mean_cost()
        known = cost == cost  # not NaN
        if known.all():
            return values / np.maximum(cost, 1e-12)
        if not known.any():
            return values
        return values / np.maximum(np.where(known, cost, cost[known].min()), 1e-12)

    def argmax(self, scores: np.ndarray, allowed: np.ndarray) -> int:
        """Index of the best allowed score; ties broken at random."""
        if allowed is not self._everyone:
            scores = np.where(allowed, scores, -np.inf)
        best = np.flatnonzero(scores == scores.max())
        return int(best[0] if best.size == 1 else self.rng.choice(best))

    def uniform(self, allowed: np.ndarray) -> int:
        """Draw a uniformly random allowed arm."""
        return int(self.rng.choice(np.flatnonzero(allowed)))

    # -- learning ---------------------------------------------------------------------------
    def update(self, arm: int, reward: float, cost: float = 1.0) -> None:
        """Record one pull of `arm` with its `reward` and `cost` (> 0)."""
        if not 0 <= arm < self.n_arms:
            raise ValueError(f"arm {arm} out of range [0, {self.n_arms})")
        if not (math.isfinite(reward) and math.isfinite(cost)) or cost <= 0:
            raise ValueError(f"reward must be finite and cost > 0, got {reward}, {cost}")
        self.t += 1
        self.spent += float(cost)
        value = self._transform(float(reward))
        self.scale = max(self.scale, abs(value))
        self.stats.add(int(arm), value, float(cost))
        self._observe(int(arm), value, float(cost))

    def _transform(self, reward: float) -> float:
        return reward

    def _observe(self, arm: int, value: float, cost: float) -> None:
        """Policy-specific learning beyond the shared statistics."""

    # -- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Return the full state, RNG included, as JSON-serialisable plain data."""
        return {"name": self.config.name, "config": self.config.model_dump(mode="json"),
                "n_arms": self.n_arms, "t": self.t, "spent": self.spent, "scale": self.scale,
                "rng": rng_state(self.rng), "stats": self.stats.state_dict(),
                **self._extra_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state saved by `state_dict` of a bandit with the same config and arms."""
        saved = bandit_config(state["config"]).model_dump(mode="json")  # options added since
        if saved != self.config.model_dump(mode="json") or state["n_arms"] != self.n_arms:
            raise ValueError("state was saved by a bandit with another config or arm count")
        self.t, self.spent = int(state["t"]), float(state["spent"])
        self.scale = float(state["scale"])
        self.rng = new_rng(None, state["rng"])
        self.stats.load_state_dict(state["stats"])
        self._load_extra_state(state)

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore what `_extra_state` saved."""


def bandit_config(data: BanditConfig | Mapping[str, Any]) -> BanditConfig:
    """Validate a bandit config given as a model or as plain data chosen by `name`.

    Raises:
        RegistryError: The name is unknown.
        SpecError: An option is invalid or unknown.
    """
    return bandit_registry.config(data)  # type: ignore[no-any-return]


def make_bandit(config: BanditConfig | Mapping[str, Any], n_arms: int,
                seed: int | None = None) -> BanditBase:
    """Build the registered policy named by `config` over `n_arms` arms."""
    cfg = bandit_config(config)
    return bandit_registry.get(cfg.name)(cfg, n_arms, seed)


def bandit_from_state(state: Mapping[str, Any]) -> BanditBase:
    """Rebuild a bandit (config, arms and state) from its `state_dict()`."""
    bandit = make_bandit(state["config"], int(state["n_arms"]))
    bandit.load_state_dict(state)
    return bandit
