"""Foreign folders evolve end to end through the sandbox against the scripted loopback LLM."""

from __future__ import annotations

import json

import pytest

import qd
from qd.cli.main import run as cli
from tests.conftest import stored_rows
from tests.formats.conftest import OPENEVOLVE_TOY, SHINKA_TOY, snapshot
from tests.program.conftest import Reply, toy_overrides


def test_openevolve_folder_runs_unchanged_and_resumes(llm, tmp_path):
    before = snapshot(OPENEVOLVE_TOY)
    out = tmp_path / "run"
    result = qd.evolve(OPENEVOLVE_TOY, out=out, overrides=toy_overrides(llm, **{
        "run.budget": "3"}))
    assert result.end.reason == "budget" and result.end.evaluations == 3
    rows = stored_rows(out)
    first = rows[0]
    assert first.operator == "initial" and first.status == "ok" and first.score == 3.0
    assert first.metrics["balance"] == 1.0 and first.metrics["shape_ok"] == 1.0
    assert "label" not in first.metrics  # only numeric metrics are kept
    assert first.measures[1] == 1.0  # the 'balance' feature dimension
    assert max(r.score for r in rows if r.score is not None) >= 5.0
    provenance = json.loads((out / "run.json").read_text())
    assert provenance["foreign_format"]["format"] == "openevolve"
    assert "log_level" in provenance["foreign_format"]["unmapped"]
    resumed = qd.resume(out, budget=5)
    assert resumed.end.evaluations == 5
    assert len([r for r in stored_rows(out) if r.status == "ok"]) == 5
    assert snapshot(OPENEVOLVE_TOY) == before


def test_openevolve_cascade_stops_at_a_failed_stage(scripted_llm_server, tmp_path):
    bad = ("<<<<<<< SEARCH\n    return [1.0, 1.0, 1.0]\n=======\n    return [1.0, 1.0, 99.0]\n"
           ">>>>>>> REPLACE\n")
    scripted_llm_server.respond_with(lambda r: Reply(text=bad))
    out = tmp_path / "run"
    qd.evolve(OPENEVOLVE_TOY, out=out, overrides=toy_overrides(scripted_llm_server, **{
        "run.budget": "2", "llm.retries": "0"}))
    child = [r for r in stored_rows(out) if r.operator != "initial" and r.status != "llm_error"][0]
    assert child.status == "invalid"
    assert "cascade stage 1" in child.feedback and "combined_score" not in child.metrics


def test_shinka_folder_runs_with_its_metrics_and_feedback(llm, tmp_path):
    before = snapshot(SHINKA_TOY)
    out = tmp_path / "run"
    result = qd.evolve(SHINKA_TOY, out=out, overrides=toy_overrides(llm, **{
        "run.budget": "3"}))
    assert result.end.evaluations == 3
    rows = stored_rows(out)
    assert rows[0].score == 3.0 and rows[0].metrics["first"] == 1.0
    assert rows[0].metrics["last"] == 1.0 and "sum of" in rows[0].feedback
    assert max(r.score for r in rows if r.score is not None) >= 5.0
    assert snapshot(SHINKA_TOY) == before


def test_cli_warns_and_forced_format_works(llm, tmp_path, capsys):
    args = [f"--set={o}" for o in toy_overrides(llm, **{"run.budget": "1"})]
    code = cli(["evolve", str(SHINKA_TOY), "--format", "shinka", "--out", str(tmp_path / "r"),
                "-q", *args])
    assert code == 0
    err = capsys.readouterr().err
    assert "warning: shinka settings qd ignores:" in err and "db_config.archive_size" in err


@pytest.mark.parametrize("source", [OPENEVOLVE_TOY, SHINKA_TOY])
def test_convert_round_trip_gives_the_same_initial_score(llm, tmp_path, source, capsys):
    out = tmp_path / "converted"
    assert cli(["convert", str(source), "--to", "qd", str(out)]) == 0
    assert (out / "problem.toml").is_file() and (out / "initial.py").is_file()
    assert "SETTINGS" in (out / "evaluate.py").read_text()
    result = qd.evolve(out, write=False, overrides=toy_overrides(llm, **{"run.budget": "1"}))
    assert result.archive.stats().best == 3.0
    assert qd.spec_loader.load_spec(out).foreign is None  # a native qd folder now


@pytest.mark.parametrize(("argv", "message"), [
    (["evolve", "{empty}"], "folder has no problem.toml"),
    (["evolve", "{oe}", "--format", "fortran"], "unknown format"),
    (["evolve", "{oe}", "--format", "qd"], "no problem.toml"),
    (["convert", "{oe}", "--to", "toml", "{out}"], "--to 'toml'"),
])
def test_cli_errors_exit_2_without_traceback(tmp_path, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    names = {"empty": tmp_path / "empty", "oe": OPENEVOLVE_TOY, "out": tmp_path / "o"}
    assert cli([a.format(**names) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
