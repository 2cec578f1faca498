"""`run_shinka_eval` of qd's stand-in `shinka` package: run an experiment, write its results.

Written for qd from ShinkaEvolve's documented contract of `shinka.core.run_shinka_eval`: load
the program, call its experiment function `num_runs` times (keyword arguments from
`get_experiment_kwargs(run_index)`, else `seed=run_index + 1`), check each result with
`validate_fn`, reduce the results with `aggregate_metrics_fn`, add timing and validation
counts, and write `metrics.json` and `correct.json` to `results_dir`.

Differences from ShinkaEvolve's own: runs are always sequential (`run_workers` > 1 gives the
same results in the same order, one at a time), `plotting_fn` is not called (qd keeps no
plots), and early stopping is refused with a message (qd runs every requested run).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import pickle
import statistics
import time
from collections.abc import Callable
from typing import Any

DEFAULT_METRICS_ON_ERROR: dict[str, Any] = {
    "combined_score": 0.0,
    "execution_time_mean": 0.0,
    "execution_time_std": 0.0,
    "num_successful_runs": 0,
    "num_valid_runs": 0,
    "num_invalid_runs": 0,
    "all_validation_errors": [],
}


def load_program(program_path: str) -> Any:
    """Import the candidate program at `program_path` as the module `program`."""
    spec = importlib.util.spec_from_file_location("program", program_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a Python module from {program_path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_json_results(results_dir: str, metrics: dict[str, Any], correct: bool,
                      error: str | None = None, verbose: bool = True) -> None:
    """Write `correct.json` ({"correct", "error"}) and `metrics.json` to `results_dir`."""
    del verbose  # accepted for compatibility; qd's stand-in prints nothing
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "correct.json"), "w") as handle:
        json.dump({"correct": correct, "error": error}, handle, indent=4)
    with open(os.path.join(results_dir, "metrics.json"), "w") as handle:
        json.dump(metrics, handle, indent=4, default=_jsonable)


def run_shinka_eval(
    program_path: str,
    results_dir: str,
    experiment_fn_name: str,
    num_runs: int,
    get_experiment_kwargs: Callable[[int], dict[str, Any]] | None = None,
    aggregate_metrics_fn: Callable[[list[Any]], dict[str, Any]] | None = None,
    validate_fn: Callable[[Any], tuple[bool, str | None]] | None = None,
    plotting_fn: Callable[[Any], list[Any]] | None = None,
    default_metrics_on_error: dict[str, Any] | None = None,
    early_stop_method: Any = None,
    early_stop_threshold: float | None = None,
    early_stop_score_fn: Callable[[Any], float] | None = None,
    early_stop_kwargs: dict[str, Any] | None = None,
    run_workers: int = 1,
    max_workers_cap: int | None = None,
    verbose: bool | None = None,
) -> tuple[dict[str, Any], bool, str | None]:
    """Run `experiment_fn_name` of the program `num_runs` times and record the outcome.

    Returns:
        (metrics, correct, first error message or None); the same is written to
        `results_dir/metrics.json` and `results_dir/correct.json`.

    Raises:
        ValueError: `run_workers` or `max_workers_cap` below 1, or early stopping asked for.
    """
    del plotting_fn, early_stop_threshold, early_stop_score_fn, early_stop_kwargs, verbose
    if run_workers < 1:
        raise ValueError("run_workers must be >= 1")
    if max_workers_cap is not None and max_workers_cap < 1:
        raise ValueError("max_workers_cap must be >= 1 when provided")
    if early_stop_method not in (None, "none"):
        raise ValueError(f"early_stop_method={early_stop_method!r}: early stopping is not "
                         f"provided by qd's stand-in for shinka.core.run_shinka_eval; leave "
                         f"it unset, and qd runs all num_runs runs")
    results: list[Any] = []
    try:
        metrics, correct, error = _run(program_path, experiment_fn_name, num_runs,
                                       get_experiment_kwargs, aggregate_metrics_fn,
                                       validate_fn, results)
    except Exception as exc:  # noqa: BLE001 - a failing program is a result, as in Shinka
        given = default_metrics_on_error or {}
        metrics = {k: given.get(k, v) for k, v in DEFAULT_METRICS_ON_ERROR.items()}
        if validate_fn:
            metrics.setdefault("num_invalid_runs", len(results))
            metrics.setdefault("all_validation_errors", [str(exc)])
        correct, error = False, str(exc)
    if "extra_data" in metrics:
        os.makedirs(results_dir, exist_ok=True)
        with open(os.path.join(results_dir, "extra.pkl"), "wb") as handle:
            pickle.dump(metrics.pop("extra_data"), handle)
    save_json_results(results_dir, metrics, correct, error)
    return metrics, correct, error


def _run(program_path: str, fn_name: str, num_runs: int,
         get_kwargs: Callable[[int], dict[str, Any]] | None,
         aggregate: Callable[[list[Any]], dict[str, Any]] | None,
         validate: Callable[[Any], tuple[bool, str | None]] | None,
         results: list[Any]) -> tuple[dict[str, Any], bool, str | None]:
    """The runs themselves; `results` fills as they complete (read on failure)."""
    module = load_program(program_path)
    if not hasattr(module, fn_name):
        raise AttributeError(f"Experiment function '{fn_name}' not found in {program_path}")
    experiment = getattr(module, fn_name)
    times: list[float] = []
    errors: list[str] = []
    correct, error, valid, invalid = True, None, 0, 0
    for index in range(num_runs):
        kwargs = get_kwargs(index) if get_kwargs else {"seed": index + 1}
        start = time.perf_counter()
        outcome = experiment(**kwargs)
        times.append(time.perf_counter() - start)
        results.append(outcome)
        if validate is None:
            continue
        ok, message = validate(outcome)
        if ok:
            valid += 1
            continue
        invalid += 1
        correct = False
        if message:
            error = error or f"Validation failed: {message}"
            if message not in errors:
                errors.append(message)
    metrics = dict(aggregate(results)) if aggregate else _summary(results)
    metrics["execution_time_mean"] = statistics.fmean(times) if times else 0.0
    metrics["execution_time_std"] = statistics.pstdev(times) if times else 0.0
    if validate:
        metrics.update(num_valid_runs=valid, num_invalid_runs=invalid,
                       all_validation_errors=errors)
    score = metrics.get("combined_score")
    if isinstance(score, int | float) and not math.isfinite(score):
        correct = False
        error = error or ("combined_score is NaN" if math.isnan(score)
                          else f"combined_score is inf ({score})")
    return metrics, correct, error


def _summary(results: list[Any]) -> dict[str, Any]:
    """Metrics when no aggregate function is given: the count and a preview."""
    return {"num_successful_runs": len(results),
            "first_run_result_type": str(type(results[0])) if results else "N/A",
            "raw_results_preview": str(results[:2]) if results else "N/A"}


def _jsonable(value: Any) -> Any:
    """JSON form of numpy scalars and arrays (`item` / `tolist`), else the text."""
    for method in ("tolist", "item"):
        if callable(getattr(value, method, None)):
            return getattr(value, method)()
    return str(value)
