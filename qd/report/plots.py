"""Plotly figure specs (plain dicts) for a report: archive heatmaps and metric curves.

Every figure carries `meta`, emitted as `data-*` attributes on its element, saying what was
drawn (e.g. `elites`, `points`), so that the rendered page can be checked against the data.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from qd.report.archive_data import ArchiveData
from qd.report.data import Curves
from qd.report.geometry import svg_path, viridis, voronoi_cells

#: Objective colour bins used to fill CVT cells (markers carry the exact colour).
CVT_FILL_BINS = 24
#: Pairwise projections use at most this many measures (first ones).
MAX_PAIRWISE_MEASURES = 5


@dataclass(frozen=True)
class Figure:
    """One plotly figure: element id, title, traces, layout, and what it drew."""

    key: str
    title: str
    data: list[dict[str, Any]]
    layout: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    height: int = 520
    max_width: int | None = None


def archive_figures(archive: ArchiveData, program_ids: bool = False) -> list[Figure]:
    """Draw the archive: grid heatmap, CVT Voronoi cells, strip or pairwise projections.

    With `program_ids` (program runs, whose solution is the program id) hover also names the
    program each elite is.
    """
    figures = _archive_figures(archive)
    if program_ids:
        for figure in figures:
            _add_program_ids(figure, archive)
    return figures


def _add_program_ids(figure: Figure, archive: ArchiveData) -> None:
    """Append each elite's program id (solution 0) to its hover data and text."""
    ids = {int(i): int(round(float(s))) for i, s in zip(archive.index, archive.solutions[:, 0],
                                                          strict=True)}
    slot = archive.measure_dim + 1
    for trace in figure.data:
        custom = trace.get("customdata")
        if custom is None:
            continue
        cells = [c for row in custom for c in row] if trace["type"] == "heatmap" else custom
        for cell in cells:
            if cell is not None:
                cell.append(ids[int(cell[0])])
        trace["hovertemplate"] = trace["hovertemplate"].replace(
            "<extra></extra>", f"<br>program %{{customdata[{slot}]}}<extra></extra>")


def _archive_figures(archive: ArchiveData) -> list[Figure]:
    if archive.size == 0:
        return []
    if archive.measure_dim == 1:
        return [_strip(archive)]
    if archive.measure_dim > 2:
        return [_pairwise(archive)]
    if archive.kind == "grid" and archive.dims is not None and archive.boundaries is not None:
        return [_grid_heatmap(archive)]
    if archive.centroids is not None:
        return [_cvt(archive)]
    return [_scatter(archive)]


def _nullable(values: np.ndarray) -> list[float | None]:
    out = np.asarray(values, dtype=np.float64).astype(object)
    out[~np.isfinite(np.asarray(values, dtype=np.float64))] = None
    return out.tolist()


def _colour_range(objective: np.ndarray) -> tuple[float, float]:
    lo, hi = float(objective.min()), float(objective.max())
    return (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)


def _text(value: str) -> str:
    """Text shown by plotly, which reads a few HTML tags and entities: escaped."""
    return html.escape(value, quote=False)


def _hover(archive: ArchiveData) -> str:
    """Hover text of an elite: index, objective and each measure, by name when named."""
    values = [f"%{{customdata[{j + 1}]:.4g}}" for j in range(archive.measure_dim)]
    if archive.measure_names:
        measures = "".join(f"<br>{_text(name)} {value}"
                           for name, value in zip(archive.measure_names, values, strict=True))
    else:
        measures = f"<br>measures ({', '.join(values)})"
    return f"elite %{{customdata[0]}}<br>objective %{{marker.color:.6g}}{measures}<extra></extra>"


def _custom(archive: ArchiveData) -> list[list[float]]:
    return np.column_stack([archive.index, archive.measures]).tolist()


def _markers(archive: ArchiveData, x: np.ndarray, y: np.ndarray, colorbar: bool = True,
             size: int = 6) -> dict[str, Any]:
    cmin, cmax = _colour_range(archive.objective)
    marker: dict[str, Any] = {
        "color": archive.objective.tolist(), "colorscale": "Viridis", "cmin": cmin,
        "cmax": cmax, "size": size, "line": {"width": 0.4, "color": "rgba(255,255,255,0.7)"},
        "showscale": colorbar,
    }
    if colorbar:
        marker["colorbar"] = {"title": {"text": "objective"}}
    return {"type": "scatter", "mode": "markers", "name": "elites", "x": x.tolist(),
            "y": y.tolist(), "customdata": _custom(archive), "marker": marker,
            "hovertemplate": _hover(archive), "showlegend": False}


def _axes(archive: ArchiveData, x: int, y: int) -> dict[str, Any]:
    return {
        "xaxis": {"title": {"text": _text(archive.measure_label(x))}, "zeroline": False,
                  "range": [float(archive.lower[x]), float(archive.upper[x])]},
        "yaxis": {"title": {"text": _text(archive.measure_label(y))}, "zeroline": False,
                  "range": [float(archive.lower[y]), float(archive.upper[y])]},
    }


def _grid_heatmap(archive: ArchiveData) -> Figure:
    nx, ny = archive.dims  # type: ignore[misc]
    coords = archive.grid_coords()
    assert coords is not None and archive.boundaries is not None
    z = np.full((ny, nx), None, dtype=object)
    z[coords[:, 1], coords[:, 0]] = archive.objective.tolist()
    custom = np.full((ny, nx), None, dtype=object)
    for (i, j), row in zip(coords.tolist(), _custom(archive), strict=True):
        custom[j, i] = row
    trace = {
        "type": "heatmap", "name": "elites", "x": archive.boundaries[0].tolist(),
        "y": archive.boundaries[1].tolist(), "z": z.tolist(), "customdata": custom.tolist(),
        "hoverongaps": False, "colorscale": "Viridis", "colorbar": {"title": {"text": "objective"}},
        "hovertemplate": _hover(archive).replace("%{marker.color:.6g}", "%{z:.6g}"),
    }
    layout = {**_axes(archive, 0, 1), "plot_bgcolor": "#f4f4f4"}
    if _square(archive):
        layout["yaxis"].update(scaleanchor="x", constrain="domain")
        layout["xaxis"]["constrain"] = "domain"
    return Figure("archive-heatmap", f"Archive: {nx} × {ny} grid", [trace], layout,
                  {"kind": "heatmap", "elites": archive.size, "cells": nx * ny},
                  height=560, max_width=720 if _square(archive) else None)


def _square(archive: ArchiveData) -> bool:
    span = archive.upper[:2] - archive.lower[:2]
    return bool(np.isclose(span[0], span[1]))


def _cvt(archive: ArchiveData) -> Figure:
    """Voronoi cells as layout shapes (one SVG path per colour bin), markers for hover."""
    assert archive.centroids is not None
    cells = voronoi_cells(archive.centroids, archive.lower, archive.upper)
    cmin, cmax = _colour_range(archive.objective)
    bins = np.clip(((archive.objective - cmin) / (cmax - cmin) * CVT_FILL_BINS).astype(int),
                   0, CVT_FILL_BINS - 1)
    shapes = [{
        "type": "path", "xref": "x", "yref": "y", "layer": "between", "name": f"fill {b}",
        "path": svg_path([cells[i] for i in archive.index[bins == b]]),
        "fillcolor": viridis((b + 0.5) / CVT_FILL_BINS), "line": {"width": 0},
    } for b in np.unique(bins).tolist()]
    shapes.append({"type": "path", "xref": "x", "yref": "y", "layer": "between", "name": "cells",
                   "path": svg_path(cells), "line": {"width": 0.5, "color": "#9a9a9a"}})
    markers = _markers(archive, archive.measures[:, 0], archive.measures[:, 1],
                       size=5 if archive.size <= 2000 else 3)
    layout = {**_axes(archive, 0, 1), "plot_bgcolor": "#ffffff", "shapes": shapes}
    if _square(archive):
        layout["yaxis"].update(scaleanchor="x", constrain="domain")
        layout["xaxis"]["constrain"] = "domain"
    return Figure("archive-cvt", f"Archive: CVT, {len(cells)} Voronoi cells", [markers], layout,
                  {"kind": "cvt", "elites": archive.size, "cells": len(cells)},
                  height=560, max_width=720 if _square(archive) else None)


def _scatter(archive: ArchiveData) -> Figure:
    trace = _markers(archive, archive.measures[:, 0], archive.measures[:, 1])
    return Figure("archive-scatter", f"Archive: {archive.kind}, one marker per elite", [trace],
                  _axes(archive, 0, 1), {"kind": "scatter", "elites": archive.size})


def _strip(archive: ArchiveData) -> Figure:
    trace = _markers(archive, archive.measures[:, 0], archive.objective)
    layout = {"xaxis": {"title": {"text": _text(archive.measure_label(0))}, "zeroline": False,
                        "range": [archive.lower[0], archive.upper[0]]},
              "yaxis": {"title": {"text": "objective"}}}
    return Figure("archive-strip", "Archive: objective along the measure", [trace], layout,
                  {"kind": "strip", "elites": archive.size})


def _pairwise(archive: ArchiveData) -> Figure:
    shown = min(archive.measure_dim, MAX_PAIRWISE_MEASURES)
    pairs = list(combinations(range(shown), 2))
    cols = min(len(pairs), 3)
    rows = -(-len(pairs) // cols)
    gap = 0.08
    width, height = (1 - gap * (cols - 1)) / cols, (1 - gap * (rows - 1)) / rows
    traces, layout = [], {"plot_bgcolor": "#f4f4f4"}
    for k, (a, b) in enumerate(pairs):
        r, c = divmod(k, cols)
        suffix = "" if k == 0 else str(k + 1)
        x0, y1 = c * (width + gap), 1 - r * (height + gap)
        layout[f"xaxis{suffix}"] = {"domain": [x0, x0 + width], "anchor": f"y{suffix}",
                                    "title": {"text": _text(archive.measure_label(a))},
                                    "zeroline": False,
                                    "range": [archive.lower[a], archive.upper[a]]}
        layout[f"yaxis{suffix}"] = {"domain": [y1 - height, y1], "anchor": f"x{suffix}",
                                    "title": {"text": _text(archive.measure_label(b))},
                                    "zeroline": False,
                                    "range": [archive.lower[b], archive.upper[b]]}
        trace = _markers(archive, archive.measures[:, a], archive.measures[:, b],
                         colorbar=k == 0, size=4)
        trace.update(xaxis=f"x{suffix}", yaxis=f"y{suffix}", name=f"elites {a}×{b}")
        traces.append(trace)
    title = f"Archive: pairwise projections of {shown} of {archive.measure_dim} measures"
    return Figure("archive-pairwise", title, traces, layout,
                  {"kind": "pairwise", "elites": archive.size, "panels": len(pairs)},
                  height=max(360, 300 * rows))


#: (column, axis title, x column) of each curve panel, in reading order.
CURVE_PANELS = (("qd_score", "QD score", "evaluations"),
                ("coverage", "coverage", "evaluations"),
                ("best", "best objective", "evaluations"),
                ("evaluations", "evaluations", "elapsed_s"))


def curves_figure(curves: Curves) -> Figure:
    """QD score, coverage and best objective over evaluations, and evaluations over time."""
    traces, layout = [], {"showlegend": False}
    for k, (column, label, x) in enumerate(CURVE_PANELS):
        r, c = divmod(k, 2)
        suffix = "" if k == 0 else str(k + 1)
        layout[f"xaxis{suffix}"] = {"domain": [c * 0.55, c * 0.55 + 0.45],
                                    "anchor": f"y{suffix}",
                                    "title": {"text": "seconds" if x == "elapsed_s" else x}}
        layout[f"yaxis{suffix}"] = {"domain": [0.58 - r * 0.58, 1 - r * 0.58],
                                    "anchor": f"x{suffix}", "title": {"text": label}}
        if column == "coverage":
            layout[f"yaxis{suffix}"]["tickformat"] = ".0%"
        traces.append({
            "type": "scatter", "mode": "lines+markers" if curves.points <= 200 else "lines",
            "name": column, "x": _nullable(curves.columns[x]),
            "y": _nullable(curves.columns[column]), "xaxis": f"x{suffix}",
            "yaxis": f"y{suffix}", "marker": {"size": 4}, "line": {"width": 1.6},
            "hovertemplate": f"{x} %{{x:.6g}}<br>{label} %{{y:.6g}}<extra></extra>",
        })
    title = "QD score, coverage and best objective over evaluations; evaluations over time"
    return Figure("curves", title, traces, layout,
                  {"points": curves.points, "rows": curves.rows}, height=560)
