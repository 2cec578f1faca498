"""Bring a run's components back to the last recorded iteration: checkpoint, then replay.

When the run stored every evaluation, replay re-runs `ask` → `tell` for every iteration stored
after the newest intact checkpoint, telling the stored objectives and measures instead of
evaluating again, and checks that each asked batch equals the stored one. When it stored less
(`run.store_evaluations` elites / none) or has DQD emitters (whose gradients are not stored),
replay evaluates those iterations again and checks the archive's statistics against the stored
metrics. Either way a resumed seeded run continues bit for bit, and a run whose code or
libraries changed underneath is refused instead of silently diverging.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from qd.errors import QDError
from qd.numeric.build import Components
from qd.numeric.checkpoint import load_latest_checkpoint
from qd.numeric.iteration import run_iteration
from qd.numeric.storage import recorded_mode
from qd.session import RestoredState
from qd.store import Batch, RunStore

log = logging.getLogger(__name__)


class ReplayError(QDError):
    """Stored iterations cannot be replayed exactly (code, library or spec changed)."""


def restore(components: Components, folder: Path, store: RunStore) -> RestoredState:
    """Restore the newest intact checkpoint, then replay the iterations stored after it."""
    checkpoint = load_latest_checkpoint(folder, store)
    start = 0
    if checkpoint is not None:
        components.restore(checkpoint.state["components"])
        start = checkpoint.iteration
    elif store.metrics.last_iteration() > 0:
        message = "no intact checkpoint; rebuilding the run from its first iteration"
        log.warning(message, extra={"event": "rebuild"})
        if not store.readonly:  # a reader (report, export) only logs
            store.events.add("warning", message=message)
    if recorded_mode(store) == "all" and not getattr(components.scheduler, "dqd", None):
        replayed = _replay_stored(components, folder, store, start)
    else:
        replayed = _replay_evaluated(components, folder, store, start)
    metrics = store.metrics.all()
    return RestoredState(
        iteration=metrics[-1].iteration if metrics else 0,
        evaluations=metrics[-1].evaluations if metrics else 0,
        elapsed_s=metrics[-1].elapsed_s if metrics else 0.0,
        checkpoint_iteration=start,
        replayed=replayed,
    )


def _replay_stored(components: Components, folder: Path, store: RunStore, start: int) -> int:
    """Ask again each iteration stored after `start`, check it equals the stored batch, tell
    the stored objectives and measures.
    """
    replayed = 0
    for batch in store.batches.read(start + 1):
        solutions = components.scheduler.ask()
        if isinstance(solutions, torch.Tensor):
            solutions = solutions.to("cpu", torch.float64).numpy()
        if not np.array_equal(solutions, batch.solutions):
            raise ReplayError(
                f"{folder}: replaying iteration {batch.iteration} asked different solutions than "
                "were stored; the spec, qd, pyribs or numpy changed since the run was written. "
                "Resume with --force to rebuild the archive from the stored evaluations instead"
            )
        _replay_tell(components, folder, batch)
        replayed += 1
    return replayed


def _replay_evaluated(components: Components, folder: Path, store: RunStore, start: int) -> int:
    """Run again (ask, evaluate, tell) each iteration whose metrics were stored after `start`,
    checking that the archive reaches the stored statistics after each.
    """
    replayed = 0
    for row in store.metrics.all():
        if row.iteration <= start:
            continue
        run_iteration(components, row.iteration)
        stats = components.archive.stats()
        if (stats.num_elites, stats.qd_score) != (row.num_elites, row.qd_score):
            raise ReplayError(
                f"{folder}: re-evaluating iteration {row.iteration} gave {stats.num_elites} "
                f"elites and QD score {stats.qd_score!r}, but the run stored {row.num_elites} "
                f"and {row.qd_score!r}; the spec, qd, torch or the device changed since the run "
                "was written, or the problem is not deterministic"
            )
        replayed += 1
    return replayed


def _replay_tell(components: Components, folder: Path, batch: Batch) -> None:
    """Tell a stored batch again. Learned measures need the raw observations, which are not
    stored: the batch is re-evaluated (problems with observations are deterministic) and its
    codes must equal the stored measures.
    """
    if components.learned is None:
        _, objectives, measures = _on_backend(components, batch, slice(None))
        components.scheduler.tell(objectives, measures)
        return
    _, observations = components.evaluator(np.array(batch.solutions))
    measures, _ = components.tell(batch.iteration, batch.objectives.copy(), observations)
    if not np.array_equal(measures, batch.measures):
        raise ReplayError(
            f"{folder}: replaying iteration {batch.iteration} gave other learned measures than "
            "were stored (torch or the thread count changed since the run was written). "
            "Resume with --force to rebuild the archive from the stored evaluations instead"
        )


def rebuild(components: Components, store: RunStore, chunk: int = 65_536) -> RestoredState:
    """Insert every stored evaluation into freshly built components (emitters start anew).

    Used by a forced resume under a changed spec: nothing stored is lost, but the search
    state (CMA-ES distributions, RNG streams) restarts. A run that stored only its elites is
    rebuilt from them; one that stored no evaluations cannot be.
    """
    if recorded_mode(store) == "none":
        raise QDError(
            'this run stored no evaluations (run.store_evaluations = "none"), so --force has '
            "nothing to rebuild the archive from; resume it under its own spec, or start a new run"
        )
    dim = components.problem.solution_dim
    for batch in store.batches.read():
        if batch.solutions.shape[1] != dim:
            raise QDError(
                f"stored solutions have {batch.solutions.shape[1]} dimensions but the changed "
                f"spec's problem has {dim}; start a new run instead"
            )
        for lo in range(0, len(batch.objectives), chunk):
            sl = slice(lo, lo + chunk)
            if components.learned is None:
                components.archive.add(*_on_backend(components, batch, sl))
            else:
                _relearn(components, batch.iteration, batch.solutions[sl], batch.objectives[sl])
    metrics = store.metrics.all()
    return RestoredState(
        iteration=metrics[-1].iteration if metrics else 0,
        evaluations=metrics[-1].evaluations if metrics else 0,
        elapsed_s=metrics[-1].elapsed_s if metrics else 0.0,
        checkpoint_iteration=0,
        replayed=0,
    )


def _on_backend(components: Components, batch: Batch, rows: slice) -> tuple:
    """A stored batch's rows as the archive takes them (tensors on the torch backend)."""
    values = (batch.solutions[rows], batch.objectives[rows].copy(), batch.measures[rows].copy())
    if not components.archive.on_torch:
        return values
    archive = components.archive.search
    return tuple(torch.as_tensor(np.array(v), device=archive.device, dtype=archive.dtype)
                 for v in values)


def _relearn(components: Components, iteration: int, solutions: np.ndarray,
             objectives: np.ndarray) -> None:
    """Rebuild step of a learned-measure run: re-observe stored solutions, refit on schedule,
    insert them under the current encoder.
    """
    learned = components.learned
    assert learned is not None
    _, observations = components.evaluator(np.array(solutions))
    if learned.due(iteration):
        learned.refit(iteration, observations, components.archive)
    components.archive.add(solutions, objectives, learned.encode(observations),
                           observation=observations)
