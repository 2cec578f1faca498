"""CMA-MEGA / CMA-MAEGA on the torch backend: `count` gradient arborescence emitters as one group.

`GradientArborescenceGroup` is pyribs 0.12's `GradientArborescenceEmitter` (Fontaine &
Nikolaidis, "Differentiable Quality Diversity", NeurIPS 2021; with an annealing archive and the
improvement ranker it is CMA-MAEGA, Fontaine & Nikolaidis, "Covariance Matrix Adaptation
MAP-Annealing", GECCO 2023) for E emitters at once. Each emitter keeps a solution point theta
and a CMA-ES (`BatchedCMAES`, one instance per emitter) over the 1 + M gradient coefficients.
One iteration is, for every emitter at once:

1. `ask_dqd`: the (E, D) solution points, to be evaluated with their Jacobians;
2. `tell_dqd`: keep the Jacobians (E, 1 + M, D), each gradient row divided by its norm plus
   `epsilon` when `normalize_grad` (the points themselves enter the archive in the scheduler);
3. `ask`: sample coefficients c (E, lambda, 1 + M) from the CMA-ES and branch
   `theta + sum_j c_j grad_j`, giving E * lambda solutions, emitter by emitter;
4. `tell`: rank the branches (see `mutators.torch.es.ESEmitterGroup.rank`; ties as there),
   pick the parents ("filter": the branches added to the archive; "mu": the best lambda // 2),
   update the CMA-ES on the ranked coefficients, move theta towards the log-weighted mean of
   the parents with the gradient optimizer ("gradient_ascent": theta += lr * step; "adam":
   pyribs' `AdamOpt`, ascent), and restart the emitters whose CMA-ES stops or whose restart
   rule fires: theta on an elite drawn uniformly from the archive, optimizer state cleared,
   coefficient CMA-ES back to mean 0, sigma0, identity covariance.

Deviations from pyribs: an emitter with no parents (possible with "filter") leaves theta and its
optimizer state as they are (pyribs' mean of zero parents is the origin, so its theta would take
a step towards 0); a restart that finds the archive empty re-centres on x0 (pyribs raises).
`tell` synchronises with the device once (the (E,) restart mask), plus `archive.sample` when an
emitter restarts; `ask_dqd`, `tell_dqd` and `ask` never wait for the device.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from mutators.torch.cma_es import BatchedCMAES
from mutators.torch.es import TORCH_RANKERS, descending_argsort

if TYPE_CHECKING:
    from archives.tensor import AddInfo

GradOpt = Literal["gradient_ascent", "adam"]


class BatchedGradientOpt:
    """Gradient *ascent* on E solution points at once: pyribs' `GradientAscentOpt` or `AdamOpt`.

    Args:
        theta0: (E, D) initial points.
        lr: Learning rate.
        kind: "gradient_ascent" (theta += lr * g) or "adam".
        beta1, beta2, epsilon, l2_coeff: Adam's hyperparameters (pyribs' defaults); l2_coeff
            adds `l2_coeff * theta` to the descent gradient (L2 regularisation, not decay).
    """

    def __init__(self, theta0: torch.Tensor, lr: float, kind: GradOpt = "gradient_ascent", *,
                 beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
                 l2_coeff: float = 0.0) -> None:
        if kind not in ("gradient_ascent", "adam"):
            raise ValueError(f"Invalid gradient optimizer {kind}")
        self.kind = kind
        self.lr = float(lr)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        self.l2_coeff = float(l2_coeff)
        self.theta = theta0.clone()
        self.m = torch.zeros_like(self.theta)
        self.v = torch.zeros_like(self.theta)
        self.t = torch.zeros(self.theta.shape[0], dtype=self.theta.dtype,
                             device=self.theta.device)

    def step(self, gradient: torch.Tensor, active: torch.Tensor) -> None:
        """Ascend along `gradient` (E, D), only for the rows where `active` (E,) is True."""
        a = active[:, None]
        if self.kind == "gradient_ascent":
            self.theta = torch.where(a, self.theta + self.lr * gradient, self.theta)
            return
        g = -gradient + self.l2_coeff * self.theta  # pyribs inverts to descend
        t = self.t + 1
        scale = self.lr * torch.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        m = self.beta1 * self.m + (1 - self.beta1) * g
        v = self.beta2 * self.v + (1 - self.beta2) * (g * g)
        theta = self.theta - scale[:, None] * m / (torch.sqrt(v) + self.epsilon)
        self.theta = torch.where(a, theta, self.theta)
        self.m = torch.where(a, m, self.m)
        self.v = torch.where(a, v, self.v)
        self.t = torch.where(active, t, self.t)

    def reset(self, mask: torch.Tensor, theta: torch.Tensor) -> None:
        """Move the masked rows (E,) to `theta` (E, D) and clear their Adam state."""
        a = mask[:, None]
        self.theta = torch.where(a, theta, self.theta)
        self.m = torch.where(a, torch.zeros_like(self.m), self.m)
        self.v = torch.where(a, torch.zeros_like(self.v), self.v)
        self.t = torch.where(mask, torch.zeros_like(self.t), self.t)


def parent_weights(num_parents: torch.Tensor, width: int, dtype: torch.dtype) -> torch.Tensor:
    """(E, width) CMA-ES recombination weights `log(mu + 1/2) - log(i)`, normalised, zero past
    each row's `mu = num_parents[e]` (an all-zero row where mu is 0).
    """
    mu = num_parents.to(dtype)[:, None]
    ranks = torch.arange(1, width + 1, device=num_parents.device, dtype=dtype)[None, :]
    raw = torch.where(ranks <= mu, torch.log(mu + 0.5) - torch.log(ranks), 0.0)
    total = raw.sum(dim=1, keepdim=True)
    return raw / torch.where(total > 0, total, 1.0)


class GradientArborescenceGroup:
    """`count` CMA-MEGA / CMA-MAEGA emitters (pyribs `GradientArborescenceEmitter`) on a device.

    Args:
        archive: The `TensorArchive` the emitters insert into (restarts sample its elites).
        count: Number of emitters E.
        x0: (D,) initial solution point of every emitter.
        sigma0: Initial step size of the coefficient CMA-ES (sigma_g in the papers).
        lr: Learning rate of the gradient optimizer (eta in the papers).
        batch_size: Branches lambda each emitter asks per `ask` (the gradient point of
            `ask_dqd` comes on top); None: CMA-ES' default for 1 + M coefficients.
        ranker: "imp", "2imp", "obj" or "2obj" (pyribs names).
        selection_rule: "filter" or "mu".
        restart_rule: "basic", "no_improvement" or a positive int (restart every n tells).
        grad_opt: "gradient_ascent" or "adam".
        grad_opt_kwargs: Extra arguments of the optimizer (Adam: beta1, beta2, epsilon,
            l2_coeff).
        normalize_grad: Divide every gradient by its norm (plus `epsilon`) in `tell_dqd`.
        epsilon: Added to the gradient norms.
        seed: Seed of the coefficient CMA-ES' generator (all emitters draw from it).
        device: Device (default: the archive's).
        dtype: Floating dtype (default: the archive's).

    Attributes:
        batch_size: Solutions per `ask` of the whole group (`count * emitter_batch_size`).
        dqd_size: Solutions per `ask_dqd` (`count`); `batch_size_dqd` is pyribs' name for it.
        restarts: (E,) numpy int64 restart counts.
        itrs: Number of tells.
    """

    def __init__(
        self,
        archive: Any,
        *,
        count: int,
        x0: np.ndarray | torch.Tensor,
        sigma0: float,
        lr: float,
        batch_size: int | None = None,
        ranker: str = "2imp",
        selection_rule: str = "filter",
        restart_rule: str | int = "no_improvement",
        grad_opt: GradOpt = "adam",
        grad_opt_kwargs: dict[str, float] | None = None,
        normalize_grad: bool = True,
        epsilon: float = 1e-8,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if ranker not in TORCH_RANKERS:
            raise ValueError(f"Invalid ranker {ranker!r} (torch rankers: {TORCH_RANKERS})")
        if selection_rule not in ("mu", "filter"):
            raise ValueError(f"Invalid selection_rule {selection_rule}")
        if not (
            restart_rule in ("basic", "no_improvement")
            or (isinstance(restart_rule, numbers.Integral) and restart_rule > 0)
        ):
            raise ValueError(f"Invalid restart_rule {restart_rule}")
        self.archive = archive
        self.device = torch.device(archive.device if device is None else device)
        self.dtype = archive.dtype if dtype is None else dtype
        self.count = int(count)
        self.solution_dim = int(archive.solution_dim)
        self.num_coefficients = int(archive.measure_dim) + 1
        self.ranker = ranker
        self.selection_rule = selection_rule
        self.restart_rule = restart_rule
        self.normalize_grad = bool(normalize_grad)
        self.epsilon = float(epsilon)
        kw = {"device": self.device, "dtype": self.dtype}
        self.x0 = torch.as_tensor(x0, **kw).reshape(self.solution_dim)
        self.grad_opt = BatchedGradientOpt(
            self.x0.expand(self.count, -1), lr, grad_opt, **(grad_opt_kwargs or {})
        )
        self.opt = BatchedCMAES(
            self.count, self.num_coefficients, sigma0,
            torch.zeros(self.num_coefficients, **kw), batch_size,
            device=self.device, dtype=self.dtype, seed=seed,
        )
        self.emitter_batch_size = self.opt.batch_size
        self.batch_size = self.count * self.emitter_batch_size
        self.dqd_size = self.batch_size_dqd = self.count
        self.restarts = np.zeros(self.count, dtype=np.int64)
        self.itrs = 0
        self._jacobian: torch.Tensor | None = None

    @property
    def theta(self) -> torch.Tensor:
        """(E, D) current solution points."""
        return self.grad_opt.theta

    @property
    def jacobian(self) -> torch.Tensor | None:
        """(E, 1 + M, D) (normalised) Jacobians of the last `tell_dqd`, or None before it."""
        return self._jacobian

    # -------------------------------------------------------------------------------- DQD

    def ask_dqd(self) -> torch.Tensor:
        """(count, D): every emitter's solution point, whose Jacobian `tell_dqd` needs."""
        return self.grad_opt.theta.clone()

    def tell_dqd(self, solution: torch.Tensor, objective: torch.Tensor, measures: torch.Tensor,
                 jacobian: torch.Tensor, info: AddInfo) -> None:
        """Keep the Jacobians (count, 1 + M, D) of the points of `ask_dqd`.

        Only `jacobian` is read: as in pyribs, the points' insertion results do not steer the
        emitters (the scheduler has already inserted them).
        """
        expected = (self.count, self.num_coefficients, self.solution_dim)
        if tuple(jacobian.shape) != expected:
            raise ValueError(f"jacobian should have shape {expected}, got "
                             f"{tuple(jacobian.shape)}")
        jacobian = jacobian.to(device=self.device, dtype=self.dtype)
        if self.normalize_grad:
            norms = torch.linalg.vector_norm(jacobian, dim=2, keepdim=True) + self.epsilon
            jacobian = jacobian / norms
        self._jacobian = jacobian

    # -------------------------------------------------------------------------- ask / tell

    def ask(self) -> torch.Tensor:
        """(count * emitter_batch_size, D) branches `theta + c @ jacobian`, emitter by emitter.

        Raises:
            RuntimeError: No `tell_dqd` has given the gradients yet.
        """
        if self._jacobian is None:
            raise RuntimeError("Please call ask_dqd() and tell_dqd() before calling ask().")
        coefficients = self.opt.ask()  # (E, lambda, 1 + M)
        branches = self.grad_opt.theta[:, None, :] + coefficients @ self._jacobian
        return branches.reshape(self.batch_size, self.solution_dim)

    def rank(self, objective: torch.Tensor, status: torch.Tensor,
             value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Ranking (E, B) best first and the ranking values ((E, B) or (E, B, 2)), unsorted."""
        status = status.to(self.dtype)
        if self.ranker == "imp":
            return descending_argsort(value), value
        if self.ranker == "obj":
            return descending_argsort(objective), objective
        second = value if self.ranker == "2imp" else objective
        return descending_argsort(status, second), torch.stack((status, second), dim=-1)

    def tell(self, solution: torch.Tensor, objective: torch.Tensor, measures: torch.Tensor,
             info: AddInfo) -> None:
        """Update every emitter from its part of the group's slice of the evaluated batch.

        Raises:
            RuntimeError: No `tell_dqd` has given the gradients yet.
        """
        if self._jacobian is None:
            raise RuntimeError(
                "Please call ask_dqd(), tell_dqd(), and ask() before calling tell()."
            )
        e, b, d = self.count, self.emitter_batch_size, self.solution_dim
        self.itrs += 1
        status = info.status.reshape(e, b)
        value = info.value.reshape(e, b).to(self.dtype)
        objective = objective.reshape(e, b).to(self.dtype)
        solution = solution.reshape(e, b, d).to(self.dtype)
        added = (status > 0).sum(dim=1)
        ranking, ranking_values = self.rank(objective, status, value)
        if self.selection_rule == "filter":
            num_parents = added
        else:
            num_parents = torch.full((e,), b // 2, device=self.device, dtype=torch.int64)
        self.opt.tell(ranking, num_parents)

        # Move theta towards the weighted mean of the parent branches.
        ranked = torch.gather(solution, 1, ranking[..., None].expand(-1, -1, d))
        weights = parent_weights(num_parents, b, self.dtype)
        new_mean = (ranked * weights[..., None]).sum(dim=1)
        self.grad_opt.step(new_mean - self.grad_opt.theta, num_parents > 0)

        index = ranking if ranking_values.dim() == 2 else ranking[..., None].expand(-1, -1, 2)
        restart = self.opt.check_stop(torch.gather(ranking_values, 1, index))
        if self.restart_rule == "no_improvement":
            restart = restart | (added == 0)
        elif isinstance(self.restart_rule, numbers.Integral):
            restart = restart | (self.itrs % self.restart_rule == 0)
        self._restart(restart.cpu())

    def _restart(self, mask: torch.Tensor) -> None:
        """Restart the masked emitters (host bool (E,)) on elites sampled from the archive."""
        rows = np.flatnonzero(mask.numpy())
        if rows.size == 0:
            return
        if self.archive.empty:
            centres = self.x0.expand(rows.size, -1)
        else:
            centres = self.archive.sample(int(rows.size))["solution"]
        index = torch.as_tensor(rows, device=self.device)
        theta = self.grad_opt.theta.index_copy(0, index, centres.to(**self._kw))
        self.grad_opt.reset(mask.to(self.device), theta)
        self.opt.reset(mask, torch.zeros(self.num_coefficients, **self._kw))
        self.restarts[rows] += 1

    @property
    def _kw(self) -> dict[str, Any]:
        return {"device": self.device, "dtype": self.dtype}
