"""The run store: one SQLite file (WAL) per run folder plus the `solutions.f64` append file.

`run_store` opens it (connection, transactions, read-only mode), `migrations` holds the schema;
each table's reads and writes live in their own module (`programs`, `judge_calls`, ...).
"""

from qd.store.run_store import (
    SOLUTIONS_FILE,
    STORE_FILE,
    Batch,
    CheckpointRow,
    RunStore,
    StoreError,
    connect_readonly,
)

__all__ = ["SOLUTIONS_FILE", "STORE_FILE", "Batch", "CheckpointRow", "RunStore", "StoreError",
           "connect_readonly"]
