"""Islands: one island per draw, ring / random migration, FunSearch-style resets, children."""

import numpy as np
import pytest

from qd.errors import SpecError
from qd.selection import ElitePool, make_selector

# 12 elites; elite i lives on island i % 3 (given by the pool) and island 0 is the strongest:
# best per island: island 0 -> id 9 (0.99), island 1 -> id 10 (0.5), island 2 -> id 11 (0.2).
OBJECTIVES = [0.90, 0.10, 0.05, 0.80, 0.30, 0.10, 0.70, 0.20, 0.15, 0.99, 0.50, 0.20]


def pool_of(n=12, objectives=OBJECTIVES, islands=True):
    ids = np.arange(n)
    return ElitePool(ids=ids, objectives=np.asarray(objectives[:n]),
                     islands=ids % 3 if islands else None)


def islands(seed=0, **options):
    return make_selector({"name": "islands", "islands": 3, "migration_interval": 0, **options},
                         seed=seed)


def island_of_picks(selector, pool, idx):
    sets = [set(selector.islands_of([i])[0]) for i in pool.ids[idx]]
    return set.intersection(*sets)


def test_round_robin_draws_from_one_island_per_call():
    pool, selector = pool_of(), islands()
    seen = []
    for _ in range(6):
        idx = selector.select(pool, 20)
        common = island_of_picks(selector, pool, idx)
        assert len(common) == 1
        seen.append(common.pop())
    assert seen == [0, 1, 2, 0, 1, 2]


def test_random_choice_still_draws_from_one_island():
    pool, selector = pool_of(), islands(choice="random")
    seen = set()
    for _ in range(30):
        common = island_of_picks(selector, pool, selector.select(pool, 10))
        assert len(common) == 1
        seen |= common
    assert seen == {0, 1, 2}


def test_unseen_ids_are_spread_round_robin_without_pool_islands():
    pool, selector = pool_of(islands=False), islands()
    selector.select(pool, 1)
    assert selector.islands_of(range(6)) == [[0], [1], [2], [0], [1], [2]]


def test_ring_migration_copies_each_islands_best_every_g_generations():
    pool, selector = pool_of(), islands(migration_interval=2, migrants=1)
    assert selector.end_generation(pool)["migrations"] == []
    events = selector.end_generation(pool)
    assert events["generation"] == 2
    assert events["migrations"] == [[9, 0, 1], [10, 1, 2], [11, 2, 0]]
    assert selector.islands_of([9, 10, 11]) == [[0, 1], [1, 2], [0, 2]]
    assert selector.islands_of([0]) == [[0]]  # not the best: stays home
    assert selector.end_generation(pool)["migrations"] == []


def test_random_migration_goes_to_another_island():
    pool, selector = pool_of(), islands(migration_interval=1, migrants=2, topology="random")
    for _ in range(5):
        for eid, src, dst in selector.end_generation(pool)["migrations"]:
            assert dst != src and dst in selector.islands_of([eid])[0]


def test_reset_empties_the_weakest_half_and_seeds_from_survivors():
    # 4 islands; best objective per island: 0 -> 0.9, 1 -> 0.4, 2 -> 0.6, 3 -> 0.1.
    objectives = [0.9, 0.4, 0.6, 0.1, 0.5, 0.3, 0.2, 0.05]
    ids = np.arange(8)
    pool = ElitePool(ids=ids, objectives=np.array(objectives), islands=ids % 4)
    selector = make_selector({"name": "islands", "islands": 4, "migration_interval": 0,
                              "reset_interval": 2, "reset_fraction": 0.5}, seed=1)
    assert selector.end_generation(pool)["reset"] == []
    assert selector.end_generation(pool)["reset"] == [1, 3]
    # Members of islands 1 and 3 are retired; each emptied island holds one survivor's best.
    for eid in (1, 3, 5, 7):
        assert selector.islands_of([eid]) == [[]]
    for island in (1, 3):
        members = pool.ids[selector.positions_on(pool, island)].tolist()
        assert len(members) == 1 and members[0] in (0, 2)
    assert selector.islands_of([4, 6]) == [[0], [2]]  # survivors keep their members
    for _ in range(8):  # retired elites are never drawn again, even though still in the pool
        assert not set(pool.ids[selector.select(pool, 20)].tolist()) & {1, 3, 5, 7}


def test_children_join_the_island_their_parent_was_drawn_from():
    pool, selector = pool_of(), islands()
    idx = selector.select(pool, 3)  # round robin starts on island 0
    parents = pool.ids[idx]
    selector.feedback(parents, [True, False, True], [100, 101, 102])
    assert selector.islands_of([100, 101, 102]) == [[0], [], [0]]
    grown = ElitePool(ids=np.append(pool.ids, [100, 102]),
                      objectives=np.append(pool.objectives, [0.0, 0.0]),
                      islands=np.append(pool.islands, [2, 2]))  # pool's guess is ignored
    selector.select(grown, 1)
    assert selector.islands_of([100, 102]) == [[0], [0]]


def test_the_within_island_selector_is_used():
    pool = pool_of()
    selector = islands(within={"name": "power_law", "alpha": 50.0})
    picks = [pool.ids[selector.select(pool, 50)].tolist() for _ in range(3)]
    assert [max(set(p), key=p.count) for p in picks] == [9, 10, 11]


@pytest.mark.parametrize("within", [{"name": "islands"}, {"name": "power_law", "beta": 1},
                                    {"name": "no_such"}])
def test_bad_within_configs_are_rejected(within):
    with pytest.raises(SpecError, match="within"):
        islands(within=within)


def test_feedback_and_generations_reach_the_within_island_selector():
    pool = pool_of()
    selector = islands(within={"name": "curiosity"})
    parents = pool.ids[selector.select(pool, 2)]
    selector.feedback(parents, [True, True], [None, None])
    assert sum(selector.inner.scores.values()) == pytest.approx(2.0)
    selector.end_generation(pool)
    assert selector.inner.generation == selector.generation == 1
