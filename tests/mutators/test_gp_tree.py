import random

import numpy as np
import pytest
from pydantic import ValidationError
from ribs.archives import GridArchive

import qd
from mutators.gp_tree import GPTree, GPTreeConfig, GPTreeEmitter, own_random
from problems.gp_trees import GenomeFormat
from qd.errors import SpecError

FMT = GenomeFormat(1, ("add", "sub", "mul", "sin"), max_nodes=15, max_depth=4)


def make_emitter(seed, **options):
    archive = GridArchive(solution_dim=FMT.length, dims=[15, 5],
                          ranges=[(0.5, 15.5), (-0.5, 4.5)], seed=0)
    config = GPTreeConfig(batch_size=40, **options)
    return archive, GPTreeEmitter(archive, FMT, config, seed)


def fill(archive, emitter):
    genomes = emitter.ask()
    trees = [FMT.decode(g) for g in genomes]
    measures = np.array([[len(t), t.height] for t in trees], dtype=float)
    archive.add(genomes, -measures[:, 0], measures)
    return genomes, trees


def test_children_are_valid_trees_within_the_limits():
    archive, emitter = make_emitter(1, mutation_depth=3, init_max_depth=4)
    for _ in range(5):
        genomes, trees = fill(archive, emitter)
        assert genomes.shape == (40, FMT.length)
        assert all(len(t) <= 15 and t.height <= 4 for t in trees)
    assert archive.stats.num_elites > 10  # variation reached many (size, depth) cells


def test_variation_changes_parents():
    archive, emitter = make_emitter(2, p_crossover=0.0, p_mutation=1.0)
    fill(archive, emitter)
    parents = {g.tobytes() for g in archive.data("solution")}
    children = emitter.ask()
    new = sum(c.tobytes() not in parents for c in children)
    assert new > len(children) // 2


def test_same_seed_same_children_and_global_random_untouched():
    random.seed(123)
    expected_global = random.random()
    random.seed(123)
    runs = []
    for _ in range(2):
        archive, emitter = make_emitter(7)
        fill(archive, emitter)
        runs.append(emitter.ask())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert random.random() == expected_global  # deap's draws went to the emitter's own state
    assert not np.array_equal(make_emitter(8)[1].ask(), make_emitter(7)[1].ask())


def test_own_random_swaps_state_back():
    rng = random.Random(5)
    random.seed(1)
    with own_random(rng):
        inside = random.random()
    assert inside == random.Random(5).random()
    assert random.random() == random.Random(1).random()


def test_needs_a_gp_problem():
    spec = {"problem": {"name": "sphere_lp", "dim": 10}, "emitters": [{"name": "gp_tree"}],
            "run": {"budget": 10}}
    with pytest.raises(SpecError, match="gp_tree varies GP-tree genomes.*symbolic_regression"):
        qd.evolve(spec, write=False)


def test_config_is_validated():
    with pytest.raises(ValidationError, match="init_min_depth"):
        GPTreeConfig(init_min_depth=4, init_max_depth=2)
    with pytest.raises(ValidationError, match="extra"):
        GPTreeConfig(p_cross=0.3)
    assert GPTree.Config is GPTreeConfig


def test_runs_with_a_novelty_archive():
    spec = {"problem": {"name": "symbolic_regression", "max_nodes": 15, "max_depth": 5},
            "archive": {"name": "proximity", "k_neighbors": 3, "novelty_threshold": 0.5},
            "emitters": [{"name": "gp_tree", "batch_size": 30}], "run": {"budget": 300}}
    result = qd.evolve(spec, write=False)
    assert result.archive.stats().num_elites > 5
