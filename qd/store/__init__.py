"""The run store: one SQLite file (WAL) per run folder plus the `solutions.f64` append file.

`connection` opens it (migrations, transactions, read-only mode), `migrations` holds the schema,
`run_store.RunStore` exposes the tables, and each table's reads and writes live in their own
module: `meta`, `events`, `component_state`, `batches` (with `solutions.f64`), `metrics`,
`checkpoints`, `programs`, `judge_calls`, `embeddings`.
"""

from qd.store.batches import SOLUTIONS_FILE, Batch
from qd.store.checkpoints import CheckpointRow
from qd.store.connection import STORE_FILE, StoreError
from qd.store.run_store import RunStore

__all__ = ["SOLUTIONS_FILE", "STORE_FILE", "Batch", "CheckpointRow", "RunStore", "StoreError"]
