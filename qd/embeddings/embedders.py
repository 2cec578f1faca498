"""Code embedders: texts to unit-norm vectors, registered by name.

`ngram` hashes character n-grams of the normalised code (deterministic, no model); `minilm` is
the all-MiniLM-L6-v2 sentence encoder (`qd.embeddings.minilm`) over a program's EVOLVE-BLOCKs.
Used by the duplicate filter, embedding measures and the judge's nearest neighbours.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from mutators.program.blocks import ProgramTemplate, TemplateError
from qd.errors import RegistryError, SpecError
from qd.languages import PYTHON, Language
from qd.registry import Registry


class Embedder(Protocol):
    """Turns texts into unit-norm vectors."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts as rows of shape (len(texts), dim) with unit L2 norm."""
        ...


def normalise_code(code: str, language: Language = PYTHON) -> str:
    """Canonical text of a program in `language`: for Python the AST round trip without
    docstrings (raw whitespace-collapsed text when it does not parse); for other languages the
    text without comments, whitespace runs collapsed.
    """
    return language.normalise(code)


def code_hash(code: str, language: Language = PYTHON) -> str:
    """SHA-1 of the normalised code."""
    return hashlib.sha1(normalise_code(code, language).encode("utf-8")).hexdigest()


class NgramEmbedder:
    """Hashed character n-grams (n = 3..5) of the normalised code, TF weighted, unit norm.

    Args:
        dim: Number of hash buckets.
        language: The programs' language (how comments are recognised).
    """

    def __init__(self, dim: int = 4096, language: Language = PYTHON) -> None:
        self.dim = dim
        self.language = language

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed each text; identical normalised code gives identical vectors."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            norm = normalise_code(text, self.language)
            for n in (3, 4, 5):
                for i in range(max(len(norm) - n + 1, 0)):
                    out[row, zlib.crc32(norm[i : i + n].encode()) % self.dim] += 1.0
        lengths = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(lengths, 1e-12)


def embedded_text(code: str) -> str:
    """The part of a program that is embedded: its EVOLVE-BLOCKs (what evolves), or all of it
    when it has no valid markers. MiniLM reads at most 256 tokens of it.
    """
    try:
        blocks = ProgramTemplate.parse(code).blocks
    except TemplateError:
        return code
    return "\n".join(blocks) if any(b.strip() for b in blocks) else code


class BlockEmbedder:
    """An `Embedder` that embeds only the EVOLVE-BLOCKs of each program (`embedded_text`), so
    that a long fixed preamble does not use up a model's token window.

    Args:
        inner: The embedder of the extracted text.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed the EVOLVE-BLOCKs of each program."""
        return self.inner.embed([embedded_text(t) for t in texts])


#: Code embedders by name; each entry builds a fresh embedder with default settings for
#: programs in the given language.
embedder_registry: Registry[Callable[[Language], Embedder]] = Registry("embedder")


@embedder_registry.register("ngram")
def _ngram(language: Language) -> Embedder:
    return NgramEmbedder(language=language)


#: Embedders cheap enough that storing their vectors would cost more than recomputing them.
CHEAP_EMBEDDERS = frozenset({"ngram"})


@embedder_registry.register("minilm")
def _minilm(language: Language) -> Embedder:
    from qd.embeddings.minilm import MiniLMEmbedder

    # reads code as text, in any language; one program per forward pass: a program's vector
    # never depends on its batch mates
    return BlockEmbedder(MiniLMEmbedder(batch_size=1))


def make_embedder(name: str, field: str = "novelty.embedder",
                  language: Language = PYTHON) -> Embedder:
    """The embedder registered as `name`, for programs in `language`.

    Raises:
        SpecError: Unknown name (the message names the spec `field` and the valid names).
    """
    try:
        factory = embedder_registry.get(name)
    except RegistryError as err:
        raise SpecError(f"{field}: {err}") from None
    return factory(language)


