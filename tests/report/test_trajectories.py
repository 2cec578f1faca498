"""Maze runs get a section with the best elites' paths; the paths end at their measures."""

from contextlib import closing

import numpy as np
import pytest

import qd
from qd.export import archive_table
from qd.report.source import open_run_store, read_run_files
from qd.report.trajectories import maze_paths
from tests.conftest import small_spec


@pytest.fixture(scope="module")
def maze_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("maze") / "run"
    qd.evolve("maze_navigation", out=out, budget=512,
              overrides=["run.seed=2", "problem.steps=40", "emitters.0.batch_size=64"])
    return out


def test_paths_are_resimulated_and_end_at_the_measures(maze_run):
    files = read_run_files(maze_run)
    with closing(open_run_store(files.path)) as store:
        data = maze_paths(files, store, k=5)
        table = archive_table(files.path, store)
    assert len(data["paths"]) == 5
    best = np.argsort(-table["objective"], kind="stable")[:5]
    for path, i in zip(data["paths"], best, strict=True):
        assert len(path["x"]) == len(path["y"]) == 41  # start + 40 steps
        assert path["index"] == int(table["index"][i])
        assert path["x"][-1] == pytest.approx(table["measure_0"][i], abs=1e-9)
        assert path["y"][-1] == pytest.approx(table["measure_1"][i], abs=1e-9)
        assert (path["x"][0], path["y"][0]) == tuple(data["start"])
    assert len(data["walls"]) >= 4


def test_report_has_the_section_only_for_maze_runs(maze_run, tmp_path, run_cli):
    proc = run_cli("report", str(maze_run))
    assert proc.returncode == 0, proc.stderr
    html = (maze_run / "report.html").read_text()
    assert 'id="trajectories" data-paths="5"' in html
    other = tmp_path / "sphere"
    qd.evolve(small_spec(), out=other)
    proc = run_cli("report", str(other))
    assert proc.returncode == 0, proc.stderr
    assert 'id="trajectories"' not in (other / "report.html").read_text()


def test_paths_draw_in_chromium(maze_run, open_report):
    from qd.report.trajectories import TRAJECTORIES
    from tests.report.conftest import assert_offline_and_clean

    page, messages, requests, path = open_report(maze_run)
    # walls + one line per path + start + goal
    drawn = page.eval_on_selector("#trajectory-paths", "gd => gd._fullData.length")
    assert drawn == 1 + TRAJECTORIES + 2
    assert page.locator("#trajectories tbody tr").count() == TRAJECTORIES
    assert_offline_and_clean(messages, requests, path)
