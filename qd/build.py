"""Assemble a run's components (problem, evaluator, archive, emitters, scheduler) from a spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from ribs.emitters import EmitterBase
from ribs.schedulers import Scheduler

from archives import ArchiveGeometry, QDArchive, archive_registry
from mutators import EmitterContext, EmitterFamily, emitter_registry
from problems import problem_registry
from qd.device import resolve_device
from qd.errors import SpecError
from qd.evaluation import BatchEvaluator
from qd.evaluation.dask_batch import DaskBatchEvaluator
from qd.protocols import Problem
from qd.spec import SpecBase


@dataclass
class Components:
    """Everything the engine drives; built once per run."""

    problem: Problem
    device: torch.device
    evaluator: BatchEvaluator | DaskBatchEvaluator
    archive: QDArchive
    emitters: list[EmitterBase]
    scheduler: Scheduler

    @property
    def batch_size(self) -> int:
        """Solutions per iteration (all emitters together)."""
        return sum(e.batch_size for e in self.emitters)

    def state(self) -> dict[str, Any]:
        """Everything that evolves during a run: the scheduler (archives, emitters with their
        CMA-ES internals and RNGs, pickled together so shared references survive) and torch's
        RNG.
        """
        return {"scheduler": self.scheduler, "torch_rng": torch.get_rng_state()}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a `state()` taken earlier by components built from the same spec."""
        scheduler: Scheduler = state["scheduler"]
        self.scheduler = scheduler
        self.emitters = list(scheduler.emitters)
        result = scheduler.result_archive
        self.archive.attach(scheduler.archive, None if result is scheduler.archive else result)
        torch.set_rng_state(state["torch_rng"])


def derive_seeds(seed: int, n: int) -> list[int]:
    """`n` independent 32-bit seeds derived from the run seed."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n)]


def _archive_annealing(families: list[EmitterFamily]) -> tuple[float | None, float | None]:
    rates = {f.archive_learning_rate for f in families}
    if len(rates) > 1:
        names = ", ".join(f"{f.config.name} ({f.archive_learning_rate})" for f in families)
        raise SpecError(
            "emitters: all emitters share one archive, so they must agree on the archive "
            f"learning rate; got {names}. Use only cma_mae emitters, or none"
        )
    thresholds = {f.archive_threshold_min for f in families}
    if len(thresholds) > 1:
        raise SpecError("emitters.threshold_min: all cma_mae emitters must use the same value")
    return rates.pop(), thresholds.pop()


def build_components(spec: SpecBase) -> Components:
    """Instantiate the spec's problem, archive and emitters, seeded from `spec.run.seed`."""
    device = resolve_device(spec.run.device)
    torch.manual_seed(spec.run.seed)
    problem_cfg = spec.problem  # type: ignore[attr-defined]
    problem: Problem = problem_registry.get(problem_cfg.name)(problem_cfg, device)
    families = [emitter_registry.get(cfg.name)(cfg) for cfg in spec.emitters]  # type: ignore[attr-defined]
    learning_rate, threshold_min = _archive_annealing(families)
    worst = float(problem.objective_bounds[0])
    n_emitters = sum(f.config.count for f in families)
    seeds = derive_seeds(spec.run.seed, 1 + n_emitters)
    geometry = ArchiveGeometry(
        solution_dim=problem.solution_dim,
        measure_bounds=problem.measure_bounds,
        qd_score_offset=worst,
        learning_rate=learning_rate,
        threshold_min=worst if threshold_min is None else threshold_min,
        seed=seeds[0],
    )
    archive_cfg = spec.archive  # type: ignore[attr-defined]
    archive = QDArchive(archive_registry.get(archive_cfg.name)(archive_cfg, geometry))
    context = EmitterContext(x0=np.asarray(problem.x0, dtype=float), bounds=problem.solution_bounds)
    emitters: list[EmitterBase] = []
    offset = 1
    for family in families:
        count = family.config.count
        emitters += family.build(archive.ribs, context, seeds[offset : offset + count])
        offset += count
    scheduler = Scheduler(archive.ribs, emitters, result_archive=archive.result_ribs)
    evaluator: BatchEvaluator | DaskBatchEvaluator
    if spec.run.cluster:
        evaluator = DaskBatchEvaluator(problem, problem_cfg, spec.run.cluster, spec.run.chunk_size)
    else:
        evaluator = BatchEvaluator(problem, device, spec.run.chunk_size)
    return Components(problem, device, evaluator, archive, emitters, scheduler)
