"""The `paths` rollout view: where the best elites went, re-simulated from their solutions.

Offered by problems whose episodes move through a plane (`maze_navigation`: the robot through
the maze; `ant_omni`: the ant's torso inside its measure box). For runs whose archive holds
states (Go-Explore), the path to each state is rebuilt from the run store instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from problems.rollouts import Rollouts, StateRolloutProblem
from qd.report.sections import ExtraSection
from qd.report.source import RunFiles
from qd.report.views import ViewContext, register_view, view_context
from qd.store import RunStore

#: How many of the best elites get their path drawn.
TRAJECTORIES = 5
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def path_data(context: ViewContext, k: int = TRAJECTORIES) -> dict | None:
    """The paths of the k best elites, as plain data; None when there are none to draw.

    Returns: `walls` (the scene's segments as [x1, y1, x2, y2] lists), `label` (their legend
    name), `start`, `goal` (None without one), `fit` (the view first shows the paths' extent,
    not the scene's), and `paths`, one per elite, best first, with
    its archive index, objective, stored measures and the (x, y) lists of its points (the
    start first).
    """
    best = context.best(k)
    rollouts = _rollouts(context, context.solutions(best))
    if rollouts is None or rollouts.scene is None or not rollouts.xy:
        return None
    scene, table = rollouts.scene, context.table
    measures = context.measures(best)
    return {
        "walls": [list(segment) for segment in scene.segments],
        "label": scene.label,
        "start": list(scene.start),
        "goal": None if scene.goal is None else list(scene.goal),
        "fit": scene.fit_paths,
        "paths": [{"index": int(table["index"][i]), "objective": float(table["objective"][i]),
                   "measures": measures[n].tolist(), "x": xy[:, 0].tolist(),
                   "y": xy[:, 1].tolist()}
                  for n, (i, xy) in enumerate(zip(best, rollouts.xy, strict=True))],
    }


def _rollouts(context: ViewContext, solutions: np.ndarray) -> Rollouts | None:
    """Records of the elites' episodes: re-simulated, or rebuilt from the store for states."""
    problem = context.problem
    if context.space == "problem":
        return problem.rollouts(solutions)
    if context.space != "states" or not isinstance(problem, StateRolloutProblem):
        return None
    stored = np.concatenate([batch.solutions for batch in context.store.batches.read()])
    return problem.state_rollouts([np.asarray(state_path(stored, row, problem.state_dim))
                                   for row in solutions])


def maze_paths(files: RunFiles, store: RunStore, k: int = TRAJECTORIES) -> dict | None:
    """`path_data` of a run folder's k best elites; None when its problem offers no paths."""
    context = view_context(files, store)
    if context is None or "paths" not in context.views:
        return None
    return path_data(context, k)


@register_view("paths")
def paths_section(context: ViewContext) -> ExtraSection | None:
    """The best elites' paths: a table (objective, steps, final point) and the figure."""
    data = path_data(context)
    if data is None:
        return None
    rows = [{"index": p["index"], "objective": p["objective"], "points": len(p["x"]),
             "end": (p["x"][-1], p["y"][-1]), "measures": p["measures"]}
            for p in data["paths"]]
    return ExtraSection("trajectories", "Trajectories of the best elites",
                        {"paths": rows, "figures": [trajectory_figure(data)]})


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
    """A plotly figure: the scene's segments (walls, a measure box), one line per elite's path
    with its end marked, the start and (if any) the goal.
    """
    wall_x: list[float | None] = []
    wall_y: list[float | None] = []
    for x1, y1, x2, y2 in data["walls"]:
        wall_x += [x1, x2, None]
        wall_y += [y1, y2, None]
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "name": data["label"], "x": wall_x, "y": wall_y,
         "line": {"color": "#333", "width": 3}, "hoverinfo": "skip"},
    ]
    for n, path in enumerate(data["paths"]):
        colour = _COLOURS[n % len(_COLOURS)]
        ends = [0] * (len(path["x"]) - 1) + [10]  # a marker on the last point only
        traces.append({"type": "scatter", "mode": "lines+markers", "x": path["x"],
                       "y": path["y"], "name": f"elite {path['index']} ({path['objective']:.4g})",
                       "line": {"color": colour, "width": 2},
                       "marker": {"color": colour, "size": ends, "symbol": "diamond"}})
    marks = [("start", data["start"], "circle"), ("goal", data["goal"], "star")]
    for label, point, symbol in marks:
        if point is not None:
            traces.append({"type": "scatter", "mode": "markers", "name": label, "x": [point[0]],
                           "y": [point[1]], "marker": {"size": 14, "symbol": symbol,
                                                       "color": "#000"}})
    layout: dict[str, Any] = {
        "xaxis": {"title": {"text": "x"}, "constrain": "domain"},
        "yaxis": {"title": {"text": "y"}, "scaleanchor": "x", "scaleratio": 1},
        "legend": {"orientation": "h", "y": -0.15}}
    if data["fit"]:
        layout["xaxis"]["range"], layout["yaxis"]["range"] = paths_extent(data)
    return {"key": "trajectory-paths", "title": "Paths of the best elites", "data": traces,
            "layout": layout, "meta": {"paths": len(data["paths"]),
                                       "points": len(data["paths"][0]["x"])},
            "height": 640, "max_width": 700}


def paths_extent(data: dict[str, Any], margin: float = 0.1,
                 least: float = 1.0) -> tuple[list[float], list[float]]:
    """Axis ranges around every path point and the start: a square of side the larger span
    (at least `least`) plus `margin` of it on each side, centred on the points' box.
    """
    xs = [data["start"][0], *(x for p in data["paths"] for x in p["x"])]
    ys = [data["start"][1], *(y for p in data["paths"] for y in p["y"])]
    side = max(max(xs) - min(xs), max(ys) - min(ys), least) * (1 + 2 * margin)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return [cx - side / 2, cx + side / 2], [cy - side / 2, cy + side / 2]
