"""The run store: one SQLite database (WAL) per run folder, the source of truth for resume.

`RunStore.open(folder)` opens (or creates) `folder/store.sqlite` through `qd.store.connection`
and exposes one object per table, each in its own module:

| attribute | table | module |
|---|---|---|
| `meta` | `meta` (JSON values by key) | `qd.store.meta` |
| `events` | `events` | `qd.store.events` |
| `component_state` | `component_state` | `qd.store.component_state` |
| `batches` | `batches` + `solutions.f64` | `qd.store.batches` |
| `metrics` | `metrics` | `qd.store.metrics` |
| `checkpoints` | `checkpoints` | `qd.store.checkpoints` |
| `programs` | `programs` | `qd.store.programs` |
| `judge_calls` | `judge_calls` | `qd.store.judge_calls` |
| `embeddings` | `embeddings` | `qd.store.embeddings` |

A numeric iteration is recorded in one transaction (`with store.transaction():` its batch and
its metrics row), so it is either fully recorded or not at all. `RunStore.open(folder,
readonly=True)` is the one way to read a run without changing it (reports, `qd show`,
`qd export`): nothing is migrated or truncated, and every write raises `StoreError`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from qd.store.batches import SOLUTIONS_FILE, BatchesTable
from qd.store.checkpoints import CheckpointsTable
from qd.store.component_state import ComponentStateTable
from qd.store.connection import STORE_FILE, Database, StoreError
from qd.store.embeddings import EmbeddingsTable
from qd.store.events import EventsTable
from qd.store.judge_calls import JudgeCallsTable
from qd.store.meta import MetaTable
from qd.store.metrics import MetricsTable
from qd.store.programs import ProgramStore


class RunStore:
    """A run's SQLite store. Open with `RunStore.open(folder)`; every write is a transaction.

    Attributes:
        path: The `store.sqlite` file.
        meta, events, component_state, batches, metrics, checkpoints, programs, judge_calls,
        embeddings: The tables (see the module docstring).
    """

    def __init__(self, db: Database) -> None:
        self.path = db.path
        self._db = db
        self.meta = MetaTable(db)
        self.events = EventsTable(db)
        self.component_state = ComponentStateTable(db)
        self.metrics = MetricsTable(db)
        self.checkpoints = CheckpointsTable(db)
        self.programs = ProgramStore(db)
        self.judge_calls = JudgeCallsTable(db)
        self.embeddings = EmbeddingsTable(db)
        try:  # last: a writer opens (and truncates) solutions.f64 here
            self.batches = BatchesTable(db, db.path.parent / SOLUTIONS_FILE)
        except BaseException:
            db.close()
            raise

    @classmethod
    def open(cls, folder: Path, create: bool = True, readonly: bool = False) -> RunStore:
        """Open (or create) `folder/store.sqlite` in WAL mode, migrated to this qd's schema.

        With `readonly`, the store is only read (safe while a run writes to it): SQLite opens
        it read-only, nothing is migrated or truncated, and every write raises `StoreError`.

        Raises:
            StoreError: No store (`readonly` or not `create`), an unreadable file, or a schema
                this qd cannot use.
        """
        path = Path(folder) / STORE_FILE
        if (readonly or not create) and not path.exists():
            raise StoreError(f"{folder}: no {STORE_FILE}; is this a qd run folder?")
        return cls(Database.open(path, readonly=readonly))

    @property
    def readonly(self) -> bool:
        """Whether the store was opened read-only (a reader's)."""
        return self._db.readonly

    def transaction(self) -> AbstractContextManager[None]:
        """`with store.transaction():` — writes of every table commit atomically together; a
        read-only store's reads see one consistent state while the run commits more.
        """
        return self._db.transaction()

    def close(self) -> None:
        """Close the store (a writer's WAL is checkpointed into the main file)."""
        self.batches.close()
        self._db.close()
