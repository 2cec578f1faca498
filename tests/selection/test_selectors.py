"""Every registered parent selector: seeded determinism, JSON state, preferences by design."""

import json

import numpy as np
import pytest

from qd.errors import RegistryError, SpecError
from qd.selection import ElitePool, make_selector, selector_from_state, selector_registry
from tests.bandits.conftest import assert_plain_json
from tests.selection.conftest import exercise, full_pool

ALL = selector_registry.names()


@pytest.mark.parametrize("name", ALL)
def test_config_model_is_named_and_strict(name):
    assert selector_registry.get(name).Config().name == name
    with pytest.raises(SpecError):
        make_selector({"name": name, "no_such_option": 1})


def test_unknown_selector_is_an_error():
    with pytest.raises(RegistryError):
        make_selector({"name": "no_such_selector"})


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_sequence(name):
    pool = full_pool()
    runs = [exercise(make_selector({"name": name}, seed=s), pool) for s in (3, 3, 4)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


@pytest.mark.parametrize("name", ALL)
def test_state_round_trip_continues_identically(name):
    pool = full_pool()
    original = make_selector({"name": name}, seed=8)
    exercise(original, pool, seed=1)
    state = original.state_dict()
    assert_plain_json(state)
    restored = make_selector({"name": name}, seed=1234)
    restored.load_state_dict(json.loads(json.dumps(state)))
    rebuilt = selector_from_state(json.loads(json.dumps(state)))
    tails = [exercise(s, pool, seed=2) for s in (original, restored, rebuilt)]
    assert tails[0] == tails[1] == tails[2]
    assert original.state_dict() == restored.state_dict()


@pytest.mark.parametrize("name", ALL)
def test_positions_are_valid_and_requests_checked(name):
    pool = full_pool(n=15)
    selector = make_selector({"name": name}, seed=0)
    idx = selector.select(pool, 50)
    assert idx.dtype == np.int64 and idx.shape == (50,)
    assert idx.min() >= 0 and idx.max() < len(pool)
    assert selector.select(pool, 0).shape == (0,)
    with pytest.raises(ValueError):
        selector.select(pool.subset(np.array([], dtype=np.int64)), 1)
    with pytest.raises(ValueError):
        selector.select(pool, -1)


def spearman(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


# How often each elite is drawn should follow the design: "objective" selectors favour better
# elites, "novelty" more novel ones, "flat" ones (until they get feedback) neither.
PREFERENCE = {
    "uniform": "flat",
    "fitness_proportional": "objective",
    "power_law": "objective",
    "shinka_weighted": "objective",
    "novelty": "novelty",
    "curiosity": "flat",
    "islands": "flat",
}


def test_every_registered_selector_has_an_expected_preference():
    assert set(PREFERENCE) == set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_selection_frequencies_follow_the_design(name):
    pool = ElitePool(ids=np.arange(30), objectives=np.linspace(0, 1, 30) ** 2,
                     novelty=np.random.default_rng(1).permutation(30) / 30.0,
                     islands=np.zeros(30, dtype=np.int64))
    counts = np.bincount(make_selector({"name": name}, seed=7).select(pool, 30000),
                         minlength=30)
    kind = PREFERENCE[name]
    if kind == "flat":
        assert np.all(np.abs(counts - 1000) < 150), counts  # ~4.8 standard deviations
    else:
        target = pool.objectives if kind == "objective" else pool.novelty
        other = pool.novelty if kind == "objective" else pool.objectives
        assert spearman(counts, target) > 0.9
        assert abs(spearman(counts, other)) < 0.5
