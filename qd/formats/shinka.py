"""Map a ShinkaEvolve folder (initial.py, evaluate.py, optional YAML) to a qd spec."""

from __future__ import annotations

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

INITIAL = "initial.py"
EVALUATOR = "evaluate.py"
#: The name the user's evaluate.py gets next to the adapter (which must be evaluate.py).
COPY_NAME = "shinka_evaluate.py"
SECTIONS = ("evo_config", "db_config", "job_config")
PATCH_OPERATORS = {"diff": "diff", "full": "rewrite", "cross": "crossover"}
MAPPED = {
    "max_evaluation_jobs", "max_proposal_jobs",
    "evo_config.num_generations", "evo_config.llm_models", "evo_config.patch_types",
    "evo_config.max_parallel_jobs", "evo_config.task_sys_msg", "evo_config.init_program_path",
    "evo_config.llm_kwargs.temperatures", "evo_config.llm_kwargs.max_tokens",
    "evo_config.language", "evo_config.use_text_feedback", "evo_config.max_api_costs",
    "evo_config.results_dir", "db_config.num_islands", "db_config.migration_interval",
    "db_config.parent_selection_strategy", "db_config.parent_selection_lambda",
    "db_config.exploitation_alpha", "job_config.eval_program_path", "job_config.time",
    "job_config.extra_cmd_args",
}
#: Shinka's parent selection strategies with a qd selector (name, option, Shinka's key).
SELECTORS = {"weighted": ("shinka_weighted", "sharpness", "parent_selection_lambda"),
             "power_law": ("power_law", "alpha", "exploitation_alpha")}


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
    evo, db, job = cfg["evo_config"], cfg["db_config"], cfg["job_config"]
    evaluator = folder / str(job.get("eval_program_path", EVALUATOR))
    require_evaluate(evaluator, "shinka")
    initial = _initial(folder, evo)
    language = program_language(folder, "ShinkaEvolve", initial, evo.get("language"))
    report = FormatReport("shinka", str(folder), str(cfg_path) if cfg_path else None)
    report.unmapped = unmapped_keys(raw, MAPPED)
    check_imports(evaluator, folder, report)
    settings = {"format": "shinka", "evaluator": COPY_NAME, "shims": SHIM_DIR,
                "text_feedback": bool(evo.get("use_text_feedback", False)),
                "extra_args": _extra_args(job.get("extra_cmd_args")), "measure_metrics": []}
    if not settings["text_feedback"]:
        report.notes.append("evo_config.use_text_feedback is off (ShinkaEvolve's default): "
                            "text_feedback is not shown to the model")
    adapter = write_adapter(settings, {**shim_files(), COPY_NAME: evaluator.read_bytes()})
    problem: dict[str, Any] = {
        "name": "program", "initial": str(initial.resolve()), "evaluator": str(adapter),
        "files": [str(adapter.parent / SHIM_DIR), str(adapter.parent / COPY_NAME),
                  *map(str, carried_entries(folder, _left_behind(folder, evo, evaluator),
                                            report))],
    }
    if language != "python":
        problem["language"] = language
    if evo.get("task_sys_msg"):
        problem["task"] = str(evo["task_sys_msg"])
    data: dict[str, Any] = {"description": f"ShinkaEvolve problem {folder.name}",
                            "problem": problem, "llm": _llm(raw, evo, db, report)}
    run: dict[str, Any] = {}
    if "num_generations" in evo:
        run["budget"] = int(evo["num_generations"])
    if evo.get("max_api_costs"):
        run["max_cost_usd"] = float(evo["max_api_costs"])
    if run:
        data["run"] = run
    if job.get("time"):
        data["sandbox"] = {"timeout_s": float(_seconds(str(job["time"])))}
    report.notes.append("ShinkaEvolve keeps islands of programs, not a grid: the archive "
                        "axes are qd's defaults (code_length, complexity)")
    if not cfg_path and (folder / "run_evo.py").is_file():
        report.notes.append("run_evo.py sets ShinkaEvolve's options in Python, which qd does "
                            "not read: qd's defaults apply (override them with --set)")
    return data, report


def _initial(folder: Path, evo: dict[str, Any]) -> Path:
    """The initial program: evo_config.init_program_path, else initial.py, else initial.*."""
    named = folder / str(evo.get("init_program_path", INITIAL))
    if named.is_file() or "init_program_path" in evo:
        return named
    others = sorted(p for p in folder.glob("initial.*") if p.is_file())
    return others[0] if others else named


def _left_behind(folder: Path, evo: dict[str, Any], evaluator: Path) -> dict[str, str]:
    """Entries of the folder that do not travel: the evaluator (copied) and Shinka's outputs."""
    skip = {evaluator.name: f"travels as {COPY_NAME} beside qd's adapter"}
    outputs = [Path(str(evo["results_dir"])).parts[0]] if evo.get("results_dir") else []
    outputs += [p.name for p in folder.iterdir()
                if p.is_dir() and (p.name == "results" or p.name.startswith("results_"))]
    return {**skip, **{name: "ShinkaEvolve's results folder" for name in outputs}}


def _extra_args(extra: Any) -> list[str]:
    """job_config.extra_cmd_args as ShinkaEvolve passes them: --key value for each entry."""
    out: list[str] = []
    for key, value in (extra or {}).items():
        out += [f"--{key}", str(value)]
    return out


def _seconds(text: str) -> int:
    """ShinkaEvolve's job time "hh:mm:ss" in seconds."""
    try:
        hours, minutes, seconds = (int(part) for part in text.split(":"))
    except ValueError:
        raise SpecError(f"job_config.time {text!r}: expected hh:mm:ss, e.g. 00:05:00") from None
    return hours * 3600 + minutes * 60 + seconds


def _llm(raw: dict[str, Any], evo: dict[str, Any], db: dict[str, Any],
         report: FormatReport) -> dict[str, Any]:
    """`[llm]` from Shinka's llm_models, patch types, parent selection and job counts."""
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
    selector = _selector(db, report)
    if int(db.get("num_islands", 1) or 1) > 1:
        selector = {"name": "islands", "islands": int(db["num_islands"]), "within": selector}
        if "migration_interval" in db:
            selector["migration_interval"] = int(db["migration_interval"])
    if selector["name"] != "uniform":
        llm["selector"] = selector
    jobs = raw.get("max_evaluation_jobs") or evo.get("max_parallel_jobs")
    if jobs:
        llm["evaluations_in_flight"] = int(jobs)
    if raw.get("max_proposal_jobs"):
        llm["proposals_in_flight"] = int(raw["max_proposal_jobs"])
    return llm


def _selector(db: dict[str, Any], report: FormatReport) -> dict[str, Any]:
    """The qd selector for db_config.parent_selection_strategy (Shinka default: weighted)."""
    strategy = str(db.get("parent_selection_strategy", "weighted"))
    if strategy not in SELECTORS:
        report.notes.append(f"db_config.parent_selection_strategy {strategy!r} has no qd "
                            f"selector: qd picks parents uniformly among the elites")
        return {"name": "uniform"}
    name, option, key = SELECTORS[strategy]
    selector: dict[str, Any] = {"name": name}
    if key in db:
        selector[option] = float(db[key])
    return selector
