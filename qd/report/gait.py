"""The `gait` rollout view: foot-contact diagrams of elites, re-simulated from their solutions.

A gait diagram has one row per foot and one column per counted control step, filled where the
foot touches the ground (drawn as one bar per run of consecutive contact steps). Offered by the
locomotion tasks whose measures are the feet's contact fractions (`walker2d_uni`, ...); each
diagram's fractions (contact steps / counted steps) are those measures, recomputed from the
re-simulated episode, and are shown next to the stored ones.

Elites drawn: the best, then up to `GAITS - 1` more, each the elite whose measures are farthest
(scaled by the measure bounds) from those already chosen, so the diagrams show distinct gaits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qd.report.sections import ExtraSection
from qd.report.views import ViewContext, register_view

#: How many elites get a gait diagram.
GAITS = 4
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def diverse_elites(context: ViewContext, k: int = GAITS) -> np.ndarray:
    """Table rows of the best elite, then repeatedly the elite farthest (max-min distance in
    measures scaled by the problem's measure bounds) from those chosen; ties go to the lower
    row. Stops early when every remaining elite sits on a chosen one's measures.
    """
    count = len(context.table["objective"])
    measures = context.measures(np.arange(count))
    bounds = np.asarray(context.problem.measure_bounds, dtype=np.float64)
    width = bounds[:, 1] - bounds[:, 0]
    width = np.where(np.isfinite(width) & (width > 0), width, 1.0)
    scaled = measures / width
    chosen = [int(context.best(1)[0])]
    distance = np.linalg.norm(scaled - scaled[chosen[0]], axis=1)
    while len(chosen) < min(k, count):
        row = int(np.argmax(distance))
        if distance[row] == 0:
            break
        chosen.append(row)
        distance = np.minimum(distance, np.linalg.norm(scaled - scaled[row], axis=1))
    return np.asarray(chosen, dtype=np.int64)


def contact_runs(touching: np.ndarray) -> list[list[int]]:
    """[start, length] of each run of consecutive True steps of a (T,) bool array."""
    edges = np.diff(np.concatenate(([0], touching.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [[int(a), int(b - a)] for a, b in zip(starts, ends, strict=True)]


def gait_data(context: ViewContext, k: int = GAITS) -> dict[str, Any] | None:
    """Gait diagrams of `diverse_elites`, as plain data; None without foot contacts.

    Returns: `feet` (names) and `elites`, one per elite in selection order, with its archive
    index, objective, stored `measures`, counted `steps`, contact `fractions` per foot
    (contact steps / counted steps, the problem's own arithmetic) and `runs` per foot (the
    [start, length] of each contact run, in control steps from 0).
    """
    rows = diverse_elites(context, k)
    rollouts = context.problem.rollouts(context.solutions(rows))
    if not rollouts.contacts:
        return None
    table, measures = context.table, context.measures(rows)
    elites = []
    for n, (row, contacts) in enumerate(zip(rows, rollouts.contacts, strict=True)):
        steps = len(contacts)
        elites.append({
            "index": int(table["index"][row]), "objective": float(table["objective"][row]),
            "measures": measures[n].tolist(), "steps": steps,
            "fractions": (contacts.sum(axis=0) / steps).tolist(),
            "runs": [contact_runs(contacts[:, f]) for f in range(contacts.shape[1])],
        })
    return {"feet": list(rollouts.feet), "elites": elites}


def gait_figure(elite: dict[str, Any], feet: list[str], best: bool,
                steps: int) -> dict[str, Any]:
    """A plotly figure: per foot a row, one horizontal bar per contact run, over `steps`
    control steps (the longest episode drawn), with a dashed line where a shorter one ended.
    """
    traces = []
    for f, name in enumerate(feet):
        runs = elite["runs"][f]
        traces.append({
            "type": "bar", "orientation": "h", "name": name, "showlegend": False,
            "y": [name] * len(runs), "x": [length for _, length in runs],
            "base": [start for start, _ in runs], "width": 0.7,
            "customdata": [[start, start + length - 1, length] for start, length in runs],
            "marker": {"color": _COLOURS[f % len(_COLOURS)]},
            "hovertemplate": f"{name}<br>steps %{{customdata[0]}}–%{{customdata[1]}} "
                             "(%{customdata[2]})<extra></extra>",
        })
    ended = [{"type": "line", "xref": "x", "yref": "paper", "x0": elite["steps"],
              "x1": elite["steps"], "y0": 0, "y1": 1, "line": {"dash": "dash", "color": "#888"}}]
    layout = {"barmode": "overlay", "bargap": 0,
              "shapes": ended if elite["steps"] < steps else [],
              "xaxis": {"title": {"text": "control step"}, "range": [0, steps]},
              "yaxis": {"type": "category", "categoryorder": "array",
                        "categoryarray": feet[::-1], "range": [-0.5, len(feet) - 0.5],
                        "automargin": True}}
    title = (f"elite {elite['index']}{' (best)' if best else ''}: objective "
             f"{elite['objective']:.6g}, {elite['steps']} counted steps")
    return {"key": f"gait-{elite['index']}", "title": title, "data": traces, "layout": layout,
            "meta": {"index": elite["index"], "feet": len(feet), "steps": elite["steps"],
                     "bars": sum(len(r) for r in elite["runs"])},
            "height": 110 + 40 * len(feet)}


@register_view("gait")
def gait_section(context: ViewContext) -> ExtraSection | None:
    """Gait diagrams of the best and of distinct elites, with their contact fractions."""
    data = gait_data(context)
    if data is None:
        return None
    steps = max(e["steps"] for e in data["elites"])
    figures = [gait_figure(e, data["feet"], n == 0, steps)
               for n, e in enumerate(data["elites"])]
    return ExtraSection("gait", "Gaits of elites", {**data, "figures": figures})
