"""The evaluator result contract: every violation is "invalid" with a precise reason."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from qd.evaluation.program_result import evaluate_sandbox_result, validate_program_result
from qd.program.types import Evaluation, Status
from qd.sandbox import SandboxLimits, run_sandboxed


def test_full_valid_result():
    raw = (
        '{"score": 3, "measures": [0.5, -1], "metrics": {"tests": 7, "lang": "py", '
        '"fast": true, "none": null}, "feedback": "good", "valid": true}'
    )
    ev = validate_program_result(raw, measure_dim=2)
    assert ev.ok and ev.reason == "valid result"
    assert ev.score == 3.0 and isinstance(ev.score, float)
    assert ev.measures == (0.5, -1.0)
    assert dict(ev.metrics) == {"tests": 7, "lang": "py", "fast": True, "none": None}
    assert ev.feedback == "good" and not ev.feedback_truncated


def test_minimal_result_and_bytes_input():
    ev = validate_program_result(b'{"score": -1.5e3}')
    assert ev.ok and ev.score == -1500.0 and ev.measures is None and dict(ev.metrics) == {}


def test_evaluation_is_frozen():
    ev = validate_program_result('{"score": 1}')
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.score = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        ev.metrics["x"] = 1  # type: ignore[index]


def test_long_feedback_is_truncated():
    ev = validate_program_result('{"score": 1, "feedback": "' + "a" * 50 + '"}', feedback_chars=10)
    assert ev.ok and ev.feedback == "a" * 10 and ev.feedback_truncated


def test_candidate_marked_invalid_keeps_feedback():
    ev = validate_program_result('{"valid": false, "feedback": "syntax error on line 3"}')
    assert ev.status == "invalid" and ev.score is None
    assert ev.feedback == "syntax error on line 3"
    assert "marked the candidate invalid" in ev.reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "wrote no result"),
        ("", "malformed JSON"),
        ("{'score': 1}", "malformed JSON"),
        ('{"score": 1', "malformed JSON"),
        (b"\xff\xfe", "not UTF-8"),
        ("[1, 2]", "must be a JSON object, got array"),
        ("3.5", "must be a JSON object, got number"),
        ('"text"', "must be a JSON object, got string"),
        ("null", "must be a JSON object, got null"),
        ("{}", "missing required key 'score'"),
        ('{"scroe": 1}', "unknown key 'scroe' (did you mean 'score'?)"),
        ('{"score": NaN}', "score must be finite, got nan"),
        ('{"score": Infinity}', "score must be finite, got inf"),
        ('{"score": -Infinity}', "score must be finite, got -inf"),
        ('{"score": 1e999}', "score must be finite, got inf"),
        ('{"score": ' + "9" * 400 + "}", "too large"),
        ('{"score": "1.0"}', "score must be a number, got string"),
        ('{"score": true}', "score must be a number, got boolean"),
        ('{"score": null}', "score must be a number, got null"),
        ('{"score": [1]}', "score must be a number, got array"),
        ('{"score": 1, "measures": 0.5}', "measures must be a list of numbers, got number"),
        ('{"score": 1, "measures": [0.5, "a"]}', "measures[1] must be a number, got string"),
        ('{"score": 1, "measures": [NaN, 0]}', "measures[0] must be finite"),
        ('{"score": 1, "measures": [false, 0]}', "measures[0] must be a number, got boolean"),
        ('{"score": 1, "metrics": [1]}', "metrics must be an object, got array"),
        ('{"score": 1, "metrics": {"a": {"b": 1}}}', "metrics['a'] must be a JSON scalar"),
        ('{"score": 1, "metrics": {"a": [1]}}', "metrics['a'] must be a JSON scalar, got array"),
        ('{"score": 1, "metrics": {"a": NaN}}', "metrics['a'] must be finite"),
        ('{"score": 1, "feedback": 3}', "feedback must be a string, got number"),
        ('{"score": 1, "valid": "yes"}', "valid must be true or false, got string"),
        ('{"score": 1, "valid": 1}', "valid must be true or false, got number"),
        ("[" * 100000 + "]" * 100000, "malformed JSON"),
    ],
)
def test_invalid_results(raw, reason):
    ev = validate_program_result(raw)
    assert isinstance(ev, Evaluation)
    assert ev.status is Status.INVALID and ev.score is None and ev.measures is None
    assert reason in ev.reason, ev.reason


def test_too_many_metrics():
    raw = '{"score": 1, "metrics": {' + ",".join(f'"m{i}": {i}' for i in range(300)) + "}}"
    ev = validate_program_result(raw)
    assert ev.status == "invalid" and "at most 256" in ev.reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"score": 1}', "missing required key 'measures' (2 numbers expected)"),
        ('{"score": 1, "measures": [1]}', "measures has 1 values, expected 2"),
        ('{"score": 1, "measures": [1, 2, 3]}', "measures has 3 values, expected 2"),
    ],
)
def test_measure_count_is_checked(raw, reason):
    ev = validate_program_result(raw, measure_dim=2)
    assert ev.status == "invalid" and reason in ev.reason


def test_from_a_real_sandbox_run():
    limits = SandboxLimits(isolation="process", timeout_s=5, memory_mb=256)
    code = "import json; json.dump({'score': 0.25, 'measures': [1, 2]}, open('result.json', 'w'))"
    result = run_sandboxed([sys.executable, "-c", code], limits=limits)
    ev = evaluate_sandbox_result(result, measure_dim=2)
    assert ev.ok and ev.score == 0.25 and ev.measures == (1.0, 2.0)

    crash = run_sandboxed([sys.executable, "-c", "raise SystemExit('boom')"], limits=limits)
    ev = evaluate_sandbox_result(crash, measure_dim=2)
    assert ev.status == "invalid" and ev.reason.startswith("evaluation crashed: exited with code 1")
    assert "boom" in ev.feedback
