"""Report section for maze-navigation runs: the paths of the best elites through the maze."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from qd.export import archive_table
from qd.report.source import ReadOnlyStore, RunFiles

#: How many of the best elites get their path drawn.
TRAJECTORIES = 5
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def maze_paths(files: RunFiles, store: ReadOnlyStore, k: int = TRAJECTORIES) -> dict | None:
    """Re-simulate the k best elites of a `maze_navigation` run; None for other problems.

    Returns plain data: `walls` (list of (x1, y1, x2, y2)), `start`, `goal`, and `paths`, one
    per elite with its archive index, objective and (x, y) lists of `steps + 1` points.
    """
    config = files.config.get("problem", {})
    if config.get("name") != "maze_navigation":
        return None
    from problems.maze import MazeConfig, MazeNavigation

    table = archive_table(files.path, store)
    if len(table["objective"]) == 0:
        return None
    best = np.argsort(-table["objective"], kind="stable")[:k]
    dims = sorted(int(key.split("_")[1]) for key in table if key.startswith("solution_"))
    solutions = np.stack([table[f"solution_{j}"][best] for j in dims], axis=1)
    problem = MazeNavigation(MazeConfig.model_validate(config))
    if solutions.shape[1] != problem.solution_dim:
        return None  # the archive holds states (Go-Explore), not policies to re-simulate
    with torch.no_grad():
        points = problem.trajectories(torch.from_numpy(solutions)).numpy()
    layout = problem.layout
    return {
        "walls": [list(segment) for segment in layout.segments()],
        "start": list(layout.start[:2]),
        "goal": list(layout.goal),
        "paths": [{"index": int(table["index"][i]), "objective": float(table["objective"][i]),
                   "x": points[n, :, 0].tolist(), "y": points[n, :, 1].tolist()}
                  for n, i in enumerate(best)],
    }


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
