import json
import re
import shutil
import sqlite3

import numpy as np
import pytest

import qd
from qd.cli.main import run as cli
from qd.report.data import load_report_data
from qd.report.plots import Figure, archive_figures, curves_figure
from qd.report.render import (
    figure_json,
    fmt_duration,
    fmt_number,
    plotly_js,
    render_report,
    write_report,
)
from tests.conftest import small_spec


def test_grid_heatmap_has_one_cell_per_elite(grid_run):
    data = load_report_data(grid_run)
    (fig,) = archive_figures(data.archive)
    (trace,) = fig.data
    assert fig.key == "archive-heatmap" and trace["type"] == "heatmap"
    z = np.array(trace["z"], dtype=float)
    assert z.shape == (20, 20) and len(trace["x"]) == len(trace["y"]) == 21
    assert np.count_nonzero(~np.isnan(z)) == data.archive.size == fig.meta["elites"]
    coords = data.archive.grid_coords()
    np.testing.assert_array_equal(z[coords[:, 1], coords[:, 0]], data.archive.objective)
    best = data.archive.ranking()[0]
    i, j = coords[best]
    assert trace["customdata"][j][i] == [data.archive.index[best], *data.archive.measures[best]]


def test_cvt_figure_draws_cells_fills_and_one_marker_per_elite(cvt_run):
    data = load_report_data(cvt_run)
    (fig,) = archive_figures(data.archive)
    (markers,) = fig.data
    assert fig.key == "archive-cvt" and markers["name"] == "elites"
    *fills, outline = fig.layout["shapes"]
    assert outline["name"] == "cells" and outline["path"].count("Z") == 100
    assert sum(s["path"].count("Z") for s in fills) == data.archive.size
    assert len({s["fillcolor"] for s in fills}) == len(fills)  # one colour per bin
    assert len(markers["x"]) == data.archive.size == fig.meta["elites"]
    assert markers["marker"]["color"] == data.archive.objective.tolist()


def test_projections_for_three_measures_and_strip_for_one(cube_run, line_run):
    cube = load_report_data(cube_run).archive
    (fig,) = archive_figures(cube)
    assert fig.key == "archive-pairwise" and fig.meta["panels"] == 3 == len(fig.data)
    assert [len(t["x"]) for t in fig.data] == [cube.size] * 3
    assert {(t["xaxis"], t["yaxis"]) for t in fig.data} == {("x", "y"), ("x2", "y2"),
                                                            ("x3", "y3")}
    line = load_report_data(line_run).archive
    (fig,) = archive_figures(line)
    assert fig.key == "archive-strip" and fig.data[0]["y"] == line.objective.tolist()


@pytest.mark.parametrize("archive", [
    {"name": "sliding_boundaries", "cells": [10, 10], "remap_frequency": 50},
    {"name": "proximity", "k_neighbors": 5},
])
def test_archives_without_fixed_cells_get_one_marker_per_elite(archive, tmp_path):
    out = tmp_path / archive["name"]
    qd.evolve(small_spec(archive=archive, run={"budget": 320, "seed": 3}), out=out)
    data = load_report_data(out)
    (fig,) = archive_figures(data.archive)
    assert fig.key == "archive-scatter" and fig.meta["elites"] == data.archive.size > 0
    np.testing.assert_array_equal(fig.data[0]["x"], data.archive.measures[:, 0])
    assert (data.archive.cells is None) == (archive["name"] == "proximity")
    assert 'id="archive-scatter"' in render_report(data)


def test_curves_have_one_point_per_metrics_row(grid_run):
    data = load_report_data(grid_run)
    fig = curves_figure(data.curves)
    assert [t["name"] for t in fig.data] == ["qd_score", "coverage", "best", "evaluations"]
    assert {len(t["x"]) for t in fig.data} == {20} and fig.meta == {"points": 20, "rows": 20}
    assert fig.data[0]["y"] == data.curves.columns["qd_score"].tolist()
    assert fig.data[3]["x"] == data.curves.columns["elapsed_s"].tolist()


def test_figure_json_cannot_close_its_script_element():
    fig = Figure("f", "t", [{"name": "</script><script>alert(1)</script>"}], {})
    text = figure_json(fig)
    assert "</script" not in text
    assert json.loads(text)["data"][0]["name"] == "</script><script>alert(1)</script>"


def test_report_is_self_contained_with_every_section(grid_run, tmp_path):
    path = write_report(grid_run, tmp_path / "sub" / "r.html")
    html = path.read_text()
    assert path.stat().st_size < 20_000_000
    assert html.count(plotly_js()) == 1  # plotly.js inline, once
    html = html.replace(plotly_js(), "")  # (its source mentions URLs it never loads here)
    for section in ("summary", "archive", "progress", "top-elites", "run-spec", "sessions",
                    "events"):
        assert f'<section id="{section}"' in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing external
    assert "<link" not in html and "@import" not in html
    assert html.count('type="application/json"') == 2
    data = load_report_data(grid_run)
    assert f'data-elites="{data.archive.size}"' in html
    assert "component-state" not in html  # optional sections only when present
    assert 'class="status status-finished"' in html


def test_default_output_and_folder_output(grid_run, copy_run, tmp_path):
    run = copy_run(grid_run)
    assert write_report(run) == run / "report.html"
    assert write_report(run, tmp_path) == tmp_path / "report.html"


def test_render_escapes_run_text(grid_run, copy_run):
    run = copy_run(grid_run)
    config = (run / "config.toml").read_text()
    (run / "config.toml").write_text(config.replace('description = ""',
                                                    'description = "<b>bold</b> & co"'))
    html = render_report(load_report_data(run))
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html and "<b>bold</b>" not in html


def test_formatters():
    assert fmt_number(1234567) == "1,234,567" and fmt_number(0.1234567891) == "0.123457"
    assert fmt_number(None) == "–" and fmt_number(float("nan")) == "–"
    assert fmt_duration(0.5) == "0.5 s" and fmt_duration(192) == "3 m 12 s"
    assert fmt_duration(7500) == "2 h 05 m" and fmt_duration(None) == "–"


def test_run_killed_before_its_first_iteration(grid_run, copy_run, capsys):
    run = copy_run(grid_run)
    conn = sqlite3.connect(run / "store.sqlite")
    with conn:
        for table in ("batches", "metrics", "checkpoints"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("DELETE FROM events WHERE kind = 'end'")
    conn.close()
    (run / "archive.npz").unlink()
    shutil.rmtree(run / "checkpoints")
    (run / "solutions.f64").write_bytes(b"")
    data = load_report_data(run)
    assert data.archive.size == 0 and data.curves.rows == 0 and data.stats.best is None
    assert data.run.status == "killed" and data.sessions[0].ended is None
    html = render_report(data)
    assert "The archive is empty" in html and 'data-elites="0"' in html
    assert cli(["show", str(run), "--best"]) == 2
    assert "the archive is empty" in capsys.readouterr().err
