"""Shared base of torch-batched problems: device/dtype handling and shape checks."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from qd.components import ComponentConfig
from qd.protocols import Bounds


class TorchProblem:
    """Base class of batched problems; subclasses implement `_evaluate` on a (B, D) tensor.

    Class attributes `summary` and `needs` feed `qd problems`.
    """

    Config: ClassVar[type[ComponentConfig]]
    summary: ClassVar[str] = ""
    needs: ClassVar[str] = "CPU (torch); CUDA optional"

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
        if solutions.ndim != 2 or solutions.shape[1] != self.solution_dim:
            raise ValueError(
                f"solutions should have shape (batch_size, {self.solution_dim}), "
                f"got {tuple(solutions.shape)}"
            )
        return self._evaluate(solutions)

    def _evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError
