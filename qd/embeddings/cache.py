"""Code embeddings kept in the run store, so resume, `qd report`, `qd export` and `qd show` do
not run the embedder again for programs it has already embedded.

Rows of the `embeddings` table (store schema 5, `qd.store.embeddings`) are keyed by the
SHA-256 of (embedder name, embedded text): identical EVOLVE-BLOCKs share one row, and a vector
never depends on which program it came from. The vector is stored exactly as the embedder
returned it (its dtype and bytes), so a measure computed from a stored vector is bit-identical
to a fresh one.

The engine opens the cache writable: new vectors are written in their own small transaction
right after they are computed (vectors a write could not store stay pending and go with the
next write). Readers of a run (report, export, show) open it read-only: they use the stored
vectors, compute missing ones in memory, and never write. A cache never raises on a store
problem: it logs once and behaves as if the vector were not stored.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from qd.embeddings.embedders import BlockEmbedder, embedded_text
from qd.store import RunStore, StoreError
from qd.store.embeddings import DTYPES, EmbeddingsTable

log = logging.getLogger(__name__)


def embedding_key(embedder: str, text: str) -> str:
    """The row key of `text` embedded by the embedder registered as `embedder`."""
    return hashlib.sha256(f"{embedder}\0{text}".encode()).hexdigest()


class EmbeddingCache:
    """Batch get / put of code embeddings in a run store's `embeddings` table.

    Args:
        table: The run store's `embeddings` table (`RunStore.embeddings`).
        writable: Whether new vectors are written (the engine); readers pass False.
    """

    def __init__(self, table: EmbeddingsTable, writable: bool) -> None:
        self.table = table
        self.writable = writable
        self.hits = 0  # vectors found
        self.writes = 0  # rows added to the store
        self._pending: dict[str, tuple[str, np.ndarray]] = {}
        self._warned = False

    @classmethod
    def of_store(cls, store: RunStore, writable: bool = False) -> EmbeddingCache:
        """The cache of a `RunStore` (a read-only store's never writes, even if `writable`)."""
        return cls(store.embeddings, writable)

    def get_many(self, embedder: str, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored vectors of `texts` by text (texts without a stored vector are left out)."""
        by_key = {embedding_key(embedder, t): t for t in texts}
        keys = list(by_key)
        found: dict[str, np.ndarray] = {}
        for key in keys:
            pending = self._pending.get(key)
            if pending is not None:
                found[by_key[key]] = pending[1]
        keys = [k for k in keys if k not in self._pending]
        try:
            for key, vector in self.table.get_many(keys).items():
                found[by_key[key]] = vector
        except (sqlite3.DatabaseError, StoreError) as exc:
            self._warn(f"cannot read stored embeddings ({exc}); computing them")
        self.hits += len(found)
        return found

    def put_many(self, embedder: str, vectors: Mapping[str, np.ndarray]) -> None:
        """Store vectors by text (a reader ignores this; a failed write is retried later)."""
        if not self.writable:
            return
        for text, vector in vectors.items():
            array = np.ascontiguousarray(vector)
            if array.ndim == 1 and array.dtype.name in DTYPES:
                self._pending[embedding_key(embedder, text)] = (embedder, array)
        if self._pending:
            self._flush()

    def _flush(self) -> None:
        try:  # inside a caller's transaction the rows commit with it
            added = self.table.put_many(self._pending)
        except (sqlite3.DatabaseError, StoreError) as exc:
            if isinstance(exc, StoreError) or "readonly" in str(exc).replace(" ", "").lower():
                self.writable = False  # a read-only store: keep using it, never write again
                self._pending.clear()
            self._warn(f"cannot store embeddings ({exc}); they stay in memory")
            return
        self.writes += added  # rows new to the store
        self._pending.clear()

    def _warn(self, message: str) -> None:
        if not self._warned:
            log.warning(message)
            self._warned = True


class StoredEmbedder:
    """An `Embedder` whose vectors come from (and go to) a run store's `embeddings` table, so a
    resumed run's duplicate filter does not embed every earlier program again.

    Args:
        inner: The embedder; a `BlockEmbedder` is keyed by the EVOLVE-BLOCK text it embeds.
        name: Its registry name (part of the row key).
        cache: The run store's cache.
    """

    def __init__(self, inner: Any, name: str, cache: EmbeddingCache) -> None:
        self.inner, self.name, self.cache = inner, name, cache

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts, computing only those whose vector is not stored (then storing them)."""
        block = isinstance(self.inner, BlockEmbedder)
        model = self.inner.inner if block else self.inner
        keys = [embedded_text(t) if block else t for t in texts]
        vectors = self.cache.get_many(self.name, set(keys))
        computed = {k: np.asarray(model.embed([k])[0]) for k in dict.fromkeys(keys)
                    if k not in vectors}
        self.cache.put_many(self.name, computed)
        vectors.update(computed)
        return np.stack([vectors[k] for k in keys])
