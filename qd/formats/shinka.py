"""Map a ShinkaEvolve folder (initial.py, evaluate.py, optional YAML) to a qd spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qd.formats.common import (
    FormatReport,
    helper_files,
    local_modules,
    missing_imports,
    read_yaml,
    require_evaluate,
    unmapped_keys,
    write_adapter,
)

INITIAL = "initial.py"
EVALUATOR = "evaluate.py"
#: The name the user's evaluate.py gets next to the adapter (which must be evaluate.py).
COPY_NAME = "shinka_evaluate.py"
SECTIONS = ("evo_config", "db_config", "job_config")
PATCH_OPERATORS = {"diff": "diff", "full": "rewrite", "cross": "crossover"}
MAPPED = {
    "evo_config.num_generations", "evo_config.llm_models", "evo_config.patch_types",
    "evo_config.max_parallel_jobs", "evo_config.task_sys_msg", "evo_config.init_program_path",
    "evo_config.llm_kwargs.temperatures", "evo_config.llm_kwargs.max_tokens",
    "db_config.num_islands", "db_config.migration_interval", "job_config.eval_program_path",
}


def is_shinka_evaluator(path: Path) -> bool:
    """Whether `path` is a Shinka evaluator (a script taking --program_path/--results_dir)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return "program_path" in text and "results_dir" in text


def config_file(folder: Path) -> Path | None:
    """Return the folder's Shinka YAML: shinka*.yaml first, then config.yaml."""
    found = sorted(folder.glob("shinka*.y*ml")) + [folder / n for n in ("config.yaml",
                                                                          "config.yml")]
    return next((p for p in found if p.is_file()), None)


def load(folder: Path) -> tuple[dict[str, Any], FormatReport]:
    """Build qd spec data for a ShinkaEvolve folder, without touching its files.

    Returns:
        (spec data shaped like problem.toml, report of what was not mapped).
    """
    cfg_path = config_file(folder)
    raw = read_yaml(cfg_path) if cfg_path else {}
    cfg = {s: dict(raw.get(s) or {}) for s in SECTIONS}
    report = FormatReport("shinka", str(folder), str(cfg_path) if cfg_path else None)
    report.unmapped = unmapped_keys(raw, MAPPED)
    evo, db = cfg["evo_config"], cfg["db_config"]
    evaluator = folder / str(cfg["job_config"].get("eval_program_path", EVALUATOR))
    require_evaluate(evaluator, "shinka")
    initial = folder / str(evo.get("init_program_path", INITIAL))
    settings = {"format": "shinka", "evaluator": COPY_NAME, "measure_metrics": []}
    adapter = write_adapter(settings, {COPY_NAME: evaluator.read_bytes()})
    helpers = helper_files(folder, {initial.name, evaluator.name})
    problem: dict[str, Any] = {
        "name": "program", "initial": str(initial.resolve()), "evaluator": str(adapter),
        "files": [str(adapter.parent / COPY_NAME), *map(str, helpers)],
    }
    if evo.get("task_sys_msg"):
        problem["task"] = str(evo["task_sys_msg"])
    data: dict[str, Any] = {"description": f"ShinkaEvolve problem {folder.name}",
                            "problem": problem, "llm": _llm(evo, db, report)}
    if "num_generations" in evo:
        data["run"] = {"budget": int(evo["num_generations"])}
    report.notes.append("ShinkaEvolve keeps islands of programs, not a grid: the archive "
                        "axes are qd's defaults (code_length, complexity)")
    report.missing_packages = missing_imports([evaluator, *helpers], local_modules(folder))
    return data, report


def _llm(evo: dict[str, Any], db: dict[str, Any], report: FormatReport) -> dict[str, Any]:
    """`[llm]` from Shinka's llm_models, patch types and islands."""
    llm: dict[str, Any] = {}
    kwargs = evo.get("llm_kwargs") or {}
    temps = kwargs.get("temperatures")
    if isinstance(temps, list) and len(temps) > 1:
        report.notes.append(f"evo_config.llm_kwargs.temperatures {temps}: qd uses one "
                            f"temperature per model, the first ({temps[0]})")
    temp = temps[0] if isinstance(temps, list) and temps else temps
    models = []
    for name in evo.get("llm_models") or []:
        model: dict[str, Any] = {"model": str(name), "name": str(name), "mode": "chat"}
        if temp is not None:
            model["temperature"] = float(temp)
        if kwargs.get("max_tokens") is not None:
            model["max_tokens"] = int(kwargs["max_tokens"])
        models.append(model)
    if models:
        llm["models"] = models
    patches = evo.get("patch_types")
    if patches:
        unknown = [p for p in patches if p not in PATCH_OPERATORS]
        if unknown:
            report.notes.append(f"patch types {unknown} have no qd operator and were dropped")
        ops = list(dict.fromkeys(PATCH_OPERATORS[p] for p in patches if p in PATCH_OPERATORS))
        llm["operators"] = ops or ["diff"]
    if "patch_type_probs" in evo:
        report.notes.append("evo_config.patch_type_probs is not used: qd's bandit learns "
                            "which operator pays")
    if int(db.get("num_islands", 1) or 1) > 1:
        llm["selector"] = {"name": "islands", "islands": int(db["num_islands"])}
        if "migration_interval" in db:
            llm["selector"]["migration_interval"] = int(db["migration_interval"])
    if evo.get("max_parallel_jobs"):
        llm["evaluations_in_flight"] = int(evo["max_parallel_jobs"])
    return llm
