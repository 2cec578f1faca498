"""Stateless selectors: the exact weights each one is designed to use."""

import numpy as np
import pytest

from qd.selection import ElitePool, make_selector
from qd.selection.weighted import competition_rank, shifted


def frequencies(cfg, pool, n=40000, seed=0):
    return np.bincount(make_selector(cfg, seed=seed).select(pool, n), minlength=len(pool)) / n


def test_rank_and_shift_helpers():
    assert competition_rank(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [1, 4, 1, 3]
    assert shifted(np.array([1.0, 3.0]), 0.5).tolist() == [1.0, 3.0]
    assert shifted(np.array([2.0, 2.0]), 0.5).tolist() == [1.0, 1.0]


def test_power_law_follows_rank_to_the_minus_alpha():
    pool = ElitePool(ids=np.arange(4), objectives=np.array([0.1, 0.9, 0.5, 0.3]))
    freq = frequencies({"name": "power_law", "alpha": 1.0}, pool)
    expected = np.array([1 / 4, 1, 1 / 2, 1 / 3]) / (1 + 1 / 2 + 1 / 3 + 1 / 4)
    assert freq == pytest.approx(expected, abs=0.01)
    flat = frequencies({"name": "power_law", "alpha": 0.0}, pool)
    assert flat == pytest.approx(np.full(4, 0.25), abs=0.01)


def test_fitness_proportional_uses_shifted_objectives():
    pool = ElitePool(ids=np.arange(3), objectives=np.array([1.0, 2.0, 3.0]))
    freq = frequencies({"name": "fitness_proportional", "floor": 0.5}, pool)
    assert freq == pytest.approx(np.array([1.0, 2.0, 3.0]) / 6.0, abs=0.01)


def test_shinka_weighted_prefers_above_median_and_damps_by_children():
    objectives = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    pool = ElitePool(ids=np.arange(7), objectives=objectives,
                     children=np.array([0, 0, 0, 0, 0, 0, 3]))
    freq = frequencies({"name": "shinka_weighted"}, pool)
    assert freq[:3].sum() < 0.05 < 0.8 < freq[4:].sum()
    assert freq[6] == pytest.approx(freq[5] / 4, abs=0.01)  # 1 / (1 + 3 children)
    flat = frequencies({"name": "shinka_weighted", "sharpness": 0.0}, pool)
    assert flat[:6] == pytest.approx(np.full(6, 1 / 6.25), abs=0.01)  # weights 1, .., 1, 1/4


def test_novelty_needs_scores_and_can_mix_in_fitness():
    pool = ElitePool(ids=np.arange(3), objectives=np.array([3.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="novelty"):
        make_selector({"name": "novelty"}).select(pool, 1)
    novel = ElitePool(ids=np.arange(3), objectives=np.array([1.0, 2.0, 3.0]),
                      novelty=np.array([2.0, 2.0, 1.0]))
    pure = frequencies({"name": "novelty"}, novel)
    assert pure[0] == pytest.approx(pure[1], abs=0.01) and pure[2] < 0.02
    mixed = frequencies({"name": "novelty", "fitness_power": 1.0}, novel)
    assert mixed[1] > 1.5 * mixed[0]


def test_pool_validates_its_arrays():
    with pytest.raises(ValueError, match="unique"):
        ElitePool(ids=np.array([1, 1]), objectives=np.zeros(2))
    with pytest.raises(ValueError, match="entries"):
        ElitePool(ids=np.arange(3), objectives=np.zeros(2))
    with pytest.raises(ValueError, match="finite"):
        ElitePool(ids=np.arange(2), objectives=np.array([0.0, np.nan]))
    pool = ElitePool(ids=[5, 6], objectives=[1, 2])
    assert pool.children.tolist() == [0, 0] and pool.novelty is None
