"""Rollout views: what a problem offers reports to draw of its solutions' episodes.

A problem that can show how its solutions behave declares the views it offers by name in
`rollout_views` (e.g. `("paths",)`; the names are keys of the renderer registry in
`qd.report.views`) and returns plain records from `rollouts(solutions)`: it re-simulates the
given solutions and hands back per-step data, which the report's renderer for each view
selects elites for, checks and draws. Problems never import the report; the report never
checks problem classes.

Views and the records they read:
- `paths`: `xy` (the (x, y) each episode went through, the start first) over `scene` (the
  plane: walls or a measure box, the start, an optional goal);
- `gait`: `contacts` (per counted control step, which feet touch the ground) and `feet`.

Problems whose archive may hold environment states instead of their own solutions (runs with
an emitter searching "states", e.g. Go-Explore) also implement `state_rollouts`: the records of
state sequences the report rebuilt from the run store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

#: A line segment (x1, y1, x2, y2).
Segment = tuple[float, float, float, float]


@dataclass(frozen=True)
class PathScene:
    """The plane paths are drawn on.

    Attributes:
        segments: Lines drawn under the paths (maze walls, the edges of a measure box).
        label: Legend name of the segments ("walls", "measure box").
        start: (x, y) every episode starts from.
        goal: (x, y) of a goal, or None.
        fit_paths: Whether a drawing first shows the paths' extent (the segments bound a
            measure box much larger than where short episodes go) rather than the segments'.
    """

    segments: tuple[Segment, ...]
    label: str
    start: tuple[float, float]
    goal: tuple[float, float] | None = None
    fit_paths: bool = False


def box_segments(x: tuple[float, float], y: tuple[float, float]) -> tuple[Segment, ...]:
    """The four edges of the rectangle x[0] <= x <= x[1], y[0] <= y <= y[1]."""
    (x0, x1), (y0, y1) = x, y
    return ((x0, y0, x1, y0), (x1, y0, x1, y1), (x1, y1, x0, y1), (x0, y1, x0, y0))


@dataclass(frozen=True)
class Rollouts:
    """Per-step records of B episodes, one per given solution, in the given order.

    Attributes:
        xy: Per episode, the (x, y) positions it went through, shape (T_i, 2), the start
            first; () when the problem has no positions.
        contacts: Per episode, shape (T_i, F) bool: which feet touch the ground at each
            counted control step; () when the problem has no feet.
        feet: Names of the F feet, in the contacts' column order.
        scene: The plane of the paths (None without positions).
    """

    xy: tuple[np.ndarray, ...] = ()
    contacts: tuple[np.ndarray, ...] = ()
    feet: tuple[str, ...] = ()
    scene: PathScene | None = None


@runtime_checkable
class RolloutProblem(Protocol):
    """A problem that offers rollout views to reports."""

    rollout_views: ClassVar[tuple[str, ...]]

    def rollouts(self, solutions: np.ndarray) -> Rollouts:
        """Re-simulate solutions (B, solution_dim) float64; their episodes' records."""
        ...


@runtime_checkable
class StateRolloutProblem(RolloutProblem, Protocol):
    """A rollout problem whose archive may hold its environment states (Go-Explore runs)."""

    state_dim: int

    def state_rollouts(self, paths: Sequence[np.ndarray]) -> Rollouts:
        """Records of state sequences, each (T_i, state_dim) from the start state on."""
        ...
