"""Helpers shared by the bandit tests: a Bernoulli environment and plain-JSON checks."""

from __future__ import annotations

import json

import numpy as np

from qd.bandits import bandit_registry

RATES = (0.1, 0.2, 0.3, 0.8)
ALL = bandit_registry.names()
LEARNING = [n for n, cls in bandit_registry.items() if cls.learns]
COST_MODES = [{"cost_mode": "ignore"}, {"cost_mode": "per_cost"},
              {"cost_mode": "budget", "budget": 300.0, "horizon": 400}]


def play(bandit, pulls, rates=RATES, costs=None, env_seed=0, rng=None):
    """Pull `bandit` `pulls` times on Bernoulli arms; returns the arm sequence."""
    rng = rng if rng is not None else np.random.default_rng(env_seed)
    costs = costs or (1.0,) * len(rates)
    arms = []
    for _ in range(pulls):
        a = bandit.select()
        arms.append(a)
        bandit.update(a, float(rng.random() < rates[a]), costs[a])
    return arms


def assert_plain_json(value):
    """Everything is a JSON type (no numpy scalars) and survives a JSON round trip."""
    def walk(v):
        if isinstance(v, dict):
            assert all(type(k) is str for k in v), v.keys()
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)
        else:
            assert v is None or type(v) in (str, int, float, bool), (type(v), v)
    walk(value)
    assert json.loads(json.dumps(value)) == value
