"""The torch backend end to end: runs, equals pyribs on the same batches, refuses what it lacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qd
from qd.store import RunStore
from tests.conftest import small_spec


def arm_spec(backend: str = "torch", budget: int = 4096, **run: object) -> dict:
    return {
        "problem": {"name": "arm_repertoire", "joints": 12},
        "archive": {"name": "grid", "cells": [20, 20]},
        "emitters": [{"name": "iso_line", "batch_size": 128, "iso_sigma": 0.05,
                      "line_sigma": 0.2}],
        "run": {"budget": budget, "seed": 4, "backend": backend, **run},
    }


def sorted_elites(elites: dict) -> dict:
    order = np.argsort(elites["index"])
    return {k: np.asarray(elites[k])[order] for k in ("solution", "objective", "measures",
                                                      "index")}


def test_torch_backend_illuminates_like_pyribs(one_torch_thread):
    """Different random streams, same algorithm: the same illumination on average over seeds
    (single seeds of this short run differ by up to 15% either way)."""
    stats = {"torch": [], "pyribs": []}
    for backend, runs in stats.items():
        for seed in range(4):
            spec = arm_spec(backend)
            spec["run"]["seed"] = seed
            result = qd.evolve(spec, write=False)
            assert result.end.evaluations == 4096
            runs.append(result.archive.stats())
    elites = {b: np.mean([s.num_elites for s in runs]) for b, runs in stats.items()}
    scores = {b: np.mean([s.qd_score for s in runs]) for b, runs in stats.items()}
    assert elites["torch"] == pytest.approx(elites["pyribs"], rel=0.15)
    assert scores["torch"] == pytest.approx(scores["pyribs"], rel=0.15)
    assert elites["torch"] > 150


def test_torch_archive_samples_tensors_on_the_run_device(one_torch_thread):
    result = qd.evolve(arm_spec("torch", 512), write=False)
    drawn = result.archive.search.sample(4)["solution"]
    assert isinstance(drawn, torch.Tensor) and drawn.device.type == "cpu"
    assert drawn.dtype == torch.float64 and drawn.shape == (4, 12)


def test_torch_backend_is_deterministic_for_a_seed(one_torch_thread):
    a = sorted_elites(qd.evolve(arm_spec("torch", 2048), write=False).archive.elites())
    b = sorted_elites(qd.evolve(arm_spec("torch", 2048), write=False).archive.elites())
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize("emitters", [
    [{"name": "gaussian", "batch_size": 16, "sigma": 0.3}],
    [{"name": "cma_mae", "count": 2, "batch_size": 12, "learning_rate": 0.05,
      "threshold_min": 0.0}],
])
def test_stored_batches_give_the_pyribs_archive_on_torch(tmp_path, emitters, one_torch_thread):
    """The pyribs run's evaluated batches, inserted into torch archives, give its archive."""
    spec = small_spec(emitters=emitters, run={"budget": 960, "seed": 2,
                                              "store_evaluations": "all"})
    run = tmp_path / "run"
    ribs_run = qd.evolve(spec, out=run)
    rebuilt = qd.resume(run, overrides=["run.backend=torch"], force=True)
    assert rebuilt.archive.on_torch and rebuilt.end.evaluations == 960
    assert rebuilt.archive.stats() == ribs_run.archive.stats()
    expected, got = sorted_elites(ribs_run.archive.elites()), sorted_elites(
        rebuilt.archive.elites())
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


@pytest.mark.parametrize(("section", "value", "message"), [
    ("emitters", [{"name": "go_explore"}], "has no torch backend"),
    ("archive", {"name": "proximity"}, "has no torch backend"),
    ("measures", "learned", "learned measures run on the pyribs backend only"),
])
def test_what_the_torch_backend_lacks_is_a_clear_spec_error(section, value, message):
    spec = small_spec(run={"budget": 64, "backend": "torch"})
    if section == "emitters" and value[0]["name"] == "go_explore":
        spec["problem"] = {"name": "maze_navigation"}
        spec["archive"] = {"name": "grid", "cells": [10, 10]}
    if section == "measures":
        spec["problem"] = {"name": "arm_repertoire"}
    spec[section] = value
    with pytest.raises(qd.SpecError, match=message):
        qd.evolve(spec, write=False)


def test_cluster_with_torch_backend_is_refused():
    spec = small_spec(run={"budget": 64, "backend": "torch", "cluster": "local:1"})
    with pytest.raises(qd.SpecError, match="run.cluster"):
        qd.evolve(spec, write=False)


def test_device_cannot_change_on_resume_of_a_torch_run(tmp_path):
    run = tmp_path / "run"
    qd.evolve(arm_spec("torch", 512), out=run)
    with pytest.raises(qd.SpecError, match="run.device"):
        qd.resume(run, budget=1024, settings={"run.device": "auto"})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run with the device tool)")
def test_cuda_torch_backend_matches_cpu_quality():
    cpu = qd.evolve(arm_spec("torch"), write=False).archive.stats()
    cuda = qd.evolve(arm_spec("torch", device="cuda"), write=False)
    assert cuda.archive.search.device.type == "cuda"
    assert cuda.archive.stats().num_elites == pytest.approx(cpu.num_elites, rel=0.1)


def test_cli_backend_flag(run_cli, tmp_path):
    done = run_cli("evolve", "arm_repertoire", "--backend", "torch", "--budget", "640",
                   "--out", str(tmp_path / "run"), "-q")
    assert done.returncode == 0, done.stderr
    assert 'backend = "torch"' in (tmp_path / "run" / "config.toml").read_text()
    bad = run_cli("evolve", "arm_repertoire", "--backend", "jax", "-q")
    assert bad.returncode == 2 and "not one of pyribs, torch" in bad.stderr
    store = RunStore.open(tmp_path / "run", create=False, readonly=True)
    try:
        assert store.metrics.last_iteration() == 2  # 640 evaluations of 5 x 64
    finally:
        store.close()
