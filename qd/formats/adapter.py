"""Adapter evaluator: runs an OpenEvolve or ShinkaEvolve evaluator and writes qd's result.json."""

# This file is copied, with SETTINGS filled in, as `evaluate.py` into a qd-owned cache folder;
# the sandbox runs it as `python evaluate.py candidate.py result.json` next to the user's
# evaluator. It uses the standard library only.

from __future__ import annotations

import importlib.util
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


def numeric_metrics(values: dict[str, Any]) -> dict[str, float]:
    """Keep the finite numbers (not booleans) of a metrics mapping."""
    out = {}
    for key, value in values.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(float(value)):
                out[str(key)] = float(value)
    return out


def score_of(metrics: dict[str, float]) -> float | None:
    """`combined_score` when present, else the mean of the numeric metrics, else None."""
    if "combined_score" in metrics:
        return metrics["combined_score"]
    return sum(metrics.values()) / len(metrics) if metrics else None


def unpack(result: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, artifacts) of a dict or an EvaluationResult-like object."""
    if hasattr(result, "metrics"):
        return dict(result.metrics or {}), dict(getattr(result, "artifacts", None) or {})
    if isinstance(result, dict):
        return dict(result), {}
    raise TypeError(f"the evaluator returned {type(result).__name__}, not a dict of metrics")


def run_openevolve(candidate: str) -> tuple[dict[str, Any], list[str]]:
    """Call the user's `evaluate` (or cascade stages); return (raw metrics, feedback lines)."""
    spec = importlib.util.spec_from_file_location("evaluator", SETTINGS["evaluator"])
    module = importlib.util.module_from_spec(spec)
    sys.modules["evaluator"] = module
    spec.loader.exec_module(module)
    stages = [getattr(module, f"evaluate_stage{i}", None) for i in (1, 2, 3)]
    stages = [s for s in stages if callable(s)]
    if not (SETTINGS.get("cascade") and stages):
        stages = [module.evaluate]
    thresholds = list(SETTINGS.get("thresholds") or [])
    merged: dict[str, Any] = {}
    feedback: list[str] = []
    for i, stage in enumerate(stages):
        metrics, artifacts = unpack(stage(candidate))
        merged.update(metrics)
        feedback += [f"{k}: {v}" for k, v in artifacts.items()]
        if "error" in metrics:
            break
        score = score_of(numeric_metrics(metrics))
        if len(stages) > 1 and i < len(stages) - 1:
            bar = thresholds[i] if i < len(thresholds) else None
            if score is None or (bar is not None and score < bar):
                merged["error"] = f"cascade stage {i + 1} scored {score}, below {bar}"
                break
    return merged, feedback


def run_shinka(candidate: str) -> tuple[dict[str, Any], list[str]]:
    """Run the user's evaluator as a script; return (raw metrics, feedback lines)."""
    results = Path(tempfile.mkdtemp(prefix="results-", dir="."))
    proc = subprocess.run(
        [sys.executable, SETTINGS["evaluator"], "--program_path", candidate,
         "--results_dir", str(results)], capture_output=True, text=True, check=False)
    feedback: list[str] = []
    metrics: dict[str, Any] = {}
    if (results / "metrics.json").is_file():
        data = json.loads((results / "metrics.json").read_text())
        metrics = {k: v for k, v in data.items()
                   if k not in ("public", "private", "text_feedback")}
        for part in ("public", "private"):
            metrics.update(data.get(part) or {})
        if data.get("text_feedback"):
            feedback.append(str(data["text_feedback"]))
    correct = {"correct": proc.returncode == 0 and bool(metrics), "error": None}
    if (results / "correct.json").is_file():
        correct.update(json.loads((results / "correct.json").read_text()))
    if not correct.get("correct"):
        error = correct.get("error") or (proc.stderr or proc.stdout)[-1500:] or "not correct"
        metrics["error"] = str(error)
    return metrics, feedback


def main(candidate: str, result_path: str) -> None:
    """Evaluate `candidate` with the user's evaluator and write qd's result JSON."""
    out: dict[str, Any] = {"valid": False, "feedback": ""}
    try:
        runner = run_openevolve if SETTINGS["format"] == "openevolve" else run_shinka
        raw, feedback = runner(os.path.abspath(candidate))
        metrics = numeric_metrics(raw)
        score = score_of(metrics)
        measures = []
        for name in SETTINGS.get("measure_metrics", []):
            value = score if name == "combined_score" else metrics.get(name)
            if value is None:
                feedback.append(f"metric {name!r} (an archive axis) is missing")
            measures.append(value)
        error = raw.get("error")
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
