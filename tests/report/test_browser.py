"""Load real reports in headless Chromium and check what was drawn (skipped without Chromium)."""


from qd.report.data import load_report_data
from tests.report.conftest import assert_offline_and_clean

# Points drawn per named scatter trace (SVG `path.point` elements), read from the live page.
POINTS_BY_TRACE = """gd => {
  const out = {};
  gd.querySelectorAll('g.trace.scatter').forEach(g => {
    const name = g.__data__[0].trace.name;
    out[name] = (out[name] || 0) + g.querySelectorAll('path.point').length;
  });
  return out;
}"""
# Closed sub-paths of each drawn layout shape (CVT colour bins, then the cell outlines).
SHAPE_SUBPATHS = """gd => Array.from(gd.querySelectorAll('.shapelayer path'))
  .map(p => (p.getAttribute('d').match(/Z/g) || []).length)"""
CALC_LENGTHS = "gd => gd.calcdata.map(cd => cd.length)"
HEATMAP_FILLED = """gd => {
  const z = gd.calcdata[0][0].z;
  let n = 0;
  z.forEach(row => row.forEach(v => { if (typeof v === 'number' && isFinite(v)) n += 1; }));
  return {filled: n, rows: z.length, cols: z[0].length,
          image: !!gd.querySelector('.hm image'), plotted: gd._fullData.length};
}"""


def test_grid_report_renders_heatmap_and_curves(grid_run, open_report):
    page, messages, requests, path = open_report(grid_run)
    data = load_report_data(grid_run)
    heat = page.eval_on_selector("#archive-heatmap", HEATMAP_FILLED)
    assert heat == {"filled": data.archive.size, "rows": 20, "cols": 20, "image": True,
                    "plotted": 1}
    assert page.get_attribute("#archive", "data-elites") == str(data.archive.size)
    curves = page.eval_on_selector("#curves", POINTS_BY_TRACE)
    assert curves == {name: data.curves.rows
                      for name in ("qd_score", "coverage", "best", "evaluations")}
    assert page.eval_on_selector("#curves", CALC_LENGTHS) == [20, 20, 20, 20]
    # hovering the best elite's cell shows its index and objective
    best = data.archive.ranking()[0]
    mx, my = data.archive.measures[best]
    page.eval_on_selector("#archive-heatmap",
                          f"gd => Plotly.Fx.hover(gd, {{xval: {mx}, yval: {my}}})")
    hover = page.eval_on_selector("#archive-heatmap .hoverlayer", "el => el.textContent")
    assert f"elite {data.archive.index[best]}" in hover
    assert f"{data.archive.objective[best]:.6g}" in hover
    assert page.inner_text("#summary").count(f"{data.archive.size}") >= 1
    rows = page.locator("#top-elites tbody tr")
    assert rows.count() == min(10, data.archive.size)
    assert rows.first.inner_text().split("\t")[1] == str(data.archive.index[best])
    assert_offline_and_clean(messages, requests, path)


def test_cvt_report_draws_voronoi_cells_and_one_marker_per_elite(cvt_run, open_report):
    page, messages, requests, path = open_report(cvt_run)
    size = load_report_data(cvt_run).archive.size
    drawn = page.eval_on_selector("#archive-cvt", POINTS_BY_TRACE)
    assert drawn == {"elites": size}
    subpaths = page.eval_on_selector("#archive-cvt", SHAPE_SUBPATHS)
    *fills, outlines = subpaths
    assert outlines == 100  # one closed outline per Voronoi cell
    assert sum(fills) == size  # every occupied cell filled once, in its colour bin
    assert_offline_and_clean(messages, requests, path)


def test_three_measures_render_pairwise_panels(cube_run, open_report):
    page, messages, requests, path = open_report(cube_run)
    size = load_report_data(cube_run).archive.size
    drawn = page.eval_on_selector("#archive-pairwise", POINTS_BY_TRACE)
    assert drawn == {"elites 0×1": size, "elites 0×2": size, "elites 1×2": size}
    assert_offline_and_clean(messages, requests, path)


def test_resumed_run_lists_both_sessions(resumed_run, open_report):
    page, messages, requests, path = open_report(resumed_run)
    rows = page.locator("#sessions tbody tr")
    assert rows.count() == 2
    assert "checkpoint 10" in rows.nth(1).inner_text()
    assert page.locator("#events tbody tr").count() == 5
    assert_offline_and_clean(messages, requests, path)
