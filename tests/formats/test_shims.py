"""qd's stand-ins for `openevolve` and `shinka`, run as evaluators see them: a folder on the
import path of a real Python subprocess.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import pytest

from qd.formats.peers import SHIM_DIR, provided, shim_files

PROGRAM = textwrap.dedent("""
    import math
    calls = []
    def experiment(seed, scale=1.0):
        calls.append(seed)
        if scale < 0:
            raise ValueError("negative scale")
        return {"seed": seed, "value": seed * scale}
    def nan_experiment(seed):
        return math.nan
""")


@pytest.fixture
def shims(tmp_path):
    for name, data in shim_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (tmp_path / "program.py").write_text(PROGRAM)
    return tmp_path


def _python(folder, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(folder / SHIM_DIR)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=folder, env=env,
                          capture_output=True, text=True, check=False, timeout=60)


def _eval(folder, call: str) -> tuple[dict, dict, str]:
    args = " ".join(line.strip() for line in call.strip().splitlines())
    proc = _python(folder, "from shinka.core import run_shinka_eval\n"
                           "from shinka.core.wrap_eval import run_shinka_eval as same\n"
                           "assert same is run_shinka_eval\n"
                           f'run_shinka_eval("program.py", "out", {args})\n')
    assert proc.returncode == 0, proc.stderr
    return (json.loads((folder / "out" / "metrics.json").read_text()),
            json.loads((folder / "out" / "correct.json").read_text()), proc.stdout)


def test_run_shinka_eval_runs_validates_and_aggregates(shims):
    metrics, correct, _ = _eval(shims, """
        "experiment", 3,
        get_experiment_kwargs=lambda i: {"seed": i, "scale": 2.0},
        validate_fn=lambda r: (r["value"] < 3, f"value {r['value']} too big"),
        aggregate_metrics_fn=lambda rs: {"combined_score": sum(r["value"] for r in rs),
                                         "extra_data": [1, 2]},
    """)
    assert metrics["combined_score"] == 6.0  # 0 + 2 + 4
    assert metrics["num_valid_runs"] == 2 and metrics["num_invalid_runs"] == 1
    assert metrics["all_validation_errors"] == ["value 4.0 too big"]
    assert metrics["execution_time_mean"] >= 0 and metrics["execution_time_std"] >= 0
    assert "extra_data" not in metrics
    assert pickle.loads((shims / "out" / "extra.pkl").read_bytes()) == [1, 2]
    assert correct == {"correct": False, "error": "Validation failed: value 4.0 too big"}


def test_run_shinka_eval_defaults_and_failures(shims):
    metrics, correct, _ = _eval(shims, '"experiment", 2')  # seeds 1, 2; no aggregate
    assert metrics["num_successful_runs"] == 2 and correct["correct"] is True
    assert metrics["raw_results_preview"] == str([{"seed": 1, "value": 1.0},
                                                  {"seed": 2, "value": 2.0}])
    metrics, correct, _ = _eval(shims, """
        "experiment", 1, get_experiment_kwargs=lambda i: {"seed": 1, "scale": -1.0},
        default_metrics_on_error={"combined_score": -5.0, "ignored": 1},
    """)
    assert correct == {"correct": False, "error": "negative scale"}
    assert metrics["combined_score"] == -5.0 and "ignored" not in metrics
    metrics, correct, _ = _eval(shims, """
        "nan_experiment", 1, aggregate_metrics_fn=lambda rs: {"combined_score": rs[0]},
    """)
    assert correct == {"correct": False, "error": "combined_score is NaN"}
    metrics, correct, _ = _eval(shims, '"missing_fn", 1')
    assert "Experiment function 'missing_fn' not found" in correct["error"]


def test_early_stopping_is_refused_with_a_message(shims):
    proc = _python(shims, """
        from shinka.core import run_shinka_eval
        run_shinka_eval("program.py", "out", "experiment", 2, early_stop_method="bayesian",
                        early_stop_threshold=1.0)
    """)
    assert proc.returncode != 0
    assert "early_stop_method='bayesian': early stopping is not provided" in proc.stderr


def test_evaluation_result_behaves_as_openevolve_documents(shims):
    proc = _python(shims, """
        from openevolve.evaluation_result import EvaluationResult
        r = EvaluationResult(metrics={"combined_score": 0.5}, artifacts={"a": "é", "b": b"xy"})
        assert r.to_dict() == {"combined_score": 0.5} and r.has_artifacts()
        assert r.get_artifact_keys() == ["a", "b"] and r.get_artifact_size("a") == 2
        assert r.get_total_artifact_size() == 4 and r.get_artifact_size("zz") == 0
        assert EvaluationResult.from_dict({"x": 1.0}).artifacts == {}
        print("ok")
    """)
    assert proc.stdout.strip() == "ok", proc.stderr


@pytest.mark.parametrize(("statement", "missing"), [
    ("import openevolve.llm", "openevolve.llm"),
    ("from openevolve import Config", "openevolve.Config"),
    ("from shinka.core import EvolutionConfig", "shinka.core.EvolutionConfig"),
    ("from shinka.utils.wolfram import run", "shinka.utils"),
])
def test_parts_qd_does_not_provide_fail_with_their_name(shims, statement, missing):
    proc = _python(shims, statement)
    assert proc.returncode != 0
    assert f"ModuleNotFoundError: {missing} is not available under qd" in proc.stderr


def test_the_provided_list_is_read_from_the_stand_ins():
    have = provided()
    assert "EvaluationResult" in have["openevolve.evaluation_result"]
    assert "run_shinka_eval" in have["shinka.core"]
    assert {"save_json_results", "load_program"} <= have["shinka.core.wrap_eval"]
