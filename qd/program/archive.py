"""MAP-Elites (or novelty) archive over programs: pyribs stores each elite's program id.

Any registered archive family works (grid, cvt, sliding_boundaries, proximity); the solution
pyribs sees is the one-element vector `[program_id]`, and the code lives in the run store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from archives import ArchiveGeometry, QDArchive, archive_registry
from qd.components import ComponentConfig
from qd.program.types import Program, Status
from qd.seeds import derive_seeds
from qd.selection import ElitePool
from qd.types import ArchiveStats


@dataclass(frozen=True)
class Insertion:
    """What adding one program did: `status` 0 = not added, 1 = improved a cell, 2 = new cell."""

    added: bool
    new_cell: bool
    improvement: float


class ProgramArchive:
    """Programs by id in a pyribs archive, plus how many children each program has had.

    Args:
        config: The spec's archive config.
        measure_bounds: (low, high) per measure.
        objective_worst: Worst score (QD score offset).
        seed: Seed of the archive's RNG.
    """

    def __init__(self, config: ComponentConfig, measure_bounds: tuple[tuple[float, float], ...],
                 objective_worst: float, seed: int) -> None:
        geometry = ArchiveGeometry(solution_dim=1, measure_bounds=measure_bounds,
                                   qd_score_offset=objective_worst, seed=seed)
        self.archive = QDArchive(archive_registry.get(config.name)(config, geometry))
        self.children: Counter[int] = Counter()

    def add(self, program_id: int, score: float, measures: tuple[float, ...]) -> Insertion:
        """Offer a program to the archive."""
        info = self.archive.add(np.array([[float(program_id)]]), np.array([score]),
                                np.array([measures], dtype=np.float64))
        status = int(info["status"][0])
        return Insertion(status > 0, status == 2, float(info["value"][0]))

    def rebuild(self, entries: Iterable[tuple[int, float, tuple[float, ...]]]) -> None:
        """Empty the archive and insert (program id, score, measures) entries in order; the
        children counts are kept. Used after the measure space changed (embedding refit).
        """
        self.archive.clear()
        for program_id, score, measures in entries:
            self.add(program_id, score, measures)

    def note_child(self, parent_id: int) -> None:
        """Count a child proposed from `parent_id`."""
        self.children[parent_id] += 1

    def ids(self) -> np.ndarray:
        """Program ids of the current elites."""
        return self.archive.elites()["solution"][:, 0].astype(np.int64)

    def pool(self) -> ElitePool:
        """The elites as an `ElitePool` for parent selection."""
        elites = self.archive.elites()
        ids = elites["solution"][:, 0].astype(np.int64)
        children = np.array([self.children[int(i)] for i in ids], dtype=np.int64)
        return ElitePool(ids=ids, objectives=elites["objective"], children=children)

    def best(self) -> tuple[int, float] | None:
        """(program id, score) of the best elite, or None when empty."""
        elites = self.archive.elites()
        if len(elites["objective"]) == 0:
            return None
        i = int(np.argmax(elites["objective"]))
        return int(elites["solution"][i, 0]), float(elites["objective"][i])

    def stats(self) -> ArchiveStats:
        """QD score, coverage, best, number of elites."""
        return self.archive.stats()

    def provenance(self, lookup: Callable[[int], Program | None]) -> dict[str, dict[str, int]]:
        """Which operators made the elites, by `lookup(id)` of their records ("initial": the
        initial program, "unknown": no record). A literal-tuning variant counts under the
        operator that made its structure (its `operator`), and again in `elites_tuned`.
        """
        made: Counter[str] = Counter()
        tuned: Counter[str] = Counter()
        for pid in self.ids().tolist():
            row = lookup(int(pid))
            name = row.operator if row is not None else "unknown"
            made[name] += 1
            tuned[name] += row is not None and row.tuned_from is not None
        return {"elites_by_operator": dict(sorted(made.items())),
                "elites_tuned": {k: v for k, v in sorted(tuned.items()) if v}}


def program_archive(spec: Any) -> ProgramArchive:
    """The empty program archive a spec describes (same seed as the run's)."""
    problem = spec.problem
    bounds = tuple((m.range[0], m.range[1]) for m in problem.measures)
    return ProgramArchive(spec.archive, bounds, problem.objective_bounds[0],
                          derive_seeds(spec.run.seed, 4)[0])


def rebuild_program_archive(spec: Any, rows: Iterable[Program], cache: Any = None
                            ) -> ProgramArchive:
    """The archive of a program run, rebuilt by inserting its valid programs in id order.

    With `source = "embedding"` measures, the projection's fits are replayed from the rows and
    every program's embedding axes come from the last fit (the stored measures are those at
    evaluation time), so the archive matches the run's current one. `cache` (an
    `EmbeddingCache` of the run store) supplies stored vectors instead of re-embedding.
    """
    from qd.embeddings.projection import embedding_projection

    rows = sorted(rows, key=lambda r: r.id)
    projection = embedding_projection(spec.problem, cache=cache)
    if projection is not None:
        projection.replay(rows)
        if projection.fits:
            projection.prefetch({r.id: r.code for r in rows if r.status is Status.OK
                                 and r.score is not None and r.measures is not None
                                 and r.code is not None})
    archive = program_archive(spec)
    for row in rows:
        if row.status is Status.OK and row.score is not None and row.measures is not None:
            measures = row.measures
            if projection is not None and row.code is not None:
                measures = projection.fill(row.id, row.code, measures)
            archive.add(row.id, row.score, measures)
    return archive
