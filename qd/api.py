"""The public Python API: `qd.evolve(...)` runs a spec, `qd.resume(...)` continues a run."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack, closing, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archives import QDArchive
from qd.build import Components, build_components
from qd.engine import Engine
from qd.errors import RunDirError, SpecError
from qd.events import EngineListener, RunEnd
from qd.recorder import RunRecorder
from qd.restore import RestoredState, rebuild, restore
from qd.run_dir import CONFIG_FILE, RunDir, default_run_path
from qd.run_lock import RunLock
from qd.signals import stop_on_signals
from qd.spec import SpecBase
from qd.spec_loader import LoadedSpec, apply_overrides, load_spec, read_toml, validate_spec
from qd.store import STORE_FILE, RunStore
from qd.types import IterationMetrics

log = logging.getLogger(__name__)

#: Run options that may change between sessions of a run without --force.
RESUMABLE_CHANGES = ("run.budget", "run.log_every", "run.checkpoint_every",
                     "run.checkpoint_seconds", "run.keep_checkpoints", "run.root", "run.device",
                     "run.chunk_size", "run.cluster")


class _Collector(EngineListener):
    def __init__(self) -> None:
        self.rows: list[IterationMetrics] = []

    def on_iteration(self, metrics: IterationMetrics) -> None:
        self.rows.append(metrics)


@dataclass
class RunResult:
    """What `evolve` and `resume` return.

    Attributes:
        spec: The effective (validated) spec.
        archive: The final archive; `archive.elites()` gives solutions, objectives, measures.
        end: Final counters and statistics; `end.reason` is "budget", "SIGINT", "SIGTERM", ...
        metrics: One `IterationMetrics` per iteration run in this session.
        path: The run folder, or None when nothing was written.
        restored: Where a resumed run started from (None for a new run).
    """

    spec: SpecBase
    archive: QDArchive
    end: RunEnd
    metrics: list[IterationMetrics] = field(default_factory=list)
    path: Path | None = None
    restored: RestoredState | None = None


def flag_overrides(
    budget: int | None = None, seed: int | None = None, device: str | None = None
) -> list[str]:
    """Turn the common flags into `--set` style overrides (flags win over the spec)."""
    out = []
    for key, value in (("budget", budget), ("seed", seed), ("device", device)):
        if value is not None:
            out.append(f"run.{key}={value!r}" if isinstance(value, str) else f"run.{key}={value}")
    return out


def resolve_spec(
    spec: str | Path | Mapping[str, Any] | LoadedSpec, overrides: Sequence[str] = ()
) -> LoadedSpec:
    """Accept a spec folder / file / built-in name, a dict, or an already loaded spec."""
    if isinstance(spec, LoadedSpec):
        if not overrides:
            return spec
        data = apply_overrides(spec.raw, overrides)
        return LoadedSpec(validate_spec(data, spec.base_dir, spec.origin), spec.origin,
                          spec.base_dir, data, spec.foreign)
    if isinstance(spec, Mapping):
        data = apply_overrides(spec, overrides)
        base = Path.cwd()
        return LoadedSpec(validate_spec(data, base, "spec"), "spec", base, data)
    return load_spec(spec, overrides)


def evolve(
    spec: str | Path | Mapping[str, Any] | LoadedSpec,
    *,
    budget: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    listeners: Sequence[EngineListener] = (),
    write: bool = True,
    handle_signals: bool = False,
) -> RunResult:
    """Run a spec until its budget is spent.

    Args:
        spec: Spec folder, `.toml` file, built-in problem name, or a dict shaped like the TOML.
        budget: Evaluations to spend (overrides `run.budget`).
        seed: Seed (overrides `run.seed`).
        device: `cpu`, `cuda` or `auto` (overrides `run.device`).
        out: Run folder to create; default `<run.root>/<date>-<problem>-<time>`.
        overrides: Extra `KEY=VALUE` settings, as `qd evolve --set`.
        listeners: Extra engine listeners (progress displays, callbacks).
        write: Write the run folder and store (resumable); False keeps the run in memory.
        handle_signals: Stop cleanly (checkpoint, `end.reason` = signal name) on SIGINT/SIGTERM.

    Example:
        >>> import qd
        >>> result = qd.evolve("sphere_lp", budget=1800, seed=1, write=False)
        >>> result.archive.stats().coverage > 0
        True
    """
    loaded = resolve_spec(spec, [*overrides, *flag_overrides(budget, seed, device)])
    s = loaded.spec
    components = None if is_program_spec(s) else build_components(s)
    if not write:
        return _dispatch(s, components, None, None, listeners, handle_signals, None)
    path = Path(out) if out is not None else default_run_path(s.run.root, s.problem.name)  # type: ignore[attr-defined]
    run_dir = RunDir.create(path)
    with RunLock(run_dir.path), closing(RunStore.open(run_dir.path)) as store:
        provenance = {"origin": loaded.origin, "argv": sys.argv}
        if loaded.foreign is not None:
            provenance["foreign_format"] = loaded.foreign
        run_dir.write_config(s.model_dump(mode="json", exclude_none=True), provenance)
        store.set_meta("spec", s.model_dump(mode="json", exclude_none=True))
        return _dispatch(s, components, run_dir, store, listeners, handle_signals, None)


def is_program_spec(spec: SpecBase) -> bool:
    """Whether the spec's problem is evolved by the program engine."""
    return getattr(spec.problem, "name", None) == "program"  # type: ignore[attr-defined]


def _dispatch(spec: SpecBase, components: Components | None, run_dir: RunDir | None,
              store: RunStore | None, listeners: Sequence[EngineListener], handle_signals: bool,
              restored: RestoredState | None) -> RunResult:
    if components is None:
        from qd.program.session import program_session

        return program_session(spec, run_dir, store, listeners, handle_signals)
    return _session(spec, components, run_dir, store, listeners, handle_signals, restored)


def resume(
    run: str | Path,
    *,
    budget: int | None = None,
    overrides: Sequence[str] = (),
    force: bool = False,
    listeners: Sequence[EngineListener] = (),
    handle_signals: bool = False,
) -> RunResult:
    """Continue a run folder exactly where it stopped (killed, interrupted or finished).

    Args:
        run: The run folder.
        budget: New total budget (evaluations); default: the run's own.
        overrides: `KEY=VALUE` changes; anything beyond run options needs `force`.
        force: Accept a changed spec: the archive is rebuilt from every stored evaluation and
            the emitters start anew under the new settings.
        listeners: Extra engine listeners.
        handle_signals: Stop cleanly on SIGINT/SIGTERM.
    """
    run_dir = RunDir.existing(Path(run))
    if not (run_dir.path / STORE_FILE).is_file():
        raise RunDirError(f"{run_dir.path}: no {STORE_FILE}; this run cannot be resumed")
    stored = read_toml(run_dir.path / CONFIG_FILE)
    origin = str(run_dir.path / CONFIG_FILE)
    old = validate_spec(stored, run_dir.path, origin)
    new_raw = apply_overrides(stored, [*overrides, *flag_overrides(budget)])
    new = validate_spec(new_raw, run_dir.path, origin)
    changes = spec_changes(old, new)
    if changes and not force:
        raise SpecError(
            "the spec differs from the run's: " + "; ".join(changes) + ". Resume with --force "
            "to continue under the new spec (the archive is rebuilt from all stored evaluations)"
        )
    with RunLock(run_dir.path) as lock, closing(RunStore.open(run_dir.path)) as store:
        if lock.stale_holder:
            store.event("stale_lock", holder=lock.stale_holder)
        components = restored = None
        if not is_program_spec(new):
            components = build_components(new)
            restored = (rebuild(components, store) if changes
                        else restore(components, run_dir.path, store))
            store.event("resume", iteration=restored.iteration,
                        evaluations=restored.evaluations, checkpoint=restored.checkpoint_iteration,
                        replayed=restored.replayed, forced_changes=changes)
        else:
            store.event("resume", forced_changes=changes)
        run_dir.write_spec(new.model_dump(mode="json", exclude_none=True))
        run_dir.rewrite_metrics(store.metrics())
        return _dispatch(new, components, run_dir, store, listeners, handle_signals, restored)


def spec_changes(old: SpecBase, new: SpecBase) -> list[str]:
    """`key: old → new` for every effective setting that differs, except resumable run options."""
    a = _flatten(old.model_dump(mode="json"))
    b = _flatten(new.model_dump(mode="json"))
    return [
        f"{key}: {a.get(key)!r} → {b.get(key)!r}"
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key) and key not in RESUMABLE_CHANGES
    ]


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        out = {}
        for i, value in enumerate(data):
            out.update(_flatten(value, f"{prefix}[{i}]"))
        return out
    return {prefix: data}


def _session(
    spec: SpecBase,
    components: Components,
    run_dir: RunDir | None,
    store: RunStore | None,
    listeners: Sequence[EngineListener],
    handle_signals: bool,
    restored: RestoredState | None,
) -> RunResult:
    """Run the engine for one session (new run or resumed), writing the folder if any."""
    collector = _Collector()
    all_listeners: list[EngineListener] = [collector, *listeners]
    recorder = None
    if run_dir is not None and store is not None:
        all_listeners.insert(0, run_dir)
        r = spec.run
        recorder = RunRecorder(
            run_dir.path, store, r.checkpoint_every, r.checkpoint_seconds, r.keep_checkpoints,
            on_checkpoint=lambda it: run_dir.write_archive(components.archive.elites(), it),
        )
    start = restored or RestoredState(0, 0, 0.0, 0, 0)
    engine = Engine(components, spec.run.budget, all_listeners, recorder,
                    iteration=start.iteration, evaluations=start.evaluations,
                    elapsed_s=start.elapsed_s)
    with ExitStack() as stack:
        stack.callback(components.evaluator.close)
        if run_dir is not None:
            run_dir.start_logging()
            stack.callback(run_dir.close)
        stack.enter_context(stop_on_signals(engine.request_stop) if handle_signals
                            else nullcontext())
        if store is not None:
            store.event("start", budget=spec.run.budget, iteration=start.iteration)
        log.info("run started", extra={"event": "start", "budget": spec.run.budget,
                                       "iteration": start.iteration,
                                       "batch_size": components.batch_size,
                                       "device": str(components.device)})
        end = engine.run()
        if store is not None:
            store.event("end", reason=end.reason, evaluations=end.evaluations)
        log.info("run stopped" if end.reason != "budget" else "run finished",
                 extra={"event": "end", "reason": end.reason, "evaluations": end.evaluations,
                        "qd_score": end.stats.qd_score, "coverage": end.stats.coverage})
    return RunResult(spec, components.archive, end, collector.rows,
                     run_dir.path if run_dir else None, restored)
