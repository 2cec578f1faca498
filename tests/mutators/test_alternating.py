"""The `alternating` (SERENE/STAX-style) emitter: phases, local search, determinism, resume."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from ribs.archives import GridArchive, ProximityArchive

import qd
from mutators import EmitterContext, emitter_registry
from mutators.alternating import EXPLOIT, EXPLORE, AlternatingConfig, AlternatingEmitter
from qd.api import resolve_spec
from qd.errors import SpecError
from qd.numeric.build import build_components
from qd.numeric.engine import Engine
from qd.spec_loader import validate_spec
from qd.store import RunStore

torch.set_num_threads(1)
DIM = 10
SHIFT = 2.048


def sphere(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximise minus the shifted sphere; measures = the first two coordinates."""
    return -((x - SHIFT) ** 2).sum(axis=1), x[:, :2].copy()


def flat(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same objective everywhere: a local search can never improve."""
    return np.zeros(len(x)), x[:, :2].copy()


def make(seed: int = 3, archive: str = "grid", bounds=None, **options) -> AlternatingEmitter:
    cfg = AlternatingConfig(batch_size=8, **options)
    if archive == "grid":
        arch = GridArchive(solution_dim=DIM, dims=(10, 10), ranges=[(-6, 6), (-6, 6)], seed=1)
    else:
        arch = ProximityArchive(solution_dim=DIM, measure_dim=2, k_neighbors=3,
                                novelty_threshold=0.2, seed=1)
    return AlternatingEmitter(arch, x0=np.zeros(DIM), config=cfg, bounds=bounds, seed=seed)


def step(emitter: AlternatingEmitter, fn=sphere) -> tuple[str, np.ndarray]:
    """One ask → evaluate → archive add → tell, as pyribs' Scheduler does."""
    phase = emitter.phase
    x = emitter.ask()
    obj, meas = fn(x)
    info = emitter.archive.add(x, obj, meas)
    emitter.tell(x, obj, meas, info)
    return phase, x


def test_phases_alternate_as_configured():
    em = make(explore_iterations=3, exploit_iterations=2, patience=100)
    phases = [step(em)[0] for _ in range(10)]
    assert phases == [EXPLORE] * 3 + [EXPLOIT] * 2 + [EXPLORE] * 3 + [EXPLOIT] * 2
    assert em.asks == {EXPLORE: 6, EXPLOIT: 4}


def test_reward_phase_improves_the_objective_from_its_start():
    em = make(explore_iterations=2, exploit_iterations=60, patience=60, local_sigma=0.3)
    for _ in range(2):
        step(em)
    assert em.phase == EXPLOIT
    step(em)  # the local search starts from the best elite
    start = float(em.archive.data("objective").max())
    for _ in range(59):
        step(em)
    assert em.local_starts == 1
    assert em.best_local_objective > start + 0.9 * abs(start)  # >90% of the gap to 0 closed
    assert em.archive.stats.obj_max == pytest.approx(em.best_local_objective)


def test_cma_es_local_search_improves_too():
    em = make(explore_iterations=1, exploit_iterations=40, patience=40, local="cma_es")
    step(em)
    step(em)
    start = float(em.archive.data("objective").max())
    for _ in range(39):
        step(em)
    assert em.best_local_objective > start + 0.5 * abs(start)


def test_stagnation_ends_the_reward_phase_early():
    em = make(explore_iterations=2, exploit_iterations=50, patience=3)
    phases = [step(em, flat)[0] for _ in range(7)]
    # The start elite's objective (0) is never beaten: 3 failed iterations end the phase.
    assert phases == [EXPLORE] * 2 + [EXPLOIT] * 3 + [EXPLORE] * 2
    assert em.terminations == 1 and em.local_starts == 1


def test_an_improving_search_continues_in_the_next_reward_phase():
    em = make(explore_iterations=1, exploit_iterations=2, patience=50, local_sigma=0.3)
    for _ in range(9):
        step(em)
    assert em.local_starts == 1 and em.terminations == 0  # 3 reward phases, one search


def test_restarts_use_a_new_start_point():
    em = make(explore_iterations=1, exploit_iterations=5, patience=1, start_top_k=1)
    starts = []
    for _ in range(12):
        if em.phase == EXPLOIT and not em._active:
            step(em, flat)
            starts.append(em._center.copy())
        else:
            step(em, flat)
    assert len(starts) >= 3
    assert len({s.tobytes() for s in starts}) == len(starts)


def test_bounds_are_respected():
    bounds = tuple((-0.5, 0.5) for _ in range(DIM))
    em = make(explore_iterations=2, exploit_iterations=3, patience=5, bounds=bounds, sigma=3.0,
              local_sigma=3.0)
    for _ in range(10):
        _, x = step(em)
        assert x.min() >= -0.5 and x.max() <= 0.5


@pytest.mark.parametrize("local", ["hill_climber", "cma_es"])
def test_seeded_emitters_ask_identical_batches(local):
    a, b = (make(seed=7, archive="proximity", local=local, explore_iterations=2,
                 exploit_iterations=3, patience=2) for _ in range(2))
    for _ in range(12):
        np.testing.assert_array_equal(step(a)[1], step(b)[1])
    assert not np.array_equal(step(make(seed=8))[1], step(make(seed=7))[1])


@pytest.mark.parametrize("local", ["hill_climber", "cma_es"])
def test_pickled_emitter_continues_identically(local):
    em = make(archive="proximity", local=local, explore_iterations=2, exploit_iterations=4,
              patience=2)
    for _ in range(5):  # stop inside a reward phase
        step(em)
    assert em.phase == EXPLOIT
    copy = pickle.loads(pickle.dumps(em))
    for _ in range(12):
        np.testing.assert_array_equal(step(em)[1], step(copy)[1])
    assert em.asks == copy.asks and em.terminations == copy.terminations


def test_spec_errors_name_the_field():
    base = {"problem": {"name": "sphere_lp", "dim": 4}}
    with pytest.raises(SpecError, match="patience"):
        validate_spec({**base, "emitters": [{"name": "alternating", "patience": 0}]}, ".", "t")
    with pytest.raises(SpecError, match="local"):
        validate_spec({**base, "emitters": [{"name": "alternating", "local": "adam"}]}, ".", "t")


def test_family_builds_seeded_emitters_with_the_problem_bounds():
    family = emitter_registry.get("alternating")(AlternatingConfig(count=2, batch_size=4))
    arch = GridArchive(solution_dim=3, dims=(2, 2), ranges=[(0, 1), (0, 1)])
    bounds = ((0.0, 1.0),) * 3
    ems = family.build(arch, EmitterContext(x0=np.full(3, 0.5), bounds=bounds), [1, 2])
    assert len(ems) == 2 and all(e.batch_size == 4 for e in ems)
    np.testing.assert_array_equal(ems[0].upper_bounds, np.ones(3))


def test_short_maze_run_with_the_serene_spec():
    spec = resolve_spec("maze_serene", ["run.seed=2", "run.budget=5120"]).spec
    components = build_components(spec)
    end = Engine(components, spec.run.budget).run()
    emitters = components.scheduler.emitters
    assert end.evaluations == 5120 and all(isinstance(e, AlternatingEmitter) for e in emitters)
    # 20 iterations: 10 of exploration, then one reward phase of 3 (patience) to 10 iterations.
    for e in emitters:
        assert e.asks[EXPLORE] + e.asks[EXPLOIT] == 20 and 3 <= e.asks[EXPLOIT] <= 10
        assert e.local_starts == 1
    first_best = components.archive.stats().best
    assert first_best is not None and components.archive.stats().num_elites > 50
    assert max(e.best_local_objective for e in emitters) >= first_best


@pytest.mark.parametrize("local", ["hill_climber", "cma_es"])
def test_resumed_run_replays_and_matches_an_uninterrupted_one(tmp_path, local):
    spec = {
        "problem": {"name": "sphere_lp", "dim": 6},
        "archive": {"name": "grid", "cells": [10, 10]},
        "emitters": [{"name": "alternating", "count": 2, "batch_size": 6, "local": local,
                      "explore_iterations": 3, "exploit_iterations": 4, "patience": 2}],
        "run": {"seed": 4, "checkpoint_every": 5, "checkpoint_seconds": 0},
    }
    ref = qd.evolve(spec, budget=480, write=False)
    run = tmp_path / "run"
    qd.evolve(spec, budget=240, out=run)  # 20 iterations; checkpoints at 15 and 20 kept
    store = RunStore.open(run, create=False)
    newest = store.checkpoints.all()[0]
    store.close()
    (run / "checkpoints" / newest.file).write_bytes(b"damaged")
    result = qd.resume(run, budget=480)
    assert result.restored.replayed > 0  # asked batches re-created identically
    assert result.archive.stats() == ref.archive.stats()
