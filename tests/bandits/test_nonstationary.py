"""Non-stationary policies follow a switch of the best arm; undiscounted ones lag behind."""

import numpy as np
import pytest

from qd.bandits import DEFAULT_BANDIT, bandit_registry, make_bandit
from tests.bandits.conftest import play

TRACKING = [
    {"name": "discounted_ucb"},
    {"name": "sliding_window_ucb"},
    {"name": "asymmetric_ucb", "discount": 0.98},
    {"name": "thompson_gaussian", "discount": 0.95},
    {"name": "thompson_beta", "discount": 0.95},
    DEFAULT_BANDIT.model_dump(),
]


def share_of_new_best_after_switch(cfg, seed=0):
    """Share of the first 300 pulls after the best arm switched that go to the new best."""
    bandit = make_bandit(cfg, 2, seed=seed)
    rng = np.random.default_rng(seed)
    play(bandit, 1000, rates=(0.8, 0.2), rng=rng)
    after = play(bandit, 300, rates=(0.2, 0.8), rng=rng)
    return float(np.mean(np.asarray(after) == 1))


@pytest.mark.parametrize("cfg", TRACKING, ids=lambda c: f"{c['name']}-{c.get('discount', '')}")
def test_tracks_a_switch(cfg):
    for seed in (0, 1):
        assert share_of_new_best_after_switch(cfg, seed) > 0.65


@pytest.mark.parametrize("name", ["thompson_gaussian", "thompson_beta"])
def test_undiscounted_thompson_sampling_lags_behind(name):
    stationary = share_of_new_best_after_switch({"name": name, "discount": 1.0})
    assert stationary < 0.3 < share_of_new_best_after_switch({"name": name, "discount": 0.95})


def test_default_bandit_is_registered():
    assert DEFAULT_BANDIT.name in bandit_registry
    assert make_bandit(DEFAULT_BANDIT, 3, seed=0).config == DEFAULT_BANDIT
