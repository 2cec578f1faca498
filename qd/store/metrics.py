"""The `metrics` table of the run store: one row of QD statistics per iteration (program runs:
per evaluation), the source `metrics.jsonl` is rebuilt from on resume.
"""

from __future__ import annotations

from qd.store.connection import Database
from qd.types import METRIC_FIELDS, IterationMetrics


class MetricsTable:
    """Read and write the `metrics` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, metrics: IterationMetrics) -> None:
        """Store one row (replacing a row of the same iteration)."""
        with self._db.write("store metrics") as conn:
            conn.execute("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         tuple(getattr(metrics, f) for f in METRIC_FIELDS))

    def all(self) -> list[IterationMetrics]:
        """Every row, in iteration order."""
        cursor = self._db.read(f"SELECT {', '.join(METRIC_FIELDS)} FROM metrics ORDER BY iteration")
        return [IterationMetrics(*row) for row in cursor]

    def last_iteration(self) -> int:
        """The newest row's iteration (program runs: evaluations), 0 without rows."""
        row = self._db.read("SELECT COALESCE(MAX(iteration), 0) FROM metrics").fetchone()
        return int(row[0])
