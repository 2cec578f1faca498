"""SIGKILL a seeded run at random moments, resume each time, and get the uninterrupted archive."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import qd
from qd.store import RunStore
from tests.conftest import CLI_ENV

SPEC = """
[problem]
name = "sphere_lp"
dim = 10
[archive]
cells = [20, 20]
[[emitters]]
name = "cma_me"
count = 2
batch_size = 8
[[emitters]]
name = "gaussian"
batch_size = 8
sigma = 0.3
[run]
budget = 4800
seed = 5
checkpoint_every = 7
checkpoint_seconds = 0
"""
ITERATIONS, BATCH = 200, 24


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "qd", *args, "-q"],
        env={**os.environ, **CLI_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows(run: Path) -> int:
    try:
        return (run / "metrics.jsonl").read_text().count("\n")
    except FileNotFoundError:
        return 0


def progress(run: Path) -> tuple[int, int]:
    """(last stored iteration, resume events) read from the run store, 0s before it exists."""
    try:
        with sqlite3.connect(f"file:{run / 'store.sqlite'}?mode=ro", uri=True) as conn:
            last = conn.execute("SELECT COALESCE(MAX(iteration), 0) FROM batches").fetchone()[0]
            resumes = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'resume'").fetchone()
            return last, resumes[0]
    except sqlite3.Error:
        return 0, 0


def wait_rows(proc: subprocess.Popen, run: Path, target: int, resumes: int = 0,
              timeout: float = 60) -> None:
    """Wait until this session (the `resumes`-th resume) has stored iteration `target`."""
    deadline = time.monotonic() + timeout
    while True:
        last, seen = progress(run)
        if last >= target and seen >= resumes:
            return
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "run made no progress"
        time.sleep(0.002)


def load_archive(run: Path) -> dict:
    data = np.load(run / "archive.npz")
    order = np.argsort(data["index"])
    return {k: data[k][order] for k in ("solution", "objective", "measures", "index")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("reference")
    (folder / "spec.toml").write_text(SPEC)
    proc = subprocess.run([sys.executable, "-m", "qd", "evolve", str(folder / "spec.toml"),
                           "--out", str(folder / "run"), "-q"],
                          env={**os.environ, **CLI_ENV}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return load_archive(folder / "run")


def test_sigkill_at_random_points_then_resume_equals_uninterrupted(tmp_path, reference):
    (tmp_path / "spec.toml").write_text(SPEC)
    run = tmp_path / "run"
    rng = np.random.default_rng(2026)
    targets = np.sort(rng.choice(np.arange(10, ITERATIONS - 10), size=6, replace=False))
    kills = 0
    proc = start("evolve", str(tmp_path / "spec.toml"), "--out", str(run))
    for target in targets:
        wait_rows(proc, run, int(target), resumes=kills)
        # anywhere: mid-iteration, mid-commit, mid-checkpoint
        time.sleep(float(rng.uniform(0, 0.02)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        proc = start("evolve", str(run), "--resume")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert kills >= 5

    resumed = load_archive(run)
    for key in ("solution", "objective", "measures", "index"):
        np.testing.assert_array_equal(resumed[key], reference[key], err_msg=key)
    store = RunStore.open(run, create=False)
    try:
        assert store.batches.evaluation_count() == ITERATIONS * BATCH == 4800
        assert [m.iteration for m in store.metrics.all()] == list(range(1, ITERATIONS + 1))
        assert len(store.events.all("resume")) == kills
    finally:
        store.close()
    assert rows(run) == ITERATIONS  # metrics.jsonl rebuilt from the store, no duplicates


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_cleanly_with_exit_code_and_resumes(tmp_path, reference, sig, code):
    (tmp_path / "spec.toml").write_text(SPEC)
    run = tmp_path / "run"
    proc = start("evolve", str(tmp_path / "spec.toml"), "--out", str(run))
    wait_rows(proc, run, 40)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"stopped by {sig.name}" in err and "--resume" in err
    assert "Traceback" not in err
    store = RunStore.open(run, create=False)
    try:
        stopped_at = store.batches.last_iteration()
        assert 40 <= stopped_at < ITERATIONS
        assert store.checkpoints.all()[0].iteration == stopped_at  # checkpoint taken on the way out
    finally:
        store.close()
    proc = start("resume", str(run))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    resumed = load_archive(run)
    np.testing.assert_array_equal(resumed["objective"], reference["objective"])
    np.testing.assert_array_equal(resumed["solution"], reference["solution"])


def test_corrupt_latest_checkpoint_falls_back_and_loses_nothing(tmp_path, caplog):
    spec = qd.load_spec(_write(tmp_path)).raw
    ref = qd.evolve(spec, budget=2400, out=tmp_path / "ref")
    run = tmp_path / "run"
    qd.evolve(spec, budget=1200, out=run)  # 50 iterations; checkpoints at 49 and 50 kept
    store = RunStore.open(run, create=False)
    newest, older = store.checkpoints.all()[:2]
    store.close()
    path = run / "checkpoints" / newest.file
    path.write_bytes(path.read_bytes()[: newest.bytes // 3])  # truncated
    with caplog.at_level("WARNING"):
        result = qd.resume(run, budget=2400)
    assert any("is damaged" in r.getMessage() for r in caplog.records)
    assert result.restored.checkpoint_iteration == older.iteration
    assert result.restored.replayed == 50 - older.iteration
    assert result.archive.stats() == ref.archive.stats()
    np.testing.assert_array_equal(load_archive(run)["solution"],
                                  load_archive(tmp_path / "ref")["solution"])


def test_all_checkpoints_lost_rebuilds_from_the_store(tmp_path, caplog):
    spec = qd.load_spec(_write(tmp_path)).raw
    ref = qd.evolve(spec, budget=1440, write=False)
    run = tmp_path / "run"
    qd.evolve(spec, budget=720, out=run)
    for file in (run / "checkpoints").iterdir():
        file.write_bytes(b"garbage")
    with caplog.at_level("WARNING"):
        result = qd.resume(run, budget=1440)
    assert result.restored.checkpoint_iteration == 0 and result.restored.replayed == 30
    assert any("rebuilding the run" in r.getMessage() for r in caplog.records)
    assert result.archive.stats() == ref.archive.stats()


def test_changed_spec_is_refused_then_forced(tmp_path):
    spec = qd.load_spec(_write(tmp_path)).raw
    run = tmp_path / "run"
    first = qd.evolve(spec, budget=480, out=run)
    with pytest.raises(qd.SpecError, match=r"emitters\[1\].sigma: 0.3 → 0.1.*--force"):
        qd.resume(run, budget=960, overrides=["emitters.1.sigma=0.1"])
    forced = qd.resume(run, budget=960, overrides=["emitters.1.sigma=0.1"], force=True)
    assert forced.end.evaluations == 960
    assert forced.metrics[0].num_elites >= first.end.stats.num_elites  # archive rebuilt, kept
    assert "sigma = 0.1" in (run / "config.toml").read_text()


def test_second_live_run_is_refused_and_stale_lock_taken_over(tmp_path, run_cli):
    from qd.run_lock import RunLock

    spec = qd.load_spec(_write(tmp_path)).raw
    run = tmp_path / "run"
    qd.evolve(spec, budget=240, out=run)
    with RunLock(run):
        proc = run_cli("resume", str(run), "--budget", "480", "-q")
    assert proc.returncode == 2 and "in use by another qd process (pid" in proc.stderr
    (run / "run.lock").write_text('{"pid": 999999, "host": "gone", "started": "then"}')
    proc = run_cli("resume", str(run), "--budget", "480", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "taking over the lock of a process that is gone (pid 999999" in proc.stderr
    store = RunStore.open(run, create=False)
    assert store.events.all("stale_lock")[0]["holder"].startswith("pid 999999 on gone")
    store.close()


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    return path
