"""The regret benchmark's simulator and its ShinkaEvolve-style baseline behave as documented."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bandit_regret as bench  # noqa: E402


def test_uniform_regret_matches_its_expectation():
    scenario = next(s for s in bench.SCENARIOS if s.name == bench.KEY_SCENARIO)
    mu = scenario.expected()
    expected = float((mu.max(axis=1) - mu.mean(axis=1)).sum())
    measured = bench.evaluate(bench.ours({"name": "uniform"}), scenario, list(range(6)))
    assert measured["regret"] == pytest.approx(expected, rel=0.1)


def test_key_scenario_drifts_and_has_heterogeneous_costs():
    scenario = next(s for s in bench.SCENARIOS if s.name == bench.KEY_SCENARIO)
    best = scenario.expected().argmax(axis=1)
    assert len(set(best.tolist())) >= 3
    assert max(scenario.cost) / min(scenario.cost) >= 10


def test_outcomes_have_the_configured_means():
    scenario = bench.SCENARIOS[1]
    delta, cost = scenario.sample(0)
    big = np.concatenate([scenario.sample(s)[1] for s in range(5)])
    assert big.mean(axis=0) == pytest.approx(scenario.cost, rel=0.05)
    gain_rate = (delta > 0).mean(axis=0)
    assert gain_rate == pytest.approx(scenario.success, abs=0.05)


def test_shinka_baseline_learns_from_improvements_only():
    policy = bench.ShinkaAsymmetricUCB(4, seed=0)
    rng, counts = np.random.default_rng(0), np.zeros(4, dtype=int)
    for _ in range(2000):
        a = policy.select()
        counts[a] += 1
        improved = rng.random() < (0.1, 0.2, 0.3, 0.8)[a]
        policy.update(a, child=1.0 if improved else -3.0, parent=0.0, cost=1.0)
    assert counts.argmax() == 3
    assert counts.min() > 0.2 / 3 * 2000 * 0.5  # ε = 0.2 keeps exploring the others
    assert np.all(policy.s >= 0)
