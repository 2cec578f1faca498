"""Peer folders laid out as the peers' own examples are, evolved end to end through the sandbox
against the scripted loopback LLM: the stand-in helper packages, cascade thresholds, artifacts
and text feedback in the next prompts, data files and subfolders carried into the sandbox.
"""

from __future__ import annotations

import pytest

import qd
from qd.cli.main import run as cli
from tests.conftest import stored_rows
from tests.formats.conftest import OPENEVOLVE_C, OPENEVOLVE_FULL, SHINKA_FULL, snapshot
from tests.program.conftest import Reply, prompt_text, toy_overrides


def _diff(new: str) -> str:
    return (f"<<<<<<< SEARCH\n    return [1.0, 1.0, 1.0]\n=======\n    return {new}\n"
            f">>>>>>> REPLACE\n")



def test_openevolve_example_layout_runs_with_cascade_artifacts_and_data(llm, tmp_path):
    before = snapshot(OPENEVOLVE_FULL)
    out = tmp_path / "run"
    result = qd.evolve(OPENEVOLVE_FULL, out=out, overrides=toy_overrides(llm, **{
        "run.budget": "5"}))
    assert result.end.evaluations == 5  # first numbers 1, 2, 3, 4 (on target), 5
    rows = stored_rows(out)
    first = rows[0]  # [1, 1, 1]: distance 3 to data/targets.json's [4, 1, 1]
    assert first.status == "ok" and first.score == pytest.approx(0.25)
    assert first.metrics["shape_ok"] == 1.0 and first.metrics["first"] == 1.0
    assert "exact" not in first.metrics  # 0.25 < cascade_thresholds[1] = 0.8: no stage 3
    assert "cascade stage 2 scored 0.25, below its threshold 0.8" in first.feedback
    assert "### worst_miss" in first.feedback
    assert "is 3.0 away from its target 4.0" in first.feedback
    on_target = [r for r in rows if r.metrics.get("first") == 4.0]
    assert on_target and on_target[0].score == 1.0 and on_target[0].metrics["exact"] == 1.0
    # the parent's artifacts are in the prompt the model received
    prompts = [prompt_text(r) for r in llm.completion_requests()]
    assert "solve()[0] = 1.0 is 3.0 away from its target 4.0" in prompts[0]
    assert "three numbers" in prompts[0]  # stage 1's artifact
    assert snapshot(OPENEVOLVE_FULL) == before


def test_openevolve_cascade_threshold_stop_and_failing_stage(scripted_llm_server, tmp_path):
    scripted_llm_server.push(Reply(text=_diff("[1.0, 1.0]")),
                             Reply(text=_diff("[1.0, 1.0, 1 / 0]")))
    out = tmp_path / "run"
    qd.evolve(OPENEVOLVE_FULL, out=out, overrides=toy_overrides(scripted_llm_server, **{
        "run.budget": "3", "llm.retries": "0"}))
    short, raising = [r for r in stored_rows(out) if r.operator != "initial"]
    # below cascade_thresholds[0]: kept with stage 1's metrics, as OpenEvolve keeps it
    assert short.status == "ok" and short.score == 0.0
    assert short.metrics == {"shape_ok": 0.0}
    assert "cascade stage 1 scored 0.0, below its threshold 0.5" in short.feedback
    assert "expected three numbers, got [1.0, 1.0]" in short.feedback  # its artifact
    # a stage that raises makes the program invalid, the stage named
    assert raising.status == "invalid"
    assert "cascade stage 1 raised ZeroDivisionError" in raising.reason
    assert "stage1_traceback" in raising.feedback


def test_shinka_example_layout_runs_with_run_shinka_eval(llm, tmp_path):
    before = snapshot(SHINKA_FULL)
    out = tmp_path / "run"
    result = qd.evolve(SHINKA_FULL, out=out, overrides=toy_overrides(llm, **{
        "run.budget": "4"}))
    assert result.end.evaluations == 4
    rows = stored_rows(out)
    first = rows[0]
    assert first.status == "ok" and first.score == 3.0
    # run_shinka_eval ran the 3 runs of data/cases.json, passed by job_config.extra_cmd_args
    assert first.metrics["num_valid_runs"] == 3 and first.metrics["num_invalid_runs"] == 0
    assert first.metrics["runs_seen"] == 3  # a private metric
    assert first.metrics["summary"] == "sums per run: [3.0, 3.0, 3.0]"  # a public text metric
    assert first.metrics["execution_time_mean"] >= 0
    assert first.feedback == "the mean sum is 3.0; raise it to 30"  # use_text_feedback: true
    assert max(r.score for r in rows if r.score is not None) >= 5.0
    prompts = [prompt_text(r) for r in llm.completion_requests()]
    assert "the mean sum is 3.0; raise it to 30" in prompts[0]
    assert "summary = sums per run: [3.0, 3.0, 3.0]" in prompts[0]
    assert snapshot(SHINKA_FULL) == before


def test_shinka_validate_fn_failure_is_invalid_with_its_message(scripted_llm_server, tmp_path):
    scripted_llm_server.push(Reply(text=_diff("[1.0, 1.0, 99.0]")))
    out = tmp_path / "run"
    qd.evolve(SHINKA_FULL, out=out, overrides=toy_overrides(scripted_llm_server, **{
        "run.budget": "2", "llm.retries": "0"}))
    child = [r for r in stored_rows(out) if r.operator != "initial"][0]
    assert child.status == "invalid"
    assert "Validation failed: run 0: need three numbers in [0, 10]" in child.reason
    assert child.metrics["num_invalid_runs"] == 3


@pytest.mark.parametrize(("source", "score"), [(OPENEVOLVE_FULL, 0.25), (SHINKA_FULL, 3.0)])
def test_converted_example_layouts_score_the_same(llm, tmp_path, source, score):
    out = tmp_path / "converted"
    assert cli(["convert", str(source), "--to", "qd", str(out)]) == 0
    assert (out / "data").is_dir() and (out / "_qd_shims" / "shinka" / "core").is_dir()
    result = qd.evolve(out, write=False, overrides=toy_overrides(llm, **{"run.budget": "1"}))
    assert result.archive.stats().best == pytest.approx(score)


def test_openevolve_c_program_runs_with_qds_language_setting(scripted_llm_server, tmp_path):
    edit = ("<<<<<<< SEARCH\n    v[0] = 1.0; v[1] = 1.0; v[2] = 1.0;\n=======\n"
            "    v[0] = 9.0; v[1] = 1.0; v[2] = 1.0;\n>>>>>>> REPLACE\n")
    scripted_llm_server.push(Reply(text=edit))
    out = tmp_path / "run"
    qd.evolve(OPENEVOLVE_C, out=out, overrides=toy_overrides(scripted_llm_server, **{
        "run.budget": "2", "llm.retries": "0"}))
    first, child = stored_rows(out)
    assert first.score == 3.0 and "1.000000 1.000000 1.000000" in first.feedback
    assert child.status == "ok" and child.score == 11.0  # gcc built and ran the edited C
    assert "1.000000 1.000000 1.000000" in prompt_text(scripted_llm_server.completion_requests()[0])
