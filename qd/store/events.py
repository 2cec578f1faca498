"""The `events` table of the run store: what happened to a run, in order (start, resume,
checkpoint, stop, end, warning, ...), each with a JSON payload.
"""

from __future__ import annotations

import json
import time
from typing import Any

from qd.store.connection import Database


class EventsTable:
    """Append to and read the `events` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, kind: str, **payload: Any) -> None:
        """Append an event now (values that are not JSON are stored as their `str`)."""
        with self._db.write(f"record a {kind!r} event") as conn:
            conn.execute("INSERT INTO events (t, kind, payload) VALUES (?, ?, ?)",
                         (time.time(), kind, json.dumps(payload, default=str)))

    def all(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Events in order as `{"t", "kind", **payload}`, optionally of one kind."""
        query, args = "SELECT t, kind, payload FROM events", ()
        if kind is not None:
            query, args = query + " WHERE kind = ?", (kind,)
        rows = self._db.read(query + " ORDER BY id", args).fetchall()
        return [{"t": t, "kind": k, **json.loads(p)} for t, k, p in rows]
