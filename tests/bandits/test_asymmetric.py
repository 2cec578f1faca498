"""Asymmetric UCB: improvement-only rewards, baseline, ε-exploration."""

import numpy as np
import pytest

from qd.bandits import AsymmetricUCB, improvement, make_bandit


@pytest.mark.parametrize(
    ("child", "parent", "baseline", "expected"),
    [(3.0, 1.0, None, 2.0), (1.0, 3.0, None, 0.0), (3.0, 1.0, 2.5, 0.5), (3.0, None, 2.0, 1.0),
     (3.0, 1.0, 4.0, 0.0), (3.0, None, None, 3.0)],
)
def test_improvement(child, parent, baseline, expected):
    assert improvement(child, parent, baseline) == pytest.approx(expected)


def test_regressions_are_not_punished():
    # Arm 0 often regresses but sometimes improves; arm 1 never changes anything.
    bandit = make_bandit({"name": "asymmetric_ucb", "epsilon": 0.0}, 2, seed=0)
    assert isinstance(bandit, AsymmetricUCB)
    for _ in range(50):
        bandit.update(0, -5.0)
        bandit.update(0, 1.0)
        bandit.update(1, 0.0)
    assert bandit.stats.reward[0] > 0 and bandit.stats.reward[1] == 0
    assert bandit.select() == 0


def test_update_scores_uses_parent_and_baseline():
    bandit = make_bandit({"name": "asymmetric_ucb", "discount": 1.0, "baseline": 2.0}, 2, seed=0)
    assert bandit.update_scores(0, child=3.0, parent=1.0) == pytest.approx(1.0)
    bandit.set_baseline(None)
    assert bandit.update_scores(1, child=3.0, parent=1.0) == pytest.approx(2.0)
    assert bandit.stats.reward.tolist() == pytest.approx([1.0, 2.0])
    assert bandit.state_dict()["baseline"] is None


@pytest.mark.parametrize("epsilon", [0.0, 0.3])
def test_epsilon_share_goes_to_the_other_arms(epsilon):
    cfg = {"name": "asymmetric_ucb", "epsilon": epsilon, "exploration": 0.0, "discount": 1.0}
    bandit = make_bandit(cfg, 4, seed=1)
    for arm, reward in [(0, 0.1), (1, 0.2), (2, 0.3), (3, 1.0)]:
        bandit.update(arm, reward)
    picks = np.array([bandit.select() for _ in range(3000)])  # no updates: a fixed index
    share = float(np.mean(picks != 3))
    assert share == pytest.approx(epsilon, abs=0.03)
    if epsilon:
        assert set(picks.tolist()) == {0, 1, 2, 3}
