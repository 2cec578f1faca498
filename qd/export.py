"""Export a run's archive and every evaluated solution as tables (CSV, JSON lines or Parquet).

Columns: `archive` — index, objective, measure_0…, solution_0…; `evaluations` — iteration,
emitter, emitter_name, objective, measure_0…, solution_0…. Both load directly with
`pandas.read_csv` / `read_json(lines=True)` / `read_parquet`.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

import numpy as np

from qd.errors import QDError
from qd.kinds import run_kind_of
from qd.numeric.storage import last_iteration, recorded_mode
from qd.run_dir import CONFIG_FILE, RunDir
from qd.spec_loader import read_toml, validate_spec
from qd.store import RunStore

log = logging.getLogger(__name__)
Format = Literal["csv", "jsonl", "parquet"]
Table = dict[str, np.ndarray]


def archive_table(run: Path, store: RunStore) -> Table:
    """The archive as of the last stored iteration (from `archive.npz`, else restored exactly)."""
    npz = run / "archive.npz"
    last = last_iteration(store)
    if npz.is_file():
        data = np.load(npz)
        if "iteration" in data.files and int(data["iteration"]) == last:
            return _archive_columns({k: data[k] for k in ("index", "objective", "measures",
                                                          "solution")})
    spec = validate_spec(read_toml(run / CONFIG_FILE), run, str(run / CONFIG_FILE))
    return _archive_columns(run_kind_of(spec).stored_elites(spec, run, store))


def _archive_columns(elites: dict[str, np.ndarray]) -> Table:
    order = np.argsort(elites["index"])
    table: Table = {"index": elites["index"][order], "objective": elites["objective"][order]}
    table.update(_matrix("measure", elites["measures"][order]))
    table.update(_matrix("solution", elites["solution"][order]))
    return table


def _matrix(prefix: str, values: np.ndarray) -> Table:
    return {f"{prefix}_{j}": values[:, j] for j in range(values.shape[1])}


def evaluation_tables(run: Path, store: RunStore) -> Iterator[Table]:
    """Every stored evaluated solution, one table per stored iteration (a run with
    `run.store_evaluations = "elites"` stored only those that entered the archive).
    """
    emitters = read_toml(run / CONFIG_FILE).get("emitters", [{"name": "gaussian"}])
    names: list[str] = []
    sizes: list[int] = []
    for e in emitters:
        names += [e.get("name", "gaussian")] * int(e.get("count", 1))
        sizes += [int(e.get("batch_size", 36))] * int(e.get("count", 1))
    emitter_ids = np.repeat(np.arange(len(sizes)), sizes)
    for batch in store.batches.read():
        n = len(batch.objectives)
        ids = emitter_ids if len(emitter_ids) == n else np.full(n, -1)
        table: Table = {
            "iteration": np.full(n, batch.iteration),
            "emitter": ids,
            "emitter_name": np.array([names[i] if i >= 0 else "" for i in ids]),
            "objective": batch.objectives,
        }
        table.update(_matrix("measure", batch.measures))
        table.update(_matrix("solution", batch.solutions))
        yield table


def export_run(
    run: Path, out: Path | None = None, fmt: Format = "csv",
    tables: tuple[str, ...] = ("archive", "evaluations"),
) -> list[Path]:
    """Write the chosen tables of a run into `out` (default `RUN/export/`); returns the files."""
    run_dir = RunDir.existing(run)
    out = Path(out) if out is not None else run_dir.path / "export"
    out.mkdir(parents=True, exist_ok=True)
    writer = _WRITERS[fmt]
    written = []
    with closing(RunStore.open(run_dir.path, readonly=True)) as store:
        if "archive" in tables:
            written.append(writer(out / f"archive.{fmt}", iter([archive_table(run_dir.path,
                                                                              store)])))
        if "evaluations" in tables and recorded_mode(store) == "none":
            message = ('this run stored no evaluations (run.store_evaluations = "none"); '
                       "only its archive can be exported")
            if tables == ("evaluations",):
                raise QDError(message)
            log.warning(message, extra={"event": "export_skipped"})
        elif "evaluations" in tables:
            written.append(writer(out / f"evaluations.{fmt}",
                                  evaluation_tables(run_dir.path, store)))
    return written


def _rows(table: Table) -> Iterator[list[Any]]:
    columns = list(table.values())
    for i in range(len(columns[0])):
        yield [c[i].item() for c in columns]


def _write_csv(path: Path, tables: Iterator[Table]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = False
        for table in tables:
            if not header:
                writer.writerow(table.keys())
                header = True
            writer.writerows(_rows(table))
    return path


def _write_jsonl(path: Path, tables: Iterator[Table]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for table in tables:
            keys = list(table)
            for row in _rows(table):
                handle.write(json.dumps(dict(zip(keys, row, strict=True))) + "\n")
    return path


def _write_parquet(path: Path, tables: Iterator[Table]) -> Path:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise QDError("--format parquet needs pyarrow: pip install pyarrow") from None
    writer = None
    try:
        for table in tables:
            arrow = pa.table(table)
            if writer is None:
                writer = pq.ParquetWriter(path, arrow.schema)
            writer.write_table(arrow)
    finally:
        if writer is not None:
            writer.close()
    return path


_WRITERS = {"csv": _write_csv, "jsonl": _write_jsonl, "parquet": _write_parquet}
