"""Every registered bandit: seeded determinism, JSON state round trip, learning, cost modes."""

import json

import numpy as np
import pytest

from qd.bandits import bandit_from_state, bandit_registry, make_bandit
from qd.errors import RegistryError, SpecError
from tests.bandits.conftest import ALL, COST_MODES, LEARNING, assert_plain_json, play


@pytest.mark.parametrize("name", ALL)
def test_config_model_is_named_and_strict(name):
    cls = bandit_registry.get(name)
    assert cls.Config().name == name
    with pytest.raises(SpecError):
        make_bandit({"name": name, "no_such_option": 1}, 3)


def test_unknown_name_and_budget_without_budget_are_errors():
    with pytest.raises(RegistryError):
        make_bandit({"name": "no_such_bandit"}, 3)
    with pytest.raises(SpecError, match="budget"):
        make_bandit({"name": "ucb1", "cost_mode": "budget"}, 3)


@pytest.mark.parametrize("mode", COST_MODES, ids=lambda m: m["cost_mode"])
@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_sequence(name, mode):
    cfg = {"name": name, **mode}
    costs = (1.0, 0.5, 2.0, 1.5)
    runs = [play(make_bandit(cfg, 4, seed=s), 300, costs=costs) for s in (11, 11, 12)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


@pytest.mark.parametrize("mode", COST_MODES, ids=lambda m: m["cost_mode"])
@pytest.mark.parametrize("name", ALL)
def test_state_round_trip_continues_identically(name, mode):
    cfg = {"name": name, **mode}
    costs = (1.0, 0.5, 2.0, 1.5)
    original = make_bandit(cfg, 4, seed=5)
    play(original, 250, costs=costs, env_seed=1)
    state = original.state_dict()
    assert_plain_json(state)
    restored = make_bandit(cfg, 4, seed=999)  # another seed: the state must carry the RNG
    restored.load_state_dict(json.loads(json.dumps(state)))
    rebuilt = bandit_from_state(json.loads(json.dumps(state)))
    tails = [play(b, 250, costs=costs, env_seed=2) for b in (original, restored, rebuilt)]
    assert tails[0] == tails[1] == tails[2]
    assert original.state_dict() == restored.state_dict()


@pytest.mark.parametrize("name", ALL)
def test_state_of_another_config_is_refused(name):
    bandit = make_bandit({"name": name}, 4, seed=0)
    with pytest.raises(ValueError):
        make_bandit({"name": name}, 5, seed=0).load_state_dict(bandit.state_dict())


@pytest.mark.parametrize("name", LEARNING)
def test_pulls_the_best_bernoulli_arm_most(name):
    for seed in (0, 1):
        counts = np.bincount(play(make_bandit({"name": name}, 4, seed=seed), 2000,
                                  env_seed=100 + seed), minlength=4)
        assert counts.argmax() == 3, counts
        assert counts[3] > 2000 / 4, counts


def test_uniform_ignores_rewards():
    counts = np.bincount(play(make_bandit({"name": "uniform"}, 4, seed=0), 4000), minlength=4)
    assert np.all(np.abs(counts - 1000) < 120), counts  # ~4.4 standard deviations


@pytest.mark.parametrize("name", LEARNING)
def test_per_cost_prefers_the_cheap_arm(name):
    # Same success rate everywhere; reward per unit cost is 8x higher on arm 3.
    rates, costs = (0.5, 0.5, 0.5, 0.5), (4.0, 2.0, 1.0, 0.5)
    per_cost = make_bandit({"name": name, "cost_mode": "per_cost"}, 4, seed=3)
    counts = np.bincount(play(per_cost, 1500, rates=rates, costs=costs), minlength=4)
    assert counts.argmax() == 3, counts
    assert counts[3] > counts[0] * 2, counts


@pytest.mark.parametrize("name", ALL)
def test_budget_mode_keeps_to_the_paced_budget(name):
    # Arm 1 is better per pull but costs 5; 1000 pulls must fit a budget of 1500.
    cfg = {"name": name, "cost_mode": "budget", "budget": 1500.0, "horizon": 1000}
    bandit = make_bandit(cfg, 2, seed=4)
    play(bandit, 1000, rates=(0.5, 0.9), costs=(1.0, 5.0))
    assert bandit.spent <= 1500.0
    assert bandit.spent >= 1000.0  # it still pulled every step


def test_without_budget_the_expensive_arm_would_be_pulled():
    bandit = make_bandit({"name": "thompson_beta"}, 2, seed=4)
    play(bandit, 1000, rates=(0.5, 0.9), costs=(1.0, 5.0))
    assert bandit.spent > 3000.0


@pytest.mark.parametrize("name", ALL)
def test_bad_updates_are_rejected(name):
    bandit = make_bandit({"name": name}, 3, seed=0)
    for arm, reward, cost in [(3, 1.0, 1.0), (-1, 1.0, 1.0), (0, float("nan"), 1.0),
                              (0, 1.0, 0.0)]:
        with pytest.raises(ValueError):
            bandit.update(arm, reward, cost)
    with pytest.raises(ValueError):
        make_bandit({"name": name}, 0)


@pytest.mark.parametrize("name", LEARNING)
def test_min_share_keeps_every_arm_pulled(name):
    """An arm that never pays (rate 0) and costs 5x is abandoned by the cost-aware policies,
    but gets its `min_share` of the pulls with the floor; the floor changes nothing else."""
    rates, costs = (0.0, 0.3, 0.5), (5.0, 1.0, 1.0)
    plain = make_bandit({"name": name, "cost_mode": "per_cost"}, 3, seed=3)
    floored = make_bandit({"name": name, "cost_mode": "per_cost", "min_share": 0.6}, 3, seed=3)
    counts = [np.bincount(play(b, 400, rates=rates, costs=costs), minlength=3)
              for b in (plain, floored)]
    assert counts[0][0] < 0.2 * 400
    assert counts[1][0] >= 0.2 * 400 - 1
    assert counts[1][2] > counts[1][1]  # still learns which of the others is better


def test_min_share_one_is_equal_shares_and_old_states_load():
    bandit = make_bandit({"name": "ucb1", "min_share": 1.0}, 2, seed=0)
    counts = np.bincount(play(bandit, 100, rates=(0.0, 1.0)), minlength=2)
    assert abs(counts[0] - 50) <= 1
    state = make_bandit({"name": "ucb1"}, 3, seed=0).state_dict()
    del state["config"]["min_share"]  # saved before the option existed
    bandit_from_state(state)
    make_bandit({"name": "ucb1"}, 3, seed=0).load_state_dict(state)
