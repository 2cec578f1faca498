"""The `embeddings` table of the run store (schema 5): code embeddings by key, each stored
exactly as the embedder returned it (its dtype and bytes), so a vector read back is
bit-identical to a fresh one. Keys and caching policy are `qd.embeddings.cache`'s.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import numpy as np

from qd.store.connection import Database

#: Keys per SELECT (below SQLite's smallest limit on bound parameters, 999).
_CHUNK = 500
#: The dtypes a stored vector may have.
DTYPES = ("float32", "float64")


class EmbeddingsTable:
    """Read and write the `embeddings` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored vectors by key (keys without a well-formed stored vector are left out)."""
        keys = list(keys)
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start:start + _CHUNK]
            rows = self._db.read(
                f"SELECT key, dim, dtype, vector FROM embeddings WHERE key IN "
                f"({', '.join('?' * len(chunk))})", chunk).fetchall()
            for key, dim, dtype, blob in rows:
                vector = _decode(dim, dtype, blob)
                if vector is not None:
                    found[key] = vector
        return found

    def put_many(self, vectors: Mapping[str, tuple[str, np.ndarray]]) -> int:
        """Store `{key: (embedder name, 1-D vector of a dtype in DTYPES)}`; a key already
        stored keeps its vector. Returns the number of rows added.
        """
        now = time.time()
        rows = [(key, name, len(v), v.dtype.name, v.tobytes(), now)
                for key, (name, v) in vectors.items()]
        with self._db.write("store embeddings") as conn:
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?, ?, ?, ?)", rows)
            return conn.total_changes - before

    def count(self) -> int:
        """Number of stored vectors."""
        return int(self._db.read("SELECT COUNT(*) FROM embeddings").fetchone()[0])


def _decode(dim: int, dtype: str, blob: bytes) -> np.ndarray | None:
    """A stored vector, or None when the row is not a well-formed vector."""
    if dtype not in DTYPES or len(blob) != dim * np.dtype(dtype).itemsize:
        return None
    return np.frombuffer(blob, dtype=dtype).copy()
