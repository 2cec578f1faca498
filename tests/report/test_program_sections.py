"""Program-run sections of the report, checked exactly against a real run's `programs` table."""

from __future__ import annotations

import difflib
import json
import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import qd
from qd.export import archive_table
from qd.report.data import load_report_data
from qd.report.plots import archive_figures
from qd.report.render import render_report
from qd.report.sections import TOP_PROGRAMS, arm_name, lineage, top_programs
from qd.report.source import ReadOnlyStore
from tests.fixtures.scripted_llm import Reply, ScriptedLLMServer
from tests.program.conftest import TOY, improving_diff, prompt_text, toy_overrides
from tests.report.conftest import assert_offline_and_clean

PROGRAM_SECTIONS = ("top-programs", "lineage", "arms", "llm-cost", "failures")


@pytest.fixture(scope="module")
def program_run(tmp_path_factory) -> Path:
    """The toy problem with diff and rewrite operators: improving diffs, and two answers with no
    code (rejected: a rewrite that does not parse, a diff without SEARCH/REPLACE blocks)."""
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
                                             "llm.operators": '["diff", "rewrite"]'})
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
    store = ReadOnlyStore.open(program_run)
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
