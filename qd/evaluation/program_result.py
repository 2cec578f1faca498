"""Validate the JSON result a candidate program's evaluator writes; bad input never raises."""

from __future__ import annotations

import difflib
import json
import math

from qd.program.types import Evaluation, JSONScalar, Status
from qd.sandbox.result import SandboxResult

FIELDS = ("score", "measures", "metrics", "feedback", "valid")
FEEDBACK_CHARS = 4000
MAX_METRICS = 256


class _Invalid(Exception):
    """Internal: the result breaks the contract; the message is the reason."""


def validate_program_result(
    raw: str | bytes | None,
    *,
    measure_dim: int | None = None,
    feedback_chars: int = FEEDBACK_CHARS,
) -> Evaluation:
    """Check an evaluator's JSON result against the contract (docs/sandbox.md).

    The contract: a JSON object with `score` (finite number, maximised; may be omitted only
    when `valid` is false), optional `measures` (list of finite numbers, exactly
    `measure_dim` of them when given), optional `metrics` (object of JSON scalars), optional
    `feedback` (string) and optional `valid` (bool, default true). Other keys are errors.

    Args:
        raw: The result file's text (or bytes), None when the program wrote none.
        measure_dim: Expected number of measures; then `measures` is required.
        feedback_chars: Longest feedback kept; longer text is cut and flagged.

    Returns:
        An `Evaluation`; every violation yields status INVALID with a precise reason.
    """
    try:
        data = _parse(raw)
        return _validate(data, measure_dim, feedback_chars)
    except _Invalid as problem:
        return Evaluation(Status.INVALID, None, None, reason=str(problem))


def evaluate_sandbox_result(
    result: SandboxResult, *, measure_dim: int | None = None, feedback_chars: int = FEEDBACK_CHARS
) -> Evaluation:
    """Validate the result of a sandboxed evaluator run; a failed run is "invalid".

    Args:
        result: What `run_sandboxed` returned.
        measure_dim: Expected number of measures.
        feedback_chars: Longest feedback kept.

    Returns:
        The validated evaluation; for a run that did not end "ok" the reason carries the
        sandbox status and reason, and the feedback the end of its stderr.
    """
    if result.status != "ok":
        stderr_tail = result.stderr[-feedback_chars:] if feedback_chars else ""
        return Evaluation(
            Status.INVALID, None, None, feedback=stderr_tail,
            reason=f"evaluation {result.status}: {result.reason}",
        )  # fmt: skip
    if result.result_truncated:
        return Evaluation(Status.INVALID, None, None, reason="result file too large")
    return validate_program_result(
        result.result, measure_dim=measure_dim, feedback_chars=feedback_chars
    )


def _parse(raw: str | bytes | None) -> dict:
    if raw is None:
        raise _Invalid("the evaluator wrote no result")
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as error:
            raise _Invalid(f"result is not UTF-8 text: {error}") from None
    if not isinstance(raw, str):
        raise _Invalid(f"result must be JSON text, got {type(raw).__name__}")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise _Invalid(f"malformed JSON: {str(error)[:200]}") from None
    if not isinstance(data, dict):
        raise _Invalid(f"result must be a JSON object, got {_kind(data)}")
    return data


def _validate(data: dict, measure_dim: int | None, feedback_chars: int) -> Evaluation:
    unknown = [key for key in data if key not in FIELDS]
    if unknown:
        hint = difflib.get_close_matches(unknown[0], FIELDS, n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise _Invalid(f"unknown key {unknown[0]!r}{suffix}; allowed: {', '.join(FIELDS)}")
    valid = data.get("valid", True)
    if not isinstance(valid, bool):
        raise _Invalid(f"valid must be true or false, got {_kind(valid)}")
    feedback, cut = _feedback(data.get("feedback", ""), feedback_chars)
    metrics = _metrics(data.get("metrics", {}))
    if not valid:
        score = _number(data["score"], "score") if "score" in data else None
        return Evaluation(Status.INVALID, score, None, metrics, feedback,
                          "the evaluator marked the candidate invalid", feedback_truncated=cut)
    if "score" not in data:
        raise _Invalid("missing required key 'score'")
    score = _number(data["score"], "score")
    measures = _measures(data.get("measures"), measure_dim)
    return Evaluation(Status.OK, score, measures, metrics, feedback, "valid result",
                      feedback_truncated=cut)


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"{where} must be a number, got {_kind(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise _Invalid(f"{where} is too large to be a finite number") from None
    if not math.isfinite(number):
        raise _Invalid(f"{where} must be finite, got {number}")
    return number


def _measures(value: object, measure_dim: int | None) -> tuple[float, ...] | None:
    if value is None:
        if measure_dim is not None:
            raise _Invalid(f"missing required key 'measures' ({measure_dim} numbers expected)")
        return None
    if not isinstance(value, list):
        raise _Invalid(f"measures must be a list of numbers, got {_kind(value)}")
    if measure_dim is not None and len(value) != measure_dim:
        raise _Invalid(f"measures has {len(value)} values, expected {measure_dim}")
    return tuple(_number(item, f"measures[{i}]") for i, item in enumerate(value))


def _metrics(value: object) -> dict[str, JSONScalar]:
    if not isinstance(value, dict):
        raise _Invalid(f"metrics must be an object, got {_kind(value)}")
    if len(value) > MAX_METRICS:
        raise _Invalid(f"metrics has {len(value)} entries, at most {MAX_METRICS} allowed")
    for key, item in value.items():
        if isinstance(item, float) and not math.isfinite(item):
            raise _Invalid(f"metrics[{key!r}] must be finite, got {item}")
        if item is not None and not isinstance(item, str | int | float | bool):
            raise _Invalid(f"metrics[{key!r}] must be a JSON scalar, got {_kind(item)}")
    return dict(value)


def _feedback(value: object, limit: int) -> tuple[str, bool]:
    if not isinstance(value, str):
        raise _Invalid(f"feedback must be a string, got {_kind(value)}")
    if len(value) <= limit:
        return value, False
    return value[:limit], True


def _kind(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return names.get(type(value), "number" if isinstance(value, int | float) else "a value")
