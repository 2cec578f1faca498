"""Shared base of torch-batched problems: device/dtype handling and shape checks."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from qd.components import ComponentConfig
from qd.protocols import Bounds


class TorchProblem:
    """Base class of batched problems; subclasses implement `_evaluate` on a (B, D) tensor.

    Class attributes `summary` and `needs` feed `qd problems`. Problems whose objective and
    measures are differentiable functions of the solution (written in torch ops autograd can
    follow) set `differentiable = True`; DQD emitters (cma_mega, cma_maega) then get their
    gradients from `evaluate_with_jacobian`. Problems that offer reports views of their
    episodes (`problems.rollouts`) name them in `rollout_views` and implement `rollouts`.
    """

    Config: ClassVar[type[ComponentConfig]]
    summary: ClassVar[str] = ""
    needs: ClassVar[str] = "CPU (torch); CUDA optional"
    differentiable: ClassVar[bool] = False
    rollout_views: ClassVar[tuple[str, ...]] = ()

    solution_dim: int
    measure_dim: int
    measure_bounds: Bounds
    objective_bounds: tuple[float, float]
    solution_bounds: Bounds | None = None

    def __init__(self, config: ComponentConfig, device: torch.device | str = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.dtype = torch.float64

    @property
    def x0(self) -> np.ndarray:
        """Default search centre: the origin, shape (solution_dim,)."""
        return np.zeros(self.solution_dim)

    def evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Evaluate solutions of shape (batch_size, solution_dim).

        Returns:
            objectives (batch_size,) and measures (batch_size, measure_dim).
        """
        self._check_shape(solutions)
        return self._evaluate(solutions)

    def evaluate_with_jacobian(
        self, solutions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Evaluate solutions and differentiate objective and measures with autograd.

        Each row's outputs depend on that row's solution only, so the gradient of the batch
        sum of one output is every row's gradient of it: 1 + measure_dim backward passes give
        the whole batch's Jacobians, whatever the batch size.

        Args:
            solutions: (batch_size, solution_dim).

        Returns:
            objectives (batch_size,), measures (batch_size, measure_dim) and jacobian
            (batch_size, 1 + measure_dim, solution_dim): row 0 the objective gradient, rows 1..
            the measure gradients. All detached.

        Raises:
            TypeError: The problem is not differentiable.
        """
        if not self.differentiable:
            raise TypeError(f"{type(self).__name__} is not differentiable")
        self._check_shape(solutions)
        with torch.enable_grad():
            x = solutions.detach().requires_grad_(True)
            objectives, measures = self._evaluate(x)
            outputs = torch.cat((objectives[:, None], measures), dim=1)
            n_out = outputs.shape[1]
            rows = [
                torch.autograd.grad(
                    outputs[:, k].sum(), x, retain_graph=k < n_out - 1, allow_unused=True,
                    materialize_grads=True,
                )[0]
                for k in range(n_out)
            ]
        return objectives.detach(), measures.detach(), torch.stack(rows, dim=1)

    def _check_shape(self, solutions: torch.Tensor) -> None:
        if solutions.ndim != 2 or solutions.shape[1] != self.solution_dim:
            raise ValueError(
                f"solutions should have shape (batch_size, {self.solution_dim}), "
                f"got {tuple(solutions.shape)}"
            )

    def _evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError
