"""`ElitePool`: the plain-array view of an archive that parent selectors choose from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _array(values: object, dtype: type, name: str, n: int | None) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype).reshape(-1)
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"ElitePool.{name} has {arr.shape[0]} entries, ids have {n}")
    return arr


@dataclass(frozen=True)
class ElitePool:
    """Candidate parents as parallel numpy arrays; it depends on no archive class.

    Attributes:
        ids: Unique integer id of each elite (stable across calls, e.g. an archive index or a
            program id).
        objectives: Objective (higher is better) of each elite.
        novelty: Novelty score of each elite, or None when not computed.
        children: How many children each elite already has (zeros when not tracked).
        islands: Island of each elite as the caller knows it, or None.
    """

    ids: np.ndarray
    objectives: np.ndarray
    novelty: np.ndarray | None = None
    children: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    islands: np.ndarray | None = None

    def __post_init__(self) -> None:
        ids = _array(self.ids, np.int64, "ids", None)
        n = ids.shape[0]
        if np.unique(ids).shape[0] != n:
            raise ValueError("ElitePool.ids must be unique")
        objectives = _array(self.objectives, np.float64, "objectives", n)
        if not np.all(np.isfinite(objectives)):
            raise ValueError("ElitePool.objectives must be finite")
        children = self.children
        children = np.zeros(n, dtype=np.int64) if len(children) == 0 and n else children
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "objectives", objectives)
        object.__setattr__(self, "children", _array(children, np.int64, "children", n))
        if self.novelty is not None:
            object.__setattr__(self, "novelty", _array(self.novelty, np.float64, "novelty", n))
        if self.islands is not None:
            object.__setattr__(self, "islands", _array(self.islands, np.int64, "islands", n))

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def subset(self, positions: np.ndarray) -> ElitePool:
        """Return the pool restricted to `positions` (indices into this pool)."""
        pos = np.asarray(positions, dtype=np.int64)
        return ElitePool(
            ids=self.ids[pos],
            objectives=self.objectives[pos],
            novelty=None if self.novelty is None else self.novelty[pos],
            children=self.children[pos],
            islands=None if self.islands is None else self.islands[pos],
        )
