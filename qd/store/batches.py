"""The `batches` table of the run store and the `solutions.f64` append file beside it.

A numeric run stores each iteration's whole batch as one row (objectives and measures as
float64 blobs). The solutions themselves (B x D float64, the bulk of the data) are appended to
`solutions.f64` and flushed before the row that records their offset commits; when a writer
opens the store, bytes past the last committed row (from a run killed mid-iteration) are
truncated away. A reader never touches the file's length: a live run may be appending to it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from qd.store.connection import Database, StoreError

SOLUTIONS_FILE = "solutions.f64"


@dataclass(frozen=True)
class Batch:
    """One iteration's evaluated batch: solutions (B, D), objectives (B,), measures (B, M)."""

    iteration: int
    solutions: np.ndarray
    objectives: np.ndarray
    measures: np.ndarray


class BatchesTable:
    """Read and write the `batches` table and `solutions.f64`.

    Args:
        db: The store's connection.
        solutions_path: The append file (`solutions.f64` beside `store.sqlite`); a writable
            store opens it and truncates an uncommitted tail.

    Raises:
        StoreError: The file is shorter than the committed rows say (a damaged run folder).
    """

    def __init__(self, db: Database, solutions_path: Path) -> None:
        self._db = db
        self._path = solutions_path
        self._file: BinaryIO | None = (
            None if db.readonly else _open_truncated(solutions_path, self._committed()))

    def record(self, iteration: int, solutions: np.ndarray, objectives: np.ndarray,
               measures: np.ndarray) -> None:
        """Append an iteration's solutions, then store its row (in the enclosing transaction,
        if any, so the batch commits together with the iteration's metrics).
        """
        if self._file is None:
            raise StoreError(f"{self._db.path} is open read-only: cannot record a batch")
        sols = np.ascontiguousarray(solutions, dtype=np.float64)
        meas = np.ascontiguousarray(measures, dtype=np.float64)
        offset = self._file.tell()
        self._file.write(sols.data)
        self._file.flush()  # in the OS before the row that points at it commits
        with self._db.write("record a batch") as conn:
            conn.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (iteration, sols.shape[0], sols.shape[1], meas.shape[1], offset,
                 np.ascontiguousarray(objectives, dtype=np.float64).tobytes(), meas.tobytes(),
                 time.time()),
            )

    def last_iteration(self) -> int:
        """The last fully recorded iteration (0 when none)."""
        return int(self._db.read("SELECT COALESCE(MAX(iteration), 0) FROM batches").fetchone()[0])

    def evaluation_count(self) -> int:
        """Total number of evaluated solutions stored."""
        return int(self._db.read("SELECT COALESCE(SUM(size), 0) FROM batches").fetchone()[0])

    def created(self, iteration: int) -> float | None:
        """When the batch of `iteration` was stored (epoch seconds), or None."""
        row = self._db.read("SELECT created FROM batches WHERE iteration = ?",
                            (iteration,)).fetchone()
        return None if row is None else float(row[0])

    def read(self, start: int = 1, stop: int | None = None) -> Iterator[Batch]:
        """Stored batches with `start <= iteration <= stop` (default: the last), in order."""
        stop = self.last_iteration() if stop is None else stop
        cursor = self._db.read(
            "SELECT iteration, size, solution_dim, measure_dim, solutions_offset, objectives, "
            "measures FROM batches WHERE iteration BETWEEN ? AND ? ORDER BY iteration",
            (start, stop),
        )
        with self._path.open("rb") as handle:
            for it, size, d, m, offset, objs, meas in cursor:
                handle.seek(offset)
                sols = np.frombuffer(handle.read(size * d * 8), dtype=np.float64)
                yield Batch(
                    it,
                    sols.reshape(size, d),
                    np.frombuffer(objs, dtype=np.float64),
                    np.frombuffer(meas, dtype=np.float64).reshape(size, m),
                )

    def close(self) -> None:
        """Close the append file (the store's `close` calls this)."""
        if self._file is not None:
            self._file.close()

    def _committed(self) -> int:
        """Bytes of `solutions.f64` that committed rows point into."""
        return int(self._db.read(
            "SELECT COALESCE(MAX(solutions_offset + size * solution_dim * 8), 0) FROM batches"
        ).fetchone()[0])


def _open_truncated(path: Path, committed: int) -> BinaryIO:
    """Open the append file for writing at `committed`, cutting an uncommitted tail."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    handle = os.fdopen(fd, "r+b")
    size = handle.seek(0, os.SEEK_END)
    if size < committed:
        handle.close()
        raise StoreError(f"{path} is shorter than the store says ({size} < {committed} bytes); "
                         "the run folder was damaged")
    if size > committed:  # the tail of an iteration that never committed
        handle.truncate(committed)
    handle.seek(committed)
    return handle
