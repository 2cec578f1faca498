"""Which evaluated solutions a numeric run stores (`run.store_evaluations`), decided once.

- `all`: every evaluated solution (solutions.f64 + one batches row per iteration);
- `elites`: only those that entered the result archive when evaluated (the archive's whole
  history: enough to rebuild it with `--force`, to export, to draw trajectories);
- `none`: only the per-iteration metrics.

Resume is exact in every mode: with less than all, the newest checkpoint is restored and the
iterations after it are evaluated again (problems are deterministic), their metrics checked
against the stored ones. `auto` picks `all` when the budget's evaluations fit in
`AUTO_ALL_BYTES`, else `elites`; the choice is written to the store at the first session, so
a later `--budget` cannot change it underneath the run.
"""

from __future__ import annotations

from typing import Any

from qd.errors import SpecError
from qd.store import RunStore

META_KEY = "store_evaluations"
AUTO_ALL_BYTES = 1 << 30


def bytes_per_evaluation(solution_dim: int, measure_dim: int) -> int:
    """What `all` stores per evaluation: the float64 solution, objective and measures."""
    return 8 * (solution_dim + 1 + measure_dim)


def resolve(setting: str, budget: int, solution_dim: int, measure_dim: int,
            learned: bool) -> str:
    """The mode a new run uses for `run.store_evaluations = setting`."""
    if learned and setting in ("elites", "none"):
        raise SpecError("run.store_evaluations: learned measures replay from stored "
                        'evaluations; use "all" (or "auto") with [measures]')
    if setting != "auto":
        return setting
    if learned or budget * bytes_per_evaluation(solution_dim, measure_dim) <= AUTO_ALL_BYTES:
        return "all"
    return "elites"


def store_mode(store: RunStore, spec: Any, solution_dim: int, measure_dim: int) -> str:
    """The run's mode: the one its store recorded, else resolved from the spec and recorded
    (a read-only store of a run from before this setting existed stored everything).
    """
    mode = store.meta.get(META_KEY)
    if mode is not None:
        return str(mode)
    if store.readonly or store.metrics.last_iteration() > 0:
        return "all"
    mode = resolve(spec.run.store_evaluations, spec.run.budget, solution_dim, measure_dim,
                   spec.measures is not None)
    store.meta.set(META_KEY, mode)
    return mode


def recorded_mode(store: RunStore) -> str:
    """The mode an existing run was written with ("all" for runs from before the setting)."""
    return str(store.meta.get(META_KEY, "all"))


def last_iteration(store: RunStore) -> int:
    """The last recorded iteration of a numeric run, whatever it stored (0 when none)."""
    if recorded_mode(store) == "all":
        return store.batches.last_iteration()
    return store.metrics.last_iteration()


def evaluation_count(store: RunStore) -> int:
    """Evaluations a numeric run has done, whatever it stored."""
    if recorded_mode(store) == "all":
        return store.batches.evaluation_count()
    metrics = store.metrics.all()
    return metrics[-1].evaluations if metrics else 0
