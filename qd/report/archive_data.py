"""The archive of a run as plain data: elites (exact, via `archive_table`) plus cell geometry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ribs.archives import ArchiveBase

from qd.errors import SpecError
from qd.export import archive_table
from qd.kinds import run_kind_of
from qd.numeric.storage import last_iteration
from qd.report.source import RunFiles, checkpoint_archive
from qd.run_dir import CONFIG_FILE
from qd.spec_loader import validate_spec
from qd.store import RunStore


@dataclass(frozen=True)
class ArchiveData:
    """The elites of a run's archive as of its last stored iteration, and the cells they sit in.

    Attributes:
        kind: The archive family (`grid`, `cvt`, `sliding_boundaries`, `proximity`, ...).
        iteration: The last stored iteration (the elites are exact as of it).
        measure_dim: Number of measures M.
        solution_dim: Length D of a solution.
        lower: Lower bound of each measure, shape (M,).
        upper: Upper bound of each measure, shape (M,).
        cells: Number of cells (None for archives without cells, e.g. `proximity`).
        dims: Cells per measure of a grid-like archive, else None.
        boundaries: Cell edges per measure of a grid-like archive (M arrays), else None.
        centroids: CVT centroids, shape (cells, M), else None.
        geometry_from: Where the geometry came from: `checkpoint <iteration>` or `spec`.
        index: Archive index of each elite, shape (E,), ascending.
        objective: Objective of each elite, shape (E,).
        measures: Measures of each elite, shape (E, M).
        solutions: Solution of each elite, shape (E, D).
        measure_names: The spec's name of each measure (`spec_measure_names`); () when the spec
            names none.
    """

    kind: str
    iteration: int
    measure_dim: int
    solution_dim: int
    lower: np.ndarray
    upper: np.ndarray
    cells: int | None
    dims: tuple[int, ...] | None
    boundaries: tuple[np.ndarray, ...] | None
    centroids: np.ndarray | None
    geometry_from: str
    index: np.ndarray
    objective: np.ndarray
    measures: np.ndarray
    solutions: np.ndarray
    measure_names: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Number of elites E."""
        return int(self.index.size)

    def measure_label(self, j: int) -> str:
        """How measure `j` is labelled: its name in the spec, else `measure j`."""
        return self.measure_names[j] if self.measure_names else f"measure {j}"

    def cell_of(self, index: int) -> tuple[int, ...] | None:
        """Grid coordinates of archive index `index` (None for archives without a grid)."""
        if self.dims is None:
            return None
        return tuple(int(c) for c in np.unravel_index(int(index), self.dims))

    def grid_coords(self) -> np.ndarray | None:
        """Grid coordinates of every elite, shape (E, M), or None without a grid."""
        if self.dims is None:
            return None
        return np.stack(np.unravel_index(self.index, self.dims), axis=1)

    def ranking(self) -> np.ndarray:
        """Positions of the elites from best to worst objective (ties: lower index first)."""
        return np.lexsort((self.index, -self.objective))


def load_archive(files: RunFiles, store: RunStore) -> ArchiveData:
    """Read a run's archive exactly (as `qd export` does) and the geometry of its cells."""
    table = archive_table(files.path, store)
    measures = _stack(table, "measure")
    solutions = _stack(table, "solution")
    spec = _valid_spec(files)
    iteration, ribs = _geometry_archive(files, store, spec)
    kind = str(files.config.get("archive", {}).get("name", "grid"))
    lower, upper = _bounds(ribs, measures)
    dims = getattr(ribs, "dims", None)
    boundaries = getattr(ribs, "boundaries", None)
    centroids = getattr(ribs, "centroids", None)
    return ArchiveData(
        kind=kind,
        iteration=last_iteration(store),
        measure_dim=measures.shape[1],
        solution_dim=solutions.shape[1],
        lower=lower,
        upper=upper,
        cells=None if dims is None and centroids is None else int(ribs.cells),
        dims=None if dims is None else tuple(int(d) for d in dims),
        boundaries=None if boundaries is None else tuple(np.asarray(b) for b in boundaries),
        centroids=None if centroids is None else np.asarray(centroids),
        geometry_from="spec" if iteration is None else f"checkpoint {iteration}",
        index=np.asarray(table["index"], dtype=np.int64),
        objective=np.asarray(table["objective"], dtype=np.float64),
        measures=measures,
        solutions=solutions,
        measure_names=spec_measure_names(None if spec is None else spec.problem,
                                         measures.shape[1]),
    )


def spec_measure_names(problem: Any, measure_dim: int) -> tuple[str, ...]:
    """The names a problem's config gives its `measure_dim` archive axes, or () for none.

    Program problems name each `[[problem.measures]]` entry (its `label`: `name`, else the
    source's default such as `evaluator[0]` or `code_length`); any other problem config may
    carry `measure_names`, one string per measure. Names that are not one per measure are
    ignored.
    """
    measures = getattr(problem, "measures", None)
    if isinstance(measures, list | tuple) and all(hasattr(m, "label") for m in measures):
        names: Any = [m.label for m in measures]
    else:
        names = getattr(problem, "measure_names", None)
    if not isinstance(names, list | tuple) or len(names) != measure_dim:
        return ()
    return tuple(str(name) for name in names)


def _valid_spec(files: RunFiles) -> Any:
    """The run's stored spec, validated; None when it no longer validates (moved files)."""
    try:
        return validate_spec(files.config, files.path, str(Path(files.path) / CONFIG_FILE))
    except SpecError:
        return None


def _stack(table: dict[str, np.ndarray], prefix: str) -> np.ndarray:
    columns = [table[k] for k in table if k.startswith(f"{prefix}_")]
    n = len(table["index"])
    if not columns:
        return np.zeros((n, 0))
    return np.stack(columns, axis=1).astype(np.float64).reshape(n, len(columns))


def _geometry_archive(files: RunFiles, store: RunStore,
                      spec: Any) -> tuple[int | None, ArchiveBase]:
    """Return the newest checkpoint's result archive, or one built from the spec (same seeds);
    `spec` is the validated spec, or None (then validating again raises the `SpecError`).
    """
    found = checkpoint_archive(files.path, store)
    if found is not None:
        return found
    if spec is None:
        spec = validate_spec(files.config, files.path, str(Path(files.path) / CONFIG_FILE))
    return None, run_kind_of(spec).empty_archive(spec)


def _bounds(ribs: ArchiveBase, measures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Measure bounds of the archive; archives without bounds use the elites' extent."""
    lower = getattr(ribs, "lower_bounds", None)
    upper = getattr(ribs, "upper_bounds", None)
    if lower is not None and upper is not None:
        return np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    if measures.size == 0:
        dim = measures.shape[1]
        return np.zeros(dim), np.ones(dim)
    lo, hi = measures.min(axis=0), measures.max(axis=0)
    pad = np.where(hi > lo, 0.05 * (hi - lo), 0.5)
    return lo - pad, hi + pad
