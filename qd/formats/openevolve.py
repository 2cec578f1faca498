"""Map an OpenEvolve folder (initial_program.py, evaluator.py, config.yaml) to a qd spec."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from qd.errors import SpecError
from qd.formats.common import (
    FormatReport,
    carried_entries,
    check_imports,
    program_language,
    read_yaml,
    require_evaluate,
    unmapped_keys,
    write_adapter,
)
from qd.formats.peers import SHIM_DIR, shim_files

INITIAL = "initial_program.py"
EVALUATOR = "evaluator.py"
CONFIGS = ("config.yaml", "config.yml")
#: OpenEvolve's own defaults where qd's differ.
DEFAULT_DIMENSIONS = ["complexity", "diversity"]
DEFAULT_BINS = 10
DEFAULT_THRESHOLDS = [0.5, 0.75, 0.9]
_ENV_REF = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")

#: qd's longest sandbox timeout (sandbox.timeout_s), one day.
MAX_TIMEOUT_S = 86_400.0
#: OpenEvolve's default prompt.max_artifact_bytes.
DEFAULT_ARTIFACT_BYTES = 20 * 1024
#: Folders OpenEvolve writes into a problem folder (never copied into the sandbox).
OUTPUT_DIRS = {"openevolve_output": "OpenEvolve's output folder"}

#: Settings mapped to qd (dotted YAML names); everything else is reported as unmapped.
MAPPED = {
    "max_iterations", "random_seed", "diff_based_evolution", "allow_full_rewrites",
    "max_code_length", "language", "file_suffix", "prompt.system_message",
    "prompt.include_artifacts", "prompt.max_artifact_bytes", "database.feature_dimensions",
    "database.feature_bins", "database.num_islands", "database.migration_interval",
    "evaluator.timeout", "evaluator.cascade_evaluation", "evaluator.cascade_thresholds",
    "evaluator.parallel_evaluations", "evaluator.enable_artifacts", "evaluator.memory_limit_mb",
    "llm.models", "llm.api_base", "llm.api_key", "llm.temperature", "llm.max_tokens",
    "llm.timeout", "llm.retries", "llm.primary_model", "llm.secondary_model",
    "llm.system_message",
}
_MODEL_KEYS = {"name", "api_base", "api_key", "temperature", "max_tokens", "timeout", "retries"}


def config_file(folder: Path) -> Path | None:
    """Return the folder's OpenEvolve YAML config, if any."""
    return next((folder / n for n in CONFIGS if (folder / n).is_file()), None)


def initial_program(folder: Path) -> Path:
    """The folder's initial program: initial_program.py, else initial_program.<any suffix>."""
    if (folder / INITIAL).is_file():
        return folder / INITIAL
    others = sorted(p for p in folder.glob("initial_program.*") if p.is_file())
    if not others:
        raise SpecError(f"{folder}: no {INITIAL}; an OpenEvolve folder needs it")
    return others[0]


def load(folder: Path) -> tuple[dict[str, Any], FormatReport]:
    """Build qd spec data for an OpenEvolve folder, without touching its files.

    Returns:
        (spec data shaped like problem.toml, report of what was not mapped).
    """
    evaluator = folder / EVALUATOR
    require_evaluate(evaluator, "openevolve")
    cfg_path = config_file(folder)
    cfg = read_yaml(cfg_path) if cfg_path else {}
    initial = initial_program(folder)
    suffix = cfg.get("file_suffix")
    language = program_language(folder, "OpenEvolve",
                                initial.with_suffix(suffix) if suffix else initial,
                                cfg.get("language"))
    report = FormatReport("openevolve", str(folder), str(cfg_path) if cfg_path else None)
    report.unmapped = unmapped_keys(cfg, MAPPED)
    others = sorted(p.name for p in folder.glob("*.y*ml") if p != cfg_path)
    if others and not cfg_path:
        report.notes.append(f"no config.yaml: qd's defaults apply; other YAML files here are "
                            f"not read ({', '.join(others)}): copy one to config.yaml to use it")
    check_imports(evaluator, folder, report)
    ev = cfg.get("evaluator") or {}
    db = cfg.get("database") or {}
    prompt = cfg.get("prompt") or {}
    measures, cells, metric_axes = _measures(cfg, db, report)
    settings = {"format": "openevolve", "evaluator": EVALUATOR, "shims": SHIM_DIR,
                "cascade": bool(ev.get("cascade_evaluation", True)),
                "thresholds": [float(t) for t in ev.get("cascade_thresholds",
                                                        DEFAULT_THRESHOLDS)],
                "artifacts": bool(ev.get("enable_artifacts", True)
                                  and prompt.get("include_artifacts", True)),
                "artifact_chars": int(prompt.get("max_artifact_bytes", DEFAULT_ARTIFACT_BYTES)),
                "feature_dimensions": [str(d) for d in db.get("feature_dimensions",
                                                              DEFAULT_DIMENSIONS)],
                "measure_metrics": metric_axes}
    adapter = write_adapter(settings, shim_files())
    problem: dict[str, Any] = {
        "name": "program", "initial": str(initial.resolve()), "evaluator": str(adapter),
        "files": [str(adapter.parent / SHIM_DIR),
                  *map(str, carried_entries(folder, OUTPUT_DIRS, report))],
        "measures": measures,
    }
    if language != "python":
        problem["language"] = language
    task = prompt.get("system_message") or (cfg.get("llm") or {}).get("system_message")
    if task:
        problem["task"] = str(task)
    data: dict[str, Any] = {"description": f"OpenEvolve problem {folder.name}",
                            "problem": problem, "archive": {"name": "grid", "cells": cells}}
    data["llm"] = _llm(cfg, report)
    if "parallel_evaluations" in ev:
        data["llm"]["evaluations_in_flight"] = int(ev["parallel_evaluations"])
    sandbox = _sandbox(ev, _stages(evaluator) if settings["cascade"] else 1, report)
    if sandbox:
        data["sandbox"] = sandbox
    run: dict[str, Any] = {}
    if "max_iterations" in cfg:
        run["budget"] = int(cfg["max_iterations"])
    if cfg.get("random_seed") is not None:
        run["seed"] = int(cfg["random_seed"])
    if run:
        data["run"] = run
    return data, report


def _stages(evaluator: Path) -> int:
    """How many cascade stages (evaluate_stage1..3) the evaluator defines, at least 1."""
    text = evaluator.read_text(encoding="utf-8")
    found = sum(f"def evaluate_stage{i}(" in text for i in (1, 2, 3))
    return max(found, 1)


def _sandbox(ev: dict[str, Any], stages: int, report: FormatReport) -> dict[str, Any]:
    """`[sandbox]` from evaluator.timeout (per stage in OpenEvolve) and memory_limit_mb."""
    sandbox: dict[str, Any] = {}
    if "timeout" in ev:
        sandbox["timeout_s"] = min(float(ev["timeout"]) * stages, MAX_TIMEOUT_S)
        if float(ev["timeout"]) * stages > MAX_TIMEOUT_S:
            report.notes.append(f"evaluator.timeout {ev['timeout']} s x {stages} stages is "
                                f"over qd's longest sandbox timeout: {MAX_TIMEOUT_S:g} s")
        if stages > 1:
            report.notes.append(f"evaluator.timeout {ev['timeout']} s is per cascade stage in "
                                f"OpenEvolve: qd's sandbox allows {stages} x {ev['timeout']} s "
                                f"for the whole evaluation")
    if ev.get("memory_limit_mb"):
        sandbox["memory_mb"] = int(ev["memory_limit_mb"])
    return sandbox


def _measures(cfg: dict[str, Any], db: dict[str, Any],
              report: FormatReport) -> tuple[list[dict[str, Any]], list[int], list[str]]:
    """Archive axes and cells from feature_dimensions / feature_bins."""
    dims = list(db.get("feature_dimensions", DEFAULT_DIMENSIONS))
    bins = db.get("feature_bins", DEFAULT_BINS)
    measures: list[dict[str, Any]] = []
    cells: list[int] = []
    metric_axes: list[str] = []
    for dim in dims:
        n = int(bins.get(dim, DEFAULT_BINS) if isinstance(bins, dict) else bins)
        if dim == "complexity":  # OpenEvolve's complexity is the code's length
            high = float(cfg.get("max_code_length", 10000))
            measures.append({"source": "code_length", "range": [0.0, high], "name": dim})
        elif dim == "diversity":
            report.notes.append("feature dimension 'diversity' has no qd equivalent and was "
                                "dropped; qd's novelty filter rejects near-duplicates instead")
            continue
        else:
            name = "combined_score" if dim == "score" else str(dim)
            measures.append({"source": "evaluator", "index": len(metric_axes),
                             "range": [0.0, 1.0], "name": name})
            metric_axes.append(name)
            report.notes.append(f"feature dimension {dim!r} is the evaluator metric {name!r}; "
                                f"its range is assumed to be [0, 1] (to change it, convert the "
                                f"folder with qd convert and edit axis {len(measures)} in "
                                f"problem.toml, or --set problem.measures=[...] with every axis)")
        cells.append(max(n, 1))
    if not measures:
        measures.append({"source": "code_length", "name": "complexity",
                         "range": [0.0, float(cfg.get("max_code_length", 10000))]})
        cells.append(DEFAULT_BINS)
    return measures, cells, metric_axes


def _llm(cfg: dict[str, Any], report: FormatReport) -> dict[str, Any]:
    """`[llm]` models and operators from OpenEvolve's `llm` and evolution settings."""
    section = cfg.get("llm") or {}
    entries = list(section.get("models") or [])
    for key in ("primary_model", "secondary_model"):
        if section.get(key) and not entries:
            entries.append({"name": section[key]})
    models = []
    for i, entry in enumerate(entries):
        entry = {"name": entry} if isinstance(entry, str) else dict(entry)
        report.unmapped += [f"llm.models[{i}].{k}" for k in entry if k not in _MODEL_KEYS]
        if "weight" in entry:
            report.notes.append(f"llm.models[{i}].weight is not used: qd's bandit learns "
                                f"which model pays")
        models.append(_model(entry, section, report.notes))
    llm: dict[str, Any] = {"models": models} if models else {}
    if not models:
        report.notes.append("no llm.models in the config: qd uses its default model")
    ops = ["diff"] if cfg.get("diff_based_evolution", True) else ["rewrite"]
    if cfg.get("diff_based_evolution", True) and cfg.get("allow_full_rewrites"):
        ops.append("rewrite")
    llm["operators"] = ops
    db = cfg.get("database") or {}
    if int(db.get("num_islands", 1) or 1) > 1:
        llm["selector"] = {"name": "islands", "islands": int(db["num_islands"])}
        if "migration_interval" in db:
            llm["selector"]["migration_interval"] = int(db["migration_interval"])
    return llm


def _model(entry: dict[str, Any], section: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """One qd model: OpenEvolve talks to OpenAI-compatible endpoints, so `openai/<name>`."""
    get = lambda key: entry.get(key, section.get(key))  # noqa: E731 - model value or default
    name = str(entry["name"])
    model: dict[str, Any] = {"model": name if name.startswith("openai/") else f"openai/{name}",
                             "name": name, "mode": "chat"}
    if get("api_base"):
        model["api_base"] = str(get("api_base"))
    key = get("api_key")
    match = _ENV_REF.match(str(key)) if key else None
    if match:
        model["api_key_env"] = match.group(1)
    elif key:
        notes.append(f"model {name!r}: the config holds a literal API key; qd never stores "
                     f"keys, so it was dropped: put it in an environment variable and set "
                     f"api_key_env")
    for src, dst in (("temperature", "temperature"), ("max_tokens", "max_tokens"),
                     ("timeout", "timeout_s"), ("retries", "max_retries")):
        if get(src) is not None:
            model[dst] = get(src)
    return model
