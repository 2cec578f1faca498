import csv
import json

import numpy as np
import pytest

import qd
from qd.export import export_run
from qd.store import RunStore
from tests.conftest import small_spec


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    qd.evolve(small_spec(emitters=[{"name": "gaussian", "count": 2, "batch_size": 16}]), out=out)
    return out


def test_csv_tables(run, tmp_path):
    archive_csv, evals_csv = export_run(run, tmp_path, "csv")
    with archive_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    npz = np.load(run / "archive.npz")
    assert len(rows) == len(npz["index"])
    assert sorted(float(r["objective"]) for r in rows) == sorted(npz["objective"].tolist())
    assert set(rows[0]) == {"index", "objective", "measure_0", "measure_1",
                            *(f"solution_{j}" for j in range(10))}
    with evals_csv.open() as handle:
        evals = list(csv.DictReader(handle))
    assert len(evals) == 640
    assert {r["emitter"] for r in evals} == {"0", "1"}
    assert evals[0]["emitter_name"] == "gaussian" and evals[0]["iteration"] == "1"
    store = RunStore.open(run, create=False)
    first = next(store.batches.read())
    store.close()
    assert float(evals[0]["solution_3"]) == first.solutions[0, 3]  # full precision


def test_jsonl_and_parquet(run, tmp_path):
    (archive_jsonl,) = export_run(run, tmp_path, "jsonl", ("archive",))
    rows = [json.loads(line) for line in archive_jsonl.read_text().splitlines()]
    pq = pytest.importorskip("pyarrow.parquet")
    (evals_pq,) = export_run(run, tmp_path, "parquet", ("evaluations",))
    table = pq.read_table(evals_pq)
    assert table.num_rows == 640
    assert len(rows) == np.load(run / "archive.npz")["index"].size


def test_stale_archive_file_is_replaced_by_exact_restore(tmp_path):
    spec = small_spec(run={"budget": 640, "seed": 3, "checkpoint_every": 6,
                           "checkpoint_seconds": 0})
    out = tmp_path / "run"
    qd.evolve(spec, out=out)
    # simulate a run killed after iteration 20 whose last archive.npz is from iteration 18
    full = dict(np.load(out / "archive.npz"))
    stale = {k: v[:5] for k, v in full.items() if k != "iteration"}
    np.savez(out / "archive.npz", iteration=np.int64(18), **stale)
    (archive_csv,) = export_run(out, tmp_path / "x", "csv", ("archive",))
    with archive_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == full["index"].size > 5
    assert sorted(int(r["index"]) for r in rows) == sorted(full["index"].tolist())


def test_export_cli(run, run_cli, tmp_path):
    proc = run_cli("export", str(run), "--format", "jsonl", "--out", str(tmp_path / "e"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "e" / "evaluations.jsonl").is_file()
    proc = run_cli("export", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "not a qd run folder" in proc.stderr
