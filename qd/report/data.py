"""`ReportData`: everything a report shows, computed from a run folder as plain dataclasses.

Rendering (`qd.report.render`) only formats these records. Run-type-specific sections (program
lineage, top programs, bandit arms, cost per model, failure reasons) are `ExtraSection`s produced
by the loaders in `qd.report.sections`, each of which reads its own tables and returns None when
the run has none, so a report shows exactly what its run recorded. The rollout views the run's
problem offers (`qd.report.rollouts`: paths, gait diagrams) come first among them.
"""

from __future__ import annotations

import datetime as dt
import math
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from qd.kinds import run_kind_of
from qd.numeric.storage import evaluation_count
from qd.report.archive_data import ArchiveData, load_archive
from qd.report.rollouts import rollout_sections
from qd.report.sections import ExtraSection, load_sections
from qd.report.source import RunFiles, lock_holder, open_run_store, read_run_files
from qd.seeds import derive_seeds
from qd.store import RunStore
from qd.types import ArchiveStats

#: Curves with more stored rows than this are thinned evenly (first and last row kept).
MAX_CURVE_POINTS = 5000
CURVE_FIELDS = ("iteration", "evaluations", "num_elites", "coverage", "qd_score",
                "norm_qd_score", "best", "elapsed_s")


@dataclass(frozen=True)
class RunInfo:
    """What was run, with which settings and software, and where it stands.

    For program runs (`programs`: the archive's solutions are program ids) `iterations` and
    `evaluations` both count evaluated programs, `proposals` counts every stored proposal
    (also those rejected before evaluation), and `llm` summarises the `[llm]` settings (model
    names, operators, bandit and selector names) in place of emitters.
    """

    name: str
    path: str
    description: str
    problem: dict[str, Any]
    archive: dict[str, Any]
    emitters: tuple[dict[str, Any], ...]
    spec_toml: str
    budget: int
    planned_evaluations: int
    batch_size: int
    seed: int
    derived_seeds: tuple[int, ...]
    device: str
    provenance: dict[str, Any]
    status: str
    iterations: int
    evaluations: int
    elapsed_s: float
    programs: bool = False
    proposals: int = 0
    llm: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Session:
    """One process's work on the run, from its `start` event to its `end` (or its last commit).

    `outcome` is the end reason (`budget`, `SIGINT`, `SIGTERM`, ...), `killed` when the process
    died without an end event, or `running` while it still holds the run's lock.
    """

    number: int
    started: float
    ended: float | None
    outcome: str
    first_iteration: int
    last_iteration: int
    resume: dict[str, Any] | None

    @property
    def wall_s(self) -> float | None:
        """Wall-clock seconds from start to end (None when unknown)."""
        return None if self.ended is None else self.ended - self.started


@dataclass(frozen=True)
class EventRow:
    """One stored event: time (epoch seconds), kind, and its payload."""

    t: float
    kind: str
    details: dict[str, Any]


@dataclass(frozen=True)
class Curves:
    """Per-iteration metrics from the store (thinned to at most `MAX_CURVE_POINTS` rows).

    `columns` maps each of `CURVE_FIELDS` to a float array (NaN where `best` is None); `rows` is
    the number of stored metrics rows, `points` the number kept.
    """

    columns: dict[str, np.ndarray]
    rows: int

    @property
    def points(self) -> int:
        """Number of points each curve has."""
        return int(self.columns["iteration"].size)


@dataclass(frozen=True)
class ReportData:
    """Everything `qd report` renders for one run."""

    run: RunInfo
    stats: ArchiveStats
    sessions: tuple[Session, ...]
    events: tuple[EventRow, ...]
    curves: Curves
    archive: ArchiveData
    sections: tuple[ExtraSection, ...]
    generated: str


def load_report_data(run: Path, max_points: int = MAX_CURVE_POINTS) -> ReportData:
    """Read a run folder (read-only) into a `ReportData`.

    Args:
        run: The run folder.
        max_points: Most points per curve; longer runs are thinned evenly.

    Raises:
        RunDirError: `run` is not a run folder.
        ReportError: The folder has no readable run store.
    """
    files = read_run_files(run)
    with closing(open_run_store(files.path)) as store, store.transaction():
        metrics = store.metrics.all()
        archive = load_archive(files, store)
        sessions = _sessions(store, files.path)
        events = tuple(EventRow(e.pop("t"), e.pop("kind"), e) for e in store.events.all())
        sections = (*rollout_sections(store, files), *load_sections(store, files))
        evaluations = evaluation_count(store)
        programs = _is_program_run(files.config)
        proposals = sum(store.programs.counts().values()) if programs else 0
    last = metrics[-1] if metrics else None
    status = status_label(sessions[-1].outcome) if sessions else "not started"
    iterations = archive.iteration
    if programs:  # one metrics row per evaluated program, no batches
        iterations = evaluations = last.evaluations if last else 0
    return ReportData(
        run=_run_info(files, status, iterations, evaluations,
                      last.elapsed_s if last else 0.0, programs, proposals),
        stats=ArchiveStats(
            num_elites=archive.size,
            coverage=last.coverage if last else 0.0,
            qd_score=last.qd_score if last else 0.0,
            norm_qd_score=last.norm_qd_score if last else 0.0,
            best=float(archive.objective.max()) if archive.size else None,
            mean=float(archive.objective.mean()) if archive.size else None,
        ),
        sessions=sessions,
        events=events,
        curves=_curves(metrics, max_points),
        archive=archive,
        sections=sections,
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


def status_label(outcome: str) -> str:
    """Name a run's status from its last session's outcome: finished, killed, running, ...."""
    if outcome == "budget":
        return "finished"
    return outcome if outcome in ("killed", "running") else f"stopped ({outcome})"


def _run_info(files: RunFiles, status: str, iterations: int, evaluations: int,
              elapsed_s: float, programs: bool, proposals: int) -> RunInfo:
    cfg = files.config
    run = cfg.get("run", {})
    emitters = () if programs else tuple(cfg.get("emitters", []))
    batch = sum(int(e.get("count", 1)) * int(e.get("batch_size", 36)) for e in emitters) or 1
    budget = int(run.get("budget", 0))
    seed = int(run.get("seed", 0))
    n_emitters = sum(int(e.get("count", 1)) for e in emitters)
    return RunInfo(
        name=files.path.name,
        path=str(files.path),
        description=str(cfg.get("description", "")),
        problem=dict(cfg.get("problem", {})),
        archive=dict(cfg.get("archive", {})),
        emitters=emitters,
        spec_toml=tomli_w.dumps(cfg),
        budget=budget,
        planned_evaluations=math.ceil(budget / batch) * batch if batch else budget,
        batch_size=batch,
        seed=seed,
        derived_seeds=tuple(derive_seeds(seed, 1 + n_emitters)),
        device=str(run.get("device", "cpu")),
        provenance=files.provenance,
        status=status,
        iterations=iterations,
        evaluations=evaluations,
        elapsed_s=float(elapsed_s),
        programs=programs,
        proposals=proposals,
        llm=_llm_settings(cfg) if programs else {},
    )


def _llm_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The `[llm]` table in short: model names, and components (bandit, selector) by name."""
    llm = dict(config.get("llm", {}))
    models = [m.get("name") or m.get("model") for m in llm.pop("models", [])
              if isinstance(m, dict)]
    short = {k: v.get("name", v) if isinstance(v, dict) else v for k, v in llm.items()}
    return {"models": models, **short}


def _is_program_run(config: dict[str, Any]) -> bool:
    """Whether the run evolved programs (LLM proposals) rather than numeric batches."""
    return run_kind_of(config).solutions_are_programs


def _sessions(store: RunStore, run: Path) -> tuple[Session, ...]:
    """Pair each `start` event with its `end` event; a start without one was killed (or runs)."""
    opened: list[dict[str, Any]] = []
    pending_resume: dict[str, Any] | None = None
    for event in store.events.all():
        if event["kind"] == "resume":
            pending_resume = {k: v for k, v in event.items() if k not in ("t", "kind")}
        elif event["kind"] == "start":
            opened.append({"start": event, "end": None, "resume": pending_resume})
            pending_resume = None
        elif event["kind"] == "end" and opened and opened[-1]["end"] is None:
            opened[-1]["end"] = event
    # numeric runs: the last stored batch; program runs (no batches): the last metrics row
    last_iteration = store.batches.last_iteration() or store.metrics.last_iteration()
    holder = lock_holder(run)
    out = []
    for n, item in enumerate(opened):
        first = int(item["start"].get("iteration", 0))
        last = int(opened[n + 1]["start"].get("iteration", 0)) if n + 1 < len(opened) \
            else last_iteration
        end = item["end"]
        if end is not None:
            ended, outcome = end["t"], str(end.get("reason", "stopped"))
        else:
            ended = store.batches.created(last) if last > first else None
            is_live = n == len(opened) - 1 and holder is not None
            outcome = "running" if is_live else "killed"
        out.append(Session(n + 1, item["start"]["t"], ended, outcome, first, last,
                           item["resume"]))
    return tuple(out)


def _curves(metrics: list[Any], max_points: int) -> Curves:
    rows = len(metrics)
    keep = np.arange(rows)
    if rows > max_points:
        keep = np.unique(np.linspace(0, rows - 1, max_points).round().astype(np.int64))
    columns = {}
    for name in CURVE_FIELDS:
        values = [getattr(metrics[i], name) for i in keep]
        columns[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return Curves(columns=columns, rows=rows)
