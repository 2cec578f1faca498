"""`run.store_evaluations`: what each mode keeps, and that resume stays exact in every mode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import qd
from qd.numeric.storage import AUTO_ALL_BYTES, bytes_per_evaluation, resolve, store_mode
from qd.store import RunStore
from tests.conftest import CLI_ENV, small_spec


def spec_for(mode: str, backend: str = "torch", budget: int = 1920) -> dict:
    return small_spec(
        emitters=[{"name": "cma_me", "count": 2, "batch_size": 16},
                  {"name": "gaussian", "batch_size": 32, "sigma": 0.3}],
        run={"budget": budget, "seed": 7, "backend": backend, "store_evaluations": mode,
             "checkpoint_every": 9, "checkpoint_seconds": 0},
    )


def sorted_elites(run: Path) -> dict:
    data = np.load(run / "archive.npz")
    order = np.argsort(data["index"])
    return {k: data[k][order] for k in ("solution", "objective", "measures", "index")}


def open_store(run: Path) -> closing[RunStore]:
    return closing(RunStore.open(run, create=False, readonly=True))


def damage_newest_checkpoint(run: Path) -> None:
    """As if killed after the last iteration, before its checkpoint was whole."""
    with open_store(run) as store:
        newest = store.checkpoints.all()[0]
    path = run / "checkpoints" / newest.file
    path.write_bytes(path.read_bytes()[: newest.bytes // 2])


@pytest.mark.parametrize("backend", ["torch", "pyribs"])
def test_elites_mode_stores_exactly_what_entered_the_archive(tmp_path, backend):
    every, elites = tmp_path / "all", tmp_path / "elites"
    qd.evolve(spec_for("all", backend), out=every)
    result = qd.evolve(spec_for("elites", backend), out=elites)
    with open_store(every) as full, open_store(elites) as kept:
        assert [m.qd_score for m in kept.metrics.all()] == [m.qd_score for m in
                                                           full.metrics.all()]
        stored = kept.batches.evaluation_count()
        assert 0 < stored < full.batches.evaluation_count() == 1920
        # the stored rows alone rebuild the final archive: every elite is among them and
        # each stored row beat its cell's elite when it came
        rebuilt = qd.evolve(spec_for("all", "pyribs", budget=32), write=False).archive
        rebuilt.clear()
        for batch in kept.batches.read():
            rebuilt.add(batch.solutions, batch.objectives, batch.measures)
        assert rebuilt.stats() == result.archive.stats()


@pytest.mark.parametrize("mode", ["elites", "none"])
def test_resume_re_evaluates_after_the_checkpoint_and_equals_uninterrupted(tmp_path, mode):
    reference = tmp_path / "ref"
    qd.evolve(spec_for(mode), out=reference)
    run = tmp_path / "run"
    qd.evolve(spec_for(mode, budget=832), out=run)  # 13 iterations; checkpoints at 9 and 13
    with open_store(run) as store:
        assert [c.iteration for c in store.checkpoints.all()] == [13, 9]
    damage_newest_checkpoint(run)
    resumed = qd.resume(run, budget=1920)
    assert resumed.restored.checkpoint_iteration == 9 and resumed.restored.replayed == 4
    for key, value in sorted_elites(reference).items():
        np.testing.assert_array_equal(sorted_elites(run)[key], value, err_msg=key)


def test_none_mode_refuses_a_forced_rebuild_with_the_reason(tmp_path):
    run = tmp_path / "run"
    qd.evolve(spec_for("none", budget=640), out=run)
    with pytest.raises(qd.QDError, match='stored no evaluations.*store_evaluations = "none"'):
        qd.resume(run, budget=1280, overrides=["emitters.1.sigma=0.1"], force=True)


def test_a_diverging_re_evaluation_is_refused(tmp_path):
    run = tmp_path / "run"
    qd.evolve(spec_for("none", budget=832), out=run)
    damage_newest_checkpoint(run)
    store = RunStore.open(run, create=False)
    try:
        last = store.metrics.all()[-1]
        store.metrics.add(replace(last, qd_score=last.qd_score + 1))
    finally:
        store.close()
    with pytest.raises(qd.QDError, match="re-evaluating iteration 13 gave"):
        qd.resume(run, budget=1920)


def test_auto_picks_all_when_it_fits_else_elites_and_keeps_its_choice(tmp_path):
    per = bytes_per_evaluation(100, 2)
    assert per == 8 * 103
    assert resolve("auto", AUTO_ALL_BYTES // per, 100, 2, learned=False) == "all"
    assert resolve("auto", AUTO_ALL_BYTES // per + 1, 100, 2, learned=False) == "elites"
    assert resolve("auto", 10**9, 100, 2, learned=True) == "all"
    with pytest.raises(qd.SpecError, match="learned measures"):
        resolve("none", 100, 2, 2, learned=True)
    run = tmp_path / "run"
    qd.evolve(spec_for("auto", budget=640), out=run)
    with open_store(run) as store:
        assert store.meta.get("store_evaluations") == "all"
    huge = SimpleNamespace(run=SimpleNamespace(store_evaluations="auto", budget=10**12),
                           measures=None)  # a later --budget that alone would pick elites
    with closing(RunStore.open(run, create=False)) as store:
        assert store_mode(store, huge, 10, 2) == "all"


KILL_SPEC = """
[problem]
name = "arm_repertoire"
joints = 100
[archive]
cells = [10, 10]
[[emitters]]
name = "iso_line"
batch_size = 1000
iso_sigma = 0.05
line_sigma = 0.2
[run]
budget = {budget}
seed = 11
backend = "torch"
store_evaluations = "{mode}"
checkpoint_every = 25
checkpoint_seconds = 0
keep_checkpoints = 1
"""


def _evolve(folder: Path, mode: str, budget: int) -> subprocess.Popen:
    (folder / f"{mode}.toml").write_text(KILL_SPEC.format(mode=mode, budget=budget))
    return subprocess.Popen(
        [sys.executable, "-m", "qd", "evolve", str(folder / f"{mode}.toml"), "--out",
         str(folder / mode), "-q"], env={**os.environ, **CLI_ENV, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_sigkilled_none_run_resumes_bit_identical_in_under_1_percent_of_the_space(tmp_path):
    budget = 200 * 1000
    every = _evolve(tmp_path, "all", budget)
    assert every.wait(timeout=600) == 0, every.communicate()
    proc = _evolve(tmp_path, "none", budget)
    run = tmp_path / "none"
    deadline = time.monotonic() + 300
    while not (run / "metrics.jsonl").is_file() or (
            run / "metrics.jsonl").read_text().count("\n") < 110:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with open_store(run) as store:
        killed_at = store.metrics.last_iteration()
        checkpoint = store.checkpoints.all()[0].iteration
    assert killed_at < 200 and checkpoint < killed_at  # re-evaluation has work to do
    resumed = subprocess.run([sys.executable, "-m", "qd", "resume", str(run), "-q"],
                             env={**os.environ, **CLI_ENV, "OMP_NUM_THREADS": "1"},
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    for key, value in sorted_elites(tmp_path / "all").items():
        np.testing.assert_array_equal(sorted_elites(run)[key], value, err_msg=key)
    with open_store(run) as store:
        assert store.batches.evaluation_count() == 0
        assert [m.iteration for m in store.metrics.all()] == list(range(1, 201))
    assert _size(run) < 0.01 * _size(tmp_path / "all")
