"""Bandit regret: qd's bandit policies against ShinkaEvolve-style asymmetric UCB and uniform.

Simulated LLM pools (`SCENARIOS` below): each "model" k has a success probability p_k(t) (chance
that a child improves on its parent), a mean improvement size m_k and a mean cost c_k per call;
some pools drift (abrupt switches, waves, a global slow-down as programs get harder to
improve). Every policy sees the same random outcomes per seed (common random numbers) and gets
the asymmetric reward max(child − parent, 0) and the call's cost.

Regret at step t is max_j μ_j(t) − μ_{a_t}(t) with μ_k(t) = p_k(t) · m_k / c_k, the expected
reward per unit cost; the tables show the cumulative regret after 1,000 pulls (mean over seeds)
and the reward per unit cost actually collected.

    python benchmarks/bandit_regret.py [--quick] [--seeds N] [--jobs N] [--tune]
                                       [--save-doc] [--out PATH]

`--tune` grid-searches our policies and the baseline alike on separate tuning seeds
(1000, 1001, ...), never on the reported seeds (0, 1, ...).

Writes runs/bench/bandit_regret.json: {"policies": {name: {scenario: {...}}}, "best_policy",
"ratio_best_vs_asym_ucb", ...}. Target: ratio < 0.8 on the drifting, cost-heterogeneous pool.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, print_table, write_result  # noqa: E402

from qd.bandits import DEFAULT_BANDIT, bandit_registry, improvement, make_bandit  # noqa: E402

PULLS = 1000
KEY_SCENARIO = "drifting_costly"
TUNE_SEED0 = 1000


@dataclass(frozen=True)
class Scenario:
    """A simulated pool of models; see the module docstring."""

    name: str
    description: str
    success: tuple[float, ...]
    size: tuple[float, ...]
    cost: tuple[float, ...]
    size_sigma: float = 0.0  # 0: exponential sizes; > 0: log-normal sizes with this sigma
    cost_sigma: float = 0.2  # log-normal noise on each call's cost
    switches: tuple[tuple[int, tuple[float, ...]], ...] = ()  # (step, new success vector)
    wave: tuple[float, float] = (0.0, 1.0)  # amplitude, period of p_k(t) · (1 + a sin(...))
    slowdown: float = 0.0  # p(t) · exp(−slowdown · t / PULLS) for every model

    def success_at(self) -> np.ndarray:
        """Success probabilities, shape (PULLS, K)."""
        k = len(self.success)
        p = np.tile(np.asarray(self.success), (PULLS, 1))
        for start, vector in self.switches:
            p[start:] = vector
        t = np.arange(PULLS)[:, None]
        amp, period = self.wave
        p = p * (1 + amp * np.sin(2 * np.pi * (t / period + np.arange(k) / k)))
        p = p * np.exp(-self.slowdown * t / PULLS)
        return np.clip(p, 0.0, 1.0)

    def expected(self) -> np.ndarray:
        """Expected reward per unit cost μ_k(t), shape (PULLS, K)."""
        return self.success_at() * np.asarray(self.size) / np.asarray(self.cost)

    def sample(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Child-minus-parent score deltas and call costs, each of shape (PULLS, K)."""
        rng = np.random.default_rng(seed)
        shape, size = (PULLS, len(self.success)), np.asarray(self.size)
        if self.size_sigma > 0:
            s = self.size_sigma
            gain = size * np.exp(s * rng.standard_normal(shape) - s * s / 2)
        else:
            gain = rng.exponential(1.0, shape) * size
        loss = rng.exponential(0.5, shape) * size
        delta = np.where(rng.random(shape) < self.success_at(), gain, -loss)
        c = self.cost_sigma
        cost = np.asarray(self.cost) * np.exp(c * rng.standard_normal(shape) - c * c / 2)
        return delta, cost


SCENARIOS = [
    Scenario("stationary", "4 models, equal cost, success 0.1/0.2/0.3/0.45",
             (0.1, 0.2, 0.3, 0.45), (1.0,) * 4, (1.0,) * 4, cost_sigma=0.0),
    Scenario("costly", "5 models, strong ones expensive: best per cost is a small model",
             (0.45, 0.35, 0.25, 0.12, 0.04), (1.5, 1.2, 1.0, 0.8, 0.5), (8.0, 3.0, 1.0, 0.3, 0.1)),
    Scenario("heavy_tailed", "6 models, equal cost, log-normal improvements (sigma 1.5)",
             (0.3, 0.1, 0.2, 0.05, 0.15, 0.25), (1.0, 2.5, 1.0, 4.0, 1.5, 0.8), (1.0,) * 6,
             size_sigma=1.5, cost_sigma=0.0),
    Scenario(KEY_SCENARIO, "8 models, costs 0.1-8, best model switches at 300 and 650, "
             "waves (period 400), global slow-down",
             (0.40, 0.30, 0.25, 0.20, 0.15, 0.10, 0.06, 0.05),
             (2.0, 1.5, 1.2, 1.0, 1.0, 0.8, 0.6, 0.5), (8.0, 4.0, 2.0, 1.0, 1.0, 0.5, 0.3, 0.1),
             switches=((300, (0.45, 0.35, 0.05, 0.20, 0.35, 0.10, 0.02, 0.05)),
                       (650, (0.30, 0.45, 0.25, 0.05, 0.10, 0.03, 0.20, 0.01))),
             wave=(0.3, 400.0), slowdown=0.7),
]


class ShinkaAsymmetricUCB:
    """ShinkaEvolve's asymmetric UCB, re-implemented from its description (the baseline).

    Reward: max(child − max(parent, baseline), 0), mapped through exp(b · r) − 1 (their
    `exponential_base` b, default 1; r·b is capped at 50 here to stay finite). Sums and
    completion weights are multiplied by γ after each update; the mean is scaled by the
    largest contribution seen (which decays towards the largest mean). Score = scaled mean +
    c · sqrt(2 ln T / n) with undiscounted pull counts n; unpulled models first; then
    ε-greedy over the argmax set. Optional cost awareness multiplies the score by
    (1 − κ) + κ · cost_ref / max(mean_cost − c · cost_range · sqrt(2 ln T / n), floor), with
    cost_ref the median mean cost. Kept separate from qd.bandits on purpose.
    """

    def __init__(self, n_arms: int, seed: int, exploration: float = 1.0, epsilon: float = 0.2,
                 discount: float = 0.95, exp_base: float | None = 1.0,
                 cost_coef: float = 0.0, baseline: float | None = None) -> None:
        self.k, self.rng = n_arms, np.random.default_rng(seed)
        self.c, self.eps, self.gamma = exploration, epsilon, discount
        self.exp_base, self.kappa, self.baseline = exp_base, cost_coef, baseline
        self.s, self.w, self.n = np.zeros(n_arms), np.zeros(n_arms), np.zeros(n_arms)
        self.cost_sum, self.obs_max = np.zeros(n_arms), 0.0
        self.cost_min, self.cost_max = math.inf, -math.inf

    def select(self) -> int:
        """Choose a model."""
        unseen = np.flatnonzero(self.n == 0)
        if unseen.size:
            return int(self.rng.choice(unseen))
        mean = self.s / np.maximum(self.w, 1e-7)
        scaled = mean / self.obs_max if self.obs_max > 0 else mean
        num = 2.0 * math.log(max(self.n.sum(), 2.0))
        scores = scaled + self.c * np.sqrt(num / self.n)
        if self.kappa > 0 and self.cost_max >= self.cost_min:
            mean_cost = self.cost_sum / self.n
            lcb = mean_cost - self.c * (self.cost_max - self.cost_min) * np.sqrt(num / self.n)
            floor = max(self.cost_min, 1e-7)
            ratio = max(float(np.median(mean_cost)), floor) / np.maximum(lcb, floor)
            scores = scores * ((1 - self.kappa) + self.kappa * ratio)
        winners = scores == scores.max()
        if winners.all():
            return int(self.rng.integers(self.k))
        p = np.where(winners, (1 - self.eps) / winners.sum(), self.eps / (~winners).sum())
        return int(self.rng.choice(self.k, p=p))

    def update(self, arm: int, child: float, parent: float, cost: float) -> None:
        """Record a child's score against its parent's, and the call's cost."""
        ref = parent if self.baseline is None else max(parent, self.baseline)
        r = max(child - ref, 0.0)
        g = math.expm1(min(self.exp_base * r, 50.0)) if self.exp_base else r
        self.s[arm] += g
        self.w[arm] += 1.0
        self.n[arm] += 1.0
        self.obs_max = max(self.obs_max, g)
        self.cost_sum[arm] += cost
        self.cost_min, self.cost_max = min(self.cost_min, cost), max(self.cost_max, cost)
        self.s *= self.gamma
        self.w *= self.gamma
        mean_max = float(np.max(self.s / np.maximum(self.w, 1e-7)))
        self.obs_max = max(self.gamma * self.obs_max + (1 - self.gamma) * mean_max, mean_max)


Runner = Callable[[int, int], Any]  # (n_arms, seed) -> policy


def ours(config: dict[str, Any]) -> Runner:
    """A factory of a qd bandit with `config`."""
    return lambda k, seed: make_bandit(config, k, seed)


def shinka(**options: Any) -> Runner:
    """A factory of the ShinkaEvolve-style baseline with `options`."""
    return lambda k, seed: ShinkaAsymmetricUCB(k, seed, **options)


def run_once(factory: Runner, scenario: Scenario, seed: int,
             env: tuple[np.ndarray, np.ndarray], mu: np.ndarray) -> tuple[float, float, float]:
    """One run of 1,000 pulls; returns (cumulative regret, total reward, total cost)."""
    delta, cost = env[0].tolist(), env[1].tolist()
    policy = factory(len(scenario.success), seed + 7919)
    is_shinka = isinstance(policy, ShinkaAsymmetricUCB)
    best = mu.max(axis=1)
    arms = np.empty(PULLS, dtype=np.int64)
    for t in range(PULLS):
        a = policy.select()
        arms[t] = a
        child, c = delta[t][a], cost[t][a]
        if is_shinka:
            policy.update(a, child, 0.0, c)
        else:
            policy.update(a, improvement(child, parent=0.0), c)
    steps = np.arange(PULLS)
    regret = float((best - mu[steps, arms]).sum())
    reward = float(np.maximum(env[0][steps, arms], 0.0).sum())
    return regret, reward, float(env[1][steps, arms].sum())


def evaluate(factory: Runner, scenario: Scenario, seeds: list[int]) -> dict[str, float]:
    """Mean / standard error of the regret and the reward per unit cost over `seeds`."""
    mu = scenario.expected()
    out = [run_once(factory, scenario, s, sample(scenario, s), mu) for s in seeds]
    regret = np.array([o[0] for o in out])
    per_cost = np.array([o[1] / o[2] for o in out])
    sem = float(regret.std(ddof=1) / math.sqrt(len(seeds))) if len(seeds) > 1 else 0.0
    return {"regret": float(regret.mean()), "regret_sem": sem,
            "reward_per_cost": float(per_cost.mean())}


@functools.cache
def sample(scenario: Scenario, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The outcomes of `scenario` for `seed`, drawn once and shared by every policy."""
    return scenario.sample(seed)


def evaluate_policy(task: tuple[str, list[int]]) -> tuple[str, dict[str, Any]]:
    """Evaluate the policy labelled `task[0]` on every pool over the seeds `task[1]`."""
    label, seeds = task
    factory, config = policies()[label]
    return label, {"config": config, **{s.name: evaluate(factory, s, seeds) for s in SCENARIOS}}


def policies() -> dict[str, tuple[Runner, dict[str, Any]]]:
    """Every registered policy at its defaults and per unit cost, the default, the baselines."""
    table: dict[str, tuple[Runner, dict[str, Any]]] = {}
    for name, cls in bandit_registry.items():
        table[name] = (ours({"name": name}), {"name": name})
        if cls.learns:
            cfg = {"name": name, "cost_mode": "per_cost"}
            table[f"{name}+cost"] = (ours(cfg), cfg)
    default = DEFAULT_BANDIT.model_dump(mode="json")
    table["DEFAULT_BANDIT"] = (ours(default), default)
    for label, options in BASELINES.items():
        table[label] = (shinka(**options), {"baseline": "shinka_asym_ucb", **options})
    return table


# ShinkaEvolve's defaults (c 1, ε 0.2, γ 0.95, exponential base 1), with and without its cost
# awareness, and the setting the --tune grid found best for it on the tuning seeds.
BASELINES: dict[str, dict[str, Any]] = {
    "shinka_asym_ucb": {},
    "shinka_asym_ucb+cost": {"cost_coef": 1.0},
    "shinka_asym_ucb tuned": {"exploration": 0.15, "epsilon": 0.02, "discount": 0.95,
                              "cost_coef": 1.0},
}


# The last of three tuning rounds (docs/bandits.md lists the coarser grids of the first two);
# each family's chosen setting is inside its grid here.
TUNE_GRID: dict[str, dict[str, list[Any]]] = {
    "ucb1": {"exploration": [0.35, 0.5, 0.7]},
    "discounted_ucb": {"discount": [0.99, 0.995, 0.998], "exploration": [0.15, 0.25, 0.35]},
    "sliding_window_ucb": {"window": [100, 150, 200, 300, 800, 1000],
                           "exploration": [0.15, 0.25, 0.35, 0.5]},
    "asymmetric_ucb": {"discount": [0.99, 0.995], "epsilon": [0.0, 0.02],
                       "exploration": [0.15, 0.25], "scale": ["std"]},
    "thompson_gaussian": {"discount": [0.99, 1.0], "prior_strength": [2.0, 4.0, 8.0, 16.0]},
    "thompson_beta": {"discount": [0.99, 1.0], "alpha": [0.5, 1.0, 2.0]},
    "exp3": {"gamma": [0.3, 0.5, 0.7]},
    "shinka": {"discount": [0.8, 0.85, 0.9, 0.95], "epsilon": [0.0, 0.02, 0.05],
               "exploration": [0.15, 0.25, 0.35], "cost_coef": [1.0]},
}


def tuned_factory(family: str, options: dict[str, Any]) -> Runner:
    """A factory for one grid point: the baseline, or one of our policies per unit cost."""
    if family == "shinka":
        return shinka(**options)
    return ours({"name": family, "cost_mode": "per_cost", **options})


def tune(n_seeds: int) -> None:
    """Grid search on the tuning seeds, then a re-measure of each family's finalists.

    Grid score: regret / uniform's regret, per pool and averaged over pools. The two best
    settings of each family on the key pool are then re-measured there on 3x as many tuning
    seeds (still disjoint from the reported seeds).
    """
    seeds, t0 = [TUNE_SEED0 + i for i in range(n_seeds)], time.perf_counter()
    uniform = {s.name: evaluate(ours({"name": "uniform"}), s, seeds)["regret"] for s in SCENARIOS}
    rows = []
    for family, grid in TUNE_GRID.items():
        for values in itertools.product(*grid.values()):
            options = dict(zip(grid, values, strict=True))
            rel = {s.name: evaluate(tuned_factory(family, options), s, seeds)["regret"]
                   / uniform[s.name] for s in SCENARIOS}
            rows.append([family, options, float(np.mean(list(rel.values()))),
                         rel[KEY_SCENARIO]])
    rows.sort(key=lambda r: (r[0], r[2]))
    print_table(f"tuning on seeds {seeds[0]}..{seeds[-1]} (regret / uniform's)",
                ["family", "options", "mean over pools", KEY_SCENARIO],
                [[r[0], str(r[1]), r[2], r[3]] for r in rows])
    key = next(s for s in SCENARIOS if s.name == KEY_SCENARIO)
    more = [TUNE_SEED0 + i for i in range(3 * n_seeds)]
    finals = []
    for family in TUNE_GRID:
        top = sorted((r for r in rows if r[0] == family), key=lambda r: r[3])[:2]
        for _, options, _, _ in top:
            finals.append([family, str(options),
                           evaluate(tuned_factory(family, options), key, more)["regret"]])
    finals.sort(key=lambda r: r[2])
    print_table(f"finalists on {KEY_SCENARIO}, seeds {more[0]}..{more[-1]} (regret)",
                ["family", "options", "regret"], finals)
    print(f"tuning took {time.perf_counter() - t0:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 seeds instead of 20 (< 60 s)")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (>= 10)")
    parser.add_argument("--tune", action="store_true", help="grid search on the tuning seeds")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes (results do not depend on it)")
    add_output_args(parser)
    args = parser.parse_args()
    n_seeds = args.seeds or (10 if args.quick else 20)
    if n_seeds < 10:
        parser.error("--seeds must be at least 10")
    if args.tune:
        tune(n_seeds)
        return 0
    seeds, t0 = list(range(n_seeds)), time.perf_counter()
    tasks = [(label, seeds) for label in policies()]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = dict(pool.map(evaluate_policy, tasks))
    else:
        results = dict(map(evaluate_policy, tasks))
    report(results, seeds, time.perf_counter() - t0, args)
    return 0


def report(results: dict[str, Any], seeds: list[int], elapsed: float,
           args: argparse.Namespace | None = None) -> None:
    """Print the tables and write runs/bench/bandit_regret.json."""
    names = [s.name for s in SCENARIOS]
    ref = results["shinka_asym_ucb"][KEY_SCENARIO]["regret"]
    print_table(f"cumulative regret after {PULLS} pulls, mean over {len(seeds)} seeds",
                ["policy", *names], [[label, *[r[n]["regret"] for n in names]]
                                     for label, r in results.items()])
    print_table(f"{KEY_SCENARIO}: regret, its ratio to ShinkaEvolve-style asymmetric UCB, "
                "reward per unit cost",
                ["policy", "regret", "s.e.", "ratio", "reward/cost"],
                [[label, r[KEY_SCENARIO]["regret"], r[KEY_SCENARIO]["regret_sem"],
                  r[KEY_SCENARIO]["regret"] / ref, r[KEY_SCENARIO]["reward_per_cost"]]
                 for label, r in results.items()])
    ours_only = [k for k in results if not k.startswith("shinka") and k != "uniform"]
    best = min(ours_only, key=lambda k: results[k][KEY_SCENARIO]["regret"])
    best_regret = results[best][KEY_SCENARIO]["regret"]
    payload = {
        "pulls": PULLS, "seeds": seeds, "elapsed_s": elapsed, "key_scenario": KEY_SCENARIO,
        "scenarios": {s.name: s.description for s in SCENARIOS},
        "policies": results, "best_policy": best,
        "ratio_best_vs_asym_ucb": best_regret / ref,
        "ratio_best_vs_asym_ucb_cost": best_regret
        / results["shinka_asym_ucb+cost"][KEY_SCENARIO]["regret"],
        "ratio_best_vs_asym_ucb_tuned": best_regret
        / results["shinka_asym_ucb tuned"][KEY_SCENARIO]["regret"],
        "ratio_default_vs_asym_ucb": results["DEFAULT_BANDIT"][KEY_SCENARIO]["regret"] / ref,
    }
    print(f"best policy on {KEY_SCENARIO}: {best} (regret {best_regret:.1f}); "
          f"ratio vs ShinkaEvolve-style asymmetric UCB {payload['ratio_best_vs_asym_ucb']:.3f} "
          f"(vs its cost-aware form {payload['ratio_best_vs_asym_ucb_cost']:.3f}, "
          f"vs tuned {payload['ratio_best_vs_asym_ucb_tuned']:.3f}); {elapsed:.1f} s")
    print(f"wrote {write_result('bandit_regret', payload, args)}")


if __name__ == "__main__":
    raise SystemExit(main())
