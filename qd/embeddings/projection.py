"""Archive measures from code embeddings: whitened principal components, refitted as a run grows.

A `[[problem.measures]]` entry with `source = "embedding"` and `index = k` is the k-th principal
component of the code embeddings of the run's valid programs, divided by its standard deviation
(unit variance). The projection is fitted on the first `min_programs` valid programs, then
refitted every `refit_every` more. Which programs a fit uses is a function of the stored program
sequence alone: fit k uses the first `min_programs + k * refit_every` valid programs **by id**,
and happens once every program with a smaller id is final (evaluated, rejected, ...). A resumed
run, `qd report` and `qd export` therefore replay the same fits from the run store. Until the
first fit the embedding measures are 0.

After a refit every valid program is re-measured and the archive is rebuilt from all of them in
id order (the best per new cell stays); the run store keeps each program's measures as they were
when it was evaluated.

With a run store, vectors are read from and written to its `embeddings` table
(`qd.embeddings.cache`), so a resumed run or a report does not embed a program twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from qd.embeddings.cache import EmbeddingCache
from qd.embeddings.embedders import BlockEmbedder, Embedder, embedded_text, make_embedder
from qd.languages import PYTHON, Language
from qd.program.types import Program, Status

log = logging.getLogger(__name__)


def fit_whitened_pca(vectors: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray]:
    """Principal axes of `vectors` (rows), with a fixed sign and whitening scale.

    Each axis is flipped so that its largest-magnitude loading (first one on ties) is positive.
    Axes beyond the data's rank are zero (their projections are 0).

    Args:
        vectors: Shape (n, d), n >= 2.
        components: Number of leading axes to return.

    Returns:
        (mean (d,), axes (components, d), scale (components,)): the whitened coordinates of a
        vector v are `(v - mean) @ axes.T / scale`.
    """
    x = np.asarray(vectors, dtype=np.float64)
    mean = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
    axes = np.zeros((components, x.shape[1]))
    scale = np.ones(components)
    std = singular / np.sqrt(max(len(x) - 1, 1))
    for k in range(min(components, len(singular))):
        if std[k] <= 1e-9 * max(std[0], 1e-300):
            break  # rank exhausted: this and later axes stay 0
        axis = vt[k]
        if axis[int(np.argmax(np.abs(axis)))] < 0:
            axis = -axis
        axes[k], scale[k] = axis, std[k]
    return mean, axes, scale


class EmbeddingProjection:
    """Embedding measures of one run: embeddings cached by program id, and the current fit.

    Args:
        measures: The problem's `MeasureConfig`s (only `source = "embedding"` ones are filled).
        settings: `[problem.embedding]` (embedder, refit_every, min_programs).
        embedder: Overrides the embedder named in `settings` (tests).
        cache: Stored vectors of the run (read and, when writable, written), or None.
        language: The programs' language (how the `ngram` embedder strips comments).
    """

    def __init__(self, measures: Sequence[Any], settings: Any,
                 embedder: Embedder | None = None, cache: EmbeddingCache | None = None,
                 language: Language = PYTHON) -> None:
        self.positions = [(j, m.index) for j, m in enumerate(measures) if m.source == "embedding"]
        self.components = max(k for _, k in self.positions) + 1
        self.settings = settings
        self.embedder = embedder or make_embedder(settings.embedder,
                                                  "problem.embedding.embedder", language)
        self.cache = cache
        self.embedded = 0  # vectors computed by the embedder (not found in memory or the cache)
        self.fits = 0
        self.fit_ids: tuple[int, ...] = ()
        self._vectors: dict[int, np.ndarray] = {}
        self._fit: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._codes: dict[int, str] = {}
        self._settled: set[int] = set()
        self._prefix = 0
        self._prefix_ok: list[int] = []

    # --- embeddings and measures -------------------------------------------------------------

    def vector(self, pid: int, code: str) -> np.ndarray:
        """The embedding of program `pid` (computed once, then cached)."""
        if pid not in self._vectors:
            self.prefetch({pid: code})
        return self._vectors[pid]

    def _key_text(self, code: str) -> str:
        """The text a program's vector depends on (what the store's cache is keyed by)."""
        return embedded_text(code) if isinstance(self.embedder, BlockEmbedder) else code

    def prefetch(self, codes: Mapping[int, str]) -> None:
        """Make the vectors of programs (id → code) available: from memory, else the run
        store's cache (one query), else the embedder, one program per call (new vectors go to
        the cache in one write).
        """
        missing = {pid: self._key_text(code) for pid, code in codes.items()
                   if pid not in self._vectors}
        if not missing:
            return
        name = self.settings.embedder
        stored = (self.cache.get_many(name, set(missing.values())) if self.cache is not None
                  else {})
        computed: dict[str, np.ndarray] = {}
        for pid, text in missing.items():
            raw = stored.get(text)
            if raw is None:
                raw = computed.get(text)
            if raw is None:
                raw = computed[text] = np.asarray(self.embedder.embed([codes[pid]])[0])
                self.embedded += 1
            self._vectors[pid] = np.asarray(raw, dtype=np.float64)
        if computed and self.cache is not None:
            self.cache.put_many(name, computed)

    def coordinates(self, pid: int, code: str) -> np.ndarray:
        """Whitened principal coordinates of a program (zeros before the first fit)."""
        if self._fit is None:
            return np.zeros(self.components)
        mean, axes, scale = self._fit
        return (self.vector(pid, code) - mean) @ axes.T / scale

    def fill(self, pid: int, code: str, measures: Sequence[float]) -> tuple[float, ...]:
        """`measures` with the embedding axes set from the current projection."""
        out = list(measures)
        coords = self.coordinates(pid, code)
        for j, k in self.positions:
            out[j] = float(coords[k])
        return tuple(out)

    # --- refit points ------------------------------------------------------------------------

    @property
    def next_fit_size(self) -> int:
        """Valid programs (by id) the next fit uses."""
        return self.settings.min_programs + self.fits * self.settings.refit_every

    def settle(self, pid: int, code: str | None) -> bool:
        """Mark program `pid` final (`code` when it is valid, else None); fit when the first
        `next_fit_size` valid programs by id are all known. Returns whether a fit happened.
        """
        if pid in self._settled or pid <= self._prefix:
            return False
        self._settled.add(pid)
        if code is not None:
            self._codes[pid] = code
        fitted = False
        while self._prefix + 1 in self._settled:
            self._prefix += 1
            self._settled.discard(self._prefix)
            if self._prefix in self._codes:
                self._prefix_ok.append(self._prefix)
                if len(self._prefix_ok) == self.next_fit_size:
                    self._refit(self._prefix_ok)
                    fitted = True
        return fitted

    def settle_archive(self, pid: int, code: str | None, archive: Any,
                       records: dict[int, Program]) -> dict[str, int] | None:
        """`settle`, and after a refit re-measure every valid program: `archive` is rebuilt
        and `records` updated. Returns the refit's summary (fit, programs, elites), or None.
        """
        if not self.settle(pid, code):
            return None
        records.update(self.rebuild(archive, records))
        info = {"fit": self.fits, "programs": len(self.fit_ids), "elites": len(archive.ids())}
        log.info("embedding measures refitted", extra={"event": "embedding_refit", **info})
        return info

    def _refit(self, ids: Sequence[int]) -> None:
        self.prefetch({i: self._codes[i] for i in ids})
        matrix = np.stack([self.vector(i, self._codes[i]) for i in ids])
        self._fit = fit_whitened_pca(matrix, self.components)
        self.fit_ids = tuple(ids)
        self.fits += 1

    def replay(self, rows: Iterable[Program]) -> None:
        """Replay the fits of a stored run from its program rows (any order; rows missing
        below the last id count as final and invalid; unevaluated PROPOSED rows block).
        """
        by_id = {int(r.id): r for r in rows}
        for pid in range(1, max(by_id, default=0) + 1):
            row = by_id.get(pid)
            if row is None:
                self.settle(pid, None)
            elif row.status.final:
                ok = row.status is Status.OK and row.code is not None and row.score is not None
                self.settle(pid, row.code if ok else None)

    # --- archive -----------------------------------------------------------------------------

    def rebuild(self, archive: Any, records: Mapping[int, Program]) -> dict[int, Program]:
        """Re-measure every valid program and rebuild `archive` from them in id order.

        Args:
            archive: The run's `ProgramArchive`.
            records: Program id → `Program` (valid ones have a score).

        Returns:
            The records with their measures updated.
        """
        updated: dict[int, Program] = {}
        entries = []
        if self._fit is not None:
            self.prefetch({pid: r.code for pid, r in records.items()
                           if r.score is not None and r.measures})
        for pid in sorted(records):
            record = records[pid]
            if record.score is None or not record.measures:
                continue
            measures = self.fill(pid, record.code, record.measures)
            updated[pid] = replace(record, measures=measures)
            entries.append((pid, float(record.score), measures))
        archive.rebuild(entries)
        return updated


def embedding_projection(problem: Any, embedder: Embedder | None = None,
                         cache: EmbeddingCache | None = None) -> EmbeddingProjection | None:
    """The projection a program problem needs, or None without `source = "embedding"` axes."""
    if not any(m.source == "embedding" for m in problem.measures):
        return None
    return EmbeddingProjection(problem.measures, problem.embedding, embedder, cache,
                               problem.program_language)
