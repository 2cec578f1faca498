"""SIGKILL a seeded MuJoCo run (walker2d_uni) mid-run and resume it: the uninterrupted archive."""

import signal

import numpy as np
import pytest

import qd
from qd.store import RunStore
from tests.resume.test_kill_resume import load_archive, start, wait_rows

SPEC = """
[problem]
name = "walker2d_uni"
episode_length = 20
[archive]
name = "cvt"
centroids = 32
samples = 2000
[[emitters]]
name = "iso_line"
batch_size = 16
iso_sigma = 0.05
line_sigma = 0.1
[[emitters]]
name = "gaussian"
batch_size = 8
sigma = 0.2
[run]
budget = 480
seed = 11
checkpoint_every = 3
checkpoint_seconds = 0
"""
ITERATIONS = 20


@pytest.mark.parametrize("backend", ["pyribs", "torch"])
def test_sigkilled_walker_run_resumes_bit_identical(tmp_path, backend):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC + f'backend = "{backend}"\n')
    qd.evolve(spec, out=tmp_path / "whole")

    run = tmp_path / "killed"
    proc = start("evolve", str(spec), "--out", str(run))
    wait_rows(proc, run, 8, timeout=120)
    proc.send_signal(signal.SIGKILL)  # mid-episode, mid-commit or mid-checkpoint
    proc.wait()
    proc = start("evolve", str(run), "--resume")
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err

    whole, resumed = load_archive(tmp_path / "whole"), load_archive(run)
    assert len(whole["index"]) >= 5
    for key in ("solution", "objective", "measures", "index"):
        np.testing.assert_array_equal(resumed[key], whole[key], err_msg=key)
    store = RunStore.open(run, create=False)
    try:
        assert [m.iteration for m in store.metrics.all()] == list(range(1, ITERATIONS + 1))
        assert len(store.events.all("resume")) == 1
    finally:
        store.close()
