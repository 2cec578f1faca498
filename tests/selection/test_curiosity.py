"""Curiosity (Cully & Demiris 2018): scores follow the fate of each parent's children."""

import numpy as np
import pytest

from qd.selection import ElitePool, make_selector


def test_scores_rise_and_fall_with_feedback():
    selector = make_selector({"name": "curiosity", "reward": 1.0, "penalty": 0.5})
    selector.feedback([1, 1, 2, 2, 3], [True, True, False, False, True])
    assert selector.score_of(np.array([1, 2, 3, 4])).tolist() == [2.0, -1.0, 1.0, 0.0]
    with pytest.raises(ValueError):
        selector.feedback([1, 2], [True])


def test_productive_parents_are_chosen_more():
    pool = ElitePool(ids=np.arange(10), objectives=np.zeros(10))
    selector = make_selector({"name": "curiosity"}, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):  # elite 3's children always get in, the others' rarely
        idx = selector.select(pool, 10)
        ids = pool.ids[idx]
        added = np.where(ids == 3, True, rng.random(10) < 0.1)
        selector.feedback(ids, added)
    counts = np.bincount(selector.select(pool, 5000), minlength=10)
    assert counts.argmax() == 3 and counts[3] > 0.5 * 5000


def test_softmax_temperature_sets_the_contrast():
    pool = ElitePool(ids=np.arange(2), objectives=np.zeros(2))
    for temperature, expected in [(1.0, 1 / (1 + np.exp(-1.0))), (0.5, 1 / (1 + np.exp(-2.0)))]:
        selector = make_selector({"name": "curiosity", "temperature": temperature})
        selector.feedback([0], [True])
        assert selector.probabilities(pool)[0] == pytest.approx(expected)


def test_end_generation_forgets_departed_elites():
    selector = make_selector({"name": "curiosity"})
    selector.feedback([1, 2], [True, True])
    events = selector.end_generation(ElitePool(ids=np.array([2]), objectives=np.zeros(1)))
    assert events == {"forgotten": 1} and selector.scores == {2: 1.0}
    assert selector.generation == 1
