"""The `meta` table of the run store: JSON values by key (the effective spec, ...)."""

from __future__ import annotations

import json
from typing import Any

from qd.store.connection import Database


class MetaTable:
    """Read and write the `meta` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def set(self, key: str, value: Any) -> None:
        """Store a JSON value under `key` (replacing the old one)."""
        with self._db.write("store meta values") as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def get(self, key: str, default: Any = None) -> Any:
        """The JSON value under `key`, or `default`."""
        row = self._db.read("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])
