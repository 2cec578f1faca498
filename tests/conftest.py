"""Shared fixtures: small specs that run in well under a second."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


# Subprocesses skip numba's JIT of pyribs' CMA-ES kernels (several seconds per process); the
# results are bit-identical either way, and in-process tests keep the JIT.
CLI_ENV = {"PYTHONPATH": str(ROOT), "NUMBA_DISABLE_JIT": "1"}


def small_spec(**sections: dict) -> dict:
    """A tiny sphere_lp spec (10-D, 20x20 grid, one Gaussian emitter) with sections replaced."""
    spec = {
        "problem": {"name": "sphere_lp", "dim": 10},
        "archive": {"name": "grid", "cells": [20, 20]},
        "emitters": [{"name": "gaussian", "batch_size": 32, "sigma": 0.5}],
        "run": {"budget": 640, "seed": 3},
    }
    spec.update(sections)
    return spec


@pytest.fixture
def run_cli(tmp_path: Path):
    """Run `python -m qd ...` in a subprocess; returns the CompletedProcess."""

    def run(*args: str, cwd: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, **CLI_ENV}
        return subprocess.run(
            [sys.executable, "-m", "qd", *args],
            cwd=cwd or tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def one_torch_thread():
    """Small torch ops run fastest (and most predictably on a busy 2-core machine) on 1 thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def stored_rows(path: Path) -> list:
    """Every program row of the run stored at `path`."""
    from qd.store import RunStore

    store = RunStore.open(path, create=False)
    try:
        return store.programs.all()
    finally:
        store.close()
