"""Pick one stored elite of a run by selector (`--best`, `--cell i,j`, `--id N`) for `qd show`."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qd.report.archive_data import ArchiveData, load_archive
from qd.report.source import ReportError, open_run_store, read_run_files


@dataclass(frozen=True)
class ShownSolution:
    """One elite with where it sits in the archive.

    Program runs will add the program's code and its evaluation metrics as further fields.

    Attributes:
        run: The run folder.
        iteration: The archive is exact as of this stored iteration.
        index: Archive index of the elite.
        cell: Grid coordinates (None for archives without a grid).
        rank: 1 for the best objective, up to `elites`.
        elites: Number of elites in the archive.
        objective: The elite's objective.
        measures: Its measures, shape (M,).
        solution: Its solution, shape (D,).
    """

    run: str
    iteration: int
    index: int
    cell: tuple[int, ...] | None
    rank: int
    elites: int
    objective: float
    measures: np.ndarray
    solution: np.ndarray

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (floats keep full precision)."""
        return {"run": self.run, "iteration": self.iteration, "index": self.index,
                "cell": None if self.cell is None else list(self.cell), "rank": self.rank,
                "elites": self.elites, "objective": self.objective,
                "measures": self.measures.tolist(), "solution": self.solution.tolist()}


@dataclass(frozen=True)
class Selector:
    """Exactly one of: the best elite, a grid cell, or an archive index."""

    best: bool = False
    cell: tuple[int, ...] | None = None
    index: int | None = None

    @classmethod
    def parse(cls, best: bool, cell: str | None, index: int | None) -> Selector:
        """Check that exactly one selector is given and parse `cell` ("i,j")."""
        given = [name for name, chosen in (("--best", best), ("--cell", cell is not None),
                                           ("--id", index is not None)) if chosen]
        if len(given) != 1:
            raise ReportError("give exactly one of --best, --cell i,j or --id N"
                              + (f" (got {' and '.join(given)})" if given else ""))
        return cls(best=best, cell=None if cell is None else parse_cell(cell), index=index)


def parse_cell(text: str) -> tuple[int, ...]:
    """`"3,14"` → (3, 14); one integer per measure, comma separated."""
    parts = [p.strip() for p in text.strip().strip("()[]").split(",")]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ReportError(f"--cell {text!r}: expected integers separated by commas, "
                          "e.g. --cell 3,14") from None


def select(archive: ArchiveData, selector: Selector, run: str = "") -> ShownSolution:
    """Return the elite that `selector` names; raise `ReportError` when there is none."""
    if archive.size == 0:
        raise ReportError(f"{run}: the archive is empty; no solution is stored yet")
    if selector.best:
        pos = int(archive.ranking()[0])
    elif selector.cell is not None:
        pos = _position(archive, _cell_index(archive, selector.cell),
                        f"cell ({', '.join(map(str, selector.cell))})")
    else:
        assert selector.index is not None
        pos = _position(archive, _checked_index(archive, selector.index),
                        f"index {selector.index}")
    ranks = np.empty(archive.size, dtype=np.int64)
    ranks[archive.ranking()] = np.arange(1, archive.size + 1)
    index = int(archive.index[pos])
    return ShownSolution(run, archive.iteration, index, archive.cell_of(index),
                         int(ranks[pos]), archive.size, float(archive.objective[pos]),
                         archive.measures[pos].copy(), archive.solutions[pos].copy())


def _cell_index(archive: ArchiveData, cell: tuple[int, ...]) -> int:
    if archive.dims is None:
        raise ReportError(f"--cell needs a grid archive; this run's archive is "
                          f"'{archive.kind}', whose cells have no (i, j) coordinates: "
                          "use --id N (the archive index, e.g. the centroid number)")
    dims = archive.dims
    shape = " × ".join(map(str, dims))
    if len(cell) != len(dims):
        raise ReportError(f"--cell {','.join(map(str, cell))}: the grid has {len(dims)} "
                          f"measure{'s' if len(dims) != 1 else ''} ({shape} cells); give "
                          f"{len(dims)} coordinate{'s' if len(dims) != 1 else ''}")
    for axis, (c, n) in enumerate(zip(cell, dims, strict=True)):
        if not 0 <= c < n:
            raise ReportError(f"--cell {','.join(map(str, cell))}: coordinate {axis} is {c}, "
                              f"but measure {axis} has cells 0–{n - 1} ({shape} grid)")
    return int(np.ravel_multi_index(cell, dims))


def _checked_index(archive: ArchiveData, index: int) -> int:
    if index < 0 or (archive.cells is not None and index >= archive.cells):
        limit = f"0–{archive.cells - 1}" if archive.cells is not None else "0 and up"
        raise ReportError(f"--id {index}: no such archive index (valid: {limit})")
    return index


def _position(archive: ArchiveData, index: int, what: str) -> int:
    pos = int(np.searchsorted(archive.index, index))
    if pos >= archive.size or int(archive.index[pos]) != index:
        raise ReportError(f"{what} is empty: no elite stored there "
                          f"({archive.size} elites in the archive; --best shows the best)")
    return pos


def load_solution(run: Path, selector: Selector) -> ShownSolution:
    """Read run folder `run` (read-only) and select one elite."""
    files = read_run_files(run)
    with closing(open_run_store(files.path)) as store, store.transaction():
        archive = load_archive(files, store)
    return select(archive, selector, str(files.path))
