import dataclasses
import shutil
import sqlite3
from contextlib import closing

import numpy as np
import pytest

import qd
from qd.errors import RunDirError
from qd.export import export_run
from qd.numeric.checkpoint import load_latest_checkpoint
from qd.report.data import CURVE_FIELDS, load_report_data
from qd.report.select import Selector, load_solution
from qd.report.source import ReportError, open_run_store
from qd.run_lock import RunLock
from qd.seeds import derive_seeds
from qd.store import RunStore, StoreError
from tests.conftest import small_spec


def stored(run):
    store = RunStore.open(run, create=False)
    try:
        return (store.metrics.all(), store.events.all(), store.batches.last_iteration(),
                store.batches.evaluation_count())
    finally:
        store.close()


def test_archive_is_exactly_the_stored_archive(grid_run):
    data = load_report_data(grid_run)
    npz = np.load(grid_run / "archive.npz")
    order = np.argsort(npz["index"])
    a = data.archive
    assert a.kind == "grid" and a.dims == (20, 20) and a.cells == 400
    assert a.iteration == int(npz["iteration"]) == 20
    np.testing.assert_array_equal(a.index, npz["index"][order])
    np.testing.assert_array_equal(a.objective, npz["objective"][order])
    np.testing.assert_array_equal(a.measures, npz["measures"][order])
    np.testing.assert_array_equal(a.solutions, npz["solution"][order])
    assert a.solution_dim == 10 and a.measure_dim == 2
    np.testing.assert_array_equal(a.lower, [-25.6, -25.6])
    np.testing.assert_array_equal(a.upper, [25.6, 25.6])
    assert a.geometry_from == "checkpoint 20"
    # grid coordinates are pyribs' C-order unravelling of the index
    coords = a.grid_coords()
    np.testing.assert_array_equal(coords[:, 0] * 20 + coords[:, 1], a.index)
    assert a.cell_of(int(a.index[0])) == tuple(coords[0])


def test_curves_summary_and_run_info(grid_run):
    data = load_report_data(grid_run)
    metrics, events, last, evaluations = stored(grid_run)
    assert data.curves.rows == data.curves.points == len(metrics) == 20
    for name in CURVE_FIELDS:
        expected = [np.nan if getattr(m, name) is None else getattr(m, name) for m in metrics]
        np.testing.assert_array_equal(data.curves.columns[name], expected)
    final = metrics[-1]
    assert data.stats.num_elites == final.num_elites == data.archive.size
    assert (data.stats.coverage, data.stats.qd_score) == (final.coverage, final.qd_score)
    assert data.stats.best == final.best == data.archive.objective.max()
    assert data.stats.mean == pytest.approx(data.archive.objective.mean())
    run = data.run
    assert (run.budget, run.planned_evaluations, run.batch_size, run.seed) == (640, 640, 32, 3)
    assert run.derived_seeds == tuple(derive_seeds(3, 2))
    assert (run.iterations, run.evaluations) == (last, evaluations) == (20, 640)
    assert run.elapsed_s == final.elapsed_s
    assert run.status == "finished" and run.problem["name"] == "sphere_lp"
    assert run.provenance["ribs"] and "[archive]" in run.spec_toml
    assert [e.kind for e in data.events] == [e["kind"] for e in events] == ["start", "end"]
    assert data.events[1].details == {"reason": "budget", "evaluations": 640}
    (session,) = data.sessions
    assert (session.outcome, session.first_iteration, session.last_iteration) == ("budget", 0, 20)
    assert session.started == events[0]["t"] and session.ended == events[1]["t"]
    assert session.resume is None and data.sections == ()


def test_resumed_run_has_two_sessions(resumed_run):
    data = load_report_data(resumed_run)
    first, second = data.sessions
    assert (first.first_iteration, first.last_iteration, first.outcome) == (0, 10, "budget")
    assert (second.first_iteration, second.last_iteration, second.outcome) == (10, 20, "budget")
    assert first.resume is None
    assert second.resume == {"iteration": 10, "evaluations": 320, "checkpoint": 10,
                             "replayed": 0, "forced_changes": []}
    assert [e.kind for e in data.events] == ["start", "end", "resume", "start", "end"]
    assert data.curves.rows == 20 and data.run.evaluations == 640


def drop_last_end_event(run):
    conn = sqlite3.connect(run / "store.sqlite")
    with conn:
        conn.execute("DELETE FROM events WHERE id = (SELECT MAX(id) FROM events WHERE kind='end')")
    conn.close()


def test_session_without_end_event_is_killed_or_running(grid_run, copy_run):
    run = copy_run(grid_run)
    drop_last_end_event(run)
    conn = sqlite3.connect(run / "store.sqlite")
    last_commit = conn.execute("SELECT created FROM batches WHERE iteration = 20").fetchone()[0]
    conn.close()
    (session,) = load_report_data(run).sessions
    assert session.outcome == "killed" and session.ended == last_commit
    assert load_report_data(run).run.status == "killed"
    with RunLock(run):
        assert load_report_data(run).sessions[0].outcome == "running"
    assert load_report_data(run).sessions[0].outcome == "killed"


def test_long_curves_are_thinned_keeping_first_and_last(grid_run):
    data = load_report_data(grid_run, max_points=7)
    assert data.curves.rows == 20 and data.curves.points == 7
    iterations = data.curves.columns["iteration"]
    assert iterations[0] == 1 and iterations[-1] == 20
    assert np.all(np.diff(iterations) > 0)


def test_cvt_geometry_from_checkpoint_and_from_spec(cvt_run, copy_run):
    data = load_report_data(cvt_run)
    a = data.archive
    assert a.kind == "cvt" and a.dims is None and a.cells == 100
    store = RunStore.open(cvt_run, create=False)
    checkpoint = load_latest_checkpoint(cvt_run, store)
    store.close()
    centroids = checkpoint.state["components"]["scheduler"].result_archive.centroids
    np.testing.assert_array_equal(a.centroids, centroids)
    assert a.cell_of(3) is None and a.grid_coords() is None
    # without checkpoints the geometry is rebuilt from the spec: same seed, same centroids
    run = copy_run(cvt_run)
    shutil.rmtree(run / "checkpoints")
    rebuilt = load_report_data(run).archive
    assert rebuilt.geometry_from == "spec"
    np.testing.assert_array_equal(rebuilt.centroids, centroids)
    np.testing.assert_array_equal(rebuilt.objective, a.objective)


def test_component_state_section_only_when_present(grid_run, copy_run):
    run = copy_run(grid_run)
    assert load_report_data(run).sections == ()
    store = RunStore.open(run)
    store.component_state.put("bandit", 20, {"pulls": [3, 4], "rewards": [0.5, 1.25]})
    store.close()
    (section,) = load_report_data(run).sections
    assert section.key == "component-state"
    (state,) = section.payload["states"]
    assert state["key"] == "bandit" and state["iteration"] == 20
    assert '"pulls": [' in state["json"] and "1.25" in state["json"]


def test_reading_never_writes_the_run(grid_run, copy_run):
    run = copy_run(grid_run)
    events_before = stored(run)[1]
    solutions = run / "solutions.f64"
    with solutions.open("ab") as handle:  # a live run's in-flight, uncommitted batch
        handle.write(b"\0" * 80)
    size = solutions.stat().st_size
    load_report_data(run)
    assert solutions.stat().st_size == size  # RunStore.open would have truncated it
    store = open_run_store(run)
    with pytest.raises(StoreError, match="read-only"):
        store.component_state.put("x", 1, {})
    with pytest.raises(StoreError, match="read-only"):
        store.events.add("warning", message="a reader never records")
    store.close()
    assert solutions.stat().st_size == size
    assert stored(run)[1] == events_before


def _store_files(run):
    return {name: (run / name).read_bytes() for name in ("store.sqlite", "solutions.f64")}


def _read_every_way(run, out):
    """What `qd report`, `qd show --best` and `qd export` read of `run`."""
    data = load_report_data(run)
    shown = load_solution(run, Selector.parse(True, None, None))
    export_run(run, out, "csv")
    return data, shown


def test_report_show_and_export_never_change_a_finished_run(grid_run, copy_run, tmp_path):
    run = copy_run(grid_run)
    before = _store_files(run)
    data, shown = _read_every_way(run, tmp_path / "export")
    assert data.run.iterations == 20 and shown.iteration == 20
    assert _store_files(run) == before


def test_report_show_and_export_never_change_a_live_run(grid_run, copy_run, tmp_path):
    run = copy_run(grid_run)
    with closing(RunStore.open(run)) as writer:
        metrics = writer.metrics.all()[-1]
        with writer.transaction():  # the live run's in-flight iteration 21
            rng = np.random.default_rng(0)
            writer.batches.record(21, rng.normal(size=(32, 10)), rng.normal(size=32),
                                  rng.normal(size=(32, 2)))
            writer.metrics.add(dataclasses.replace(metrics, iteration=21))
            before = _store_files(run)
            data, shown = _read_every_way(run, tmp_path / "export")
            assert data.run.iterations == 20 and data.curves.rows == 20  # not seen yet
            assert _store_files(run) == before  # the uncommitted tail is still there
    with closing(open_run_store(run)) as reader:  # committed: now it is seen
        assert len(reader.metrics.all()) == 21 and reader.batches.last_iteration() == 21


def test_not_a_run_folder_or_no_store(tmp_path, grid_run, copy_run):
    with pytest.raises(RunDirError, match="not a qd run folder"):
        load_report_data(tmp_path)
    run = copy_run(grid_run)
    (run / "store.sqlite").unlink()
    with pytest.raises(ReportError, match="no store.sqlite") as info:
        load_report_data(run)
    assert info.value.exit_code == 2


def test_killed_run_archive_is_restored_exactly_through_the_read_only_store(tmp_path):
    out = tmp_path / "run"
    qd.evolve(small_spec(run={"budget": 640, "seed": 3, "checkpoint_every": 6,
                              "checkpoint_seconds": 0}), out=out)
    full = dict(np.load(out / "archive.npz"))
    # killed after iteration 20: newest checkpoint from iteration 18, archive.npz as of then
    conn = sqlite3.connect(out / "store.sqlite")
    with conn:
        (name,) = conn.execute("SELECT file FROM checkpoints WHERE iteration = 20").fetchone()
        conn.execute("DELETE FROM checkpoints WHERE iteration = 20")
    conn.close()
    (out / "checkpoints" / name).unlink()
    stale = {k: v[:5] for k, v in full.items() if k != "iteration"}
    np.savez(out / "archive.npz", iteration=np.int64(18), **stale)
    drop_last_end_event(out)
    data = load_report_data(out)
    order = np.argsort(full["index"])
    np.testing.assert_array_equal(data.archive.index, full["index"][order])
    np.testing.assert_array_equal(data.archive.objective, full["objective"][order])
    np.testing.assert_array_equal(data.archive.solutions, full["solution"][order])
    assert data.archive.geometry_from == "checkpoint 18" and data.run.status == "killed"


def test_a_read_transaction_sees_one_consistent_state_while_the_run_commits(grid_run, copy_run):
    run = copy_run(grid_run)
    reader = open_run_store(run)
    writer = sqlite3.connect(run / "store.sqlite")
    try:
        with reader.transaction():
            before = len(reader.metrics.all())
            with writer:
                writer.execute("INSERT INTO metrics SELECT iteration + 100, evaluations, "
                               "num_elites, coverage, qd_score, norm_qd_score, best, elapsed_s "
                               "FROM metrics WHERE iteration = 20")
            assert len(reader.metrics.all()) == before == 20  # the commit is not seen inside
        assert len(reader.metrics.all()) == 21
    finally:
        writer.close()
        reader.close()
