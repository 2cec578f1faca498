"""Adapter evaluator: runs an OpenEvolve or ShinkaEvolve evaluator and writes qd's result.json."""

# This file is copied, with SETTINGS filled in, as `evaluate.py` into a qd-owned cache folder;
# the sandbox runs it as `python evaluate.py candidate.py result.json` next to the user's
# folder's files and qd's stand-in peer packages (SETTINGS["shims"], put first on the import
# path). It uses the standard library only.

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import math
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

SETTINGS: dict[str, Any] = {}
#: Longest text metric kept (Shinka's public metrics may hold whole solutions).
TEXT_METRIC_CHARS = 500


def is_number(value: Any) -> bool:
    """A finite int or float that is not a boolean flag."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def numeric_metrics(values: dict[str, Any]) -> dict[str, float]:
    """Keep the finite numbers (not booleans) of a metrics mapping."""
    return {str(k): float(v) for k, v in values.items() if is_number(v)}


def fitness(metrics: dict[str, Any], exclude: tuple[str, ...] = ()) -> float | None:
    """OpenEvolve's score: `combined_score`, else the mean of the numbers but `error`.

    Args:
        metrics: The metrics so far.
        exclude: Names left out of the mean (the feature dimensions, for the final score),
            unless nothing else is left.
    """
    numbers = numeric_metrics({k: v for k, v in metrics.items() if k != "error"})
    if "combined_score" in numbers:
        return numbers["combined_score"]
    numbers = {k: v for k, v in numbers.items() if k not in exclude} or numbers
    return sum(numbers.values()) / len(numbers) if numbers else None


def is_error(value: Any) -> bool:
    """An `error` entry that reports a failure (not None, "" or False)."""
    return not (value is None or value is False or (isinstance(value, str) and not value))


def call(function: Any, candidate: str) -> Any:
    """Call an evaluator function; a coroutine function's result is awaited."""
    result = function(candidate)
    return asyncio.run(result) if inspect.iscoroutine(result) else result


def unpack(result: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, artifacts) of a dict or an EvaluationResult-like object."""
    if hasattr(result, "metrics"):
        return dict(result.metrics or {}), dict(getattr(result, "artifacts", None) or {})
    if isinstance(result, dict):
        return dict(result), {}
    raise TypeError(f"the evaluator returned {type(result).__name__}, not a dict of metrics "
                    f"or an EvaluationResult")


def artifact_text(artifacts: dict[str, Any]) -> list[str]:
    """Artifacts as OpenEvolve shows them to the model: a titled block each, cut to size."""
    if not SETTINGS.get("artifacts", True):
        return []
    limit = int(SETTINGS.get("artifact_chars", 20 * 1024))
    out = []
    for key, value in artifacts.items():
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        if len(text) > limit:
            text = text[:limit] + "\n... (truncated)"
        out.append(f"### {key}\n```\n{text.rstrip()}\n```")
    return out


def run_cascade(module: Any, candidate: str) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """OpenEvolve's cascade: stage k+1 runs only if the results so far reach threshold k.

    The score compared is `fitness` of stage 1's metrics, then of stages 1 and 2 merged;
    stage 3 needs a second threshold. As in OpenEvolve, a program below a threshold keeps the
    metrics of the stages it ran (the line saying where it stopped goes to its feedback); a
    stage that raises ends the evaluation with an `error` naming the stage.

    Returns:
        (metrics, artifacts, feedback lines).
    """
    stages = [getattr(module, f"evaluate_stage{i}", None) for i in (1, 2, 3)]
    bars = list(SETTINGS.get("thresholds") or [])
    metrics: dict[str, Any] = {}
    artifacts: dict[str, Any] = {}
    for i, stage in enumerate(stages):
        if not callable(stage) or i > len(bars):
            break
        if i and (fitness(metrics) is None or fitness(metrics) < bars[i - 1]):
            return metrics, artifacts, [
                f"cascade stage {i} scored {fitness(metrics)}, below its threshold "
                f"{bars[i - 1]} (evaluator.cascade_thresholds[{i - 1}]): stage {i + 1} did not "
                f"run"]
        try:
            found, more = unpack(call(stage, candidate))
        except Exception as exc:  # noqa: BLE001 - a failing stage is a result
            metrics["error"] = f"cascade stage {i + 1} raised {type(exc).__name__}: {exc}"
            artifacts[f"stage{i + 1}_traceback"] = traceback.format_exc()[-2000:]
            break
        metrics.update(found)
        artifacts.update(more)
        if is_error(found.get("error")):
            break
    return metrics, artifacts, []


def run_openevolve(candidate: str) -> tuple[dict[str, Any], float | None, list[str]]:
    """Call the user's `evaluate` (or cascade stages); return (metrics, score, feedback)."""
    spec = importlib.util.spec_from_file_location("evaluator", SETTINGS["evaluator"])
    module = importlib.util.module_from_spec(spec)
    sys.modules["evaluator"] = module
    spec.loader.exec_module(module)
    notes: list[str] = []
    if SETTINGS.get("cascade") and callable(getattr(module, "evaluate_stage1", None)):
        metrics, artifacts, notes = run_cascade(module, candidate)
    else:
        metrics, artifacts = unpack(call(module.evaluate, candidate))
    error = metrics.pop("error", None)
    kept = numeric_metrics(metrics)
    if is_error(error):
        kept["error"] = str(error)
    dims = tuple(SETTINGS.get("feature_dimensions", ()))
    return kept, fitness(kept, dims), notes + artifact_text(artifacts)


def shinka_metrics(data: dict[str, Any]) -> dict[str, Any]:
    """Numbers of metrics.json, its `private` numbers, and `public` numbers and short texts."""
    out: dict[str, Any] = numeric_metrics(
        {k: v for k, v in data.items() if k not in ("public", "private", "text_feedback")})
    out.update(numeric_metrics(data.get("private") or {}))
    for key, value in (data.get("public") or {}).items():
        if is_number(value):
            out[str(key)] = float(value)
        elif isinstance(value, str):
            out[str(key)] = value[:TEXT_METRIC_CHARS]
    return out


def run_shinka(candidate: str) -> tuple[dict[str, Any], float | None, list[str]]:
    """Run the user's evaluator as a script; return (metrics, score, feedback)."""
    results = Path(tempfile.mkdtemp(prefix="results-", dir="."))
    path = [os.path.abspath(SETTINGS["shims"]), os.getcwd(), os.environ.get("PYTHONPATH", "")]
    proc = subprocess.run(
        [sys.executable, SETTINGS["evaluator"], "--program_path", candidate,
         "--results_dir", str(results), *SETTINGS.get("extra_args", [])],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)})
    feedback: list[str] = []
    metrics: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if (results / "metrics.json").is_file():
        data = json.loads((results / "metrics.json").read_text())
        metrics = shinka_metrics(data)
        if data.get("text_feedback") and SETTINGS.get("text_feedback"):
            text = data["text_feedback"]
            feedback.append("\n".join(map(str, text)) if isinstance(text, list) else str(text))
    correct = {"correct": proc.returncode == 0 and bool(data), "error": None}
    if (results / "correct.json").is_file():
        correct.update(json.loads((results / "correct.json").read_text()))
    score = metrics.get("combined_score")
    if not correct.get("correct"):
        tail = (proc.stderr or proc.stdout)[-1500:]
        metrics["error"] = str(correct.get("error") or tail or "not correct")
    elif not is_number(score):
        metrics["error"] = "metrics.json has no finite combined_score"
    return metrics, score if is_number(score) else None, feedback


def main(candidate: str, result_path: str) -> None:
    """Evaluate `candidate` with the user's evaluator and write qd's result JSON."""
    out: dict[str, Any] = {"valid": False, "feedback": ""}
    sys.path.insert(0, os.path.abspath(SETTINGS["shims"]))
    try:
        runner = run_openevolve if SETTINGS["format"] == "openevolve" else run_shinka
        metrics, score, feedback = runner(os.path.abspath(candidate))
        measures = []
        for name in SETTINGS.get("measure_metrics", []):
            value = score if name == "combined_score" else metrics.get(name)
            if not is_number(value):
                feedback.append(f"metric {name!r} (an archive axis) is missing")
                value = None
            measures.append(value)
        error = metrics.pop("error", None)
        if error:
            feedback.insert(0, f"error: {error}")
        valid = not error and score is not None and None not in measures
        out = {"valid": bool(valid), "metrics": metrics, "feedback": "\n".join(feedback)}
        if valid:
            out.update(score=score, measures=measures)
    except Exception:  # noqa: BLE001 - any failure of the user's evaluator is a result
        out["feedback"] = traceback.format_exc()[-2000:]
    with open(result_path, "w") as handle:
        json.dump(out, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
