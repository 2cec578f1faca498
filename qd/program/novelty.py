"""Code-novelty filter: reject (near-)duplicate programs before paying for their evaluation.

Two stages: an exact hash of the normalised code (comments, docstrings and formatting removed via
the AST), then cosine similarity of code embeddings against every program seen so far. The
default embedder is a hashed character n-gram vectoriser (deterministic, no model); any object
with `embed(texts) -> (n, d) array` of unit rows can replace it. Embedders are registered by name
(`ngram`, `minilm`: the all-MiniLM-L6-v2 sentence encoder of `qd.program.minilm`).
"""

from __future__ import annotations

import ast
import hashlib
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from qd.errors import RegistryError, SpecError
from qd.registry import Registry


class Embedder(Protocol):
    """Turns texts into unit-norm vectors."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as rows of shape (len(texts), dim) with unit L2 norm."""
        ...


def normalise_code(code: str) -> str:
    """Canonical text of a program: AST round trip without docstrings; raw whitespace-collapsed
    text when it does not parse.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return re.sub(r"\s+", " ", re.sub(r"#[^\n]*", "", code)).strip()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)):
            body[:1] = [] if len(body) > 1 else [ast.Pass()]
    return ast.unparse(tree)


def code_hash(code: str) -> str:
    """SHA-1 of the normalised code."""
    return hashlib.sha1(normalise_code(code).encode("utf-8")).hexdigest()


class NgramEmbedder:
    """Hashed character n-grams (n = 3..5) of the normalised code, TF weighted, unit norm.

    Args:
        dim: Number of hash buckets.
    """

    def __init__(self, dim: int = 4096) -> None:
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed each text; identical normalised code gives identical vectors."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            norm = normalise_code(text)
            for n in (3, 4, 5):
                for i in range(max(len(norm) - n + 1, 0)):
                    out[row, zlib.crc32(norm[i : i + n].encode()) % self.dim] += 1.0
        lengths = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(lengths, 1e-12)


#: Code embedders by name; each entry builds a fresh embedder with default settings.
embedder_registry: Registry[Callable[[], Embedder]] = Registry("embedder")
embedder_registry.register("ngram")(NgramEmbedder)
#: Embedders cheap enough that storing their vectors would cost more than recomputing them.
CHEAP_EMBEDDERS = frozenset({"ngram"})


@embedder_registry.register("minilm")
def _minilm() -> Embedder:
    from qd.program.embedding_measures import BlockEmbedder
    from qd.program.minilm import MiniLMEmbedder

    # one program per forward pass: a program's vector never depends on its batch mates
    return BlockEmbedder(MiniLMEmbedder(batch_size=1))


def make_embedder(name: str, field: str = "novelty.embedder") -> Embedder:
    """The embedder registered as `name`.

    Raises:
        SpecError: Unknown name (the message names the spec `field` and the valid names).
    """
    try:
        factory = embedder_registry.get(name)
    except RegistryError as err:
        raise SpecError(f"{field}: {err}") from None
    return factory()


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
    """

    def __init__(self, threshold: float = 0.995, embedder: Embedder | None = None,
                 name: str | None = None) -> None:
        self.threshold = threshold
        self.embedder = embedder or NgramEmbedder()
        self.name = name
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
            from qd.program.embedding_cache import StoredEmbedder

            self.embedder = StoredEmbedder(self.embedder, self.name, cache)

    def check(self, code: str, near: bool = True) -> NoveltyVerdict:
        """Judge `code` against everything added so far (does not add it); `near=False` skips
        the embedding stage (exact duplicates only).
        """
        digest = code_hash(code)
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
        digest = code_hash(code)
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
