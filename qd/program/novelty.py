"""Code-novelty filter: reject (near-)duplicate programs before paying for their evaluation.

Two stages: an exact hash of the normalised code (comments, docstrings and formatting removed:
via the AST for Python, the language's lexer otherwise), then cosine similarity of code
embeddings (`qd.embeddings`) against every program seen so far.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from qd.embeddings.cache import StoredEmbedder
from qd.embeddings.embedders import CHEAP_EMBEDDERS, Embedder, NgramEmbedder, code_hash
from qd.languages import PYTHON, Language


@dataclass(frozen=True)
class NoveltyVerdict:
    """Whether a program is new enough to evaluate, and why not."""

    novel: bool
    code_hash: str
    similarity: float
    reason: str | None = None


class NoveltyFilter:
    """Remembers every program seen and rejects exact or near duplicates.

    Args:
        threshold: Cosine similarity at or above which a program is a near duplicate
            (1.0 disables the embedding stage; exact duplicates are always rejected).
        embedder: Code embedder; default `NgramEmbedder()`.
        name: The embedder's registry name (needed to keep its vectors in a run store).
        language: The programs' language (how their code is normalised before hashing).
    """

    def __init__(self, threshold: float = 0.995, embedder: Embedder | None = None,
                 name: str | None = None, language: Language = PYTHON) -> None:
        self.threshold = threshold
        self.embedder = embedder or NgramEmbedder(language=language)
        self.name = name
        self.language = language
        self._hashes: set[str] = set()
        self._vectors: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._hashes)

    def store_vectors(self, cache: Any) -> None:
        """Keep the vectors of a model embedder (not the cheap n-grams) in a run store's
        `EmbeddingCache`, so a resumed run does not embed every earlier program again.
        """
        if self.name is not None and self.name not in CHEAP_EMBEDDERS and self.threshold < 1.0:
            self.embedder = StoredEmbedder(self.embedder, self.name, cache)

    def check(self, code: str, near: bool = True) -> NoveltyVerdict:
        """Judge `code` against everything added so far (does not add it); `near=False` skips
        the embedding stage (exact duplicates only).
        """
        digest = code_hash(code, self.language)
        if digest in self._hashes:
            return NoveltyVerdict(False, digest, 1.0, "exact duplicate of an earlier program")
        if not near or self.threshold >= 1.0 or not self._vectors:
            return NoveltyVerdict(True, digest, 0.0)
        vector = self.embedder.embed([code])[0]
        similarity = float(np.max(self._stacked() @ vector))
        if similarity >= self.threshold:
            return NoveltyVerdict(False, digest, similarity,
                                  f"near duplicate (cosine {similarity:.4f} >= {self.threshold})")
        return NoveltyVerdict(True, digest, similarity)

    def add(self, code: str) -> None:
        """Remember a program."""
        digest = code_hash(code, self.language)
        if digest in self._hashes:
            return
        self._hashes.add(digest)
        if self.threshold < 1.0:
            self._vectors.append(self.embedder.embed([code])[0])
            self._matrix = None

    def add_many(self, codes: Iterable[str]) -> None:
        """Remember many programs (resume)."""
        for code in codes:
            self.add(code)

    def _stacked(self) -> np.ndarray:
        if self._matrix is None or len(self._matrix) != len(self._vectors):
            self._matrix = np.stack(self._vectors)
        return self._matrix
