"""The run store: one SQLite database (WAL) per run folder, the source of truth for resume.

Numeric runs store each iteration's whole batch as one row (objectives and measures as float64
blobs) in the same transaction as the iteration's metrics, so an iteration is either fully
recorded or not at all. The solutions themselves (B x D float64, the bulk of the data) are
appended to `solutions.f64` before that transaction and the row records their offset; on open,
bytes past the last committed row (from a run killed mid-iteration) are truncated away. This keeps
per-iteration store cost to one small SQLite row plus one sequential append. Component state
(bandits, selectors, RNGs) is kept as JSON by key.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qd.errors import QDError
from qd.store.migrations import MIGRATIONS, SCHEMA_VERSION
from qd.types import METRIC_FIELDS, IterationMetrics

STORE_FILE = "store.sqlite"
SOLUTIONS_FILE = "solutions.f64"


class StoreError(QDError):
    """The run store is missing, of an unknown schema version, or corrupt."""


@dataclass(frozen=True)
class Batch:
    """One iteration's evaluated batch: solutions (B, D), objectives (B,), measures (B, M)."""

    iteration: int
    solutions: np.ndarray
    objectives: np.ndarray
    measures: np.ndarray


@dataclass(frozen=True)
class CheckpointRow:
    """A checkpoint file recorded in the store."""

    iteration: int
    file: str
    sha256: str
    bytes: int


class RunStore:
    """A run's SQLite store. Open with `RunStore.open(folder)`; every write is a transaction."""

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool = False) -> None:
        self.path = path
        self._conn = conn
        self._solutions_path = path.parent / SOLUTIONS_FILE
        committed = conn.execute(
            "SELECT COALESCE(MAX(solutions_offset + size * solution_dim * 8), 0) FROM batches"
        ).fetchone()[0]
        if readonly:  # a reader never touches the file a live run may be appending to
            self._solutions = (self._solutions_path.open("rb") if self._solutions_path.exists()
                               else open(os.devnull, "rb"))  # noqa: SIM115 - closed in close()
            return
        fd = os.open(self._solutions_path, os.O_RDWR | os.O_CREAT, 0o644)
        self._solutions = os.fdopen(fd, "r+b")
        size = self._solutions.seek(0, os.SEEK_END)
        if size < committed:
            self._solutions.close()
            raise StoreError(
                f"{self._solutions_path} is shorter than the store says ({size} < {committed} "
                "bytes); the run folder was damaged"
            )
        if size > committed:  # the tail of an iteration that never committed
            self._solutions.truncate(committed)
        self._solutions.seek(committed)

    @classmethod
    def open(cls, folder: Path, create: bool = True, readonly: bool = False) -> RunStore:
        """Open (or create) `folder/store.sqlite` in WAL mode and check its schema version.

        With `readonly`, the store is only read (safe while a run writes to it): SQLite opens
        it read-only and nothing is migrated or truncated.
        """
        path = Path(folder) / STORE_FILE
        if (readonly or not create) and not path.exists():
            raise StoreError(f"{folder}: no {STORE_FILE}; is this a qd run folder?")
        if readonly:
            return cls._open_readonly(path)
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{path}: schema version {version} is newer than this qd's "
                    f"({SCHEMA_VERSION}); upgrade qd to read this run"
                )
            for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
                conn.executescript(f"BEGIN; {script} PRAGMA user_version={target}; COMMIT;")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open run store: {exc}") from None
        return cls(path, conn)

    @classmethod
    def _open_readonly(cls, path: Path) -> RunStore:
        return cls(path, connect_readonly(path), readonly=True)

    @property
    def conn(self) -> sqlite3.Connection:
        """The SQLite connection (for table modules such as `qd.store.programs`)."""
        return self._conn

    def transaction(self) -> _transaction:
        """`with store.transaction():` groups writes into one atomic commit."""
        return _transaction(self._conn)

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed into the main file)."""
        self._solutions.close()
        self._conn.close()

    # --- meta, events, component state -------------------------------------------------------

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON value under `key`."""
        with _transaction(self._conn):
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                               (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        """The JSON value under `key`, or `default`."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def event(self, kind: str, **payload: Any) -> None:
        """Append an event (start, resume, checkpoint, stop, end, warning, ...)."""
        with _transaction(self._conn):
            self._conn.execute(
                "INSERT INTO events (t, kind, payload) VALUES (?, ?, ?)",
                (time.time(), kind, json.dumps(payload, default=str)),
            )

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Events in order, optionally of one kind."""
        query, args = "SELECT t, kind, payload FROM events", ()
        if kind is not None:
            query, args = query + " WHERE kind = ?", (kind,)
        rows = self._conn.execute(query + " ORDER BY id", args).fetchall()
        return [{"t": t, "kind": k, **json.loads(p)} for t, k, p in rows]

    def put_state(self, key: str, iteration: int, value: Any) -> None:
        """Store a component's JSON state (bandit, selector, RNG ...) as of `iteration`."""
        with _transaction(self._conn):
            self._conn.execute(
                "INSERT OR REPLACE INTO component_state VALUES (?, ?, ?)",
                (key, iteration, json.dumps(value)),
            )

    def put_states(self, states: dict[str, Any], iteration: int) -> None:
        """Store several components' states in one transaction."""
        with _transaction(self._conn):
            self._conn.executemany(
                "INSERT OR REPLACE INTO component_state VALUES (?, ?, ?)",
                [(key, iteration, json.dumps(value)) for key, value in states.items()],
            )

    def get_state(self, key: str) -> tuple[int, Any] | None:
        """(iteration, state) of a component, or None."""
        row = self._conn.execute(
            "SELECT iteration, value FROM component_state WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    # --- numeric iterations ------------------------------------------------------------------

    def record_iteration(
        self, solutions: np.ndarray, objectives: np.ndarray, measures: np.ndarray,
        metrics: IterationMetrics,
    ) -> None:
        """Store one iteration's batch and metrics atomically."""
        sols = np.ascontiguousarray(solutions, dtype=np.float64)
        meas = np.ascontiguousarray(measures, dtype=np.float64)
        row = tuple(getattr(metrics, f) for f in METRIC_FIELDS)
        offset = self._solutions.tell()
        self._solutions.write(sols.data)
        self._solutions.flush()  # in the OS before the row that points at it commits
        with _transaction(self._conn):
            self._conn.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (metrics.iteration, sols.shape[0], sols.shape[1], meas.shape[1], offset,
                 np.ascontiguousarray(objectives, dtype=np.float64).tobytes(), meas.tobytes(),
                 time.time()),
            )
            self._conn.execute("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)

    def record_metrics(self, metrics: IterationMetrics) -> None:
        """Store one metrics row (program runs: one per evaluation)."""
        row = tuple(getattr(metrics, f) for f in METRIC_FIELDS)
        with _transaction(self._conn):
            self._conn.execute(
                "INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)

    def last_iteration(self) -> int:
        """The last fully recorded iteration (0 when none)."""
        row = self._conn.execute("SELECT COALESCE(MAX(iteration), 0) FROM batches").fetchone()
        return int(row[0])

    def evaluation_count(self) -> int:
        """Total number of evaluated solutions stored."""
        return int(self._conn.execute("SELECT COALESCE(SUM(size), 0) FROM batches").fetchone()[0])

    def batches(self, start: int = 1, stop: int | None = None) -> Iterator[Batch]:
        """Stored batches with `start <= iteration <= stop`, in order."""
        stop = self.last_iteration() if stop is None else stop
        cursor = self._conn.execute(
            "SELECT iteration, size, solution_dim, measure_dim, solutions_offset, objectives, "
            "measures FROM batches WHERE iteration BETWEEN ? AND ? ORDER BY iteration",
            (start, stop),
        )
        with self._solutions_path.open("rb") as handle:
            for it, size, d, m, offset, objs, meas in cursor:
                handle.seek(offset)
                sols = np.frombuffer(handle.read(size * d * 8), dtype=np.float64)
                yield Batch(
                    it,
                    sols.reshape(size, d),
                    np.frombuffer(objs, dtype=np.float64),
                    np.frombuffer(meas, dtype=np.float64).reshape(size, m),
                )

    def metrics(self) -> list[IterationMetrics]:
        """All per-iteration metrics, in order."""
        cursor = self._conn.execute(
            f"SELECT {', '.join(METRIC_FIELDS)} FROM metrics ORDER BY iteration")
        return [IterationMetrics(*row) for row in cursor]

    # --- checkpoints -------------------------------------------------------------------------

    def add_checkpoint(self, row: CheckpointRow, keep: int) -> list[str]:
        """Record a checkpoint; forget all but the newest `keep`. Returns the forgotten files."""
        with _transaction(self._conn):
            self._conn.execute(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?, ?)",
                (row.iteration, row.file, row.sha256, row.bytes, time.time()),
            )
            old = self._conn.execute(
                "SELECT iteration, file FROM checkpoints ORDER BY iteration DESC LIMIT -1 OFFSET ?",
                (keep,),
            ).fetchall()
            self._conn.executemany("DELETE FROM checkpoints WHERE iteration = ?",
                                   [(it,) for it, _ in old])
        return [file for _, file in old]

    def checkpoints(self) -> list[CheckpointRow]:
        """Recorded checkpoints, newest first."""
        rows = self._conn.execute(
            "SELECT iteration, file, sha256, bytes FROM checkpoints ORDER BY iteration DESC"
        ).fetchall()
        return [CheckpointRow(*row) for row in rows]


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only SQLite connection to a run store of this qd's schema version.

    Raises:
        StoreError: The file cannot be read, or its schema version is not this qd's.
    """
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True,
                               isolation_level=None, check_same_thread=False)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot read run store: {exc}") from None
    if version != SCHEMA_VERSION:
        conn.close()
        raise StoreError(f"{path}: schema version {version}, this qd reads {SCHEMA_VERSION}; "
                         "resume the run once with this qd to migrate it, or upgrade qd")
    return conn


class _transaction:
    """`BEGIN IMMEDIATE` … `COMMIT`, or `ROLLBACK` on error (autocommit connections)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
