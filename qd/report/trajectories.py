"""Report section for maze-navigation runs: the paths of the best elites through the maze."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from problems import problem_registry
from problems.maze import MazeNavigation
from qd.export import archive_table
from qd.report.source import RunFiles
from qd.store import RunStore

#: How many of the best elites get their path drawn.
TRAJECTORIES = 5
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def maze_paths(files: RunFiles, store: RunStore, k: int = TRAJECTORIES) -> dict | None:
    """Re-simulate the k best elites of a `maze_navigation` run; None for other problems.

    Returns plain data: `walls` (list of (x1, y1, x2, y2)), `start`, `goal`, and `paths`, one
    per elite with its archive index, objective and (x, y) lists of `steps + 1` points.
    """
    config = files.config.get("problem", {})
    problem_class = problem_registry.get(str(config.get("name")))
    if not issubclass(problem_class, MazeNavigation):  # a maze problem (or one built on it)
        return None

    table = archive_table(files.path, store)
    if len(table["objective"]) == 0:
        return None
    best = np.argsort(-table["objective"], kind="stable")[:k]
    dims = sorted(int(key.split("_")[1]) for key in table if key.startswith("solution_"))
    solutions = np.stack([table[f"solution_{j}"][best] for j in dims], axis=1)
    problem = problem_class(problem_class.Config.model_validate(config))
    if solutions.shape[1] == 2 * problem.state_dim:  # Go-Explore: states with their origins
        stored = np.concatenate([batch.solutions for batch in store.batches.read()])
        points = [np.asarray(state_path(stored, row, problem.state_dim))[:, :2]
                  for row in solutions]
    elif solutions.shape[1] == problem.solution_dim:
        with torch.no_grad():
            points = list(problem.trajectories(torch.from_numpy(solutions)).numpy())
    else:
        return None
    layout = problem.layout
    return {
        "walls": [list(segment) for segment in layout.segments()],
        "start": list(layout.start[:2]),
        "goal": list(layout.goal),
        "paths": [{"index": int(table["index"][i]), "objective": float(table["objective"][i]),
                   "x": points[n][:, 0].tolist(), "y": points[n][:, 1].tolist()}
                  for n, i in enumerate(best)],
    }


def state_path(stored: np.ndarray, solution: np.ndarray, state_dim: int) -> list[np.ndarray]:
    """The states a Go-Explore run went through to reach `solution`, from the start state.

    Each stored row is a state followed by its origin (the archived state its exploration
    segment restored); a segment's rows are consecutive and one step apart, so the path is
    rebuilt backwards: this segment's rows back to its origin, then the row where the origin
    was itself first visited, its segment, and so on until the origin is the start state.
    `t` (the last state coordinate) counts the steps since the start.
    """
    s = state_dim
    states = stored[:, :s]
    row = _first_row(states, solution[:s])
    path: list[np.ndarray] = []
    while True:
        state, origin = stored[row, :s], stored[row, s:]
        steps = int(round(state[-1] - origin[-1]))  # rows of this segment up to `row`
        path[:0] = list(states[row - steps + 1: row + 1])
        if origin[-1] == 0:  # the start state (t = 0) was never a stored row
            return [origin, *path]
        row = _first_row(states[:row], origin)


def _first_row(states: np.ndarray, state: np.ndarray) -> int:
    """Index of the first stored row equal to `state` (states are float64-exact copies)."""
    hits = np.flatnonzero((states == state).all(axis=1))
    if hits.size == 0:
        raise ValueError("state not found among the stored evaluations")
    return int(hits[0])


def trajectory_figure(data: dict[str, Any]) -> dict[str, Any]:
    """A plotly figure: the maze walls, the start, the goal and one line per elite's path."""
    wall_x: list[float | None] = []
    wall_y: list[float | None] = []
    for x1, y1, x2, y2 in data["walls"]:
        wall_x += [x1, x2, None]
        wall_y += [y1, y2, None]
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "name": "walls", "x": wall_x, "y": wall_y,
         "line": {"color": "#333", "width": 3}, "hoverinfo": "skip"},
    ]
    for n, path in enumerate(data["paths"]):
        traces.append({"type": "scatter", "mode": "lines", "x": path["x"], "y": path["y"],
                       "name": f"elite {path['index']} ({path['objective']:.4g})",
                       "line": {"color": _COLOURS[n % len(_COLOURS)], "width": 2}})
    for label, (x, y), symbol in (("start", data["start"], "circle"),
                                  ("goal", data["goal"], "star")):
        traces.append({"type": "scatter", "mode": "markers", "name": label, "x": [x], "y": [y],
                       "marker": {"size": 14, "symbol": symbol, "color": "#000"}})
    layout = {"xaxis": {"title": {"text": "x"}, "constrain": "domain"},
              "yaxis": {"title": {"text": "y"}, "scaleanchor": "x", "scaleratio": 1},
              "legend": {"orientation": "h", "y": -0.15}}
    return {"key": "trajectory-paths", "title": "Paths of the best elites", "data": traces,
            "layout": layout, "meta": {"paths": len(data["paths"]),
                                       "points": len(data["paths"][0]["x"])},
            "height": 640, "max_width": 700}
