"""CMA-MEGA and CMA-MAEGA: differentiable quality diversity with gradient arborescence emitters.

CMA-MEGA: Fontaine & Nikolaidis, "Differentiable Quality Diversity" (NeurIPS 2021). Each
emitter keeps a solution point theta, evaluates it with the gradients of the objective and the
measures, and branches `theta + sum_j c_j grad_j` with coefficients c drawn from a CMA-ES over
the 1 + M coefficients; the branches are ranked by archive improvement, the CMA-ES learns from
the ranking and theta takes a gradient step towards the best branches.
CMA-MAEGA: Fontaine & Nikolaidis, "Covariance Matrix Adaptation MAP-Annealing" (GECCO 2023):
the same emitter over an archive with soft thresholds (learning rate alpha), ranked by
improvement over the thresholds.

Defaults are the published linear-projection settings (the papers' code, icaros-usc/dqd and
icaros-usc/cma_mae `experiments/lin_proj/lin_proj.py`, and pyribs' `examples/sphere.py`):
sigma_g = 10, eta = 1 with plain gradient ascent, 36 evaluations per emitter and iteration
(1 gradient point + 35 branches); CMA-MEGA ranks two-stage improvement with mu selection and
restarts when nothing improves, CMA-MAEGA ranks improvement with mu selection, restarts only on
CMA-ES convergence, and anneals with alpha = 0.01.

Both need gradients: the problem must be differentiable (`TorchProblem.differentiable`, e.g.
sphere_lp, rastrigin_lp) and the run must use `run.backend = "torch"`, whose scheduler asks
the gradient points and evaluates them with `evaluate_with_jacobian`.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field
from ribs.archives import ArchiveBase
from ribs.emitters import EmitterBase

from mutators.base import EmitterConfig, EmitterContext, EmitterFamily
from mutators.registry import register_emitter
from mutators.torch.base import seed_of
from mutators.torch.dqd import GradientArborescenceGroup
from qd.errors import SpecError

DQDRanker = Literal["2imp", "imp", "obj", "2obj"]


class _DQDConfig(EmitterConfig):
    batch_size: int = Field(
        36, ge=3, le=10_000_000,
        description="Evaluations each emitter spends per iteration: its gradient point plus "
        "batch_size - 1 branches of the gradient arborescence (the papers' 36 = 1 + 35).",
    )
    sigma0: float = Field(
        10.0, gt=0,
        description="Initial step size sigma_g of the CMA-ES over the 1 + M gradient "
        "coefficients.",
    )
    lr: float = Field(
        1.0, gt=0, description="Learning rate eta of the gradient step on the solution point."
    )
    grad_opt: Literal["gradient_ascent", "adam"] = Field(
        "gradient_ascent",
        description="Optimizer of the solution point (pyribs names). The DQD paper's Adam "
        "variant (CMA-MEGA (Adam)) used lr = 0.002.",
    )
    normalize_grad: bool = Field(
        True, description="Divide each objective / measure gradient by its norm."
    )
    selection_rule: Literal["filter", "mu"] = Field(
        "mu", description="Parents: mu = the best half of the branches; filter = those added "
        "to the archive."
    )


class CMAMEGAConfig(_DQDConfig):
    """Config of the `cma_mega` emitter."""

    name: Literal["cma_mega"] = "cma_mega"
    ranker: DQDRanker = Field("2imp", description="Ranking of the branches (pyribs name).")
    restart_rule: Literal["no_improvement", "basic"] = Field(
        "no_improvement",
        description="basic: restart only when the CMA-ES converges; no_improvement: also when "
        "no branch entered the archive.",
    )


class CMAMAEGAConfig(_DQDConfig):
    """Config of the `cma_maega` emitter."""

    name: Literal["cma_maega"] = "cma_maega"
    learning_rate: float = Field(0.01, gt=0, le=1, description="Archive learning rate alpha.")
    threshold_min: float | None = Field(
        None, description="Initial cell threshold; default: the problem's worst objective."
    )
    ranker: DQDRanker = Field("imp", description="Ranking of the branches (pyribs name).")
    restart_rule: Literal["no_improvement", "basic"] = Field(
        "basic",
        description="basic: restart only when the CMA-ES converges; no_improvement: also when "
        "no branch entered the archive.",
    )


def differentiable_problems() -> list[str]:
    """Names of the registered problems that provide gradients."""
    from problems.registry import problem_registry

    return sorted(n for n, cls in problem_registry.items()
                  if getattr(cls, "differentiable", False))


class _DQDFamily(EmitterFamily):
    def _build_one(self, archive: ArchiveBase, context: EmitterContext, seed: int) -> EmitterBase:
        raise SpecError(
            f"emitters: {self.config.name} needs the objective and measure gradients, which "
            'only the torch backend computes; set run.backend = "torch"'
        )

    def build_torch(
        self, archive: Any, context: EmitterContext, seeds: list[int], device: torch.device
    ) -> GradientArborescenceGroup:
        """One torch group for the family's `count` emitters.

        The group's coefficient CMA-ES draws from one generator seeded with `seed_of(seeds)`.

        Raises:
            SpecError: The problem is not differentiable, or it bounds its solutions (the
                gradient arborescence has no bounds handling, as in pyribs).
        """
        cfg = self.config
        assert isinstance(cfg, CMAMEGAConfig | CMAMAEGAConfig)
        problem = context.problem
        if not getattr(problem, "differentiable", False):
            raise SpecError(
                f"emitters: {cfg.name} needs gradients, but problem "
                f"{_problem_name(problem)!r} is not differentiable; differentiable problems: "
                f"{', '.join(differentiable_problems())}"
            )
        if context.bounds is not None:
            raise SpecError(
                f"emitters: {cfg.name} does not support bounded solutions (problem "
                f"{_problem_name(problem)!r} has solution bounds), as pyribs' "
                "GradientArborescenceEmitter does not"
            )
        return GradientArborescenceGroup(
            archive,
            count=cfg.count,
            x0=self.x0(context),
            sigma0=cfg.sigma0,
            lr=cfg.lr,
            batch_size=cfg.batch_size - 1,
            ranker=cfg.ranker,
            selection_rule=cfg.selection_rule,
            restart_rule=cfg.restart_rule,
            grad_opt=cfg.grad_opt,
            normalize_grad=cfg.normalize_grad,
            seed=seed_of(seeds),
            device=device,
        )


def _problem_name(problem: Any) -> str:
    config = getattr(problem, "config", None)
    return str(getattr(config, "name", type(problem).__name__))


@register_emitter("cma_mega")
class CMAMEGA(_DQDFamily):
    """CMA-MEGA: gradient arborescence with a CMA-ES over the gradient coefficients."""

    Config = CMAMEGAConfig


@register_emitter("cma_maega")
class CMAMAEGA(_DQDFamily):
    """CMA-MAEGA: CMA-MEGA over an archive with soft thresholds (learning rate alpha)."""

    Config = CMAMAEGAConfig

    @property
    def archive_learning_rate(self) -> float | None:
        """The configured alpha."""
        assert isinstance(self.config, CMAMAEGAConfig)
        return self.config.learning_rate

    @property
    def archive_threshold_min(self) -> float | None:
        """The configured threshold_min (None: the problem's worst objective)."""
        assert isinstance(self.config, CMAMAEGAConfig)
        return self.config.threshold_min
