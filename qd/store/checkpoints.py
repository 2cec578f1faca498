"""The `checkpoints` table of the run store: the checkpoint files a resume may restore, each
with its SHA-256 digest and size (the files themselves are in `checkpoints/`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from qd.store.connection import Database


@dataclass(frozen=True)
class CheckpointRow:
    """A checkpoint file recorded in the store."""

    iteration: int
    file: str
    sha256: str
    bytes: int


class CheckpointsTable:
    """Read and write the `checkpoints` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, row: CheckpointRow, keep: int) -> list[str]:
        """Record a checkpoint; forget all but the newest `keep`. Returns the forgotten files."""
        with self._db.write("record a checkpoint") as conn:
            conn.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?, ?)",
                         (row.iteration, row.file, row.sha256, row.bytes, time.time()))
            old = conn.execute(
                "SELECT iteration, file FROM checkpoints ORDER BY iteration DESC LIMIT -1 OFFSET ?",
                (keep,),
            ).fetchall()
            conn.executemany("DELETE FROM checkpoints WHERE iteration = ?",
                             [(it,) for it, _ in old])
        return [file for _, file in old]

    def all(self) -> list[CheckpointRow]:
        """Recorded checkpoints, newest first."""
        rows = self._db.read(
            "SELECT iteration, file, sha256, bytes FROM checkpoints ORDER BY iteration DESC"
        ).fetchall()
        return [CheckpointRow(*row) for row in rows]
