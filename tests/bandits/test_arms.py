"""ArmSpace and FactorisedBandit: named arms, joint and factorised modes, state."""

import json

import numpy as np
import pytest

from qd.bandits import ArmSpace, Bandit, FactorisedBandit

FACTORS = {"model": ["small", "medium", "large"], "operator": ["diff", "full", "cross"]}


def test_arm_space_maps_names_and_indices():
    space = ArmSpace(FACTORS)
    assert space.n_arms == 9
    assert space.labels()[:3] == ["small/diff", "small/full", "small/cross"]
    for i in range(space.n_arms):
        assert space.index(space.arm(i)) == i
    assert space.arm(5) == {"model": "medium", "operator": "cross"}
    assert space.levels_of(5) == [1, 2]


@pytest.mark.parametrize("bad", [{"model": "small"}, {"model": "huge", "operator": "diff"}])
def test_arm_space_rejects_unknown_arms(bad):
    with pytest.raises(ValueError):
        ArmSpace(FACTORS).index(bad)


def test_arm_space_rejects_bad_factors():
    for factors in [{}, {"model": []}, {"model": ["a", "a"]}]:
        with pytest.raises(ValueError):
            ArmSpace(factors)


def success_rate(arm):
    # Additive effects: "large" and "diff" are best; their pair is the best arm (index 6).
    return 0.05 + {"small": 0.0, "medium": 0.15, "large": 0.4}[arm["model"]] + {
        "diff": 0.35, "full": 0.1, "cross": 0.0}[arm["operator"]]


def run(bandit, pulls, seed=0):
    rng, picks = np.random.default_rng(seed), []
    for _ in range(pulls):
        arm = bandit.select_arm()
        picks.append(bandit.space.index(arm))
        bandit.update(arm, float(rng.random() < success_rate(arm)))
    return picks


@pytest.mark.parametrize("factorised", [False, True])
def test_both_modes_find_the_best_combination(factorised):
    bandit = FactorisedBandit(ArmSpace(FACTORS), {"name": "thompson_beta"}, seed=2,
                              factorised=factorised)
    assert len(bandit.policies) == (2 if factorised else 1)
    counts = np.bincount(run(bandit, 1500), minlength=9)
    assert counts.argmax() == 6, counts


@pytest.mark.parametrize("factorised", [False, True])
def test_factorised_state_round_trip(factorised):
    space = ArmSpace(FACTORS)
    a = FactorisedBandit(space, {"name": "ucb1"}, seed=3, factorised=factorised)
    run(a, 200, seed=1)
    b = FactorisedBandit(space, {"name": "ucb1"}, seed=77, factorised=factorised)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert run(a, 200, seed=2) == run(b, 200, seed=2)
    other = FactorisedBandit(space, {"name": "ucb1"}, seed=3, factorised=not factorised)
    with pytest.raises(ValueError):
        other.load_state_dict(a.state_dict())


def test_factorised_updates_reach_every_factor():
    bandit = FactorisedBandit(ArmSpace(FACTORS), {"name": "ucb1"}, seed=0, factorised=True)
    bandit.update({"model": "large", "operator": "full"}, 1.0, cost=2.0)
    model, operator = bandit.policies
    assert model.stats.pulls.tolist() == [0, 0, 1]
    assert operator.stats.pulls.tolist() == [0, 1, 0]
    assert model.spent == operator.spent == 2.0


def test_factorised_bandit_and_policies_satisfy_the_protocol():
    space = ArmSpace(FACTORS)
    for factorised in (False, True):
        bandit = FactorisedBandit(space, {"name": "uniform"}, seed=0, factorised=factorised)
        assert isinstance(bandit, Bandit)
        assert all(isinstance(p, Bandit) for p in bandit.policies)
        assert 0 <= bandit.select() < space.n_arms
