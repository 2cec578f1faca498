"""The run store's SQLite connection: opening (migrations or a schema check), transactions and
read-only mode, in one place.

A writer opens `store.sqlite` in WAL mode and applies the missing migrations
(`qd.store.migrations`, counted by `PRAGMA user_version`). A reader (`qd report`, `qd show`,
`qd export`) opens it with SQLite's `mode=ro`: nothing is migrated, and every write through
`Database.write` raises `StoreError` before it reaches SQLite, so a reader can never change a
run, even one that is still being written.

Table modules (`qd.store.meta`, `events`, ...) read with `Database.read` and write inside
`Database.write`; a write inside an open transaction joins it, so several tables can be written
in one atomic commit (`with db.transaction(): ...`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qd.errors import QDError
from qd.store.migrations import MIGRATIONS, SCHEMA_VERSION

STORE_FILE = "store.sqlite"


class StoreError(QDError):
    """The run store is missing, of an unknown schema version, corrupt, or open read-only."""


class Database:
    """One autocommit SQLite connection to a run store. Open with `Database.open(path)`.

    Attributes:
        path: The `store.sqlite` file.
        readonly: True for a reader's connection (every `write` raises `StoreError`).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        self._conn = conn

    @classmethod
    def open(cls, path: Path, readonly: bool = False) -> Database:
        """Open `path`: a writer migrates it to this qd's schema, a reader checks the version.

        Raises:
            StoreError: The file is not a readable SQLite database, its schema is newer than
                this qd's, or (read-only) older than this qd's.
        """
        return cls(path, _connect_readonly(path) if readonly else _connect(path), readonly)

    def read(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Cursor:
        """Run one reading statement."""
        return self._conn.execute(sql, args)

    @contextmanager
    def write(self, what: str) -> Iterator[sqlite3.Connection]:
        """`with db.write("store events") as conn:` — one atomic write (or part of the
        enclosing transaction).

        Raises:
            StoreError: The store is open read-only (`what` says what was refused).
        """
        if self.readonly:
            raise StoreError(f"{self.path} is open read-only: cannot {what}")
        with self.transaction():
            yield self._conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group statements: a writer's commit atomically (`BEGIN IMMEDIATE` … `COMMIT`, or
        `ROLLBACK` on error); a reader's see one consistent state while a run commits more.
        Inside an open transaction this joins it.
        """
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN" if self.readonly else "BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("ROLLBACK" if self.readonly else "COMMIT")

    def close(self) -> None:
        """Close the connection (a writer's WAL is checkpointed into the main file)."""
        self._conn.close()


def _connect(path: Path) -> sqlite3.Connection:
    """A writer's connection in WAL mode, migrated to `SCHEMA_VERSION`."""
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"{path}: schema version {version} is newer than this qd's "
                f"({SCHEMA_VERSION}); upgrade qd to read this run"
            )
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.executescript(f"BEGIN; {script} PRAGMA user_version={target}; COMMIT;")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open run store: {exc}") from None
    return conn


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to a store of this qd's schema version (nothing is migrated)."""
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
