"""Learned measures (AURORA-style): encoder refits, archive re-insertion, resume, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qd
from qd.learned import LearnedMeasuresConfig
from qd.learned.measures import OBSERVATION_FIELD
from qd.numeric.build import build_components
from qd.numeric.engine import Engine
from qd.spec_loader import validate_spec
from qd.store import RunStore

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def arm_spec(**measures) -> dict:
    """A 6-joint arm, learned 2-D measures on a 12x12 grid over [0, 1]^2."""
    return {
        "measures": {"kind": "learned", "refit_every": 4, "refit_growth": 1.0,
                     "train_steps": 60, **measures},
        "problem": {"name": "arm_repertoire", "joints": 6},
        "archive": {"name": "grid", "cells": [12, 12]},
        "emitters": [{"name": "gaussian", "batch_size": 32, "sigma": 0.3}],
        "run": {"budget": 32 * 10, "seed": 4, "checkpoint_every": 3, "checkpoint_seconds": 0},
    }


def components(spec: dict):
    return build_components(validate_spec(spec, None, "test"))


def test_shorthand_and_bad_values_give_clear_errors(run_cli, tmp_path):
    spec = validate_spec({**arm_spec(), "measures": "learned"}, None, "test")
    assert spec.measures == LearnedMeasuresConfig()
    with pytest.raises(qd.SpecError, match="measures.*unknown measures 'lerned'"):
        validate_spec({**arm_spec(), "measures": "lerned"}, None, "test")
    with pytest.raises(qd.SpecError, match="measures: problem SphereLP has no raw observations.*"
                                           "arm_repertoire, hexapod_gait, maze_navigation"):
        qd.evolve({**arm_spec(), "problem": {"name": "sphere_lp", "dim": 4}}, write=False)
    path = tmp_path / "spec.toml"
    path.write_text('measures = "learned"\n[problem]\nname = "sphere_lp"\n')
    proc = run_cli("evolve", str(path), "--budget", "10", "--cluster", "local:1", "-q")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "measures: problem SphereLP has no raw observations" in proc.stderr


def test_observations_end_where_the_hand_made_measures_are():
    for spec in (arm_spec(), {**arm_spec(), "problem": {"name": "maze_navigation", "steps": 30}}):
        problem = components(spec).problem.inner
        solutions = torch.randn(16, problem.solution_dim, dtype=torch.float64)
        objectives, measures, observations = problem.observe(solutions)
        ref_objectives, ref_measures = problem.evaluate(solutions)
        assert torch.equal(objectives, ref_objectives) and torch.equal(measures, ref_measures)
        assert observations.shape == (16, problem.observation_dim)
        scale = (torch.tensor(problem.layout.size, dtype=torch.float64)
                 if hasattr(problem, "layout") else problem.link_length * problem.solution_dim)
        torch.testing.assert_close(observations[:, -2:] * scale, measures, rtol=0, atol=1e-12)


def test_hexapod_observation_is_the_gait_diagram_behind_the_duty_factors():
    spec = {**arm_spec(), "problem": {"name": "hexapod_gait", "steps": 100, "period": 25}}
    problem = components(spec).problem.inner
    solutions = torch.rand(8, problem.solution_dim, dtype=torch.float64)
    _, duty, observations = problem.observe(solutions)
    assert observations.shape == (8, 6 * 25) and set(observations.unique().tolist()) <= {0, 1}
    # steps is 4 whole cycles, so each leg's duty factor is its contact share in one cycle
    torch.testing.assert_close(observations.reshape(8, 6, 25).mean(-1), duty)


def test_refit_reinserts_the_best_elite_of_every_new_cell():
    c = components(arm_spec(refit_every=1000))
    engine = Engine(c, budget=32 * 6)
    engine.run()  # one refit (iteration 1), then five iterations under that encoder
    old = c.archive.elites()
    batch = c.evaluator(c.scheduler.ask())[1]
    info = c.learned.refit(7, batch, c.archive)
    new = c.archive.elites()
    assert info["elites_before"] == len(old["objective"]) and info["elites_after"] == len(
        new["objective"])
    # Expected: each old elite under the new encoder; per new cell, the best one.
    codes = c.learned.encode(old[OBSERVATION_FIELD])
    cells = c.archive.search.index_of(codes)
    best: dict[int, float] = {}
    for cell, objective in zip(cells, old["objective"], strict=True):
        best[int(cell)] = max(best.get(int(cell), -np.inf), float(objective))
    assert sorted(new["index"].tolist()) == sorted(best)
    for cell, objective, measures, obs in zip(new["index"], new["objective"], new["measures"],
                                              new[OBSERVATION_FIELD], strict=True):
        assert objective == best[int(cell)]
        np.testing.assert_allclose(measures, c.learned.encode(obs[None])[0], rtol=1e-12)
    # Every survivor is one of the old elites (nothing invented, solutions unchanged).
    old_rows = {row.tobytes() for row in old["solution"]}
    assert all(row.tobytes() in old_rows for row in new["solution"])
    assert len(best) < len(old["objective"])  # the new space merged some cells: a real test
    assert np.all((new["measures"] >= 0) & (new["measures"] <= 1))


def test_run_refits_on_schedule_and_the_store_keeps_every_evaluation(tmp_path):
    result = qd.evolve(arm_spec(latent_dim=3, refit_growth=2.0), out=tmp_path / "run",
                       budget=32 * 14, overrides=["archive.cells=[6, 6, 6]"])
    store = RunStore.open(tmp_path / "run", create=False, readonly=True)
    refits = store.events.all("refit")
    assert [e["iteration"] for e in refits] == [1, 5, 13]  # intervals 4, 8
    assert all(e["elites_after"] <= e["elites_before"] for e in refits)
    batches = list(store.batches.read())
    assert [b.iteration for b in batches] == list(range(1, 15))
    assert store.batches.evaluation_count() == 32 * 14
    stored = {row.tobytes() for b in batches for row in b.solutions}
    elites = result.archive.elites()
    assert elites["measures"].shape[1] == 3
    assert all(row.tobytes() in stored for row in elites["solution"])
    store.close()


def test_seeded_runs_are_identical_and_resume_replays_refits_exactly(tmp_path):
    spec = arm_spec(refit_every=3)  # refits at 1, 4, 7, 10: the replay below redoes the one at 7
    ref = qd.evolve(spec, out=tmp_path / "ref")
    assert qd.evolve(spec, write=False).archive.stats() == ref.archive.stats()
    run = tmp_path / "run"
    qd.evolve(spec, budget=32 * 8, out=run)  # checkpoints at 6 (kept), 8
    store = RunStore.open(run, create=False)
    newest = store.checkpoints.all()[0]
    store.close()
    (run / "checkpoints" / newest.file).write_bytes(b"damaged")
    resumed = qd.resume(run, budget=32 * 10)
    assert resumed.restored.checkpoint_iteration == 6 and resumed.restored.replayed == 2
    for key in ("solution", "objective", "measures", OBSERVATION_FIELD):
        np.testing.assert_array_equal(resumed.archive.elites()[key], ref.archive.elites()[key])


def test_forced_resume_rebuilds_a_learned_archive_from_the_store(tmp_path):
    run = tmp_path / "run"
    first = qd.evolve(arm_spec(), budget=32 * 6, out=run)
    forced = qd.resume(run, budget=32 * 8, overrides=["emitters.0.sigma=0.1"], force=True)
    assert forced.end.evaluations == 32 * 8
    assert forced.metrics[0].num_elites > 0
    assert first.end.stats.num_elites > 0


def test_set_overrides_reach_into_the_shorthand():
    spec = qd.load_spec("maze_aurora", ["measures.latent_dim=3"]).spec
    assert spec.measures.latent_dim == 3 and spec.measures.kind == "learned"


@pytest.mark.parametrize("archive, emitter", [
    ({"name": "cvt", "centroids": 50, "samples": 2000}, {"name": "gaussian", "sigma": 0.3}),
    ({"name": "sliding_boundaries", "cells": [8, 8], "remap_frequency": 2},
     {"name": "gaussian", "sigma": 0.3}),
    ({"name": "proximity", "k_neighbors": 5}, {"name": "iso_line"}),
    ({"name": "grid", "cells": [10, 10]}, {"name": "cma_mae", "sigma0": 0.3,
                                            "learning_rate": 0.1}),
    ({"name": "grid", "cells": [10, 10]}, {"name": "cma_me", "sigma0": 0.3}),
])
def test_every_archive_family_and_emitter_kind_takes_learned_measures(archive, emitter):
    spec = {**arm_spec(refit_every=2), "archive": archive,
            "emitters": [{**emitter, "batch_size": 16}]}
    result = qd.evolve(spec, budget=16 * 8, write=False)
    elites = result.archive.elites()
    assert result.end.iterations == 8 and len(elites["objective"]) > 0
    assert np.all((elites["measures"] >= 0) & (elites["measures"] <= 1))
    assert elites[OBSERVATION_FIELD].shape == (len(elites["objective"]), 12)
