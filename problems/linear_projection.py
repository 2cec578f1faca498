"""Sphere and Rastrigin "linear projection" benchmarks of CMA-ME / CMA-MAE.

Fontaine et al., "Covariance Matrix Adaptation for the Rapid Illumination of Behavior Space"
(GECCO 2020) and Fontaine & Nikolaidis, "Covariance Matrix Adaptation MAP-Annealing" (GECCO 2023).
The objective is the (shifted) function normalised to [0, 100] over the box [-5.12, 5.12]^D;
the two measures are the sums of the first and second half of the solution after clipping each
coordinate outside [-5.12, 5.12] to 5.12 / x.

Both are differentiable (Fontaine & Nikolaidis, "Differentiable Quality Diversity", NeurIPS
2021): autograd gives the objective gradient and the measure gradients, 1 inside the box and
-5.12 / x^2 outside it. The clipping jumps at the box faces (5.12 inside, 1 just outside), so
the gradients are exact everywhere except on the faces themselves.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from problems.base import TorchProblem
from problems.registry import register_problem
from qd.components import ComponentConfig

_LIMIT = 5.12


class _LPConfig(ComponentConfig):
    dim: int = Field(100, ge=2, le=100_000, description="Solution dimension D (>= 2).")
    shift: float = Field(0.4 * _LIMIT, description="Optimum location in every coordinate.")


class _LinearProjection(TorchProblem):
    """Common measures and normalisation; subclasses give the raw function to minimise."""

    measure_dim = 2
    objective_bounds = (0.0, 100.0)
    differentiable = True

    def __init__(self, config: _LPConfig, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        self.solution_dim = config.dim
        self.shift = config.shift
        self._half = config.dim // 2
        self.measure_bounds = (
            (-_LIMIT * self._half, _LIMIT * self._half),
            (-_LIMIT * (config.dim - self._half), _LIMIT * (config.dim - self._half)),
        )
        self._worst = self._worst_raw()

    def _raw(self, z: torch.Tensor) -> torch.Tensor:
        """Raw value to minimise, given z = x - shift of shape (B, D); returns (B,)."""
        raise NotImplementedError

    def _worst_raw(self) -> float:
        raise NotImplementedError

    def _evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw = self._raw(solutions - self.shift)
        objectives = (raw - self._worst) * (-100.0 / self._worst)
        outside = (solutions < -_LIMIT) | (solutions > _LIMIT)
        # The divisor is 1 inside the box: 5.12 / x is not taken there, and its gradient
        # (infinite at x = 0, the default centre) must not reach autograd through `where`.
        divisor = torch.where(outside, solutions, torch.ones_like(solutions))
        clipped = torch.where(outside, _LIMIT / divisor, solutions)
        measures = torch.stack(
            (clipped[:, : self._half].sum(dim=1), clipped[:, self._half :].sum(dim=1)), dim=1
        )
        return objectives, measures


class SphereLPConfig(_LPConfig):
    """Config of `sphere_lp`."""

    name: Literal["sphere_lp"] = "sphere_lp"


@register_problem("sphere_lp")
class SphereLP(_LinearProjection):
    """Shifted sphere with linear-projection measures (unimodal)."""

    Config = SphereLPConfig
    summary = "Shifted sphere, D-dim (default 100), 2 linear-projection measures"

    def _raw(self, z: torch.Tensor) -> torch.Tensor:
        return (z * z).sum(dim=1)

    def _worst_raw(self) -> float:
        return self.solution_dim * (_LIMIT + abs(self.shift)) ** 2


class RastriginLPConfig(_LPConfig):
    """Config of `rastrigin_lp`."""

    name: Literal["rastrigin_lp"] = "rastrigin_lp"


@register_problem("rastrigin_lp")
class RastriginLP(_LinearProjection):
    """Shifted Rastrigin with linear-projection measures (highly multimodal)."""

    Config = RastriginLPConfig
    summary = "Shifted Rastrigin, D-dim (default 100), 2 linear-projection measures"

    def _raw(self, z: torch.Tensor) -> torch.Tensor:
        return (z * z - 10.0 * torch.cos(2.0 * math.pi * z)).sum(dim=1) + 10.0 * self.solution_dim

    def _worst_raw(self) -> float:
        # Exact per-coordinate maximum over the box, found on a fine grid.
        z = np.linspace(-_LIMIT - self.shift, _LIMIT - self.shift, 200_001)
        per_dim = float(np.max(z * z - 10.0 * np.cos(2.0 * np.pi * z))) + 10.0
        return self.solution_dim * per_dim
