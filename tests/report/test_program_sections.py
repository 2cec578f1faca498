"""Program-run sections of the report, checked exactly against a real run's `programs` table."""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import re
import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

import qd
from qd.export import archive_table
from qd.report.data import load_report_data
from qd.report.plots import archive_figures
from qd.report.render import render_report, top_elites
from qd.report.sections import TOP_PROGRAMS, arm_name, lineage, top_programs
from qd.report.source import open_run_store
from tests.fixtures.scripted_llm import Reply, ScriptedLLMServer
from tests.program.conftest import TOY, improving_diff, prompt_text, toy_overrides
from tests.report.conftest import assert_offline_and_clean

PROGRAM_SECTIONS = ("elite-operators", "top-programs", "lineage", "arms", "llm-cost",
                    "failures")
#: A long task of several paragraphs, with a word far wider than any table cell.
LONG_TASK = ("Make solve() return three numbers in [0, 10] with the largest possible sum. " * 6
             + "\n\nConstraints:\n- every number is a float\n- "
             + "an_identifier_without_any_spaces_" * 12 + "\n- keep it short\n")
#: The first archive axis is named in the spec; the second keeps its default label.
MEASURE_NAMES = ("first number", "evaluator[1]")


@pytest.fixture(scope="module")
def program_run(tmp_path_factory) -> Path:
    """The toy problem with diff and rewrite operators: improving diffs, and two answers with no
    code (rejected: a rewrite that does not parse, a diff without SEARCH/REPLACE blocks); a long
    multi-line task and a named first measure."""
    out = tmp_path_factory.mktemp("program_report") / "program"
    calls = {"n": 0}

    def respond(request):
        calls["n"] += 1
        if calls["n"] in (2, 3):
            return Reply(text="I cannot help with that.")
        return Reply(text=improving_diff(prompt_text(request)),
                     prompt_tokens=100 + calls["n"], completion_tokens=20)

    with ScriptedLLMServer() as server:  # the `scripted_llm_server` fixture, for a whole module
        server.respond_with(respond)
        overrides = toy_overrides(server, **{"run.budget": "6", "llm.retries": "0",
                                             "llm.operators": '["diff", "rewrite"]',
                                             "problem.task": json.dumps(LONG_TASK),
                                             "problem.measures.0.name": '"first number"'})
        # In a worker thread: the engine calls asyncio.run, which fails in a thread whose event
        # loop is running, as the main thread's is once playwright's sync API has started.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(qd.evolve, TOY, out=out, overrides=overrides).result()
    return out


def stored_programs(run: Path) -> list[dict]:
    conn = sqlite3.connect(run / "store.sqlite")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM programs ORDER BY id")]
    finally:
        conn.close()


def sections(run: Path) -> dict:
    return {s.key: s for s in load_report_data(run).sections}


def test_top_programs_match_the_store(program_run):
    rows = stored_programs(program_run)
    found = sections(program_run)
    assert tuple(k for k in found if k != "component-state") == PROGRAM_SECTIONS
    ok = sorted((r for r in rows if r["status"] == "ok"), key=lambda r: (-r["score"], r["id"]))
    top = found["top-programs"].payload["programs"]
    assert [(p["id"], p["score"]) for p in top] == [(r["id"], r["score"])
                                                   for r in ok[:TOP_PROGRAMS]]
    by_id = {r["id"]: r for r in rows}
    for p in top:
        row = by_id[p["id"]]
        assert (p["operator"], p["model"], p["feedback"], p["code"]) == \
            (row["operator"], row["model"], row["feedback"], row["code"])
        assert p["metrics"] == json.loads(row["metrics"])
        assert p["code_html"].startswith('<div class="hl">') and "return" in p["code_html"]
    assert found["top-programs"].payload["total"] == len(rows)


def test_lineage_follows_first_parents_to_the_initial_program(program_run):
    rows = {r["id"]: r for r in stored_programs(program_run)}
    payload = sections(program_run)["lineage"].payload
    steps = payload["steps"]
    best = max((r for r in rows.values() if r["status"] == "ok"),
               key=lambda r: (r["score"], -r["id"]))
    assert payload["best"] == best["id"] == steps[-1]["id"]
    assert steps[0]["id"] == 1 and steps[0]["parent"] is None and steps[0]["diff"] == ""
    assert len(steps) >= 2
    for parent, child in zip(steps, steps[1:], strict=False):
        assert json.loads(rows[child["id"]]["parents"])[0] == parent["id"] == child["parent"]
        assert (child["operator"], child["model"], child["score"]) == \
            (rows[child["id"]]["operator"], rows[child["id"]]["model"], rows[child["id"]]["score"])
        expected = "".join(difflib.unified_diff(
            rows[parent["id"]]["code"].splitlines(keepends=True),
            rows[child["id"]]["code"].splitlines(keepends=True),
            fromfile=f"program {parent['id']}", tofile=f"program {child['id']}"))
        assert child["diff"] == expected and expected.count("\n+    return [") == 1
        assert 'class="gd"' in child["diff_html"] and 'class="gi"' in child["diff_html"]


def test_arms_count_every_proposal(program_run):
    rows = stored_programs(program_run)
    payload = sections(program_run)["arms"].payload
    with_arm = [r for r in rows if r["model"] or r["operator"]]
    assert payload["proposals"] == len(with_arm)
    assert sum(a["pulls"] for a in payload["arms"]) == len(with_arm)
    pulls = Counter(arm_name(r["model"], r["operator"]) for r in with_arm)
    assert {a["name"]: a["pulls"] for a in payload["arms"]} == pulls
    assert {a["operator"] for a in payload["arms"]} == {"initial", "diff", "rewrite"}
    for arm in payload["arms"]:
        mine = [r for r in with_arm if (r["model"], r["operator"]) == (arm["model"],
                                                                     arm["operator"])]
        rewards = [r["reward"] for r in mine if r["reward"] is not None]
        assert arm["mean_reward"] == (pytest.approx(sum(rewards) / len(rewards))
                                      if rewards else None)
        assert arm["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in mine))
        assert arm["valid_fraction"] == sum(r["status"] == "ok" for r in mine) / len(mine)
    (figure,) = payload["figures"]
    assert {t["name"]: t["y"][-1] for t in figure["data"]} == pulls
    assert all(t["x"][-1] == len(with_arm) for t in figure["data"])


def test_cost_and_failures_match_the_store(program_run):
    rows = stored_programs(program_run)
    found = sections(program_run)
    models = found["llm-cost"].payload["models"]
    called = [r for r in rows if r["model"]]
    assert [m["model"] for m in models] == ["openai/scripted"]
    assert models[0]["calls"] == len(called)
    assert models[0]["prompt_tokens"] == sum(r["prompt_tokens"] for r in called)
    assert models[0]["completion_tokens"] == sum(r["completion_tokens"] for r in called)
    (figure,) = found["llm-cost"].payload["figures"]
    tokens = next(t for t in figure["data"] if t["yaxis"] == "y2")
    assert tokens["y"][-1] == sum(r["prompt_tokens"] + r["completion_tokens"] for r in called)
    failures = found["failures"].payload
    assert failures["statuses"] == Counter(r["status"] for r in rows)
    assert failures["total"] == len(rows)
    reasons = Counter(r["reason"] for r in rows if r["status"] != "ok" and r["reason"])
    assert {r["reason"]: r["count"] for r in failures["reasons"]} == dict(reasons.most_common(10))
    assert failures["statuses"]["rejected"] >= 2 and len(reasons) >= 2


def test_elite_operators_are_the_summarys(program_run):
    payload = sections(program_run)["elite-operators"].payload
    summary = json.loads((program_run / "summary.json").read_text())
    assert {r["operator"]: r["elites"] for r in payload["rows"]} == \
        summary["elites_by_operator"]
    assert payload["total"] == summary["num_elites"] > 0
    assert all(r["tuned"] == summary["elites_tuned"].get(r["operator"], 0)
               for r in payload["rows"])


def test_program_sections_render_only_for_program_runs(program_run, grid_run):
    assert not {s.key for s in load_report_data(grid_run).sections} & set(PROGRAM_SECTIONS)
    html = render_report(load_report_data(program_run))
    for key in PROGRAM_SECTIONS:
        assert f'<section id="{key}"' in html
    assert html.count(".hl .k {") == 1  # the highlighting CSS is embedded once
    assert 'id="arms-pulls-spec"' in html and 'id="llm-cost-curves-spec"' in html


def test_lineage_stops_at_cycles_and_missing_parents_and_ties_rank_by_id():
    rows = [{"id": 1, "parents": [], "status": "ok", "score": 1.0},
            {"id": 2, "parents": [3], "status": "ok", "score": 2.0},
            {"id": 3, "parents": [2], "status": "invalid", "score": None},
            {"id": 4, "parents": [99], "status": "ok", "score": 2.0},
            {"id": 5, "parents": [1], "status": "timeout", "score": 9.0}]
    assert [p["id"] for p in lineage(rows, 2)] == [3, 2]
    assert [p["id"] for p in lineage(rows, 4)] == [4]
    assert [p["id"] for p in top_programs(rows)] == [2, 4, 1]
    assert [p["id"] for p in top_programs(rows, 1)] == [2]


def test_archive_hover_names_the_program(program_run, grid_run):
    store = open_run_store(program_run)
    try:
        table = archive_table(program_run, store)
    finally:
        store.close()
    expected = {int(i): int(p) for i, p in zip(table["index"], table["solution_0"], strict=True)}
    (figure,) = archive_figures(load_report_data(program_run).archive, program_ids=True)
    (trace,) = figure.data
    assert "program %{customdata[3]}" in trace["hovertemplate"]
    shown = {int(c[0]): c[3] for row in trace["customdata"] for c in row if c is not None}
    assert shown == expected and set(expected.values()) <= {r["id"] for r in
                                                            stored_programs(program_run)}
    (plain,) = archive_figures(load_report_data(grid_run).archive)
    assert "program" not in plain.data[0]["hovertemplate"]


def test_program_report_in_chromium(program_run, open_report):
    page, messages, requests, path = open_report(program_run)
    found = sections(program_run)
    top = found["top-programs"].payload["programs"]
    assert page.locator("#top-programs .program").count() == len(top)
    assert page.get_attribute("#top-programs .program", "data-id") == str(top[0]["id"])
    assert page.locator("#top-programs .hl span.k").count() >= 1  # highlighted keywords
    assert page.locator("#lineage .program").count() == len(found["lineage"].payload["steps"])
    arms = found["arms"].payload
    assert page.eval_on_selector("#arms-pulls", "gd => gd._fullData.length") == len(arms["arms"])
    assert page.locator("#arms tbody tr").count() == len(arms["arms"])
    assert page.eval_on_selector("#llm-cost-curves", "gd => gd._fullData.length") == 2
    statuses = found["failures"].payload["statuses"]
    assert {el.get_attribute("data-status"): int(el.get_attribute("data-count"))
            for el in page.locator("#failures tr[data-status]").all()} == statuses
    colour = page.eval_on_selector("#lineage .hl .gi", "el => getComputedStyle(el).color")
    assert colour != "rgb(0, 0, 0)"  # the embedded pygments CSS applies
    archive = load_report_data(program_run).archive
    best = archive.ranking()[0]
    mx, my = archive.measures[best]
    page.eval_on_selector("#archive-heatmap",
                          f"gd => Plotly.Fx.hover(gd, {{xval: {mx}, yval: {my}}})")
    hover = page.eval_on_selector("#archive-heatmap .hoverlayer", "el => el.textContent")
    assert f"program {int(archive.solutions[best, 0])}" in hover
    assert_offline_and_clean(messages, requests, path)


def section_html(html: str, key: str) -> str:
    """The markup of `<section id="key">` in a rendered report."""
    match = re.search(rf'<section id="{key}"[^>]*>(.*?)</section>', html, re.S)
    assert match, key
    return match.group(1)


def archive_note(html: str) -> str:
    """The archive section's note as plain text, whitespace collapsed."""
    note = re.search(r'<p class="note">(.*?)</p>', section_html(html, "archive"), re.S)
    assert note
    return " ".join(re.sub(r"<[^>]+>", "", note.group(1)).split())


def stored_counts(run: Path) -> tuple[int, int]:
    """(evaluations as of the last metrics row, programs proposed) read from the store."""
    conn = sqlite3.connect(run / "store.sqlite")
    try:
        ((evaluations,),) = conn.execute("SELECT MAX(evaluations) FROM metrics")
        ((proposed,),) = conn.execute("SELECT COUNT(*) FROM programs")
    finally:
        conn.close()
    return int(evaluations), int(proposed)


def test_archive_note_counts_evaluations_and_programs_not_iterations(program_run, grid_run):
    data = load_report_data(program_run)
    note = archive_note(render_report(data))
    evaluations, proposed = stored_counts(program_run)
    assert evaluations < proposed  # two proposals were rejected before evaluation
    assert "iteration" not in note and "dimension" not in note, note
    assert f"{data.archive.size} elites after {evaluations} evaluations " \
           f"({proposed} programs proposed)" in note, note
    assert "each elite is a program" in note, note
    assert f"2 measures: {', '.join(MEASURE_NAMES)}" in note, note
    numeric = load_report_data(grid_run)
    plain = archive_note(render_report(numeric))
    assert f"as of iteration {numeric.archive.iteration}" in plain and numeric.archive.iteration
    assert "solutions of dimension 10" in plain and "program" not in plain


def test_summary_and_top_elites_show_programs(program_run):
    data = load_report_data(program_run)
    html = render_report(data)
    evaluations, proposed = stored_counts(program_run)
    summary = " ".join(re.sub(r"<[^>]+>", " ", section_html(html, "summary")).split())
    assert "iterations" not in summary and "solutions each" not in summary, summary
    assert f"programs {proposed} proposed, {evaluations} evaluated" in summary, summary
    ids = [int(round(float(data.archive.solutions[pos, 0])))
           for pos in data.archive.ranking()[:10]]
    assert [row["program"] for row in top_elites(data)] == ids
    top = section_html(html, "top-elites")
    assert "<th>program</th>" in top
    assert re.findall(r'<td class="program">(\d+)</td>', top) == [str(i) for i in ids]
    spec = section_html(html, "run-spec")
    assert 'id="emitters"' not in spec and 'id="llm"' in spec  # emitters do not apply
    assert "openai/scripted" in spec


def test_archive_axes_are_the_spec_measure_names(program_run, grid_run, cube_run):
    archive = load_report_data(program_run).archive
    assert archive.measure_names == MEASURE_NAMES
    (figure,) = archive_figures(archive, program_ids=True)
    titles = (figure.layout["xaxis"]["title"]["text"], figure.layout["yaxis"]["title"]["text"])
    assert titles == MEASURE_NAMES
    hover = figure.data[0]["hovertemplate"]
    assert "first number %{customdata[1]:.4g}" in hover and "evaluator[1] %{customdata[2]" in hover
    for run in (grid_run, cube_run):  # numeric problems name no measure: "measure i"
        numeric = load_report_data(run).archive
        assert numeric.measure_names == ()
        (plain,) = archive_figures(numeric)
        assert plain.layout["xaxis"]["title"]["text"] == "measure 0"
        assert plain.layout["yaxis"]["title"]["text"] == "measure 1"
    cube = dataclasses.replace(load_report_data(cube_run).archive,
                               measure_names=("reach", "speed", "<b>tilt</b>"))
    (pairwise,) = archive_figures(cube)
    assert [pairwise.layout[k]["title"]["text"] for k in ("xaxis", "yaxis", "xaxis3",
                                                           "yaxis3")] == \
        ["reach", "speed", "speed", "&lt;b&gt;tilt&lt;/b&gt;"]  # plotly text, escaped


def test_measure_names_come_from_the_problem_config():
    from qd.report.archive_data import spec_measure_names

    measures = [SimpleNamespace(label="first"), SimpleNamespace(label="second")]
    assert spec_measure_names(SimpleNamespace(measures=measures), 2) == ("first", "second")
    assert spec_measure_names(SimpleNamespace(measures=measures), 3) == ()  # not one per axis
    named = SimpleNamespace(measures="duty_factor", measure_names=["x", "y"])
    assert spec_measure_names(named, 2) == ("x", "y")
    assert spec_measure_names(SimpleNamespace(solution_dim=5), 2) == ()
    assert spec_measure_names(None, 2) == ()


# Where the spec section's columns, their tables and the task's text were laid out. Text clipped
# by a scrolling box inside its cell counts only where it is visible.
SPEC_LAYOUT = """() => {
  const box = r => ({l: r.left, r: r.right, t: r.top, b: r.bottom});
  const cols = Array.from(document.querySelectorAll('#run-spec .cols > div'));
  const task = Array.from(document.querySelectorAll('#run-spec table.kv td:first-child'))
      .find(td => td.textContent.trim() === 'task').nextElementSibling;
  const range = document.createRange();
  range.selectNodeContents(task);
  const text = box(range.getBoundingClientRect());
  const visible = {...text};
  for (const el of [task, ...task.querySelectorAll('*')]) {
    const style = getComputedStyle(el);
    if (style.overflowX !== 'visible' || style.overflowY !== 'visible') {
      const clip = box(el.getBoundingClientRect());
      visible.l = Math.max(visible.l, clip.l); visible.r = Math.min(visible.r, clip.r);
      visible.t = Math.max(visible.t, clip.t); visible.b = Math.min(visible.b, clip.b);
    }
  }
  return {
    page: {scroll: document.documentElement.scrollWidth, width: window.innerWidth},
    cols: cols.map(c => ({box: box(c.getBoundingClientRect()),
                          tables: Array.from(c.querySelectorAll('table')).map(
                              t => box(t.getBoundingClientRect()))})),
    task: box(task.getBoundingClientRect()), text, visible, lines: task.innerText,
  };
}"""


def _inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (inner["l"] >= outer["l"] - slack and inner["r"] <= outer["r"] + slack
            and inner["t"] >= outer["t"] - slack and inner["b"] <= outer["b"] + slack)


def _overlap(a: dict, b: dict, slack: float = 1.0) -> bool:
    return (min(a["r"], b["r"]) - max(a["l"], b["l"]) > slack
            and min(a["b"], b["b"]) - max(a["t"], b["t"]) > slack)


@pytest.mark.parametrize("width", [1300, 820])
def test_spec_tables_do_not_overlap_the_task_in_chromium(program_run, open_report, width):
    page, messages, requests, path = open_report(program_run)
    page.set_viewport_size({"width": width, "height": 900})
    page.reload()  # plots are laid out for the width they were first drawn at
    page.wait_for_function("document.body.dataset.plotsReady === 'true'", timeout=60_000)
    layout = page.evaluate(SPEC_LAYOUT)
    assert layout["page"]["scroll"] <= layout["page"]["width"], layout["page"]
    cols = layout["cols"]
    assert len(cols) == 3
    for a, b in itertools.combinations(cols, 2):
        assert not _overlap(a["box"], b["box"]), (a["box"], b["box"])
    for col in cols:
        for table in col["tables"]:
            assert _inside(table, col["box"]), (table, col["box"])  # no table leaves its column
    task, visible = layout["task"], layout["visible"]
    assert _inside(visible, task), (visible, task)  # the text stays inside its cell
    assert layout["text"]["r"] <= task["r"] + 1, (layout["text"], task)  # wrapped, not cut off
    others = [t for col in cols for t in col["tables"] if not _inside(task, t)]
    assert len(others) == sum(len(c["tables"]) for c in cols) - 1
    for table in others:
        assert not _overlap(task, table), (task, table)
    assert "\n- keep it short" in layout["lines"]  # the task's own line breaks are kept
    assert_offline_and_clean(messages, sorted(set(requests)), path)  # loaded twice
