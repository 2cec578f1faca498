"""Assemble a run's components (problem, evaluator, archive, emitters, scheduler) from a spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from ribs.emitters import EmitterBase
from ribs.schedulers import Scheduler

from archives import ArchiveGeometry, QDArchive, archive_registry
from archives.base import ArchiveFamily
from mutators import EmitterContext, EmitterFamily, emitter_registry
from problems import problem_registry
from qd.device import resolve_device
from qd.errors import SpecError
from qd.evaluation.backends import Evaluator, evaluator_backend
from qd.learned import LearnedMeasures, LearnedMeasuresConfig, ObservedProblem
from qd.learned.measures import OBSERVATION_FIELD, ObservableProblem
from qd.numeric.tensor_scheduler import TensorScheduler
from qd.protocols import Problem
from qd.seeds import derive_seeds
from qd.spec import SpecBase


@dataclass
class Components:
    """Everything the engine drives; built once per run.

    On the pyribs backend `emitters` are pyribs emitters under a pyribs `Scheduler`; on the torch
    backend they are `mutators.torch.TensorEmitterGroup`s under a `TensorScheduler`.
    """

    problem: Problem
    device: torch.device
    evaluator: Evaluator
    archive: QDArchive
    emitters: list[Any]
    scheduler: Any
    learned: LearnedMeasures | None = None

    @property
    def batch_size(self) -> int:
        """Solutions per ask (all emitters together)."""
        return sum(e.batch_size for e in self.emitters)

    @property
    def evaluations_per_iteration(self) -> int:
        """Evaluations per iteration: the batch plus DQD groups' gradient points."""
        return self.batch_size + sum(g.dqd_size for g in
                                     getattr(self.scheduler, "dqd", ()))

    def state(self) -> dict[str, Any]:
        """Everything that evolves during a run: the scheduler (archives, emitters with their
        CMA-ES internals and RNGs, pickled together so shared references survive) and torch's
        RNG.
        """
        return {"scheduler": self.scheduler, "torch_rng": torch.get_rng_state(),
                "learned": self.learned}

    def tell(
        self, iteration: int, objectives: np.ndarray, evaluated: np.ndarray
    ) -> tuple[np.ndarray, dict[str, float] | None]:
        """Tell the scheduler iteration `iteration`'s evaluated batch.

        With learned measures `evaluated` holds raw observations: the encoder is refitted first
        when due (re-inserting the archive), then the batch is encoded.

        Returns:
            The measures told, and the refit's summary when one happened.
        """
        if self.learned is None:
            self.scheduler.tell(objectives, evaluated)
            return evaluated, None
        refit = None
        if self.learned.due(iteration):
            refit = self.learned.refit(iteration, evaluated, self.archive)
        measures = self.learned.encode(evaluated)
        self.scheduler.tell(objectives, measures, **{OBSERVATION_FIELD: evaluated})
        return measures, refit

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a `state()` taken earlier by components built from the same spec."""
        scheduler = state["scheduler"]
        self.scheduler = scheduler
        self.emitters = list(scheduler.emitters)
        result = scheduler.result_archive
        self.archive.attach(scheduler.archive, None if result is scheduler.archive else result)
        torch.set_rng_state(state["torch_rng"])
        self.learned = state.get("learned")
        for emitter in self.emitters:  # emitters that keep the problem out of checkpoints
            reattach = getattr(emitter, "reattach", None)
            if reattach is not None:
                reattach(self.problem)


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


def _adapt_problem(problem: Problem, families: list[EmitterFamily], cluster: str | None) -> Problem:
    """Let the emitters map the problem to the space they search (all must agree)."""
    spaces = {f.solution_space for f in families}
    if len(spaces) > 1:
        names = ", ".join(f"{f.config.name} ({f.solution_space})" for f in families)
        raise SpecError(
            f"emitters: these emitters search different spaces ({names}); a run's emitters "
            "must all search the same one"
        )
    space = spaces.pop()
    if space == "problem":
        return problem
    if cluster:
        raise SpecError(
            f"run.cluster: emitters that search {space} run on this machine only; remove "
            "run.cluster (or --cluster)"
        )
    return families[0].adapt_problem(problem)


def _learned_measures(
    problem: Problem, config: LearnedMeasuresConfig | None, cluster: str | None
) -> Problem:
    """Wrap the problem so that it returns raw observations when measures are learned."""
    if config is None:
        return problem
    if not isinstance(problem, ObservableProblem):
        from problems import problem_registry

        able = [n for n, cls in problem_registry.items() if hasattr(cls, "observe")]
        raise SpecError(
            f"measures: problem {type(problem).__name__} has no raw observations to learn "
            f"measures from; learned measures work with: {', '.join(sorted(able))}"
        )
    if cluster:
        raise SpecError("run.cluster: learned measures are computed on this machine only; "
                        "remove run.cluster (or --cluster)")
    return ObservedProblem(problem, config.latent_dim)  # type: ignore[return-value]


def build_components(spec: SpecBase) -> Components:
    """Instantiate the spec's problem, archive and emitters, seeded from `spec.run.seed`."""
    device = resolve_device(spec.run.device)
    torch.manual_seed(spec.run.seed)
    problem_cfg = spec.problem  # type: ignore[attr-defined]
    problem: Problem = problem_registry.get(problem_cfg.name)(problem_cfg, device)
    families = [emitter_registry.get(cfg.name)(cfg) for cfg in spec.emitters]  # type: ignore[attr-defined]
    _check_torch_backend(spec, spec.archive.name, families)  # type: ignore[attr-defined]
    problem = _adapt_problem(problem, families, spec.run.cluster)
    problem = _learned_measures(problem, spec.measures, spec.run.cluster)
    learning_rate, threshold_min = _archive_annealing(families)
    worst = float(problem.objective_bounds[0])
    n_emitters = sum(f.config.count for f in families)
    seeds = derive_seeds(spec.run.seed, 2 + n_emitters)  # the last one seeds the encoder
    learned = None
    if spec.measures is not None:
        obs_dim = problem.measure_dim
        learned = LearnedMeasures(spec.measures, obs_dim, seeds[-1])
    geometry = ArchiveGeometry(
        solution_dim=problem.solution_dim,
        measure_bounds=problem.measure_bounds,
        qd_score_offset=worst,
        learning_rate=learning_rate,
        threshold_min=worst if threshold_min is None else threshold_min,
        seed=seeds[0],
        extra_fields=((OBSERVATION_FIELD, (obs_dim,), "float64"),) if learned else (),
    )
    archive_cfg = spec.archive  # type: ignore[attr-defined]
    family = archive_registry.get(archive_cfg.name)(archive_cfg, geometry)
    context = EmitterContext(
        x0=np.asarray(problem.x0, dtype=float), bounds=problem.solution_bounds, problem=problem
    )
    evaluator = evaluator_backend(spec.run).batch(problem, problem_cfg, device, spec.run)
    if spec.run.backend == "torch":
        archive = QDArchive(family, device=device)
        groups = [family_.build_torch(archive.search, context, seeds[lo:hi], device)
                  for family_, lo, hi in _seed_ranges(families)]
        return Components(problem, device, evaluator, archive, groups,
                          TensorScheduler(archive, groups))
    archive = QDArchive(family)
    emitters: list[EmitterBase] = []
    for family_, lo, hi in _seed_ranges(families):
        emitters += family_.build(archive.search, context, seeds[lo:hi])
    scheduler = Scheduler(archive.search, emitters, result_archive=archive.separate_result)
    return Components(problem, device, evaluator, archive, emitters, scheduler, learned)


def _seed_ranges(families: list[EmitterFamily]) -> list[tuple[EmitterFamily, int, int]]:
    """Each family with the slice of the run's seeds its emitters take (seed 0 is the
    archive's).
    """
    ranges, offset = [], 1
    for family in families:
        ranges.append((family, offset, offset + family.config.count))
        offset += family.config.count
    return ranges


def _check_torch_backend(spec: SpecBase, archive_name: str,
                         families: list[EmitterFamily]) -> None:
    """Refuse, naming the fix, what the torch backend does not run."""
    if spec.run.backend != "torch":
        return
    if spec.measures is not None:
        raise SpecError("run.backend: learned measures run on the pyribs backend only; remove "
                        '[measures] or set run.backend = "pyribs"')
    if spec.run.cluster:
        raise SpecError("run.backend: the torch backend evaluates on the run's device, not on a "
                        'cluster; remove run.cluster (or --cluster) or set run.backend = "pyribs"')
    archive_cls = archive_registry.get(archive_name)
    if archive_cls.build_torch is ArchiveFamily.build_torch:
        able = [n for n, c in archive_registry.items()
                if c.build_torch is not ArchiveFamily.build_torch]
        raise SpecError(f"archive.name: {archive_name!r} has no torch backend; with "
                        f"run.backend = \"torch\" use one of: {', '.join(sorted(able))}")
    for family in families:
        if type(family).build_torch is EmitterFamily.build_torch:
            able = [n for n, c in emitter_registry.items()
                    if c.build_torch is not EmitterFamily.build_torch]
            raise SpecError(f"emitters: {family.config.name!r} has no torch backend; with "
                            f"run.backend = \"torch\" use: {', '.join(sorted(able))}")
