"""Planar robotic arm repertoire (Cully et al. 2015; Vassiliades & Mouret 2018).

An n-joint planar arm with equal links: the solution is the vector of joint angles, the measures
are the end-effector (x, y), the objective is minus the variance of the joint angles (smooth
postures are preferred). Evaluated for the whole batch at once.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field

from problems.base import TorchProblem
from problems.registry import register_problem
from qd.components import ComponentConfig


class ArmConfig(ComponentConfig):
    """Config of `arm_repertoire`."""

    name: Literal["arm_repertoire"] = "arm_repertoire"
    joints: int = Field(12, ge=1, le=100_000, description="Number of joints (solution dimension).")
    link_length: float = Field(1.0, gt=0, description="Length of every link.")


@register_problem("arm_repertoire")
class ArmRepertoire(TorchProblem):
    """n-joint planar arm: measures = end-effector (x, y), objective = -Var(joint angles)."""

    Config = ArmConfig
    summary = "Planar n-joint arm (default 12), measures = end-effector (x, y)"
    measure_dim = 2

    def __init__(self, config: ArmConfig, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        self.solution_dim = config.joints
        reach = config.joints * config.link_length
        self.measure_bounds = ((-reach, reach), (-reach, reach))
        self.solution_bounds = tuple((-math.pi, math.pi) for _ in range(config.joints))
        self.objective_bounds = (-(math.pi**2), 0.0)
        self.link_length = config.link_length

    @property
    def observation_dim(self) -> int:
        """Length of an observation: (x, y) of every joint's far end."""
        return 2 * self.solution_dim

    def observe(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Objectives, end-effector (x, y), and the raw observation for learned measures: the
        posture, as the (x, y) of every link's far end divided by the reach (so in [-1, 1]).
        """
        cumulative = torch.cumsum(solutions, dim=1)
        xs = torch.cumsum(self.link_length * torch.cos(cumulative), dim=1)
        ys = torch.cumsum(self.link_length * torch.sin(cumulative), dim=1)
        reach = self.link_length * self.solution_dim
        objectives, measures = self._evaluate(solutions)
        return objectives, measures, torch.stack((xs, ys), dim=2).flatten(1) / reach

    def _evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        objectives = -solutions.var(dim=1, unbiased=False)
        cumulative = torch.cumsum(solutions, dim=1)
        x = self.link_length * torch.cos(cumulative).sum(dim=1)
        y = self.link_length * torch.sin(cumulative).sum(dim=1)
        return objectives, torch.stack((x, y), dim=1)
