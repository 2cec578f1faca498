"""The public Python API: `qd.evolve(...)` runs a spec and returns its archive and metrics."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archives import QDArchive
from qd.build import build_components
from qd.engine import Engine
from qd.events import EngineListener, RunEnd
from qd.run_dir import RunDir, default_run_path
from qd.spec import SpecBase
from qd.spec_loader import LoadedSpec, apply_overrides, load_spec, validate_spec
from qd.types import IterationMetrics

log = logging.getLogger(__name__)


class _Collector(EngineListener):
    def __init__(self) -> None:
        self.rows: list[IterationMetrics] = []

    def on_iteration(self, metrics: IterationMetrics) -> None:
        self.rows.append(metrics)


@dataclass
class RunResult:
    """What `evolve` returns.

    Attributes:
        spec: The effective (validated) spec.
        archive: The final archive; `archive.elites()` gives solutions, objectives, measures.
        end: Final counters and statistics.
        metrics: One `IterationMetrics` per iteration.
        path: The run folder, or None when nothing was written.
    """

    spec: SpecBase
    archive: QDArchive
    end: RunEnd
    metrics: list[IterationMetrics] = field(default_factory=list)
    path: Path | None = None


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
    spec: str | Path | Mapping[str, Any] | LoadedSpec,
    overrides: Sequence[str] = (),
) -> LoadedSpec:
    """Accept a spec folder / file / built-in name, a dict, or an already loaded spec."""
    if isinstance(spec, LoadedSpec):
        if not overrides:
            return spec
        data = apply_overrides(spec.raw, overrides)
        return LoadedSpec(validate_spec(data, spec.base_dir, spec.origin), spec.origin,
                          spec.base_dir, data)
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
) -> RunResult:
    """Run a spec to the end of its budget.

    Args:
        spec: Spec folder, `.toml` file, built-in problem name, or a dict shaped like the TOML.
        budget: Evaluations to spend (overrides `run.budget`).
        seed: Seed (overrides `run.seed`).
        device: `cpu`, `cuda` or `auto` (overrides `run.device`).
        out: Run folder to create; default `<run.root>/<date>-<problem>-<time>`.
        overrides: Extra `KEY=VALUE` settings, as `qd evolve --set`.
        listeners: Extra engine listeners (progress displays, callbacks).
        write: Write the run folder (config, metrics, log, archive); False keeps it in memory.

    Example:
        >>> import qd
        >>> result = qd.evolve("sphere_lp", budget=1800, seed=1, write=False)
        >>> result.archive.stats().coverage > 0
        True
    """
    loaded = resolve_spec(spec, [*overrides, *flag_overrides(budget, seed, device)])
    s = loaded.spec
    components = build_components(s)
    collector = _Collector()
    run_dir: RunDir | None = None
    all_listeners: list[EngineListener] = [collector, *listeners]
    if write:
        path = Path(out) if out is not None else default_run_path(s.run.root, s.problem.name)  # type: ignore[attr-defined]
        run_dir = RunDir.create(path)
        run_dir.write_config(
            s.model_dump(mode="json", exclude_none=True),
            {"origin": loaded.origin, "argv": sys.argv},
        )
        run_dir.start_logging()
        all_listeners.insert(0, run_dir)
    engine = Engine(components, s.run.budget, all_listeners)
    try:
        log.info("run started", extra={"event": "start", "budget": s.run.budget,
                                       "batch_size": components.batch_size,
                                       "device": str(components.device)})
        end = engine.run()
        if run_dir is not None:
            run_dir.write_archive(components.archive.elites())
        log.info("run finished", extra={"event": "end", "evaluations": end.evaluations,
                                        "qd_score": end.stats.qd_score,
                                        "coverage": end.stats.coverage})
    finally:
        if run_dir is not None:
            run_dir.close()
    return RunResult(s, components.archive, end, collector.rows,
                     run_dir.path if run_dir else None)
