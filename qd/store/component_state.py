"""The `component_state` table of the run store: each component's JSON state (bandit,
selector, LLM usage, RNGs) by key, with the iteration (or evaluation count) it is as of.
"""

from __future__ import annotations

import json
from typing import Any

from qd.store.connection import Database


class ComponentStateTable:
    """Read and write the `component_state` table (one row per key, replaced on write)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, key: str, iteration: int, value: Any) -> None:
        """Store a component's state as of `iteration`."""
        self.put_many({key: value}, iteration)

    def put_many(self, states: dict[str, Any], iteration: int) -> None:
        """Store several components' states as of `iteration`, in one transaction."""
        with self._db.write("store component state") as conn:
            conn.executemany("INSERT OR REPLACE INTO component_state VALUES (?, ?, ?)",
                             [(key, iteration, json.dumps(value)) for key, value in states.items()])

    def get(self, key: str) -> tuple[int, Any] | None:
        """(iteration, state) of a component, or None."""
        row = self._db.read("SELECT iteration, value FROM component_state WHERE key = ?",
                            (key,)).fetchone()
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def all(self) -> dict[str, tuple[int, Any]]:
        """Every component's (iteration, state), by key in key order."""
        rows = self._db.read("SELECT key, iteration, value FROM component_state ORDER BY key")
        return {key: (int(iteration), json.loads(value)) for key, iteration, value in rows}
