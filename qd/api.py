"""The public Python API: `qd.evolve(...)` runs a spec, `qd.resume(...)` continues a run."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from qd.errors import RunDirError, SpecError
from qd.events import EngineListener
from qd.kinds import run_kind_of
from qd.run_dir import CONFIG_FILE, RunDir, default_run_path
from qd.run_lock import RunLock
from qd.session import RunResult
from qd.spec import SpecBase
from qd.spec_loader import LoadedSpec, apply_overrides, load_spec, read_toml, validate_spec
from qd.store import STORE_FILE, RunStore

__all__ = ["RunResult", "evolve", "resolve_spec", "resume", "run_settings", "spec_changes"]

#: Run options that may change between sessions of a run without --force.
RESUMABLE_CHANGES = ("run.budget", "run.log_every", "run.checkpoint_every",
                     "run.checkpoint_seconds", "run.keep_checkpoints", "run.root", "run.device",
                     "run.chunk_size", "run.cluster")


def run_settings(budget: int | None = None, seed: int | None = None,
                 device: str | None = None, cluster: str | None = None,
                 backend: str | None = None) -> dict[str, Any]:
    """The common flags as typed spec settings (`run.budget`, ...); None means "keep the
    spec's". Flags win over the spec and over `--set`.
    """
    values = {"budget": budget, "seed": seed, "device": device, "cluster": cluster,
              "backend": backend}
    return {f"run.{key}": value for key, value in values.items() if value is not None}


def resolve_spec(
    spec: str | Path | Mapping[str, Any] | LoadedSpec, overrides: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
) -> LoadedSpec:
    """Accept a spec folder / file / built-in name, a dict, or an already loaded spec;
    `overrides` are `--set` strings, `settings` typed values by dotted key (flags).
    """
    if isinstance(spec, LoadedSpec):
        if not overrides and not settings:
            return spec
        data = apply_overrides(spec.raw, overrides, settings)
        return LoadedSpec(validate_spec(data, spec.base_dir, spec.origin), spec.origin,
                          spec.base_dir, data, spec.foreign)
    if isinstance(spec, Mapping):
        data = apply_overrides(spec, overrides, settings)
        base = Path.cwd()
        return LoadedSpec(validate_spec(data, base, "spec"), "spec", base, data)
    return load_spec(spec, overrides, settings=settings)


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
    loaded = resolve_spec(spec, overrides, run_settings(budget, seed, device))
    s = loaded.spec
    kind = run_kind_of(s)
    prepared = kind.prepare(s)
    if not write:
        return kind.session(s, prepared, None, None, listeners, handle_signals, None)
    path = Path(out) if out is not None else default_run_path(s.run.root, s.problem.name)  # type: ignore[attr-defined]
    run_dir = RunDir.create(path)
    with RunLock(run_dir.path), closing(RunStore.open(run_dir.path)) as store:
        provenance = {"origin": loaded.origin, "argv": sys.argv}
        if loaded.foreign is not None:
            provenance["foreign_format"] = loaded.foreign
        run_dir.write_config(s.model_dump(mode="json", exclude_none=True), provenance)
        store.meta.set("spec", s.model_dump(mode="json", exclude_none=True))
        return kind.session(s, prepared, run_dir, store, listeners, handle_signals, None)


def resume(
    run: str | Path,
    *,
    budget: int | None = None,
    overrides: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
    force: bool = False,
    listeners: Sequence[EngineListener] = (),
    handle_signals: bool = False,
) -> RunResult:
    """Continue a run folder exactly where it stopped (killed, interrupted or finished).

    Args:
        run: The run folder.
        budget: New total budget (evaluations); default: the run's own.
        overrides: `KEY=VALUE` changes; anything beyond run options needs `force`.
        settings: Typed changes by dotted key (`{"run.device": "cuda"}`), applied last.
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
    new_raw = apply_overrides(stored, overrides, {**(settings or {}), **run_settings(budget)})
    new = validate_spec(new_raw, run_dir.path, origin)
    changes = spec_changes(old, new)
    if changes and not force:
        raise SpecError(
            "the spec differs from the run's: " + "; ".join(changes) + ". Resume with --force "
            "to continue under the new spec (the archive is rebuilt from all stored evaluations)"
        )
    with RunLock(run_dir.path) as lock, closing(RunStore.open(run_dir.path)) as store:
        if lock.stale_holder:
            store.events.add("stale_lock", holder=lock.stale_holder)
        kind = run_kind_of(new)
        prepared = kind.prepare(new)
        restored = kind.resume_from(new, prepared, run_dir, store, changes)
        run_dir.write_spec(new.model_dump(mode="json", exclude_none=True))
        run_dir.rewrite_metrics(store.metrics.all())
        return kind.session(new, prepared, run_dir, store, listeners, handle_signals, restored)


def spec_changes(old: SpecBase, new: SpecBase) -> list[str]:
    """`key: old → new` for every effective setting that differs, except resumable run options."""
    a = _flatten(old.model_dump(mode="json"))
    b = _flatten(new.model_dump(mode="json"))
    resumable = set(RESUMABLE_CHANGES)
    if a.get("run.backend") == "torch":  # its checkpoints hold tensors on the run's device
        resumable.discard("run.device")
    return [
        f"{key}: {a.get(key)!r} → {b.get(key)!r}"
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key) and key not in resumable
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
