"""Render a `ReportData` into one self-contained HTML file (jinja2 templates, plotly.js inline)."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import jinja2

from qd.atomic import write_text_atomic
from qd.errors import QDError
from qd.report.data import ReportData, load_report_data
from qd.report.plots import Figure, archive_figures, curves_figure
from qd.report.source import ReportError

TEMPLATES = Path(__file__).resolve().parent / "templates"
REPORT_FILE = "report.html"
#: Rows of the top-elites table.
TOP_ELITES = 10


def plotly_js() -> str:
    """Return the plotly.js bundle shipped with the `plotly` package (embedded, so no network)."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise QDError("qd report needs plotly: pip install 'plotly>=6'") from None
    return get_plotlyjs()


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt_number, pct=fmt_percent, when=fmt_time, dur=fmt_duration,
                       compact=fmt_compact)
    return env


def fmt_number(value: Any, digits: int = 6) -> str:
    """Format integers with thousands separators, floats with `digits` significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def fmt_percent(value: float | None) -> str:
    """Format a fraction as a percentage with two decimals."""
    return "–" if value is None else f"{value:.2%}"


def fmt_time(epoch: float | None) -> str:
    """Format epoch seconds as a UTC timestamp."""
    if epoch is None:
        return "–"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_duration(seconds: float | None) -> str:
    """Format seconds as `0.62 s`, `3 m 12 s` or `2 h 05 m`."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def fmt_compact(value: Any) -> str:
    """Format a value as compact JSON (lists, dicts) or text."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "), default=str)


def figure_json(figure: Figure) -> str:
    """Serialise a figure's traces and layout as JSON safe inside a `<script>` element."""
    text = json.dumps({"data": figure.data, "layout": figure.layout}, separators=(",", ":"),
                      allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def top_elites(data: ReportData, k: int = TOP_ELITES) -> list[dict[str, Any]]:
    """List the `k` best elites: rank, index, cell, objective, measures, and for program runs
    the `program` each elite is (its id, the solution).
    """
    archive = data.archive
    rows = []
    for rank, pos in enumerate(archive.ranking()[:k], start=1):
        index = int(archive.index[pos])
        row = {"rank": rank, "index": index, "cell": archive.cell_of(index),
               "objective": float(archive.objective[pos]),
               "measures": [float(m) for m in archive.measures[pos]]}
        if data.run.programs:
            row["program"] = int(round(float(archive.solutions[pos, 0])))
        rows.append(row)
    return rows


def _figure_item(figure: Figure) -> dict[str, Any]:
    return {"key": figure.key, "title": figure.title, "meta": figure.meta,
            "height": figure.height, "max_width": figure.max_width,
            "json": figure_json(figure)}


def render_report(data: ReportData) -> str:
    """Render the report page for `data` as one HTML string."""
    figures = [*archive_figures(data.archive, program_ids=data.run.programs),
               curves_figure(data.curves)]
    section_figures = {s.key: [_figure_item(Figure(**f)) for f in s.payload.get("figures", ())]
                       for s in data.sections}
    extra_css = list(dict.fromkeys(s.payload["css"] for s in data.sections
                                   if s.payload.get("css")))
    template = _environment().get_template("report.html.j2")
    from qd import __version__

    return template.render(
        data=data, run=data.run, stats=data.stats, archive=data.archive,
        figures=[_figure_item(f) for f in figures], section_figures=section_figures,
        extra_css=extra_css, top=top_elites(data), plotly_js=plotly_js(),
        qd_version=__version__,
    )


def write_report(run: Path, out: Path | None = None) -> Path:
    """Build the report of run folder `run` and write it to `out` (default `RUN/report.html`)."""
    data = load_report_data(Path(run))
    target = Path(out) if out is not None else Path(data.run.path) / REPORT_FILE
    if target.is_dir():
        target = target / REPORT_FILE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, render_report(data))
    except OSError as exc:
        raise ReportError(f"{target}: cannot write report: {exc.strerror or exc}") from None
    return target
