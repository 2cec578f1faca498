"""Every registered archive, emitter and problem goes through the same run, by name."""

import numpy as np
import pytest

import qd
from archives import archive_registry
from mutators import emitter_registry
from problems import problem_registry
from qd.kinds import run_kind_of
from qd.spec_loader import builtin_specs
from tests.conftest import small_spec

ARCHIVE_OPTIONS = {
    "grid": {"cells": [20, 20]},
    "cvt": {"centroids": 50, "samples": 2000},
    "sliding_boundaries": {"cells": [20, 20], "remap_frequency": 50, "buffer_capacity": 200},
    "proximity": {"k_neighbors": 5},
}


@pytest.mark.parametrize("name", archive_registry.names())
def test_every_archive_fills_and_reports(name):
    spec = small_spec(archive={"name": name, **ARCHIVE_OPTIONS[name]})
    result = qd.evolve(spec, write=False)
    stats = result.archive.stats()
    assert stats.num_elites > 0
    assert 0 < stats.coverage <= 1
    assert stats.qd_score > 0
    assert stats.best is not None and stats.best <= 100
    elites = result.archive.elites()
    assert elites["solution"].shape == (stats.num_elites, 10)
    assert np.isclose(elites["objective"].max(), stats.best)
    assert stats.norm_qd_score > 0


EMITTER_OPTIONS = {
    "gaussian": {"sigma": 0.3},
    "iso_line": {"iso_sigma": 0.05, "line_sigma": 0.2},
    "cma_me": {"sigma0": 0.5},
    "cma_mae": {"sigma0": 0.5, "learning_rate": 0.05},
    "gp_tree": {"p_crossover": 0.5, "p_mutation": 0.5},
    "alternating": {"explore_iterations": 3, "exploit_iterations": 3},
    "go_explore": {"explore_steps": 10},
}
# Emitters that vary a problem-specific genome (or explore states) run on that problem instead
# of sphere_lp.
EMITTER_PROBLEMS = {
    "gp_tree": {"name": "symbolic_regression", "max_nodes": 15, "max_depth": 5},
    "go_explore": {"name": "maze_navigation", "steps": 50},
}


@pytest.mark.parametrize("name", emitter_registry.names())
def test_every_emitter_improves_the_archive(name):
    emitters = [{"name": name, "count": 2, "batch_size": 16, **EMITTER_OPTIONS[name]}]
    problem = EMITTER_PROBLEMS.get(name, small_spec()["problem"])
    spec = small_spec(emitters=emitters, problem=problem)
    result = qd.evolve(spec, write=False)
    first, last = result.metrics[0], result.metrics[-1]
    assert last.evaluations == 640
    assert last.num_elites > first.num_elites
    assert last.qd_score > first.qd_score


def test_every_registered_component_is_covered():
    assert set(ARCHIVE_OPTIONS) == set(archive_registry.names())
    assert set(EMITTER_OPTIONS) == set(emitter_registry.names())


# `python` and `program` problems are defined by spec folders (see their own tests).
@pytest.mark.parametrize("name", [n for n in problem_registry.names()
                                  if n not in ("python", "program")])
def test_every_builtin_problem_runs_from_its_spec(name):
    result = qd.evolve(name, budget=200, overrides=["run.seed=1"], write=False)
    assert result.end.evaluations >= 200
    assert result.archive.stats().num_elites > 0


@pytest.mark.parametrize("name", sorted(builtin_specs()))
def test_every_builtin_spec_validates_and_numeric_ones_run_an_iteration(name):
    loaded = qd.load_spec(name)
    if run_kind_of(loaded.spec).solutions_are_programs:
        return  # validated above; program runs need an LLM (tests/program)
    result = qd.evolve(name, budget=1, write=False)  # one whole iteration
    assert result.end.iterations == 1
    assert result.archive.stats().num_elites > 0
