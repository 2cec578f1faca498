"""Small real runs (grid, CVT, 3 measures, 1 measure, resumed) and a headless Chromium."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import qd
from qd.api import resume
from qd.report.render import write_report
from tests.conftest import small_spec

CHROMIUM = os.environ.get("QD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

EVALUATE_PY = '''
import numpy as np

def evaluate(x):
    return -np.sum(x ** 2, axis=1), np.clip(x[:, :3], -1.0, 1.0)

def evaluate_1d(x):
    return -np.sum(x ** 2, axis=1), np.clip(x[:, :1], -1.0, 1.0)
'''


def python_problem(folder: Path, function: str, measures: int) -> dict:
    """A `python` problem over 5-D solutions with `measures` clipped coordinates as measures."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evaluate_fn.py").write_text(EVALUATE_PY)
    return {"name": "python", "file": str(folder / "evaluate_fn.py"), "function": function,
            "solution_dim": 5, "measure_bounds": [[-1.0, 1.0]] * measures,
            "objective_bounds": [-5.0, 0.0]}


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("report_runs")


@pytest.fixture(scope="session")
def grid_run(runs_root) -> Path:
    """sphere_lp 10-D on a 20 x 20 grid, 20 iterations of 32."""
    out = runs_root / "grid"
    qd.evolve(small_spec(), out=out)
    return out


@pytest.fixture(scope="session")
def cvt_run(runs_root) -> Path:
    """sphere_lp 10-D on a 100-centroid CVT archive."""
    out = runs_root / "cvt"
    qd.evolve(small_spec(archive={"name": "cvt", "centroids": 100, "samples": 2000}), out=out)
    return out


@pytest.fixture(scope="session")
def cube_run(runs_root) -> Path:
    """A python problem with 3 measures on an 8 x 8 x 8 grid."""
    problem = python_problem(runs_root / "cube_spec", "evaluate", 3)
    out = runs_root / "cube"
    qd.evolve(small_spec(problem=problem, archive={"name": "grid", "cells": [8, 8, 8]},
                         emitters=[{"name": "gaussian", "batch_size": 32, "sigma": 0.2}]),
              out=out)
    return out


@pytest.fixture(scope="session")
def line_run(runs_root) -> Path:
    """A python problem with 1 measure on a 30-cell grid."""
    problem = python_problem(runs_root / "line_spec", "evaluate_1d", 1)
    out = runs_root / "line"
    qd.evolve(small_spec(problem=problem, archive={"name": "grid", "cells": [30]},
                         emitters=[{"name": "gaussian", "batch_size": 32, "sigma": 0.2}]),
              out=out)
    return out


@pytest.fixture(scope="session")
def resumed_run(runs_root) -> Path:
    """The grid run in two sessions: 10 iterations, then resumed to 20."""
    out = runs_root / "resumed"
    qd.evolve(small_spec(run={"budget": 320, "seed": 3}), out=out)
    resume(out, budget=640)
    return out


@pytest.fixture
def copy_run(tmp_path):
    """Copy a run folder into the test's tmp dir (for tests that alter it)."""

    def copy(run: Path) -> Path:
        target = tmp_path / run.name
        shutil.copytree(run, target)
        return target

    return copy


@pytest.fixture(scope="session")
def browser_context():
    """A headless Debian Chromium driven by playwright, with a fresh profile."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} "
                    "(apt-get install -y chromium, or set QD_CHROMIUM)")
    from playwright.sync_api import sync_playwright  # a dev dependency: missing = failure

    profile = tempfile.mkdtemp(prefix="qd-chromium-")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1300, "height": 900},
        )
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def open_report(browser_context, tmp_path):
    """Write a run's report, load it, wait for the plots; returns (page, messages, requests)."""
    pages = []

    def load(run):
        path = write_report(run, tmp_path / f"{run.name}.html")
        page = browser_context.new_page()
        pages.append(page)
        messages, requests = [], []
        page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_function("document.body.dataset.plotsReady !== 'false'", timeout=60_000)
        assert page.evaluate("document.body.dataset.plotsReady") == "true", messages
        page.screenshot(path=str(tmp_path / f"{run.name}.png"), full_page=True)
        assert (tmp_path / f"{run.name}.png").stat().st_size > 20_000
        return page, messages, requests, path

    yield load
    for page in pages:
        page.close()


def assert_offline_and_clean(messages, requests, path):
    assert requests == [path.as_uri()]  # the document itself, nothing else
    assert not [m for m in messages if m.startswith(("error", "pageerror", "warning"))], messages
