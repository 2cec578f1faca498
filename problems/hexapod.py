"""Hexapod gaits from open-loop periodic leg controllers (after Cully et al. 2015).

Cully, Clune, Tarapore & Mouret, "Robots that can adapt like animals", Nature 521, 2015: each
of a hexapod's 12 controlled joints (a fore/aft *swing* joint and a *lift* joint per leg) follows
a periodic signal with amplitude, phase and duty cycle (36 parameters in [0, 1]); the square
signal is smoothed with a Gaussian kernel; MAP-Elites fills a 6-D archive of duty factors (the
fraction of time each foot touches the ground).

The body model here is kinematic and deliberately simple, and evaluated for all B controllers
and all T steps at once (there is no time loop: the body's motion in a step depends only on the
feet, and the heading integrates with a cumulative sum):

- a foot touches the ground when its lift signal is <= 0; its fore/aft position relative to the
  hip is `leg_length * sin(swing_angle * swing signal)`;
- stance feet do not slide, so they push the body by minus the mean of their fore/aft motion
  (left and right sides separately; their difference turns the body over the track width);
- stance feet on one side that move differently must slip: the slip of a step is the mean
  absolute deviation of the stance feet from their side's mean motion;
- the body only moves when it is statically stable: >= 3 stance feet, with at least one on each
  side, and the centre of mass (the hip midpoint) between the rearmost and foremost stance foot.

Objective: displacement along the start heading minus `slip_weight` times the total slip.
Measures: duty factor of each leg (6-D), or the mean duty factor of each tripod (2-D).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from problems.base import TorchProblem
from problems.registry import register_problem
from qd.components import ComponentConfig

#: Legs 0-2 are left front / middle / rear, legs 3-5 right front / middle / rear.
HIP_X = (0.6, 0.0, -0.6)
HALF_WIDTH = 0.5
#: The two tripods of the alternating tripod gait.
TRIPODS = ((0, 2, 4), (1, 3, 5))
#: Per leg: swing amplitude, phase, duty cycle, then lift amplitude, phase, duty cycle.
PARAMS_PER_LEG = 6


class HexapodConfig(ComponentConfig):
    """Config of `hexapod_gait`."""

    name: Literal["hexapod_gait"] = "hexapod_gait"
    steps: int = Field(150, ge=2, le=100_000, description="Simulation steps T.")
    period: int = Field(50, ge=4, le=10_000, description="Steps per gait cycle.")
    smoothing: float = Field(
        0.05, ge=0, le=1, description="Std of the Gaussian smoothing kernel, fraction of a cycle."
    )
    leg_length: float = Field(0.5, gt=0, le=10, description="Hip-to-foot length.")
    swing_angle: float = Field(
        math.pi / 4, gt=0, le=math.pi / 2, description="Hip swing angle at amplitude 1 (rad)."
    )
    slip_weight: float = Field(1.0, ge=0, description="Objective penalty per unit of slip.")
    measures: Literal["duty_factor", "tripod_duty"] = Field(
        "duty_factor", description="Duty factor per leg (6-D) or per tripod (2-D)."
    )

    @model_validator(mode="after")
    def _period_fits(self) -> HexapodConfig:
        if self.period > self.steps:
            raise ValueError(f"period ({self.period}) must not exceed steps ({self.steps})")
        return self


def smoothing_matrix(period: int, smoothing: float, dtype: torch.dtype) -> torch.Tensor:
    """Circulant (period x period) matrix of a normalised circular Gaussian kernel.

    `signal @ matrix` smooths a periodic signal sampled `period` times per cycle; the kernel's
    standard deviation is `smoothing * period` samples (0 gives the identity).
    """
    j = torch.arange(period, dtype=dtype)
    if smoothing == 0:
        return torch.eye(period, dtype=dtype)
    dist = torch.remainder(j[:, None] - j[None, :], period)
    dist = torch.minimum(dist, period - dist)
    kernel = torch.exp(-0.5 * (dist / (smoothing * period)) ** 2)
    return kernel / kernel.sum(dim=1, keepdim=True)


def joint_signals(params: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Smoothed square waves of every joint over one cycle.

    Args:
        params: (B, 12, 3) amplitude, phase, duty cycle per joint, each in [0, 1].
        matrix: The (N, N) smoothing matrix of `smoothing_matrix`.

    Returns:
        (B, 12, N) signals in [-amplitude, amplitude].
    """
    n = matrix.shape[0]
    amplitude, phase, duty = params.unbind(-1)
    k = torch.arange(n, dtype=params.dtype, device=params.device) / n
    cycle = torch.remainder(k - phase.unsqueeze(-1), 1.0)
    square = torch.where(cycle < duty.unsqueeze(-1), 1.0, -1.0) * amplitude.unsqueeze(-1)
    return square @ matrix


def max_foot_step(config: HexapodConfig) -> float:
    """Upper bound of a foot's fore/aft motion in one step (bounds the objective)."""
    matrix = smoothing_matrix(config.period, config.smoothing, torch.float64)
    change = (matrix.roll(-1, dims=0) - matrix).abs().sum(dim=1).max().item()
    return config.leg_length * config.swing_angle * change


def _stable(contact: torch.Tensor, foot_x: torch.Tensor) -> torch.Tensor:
    """Tell static stability per step: (B, 6, T) contacts and foot positions -> (B, T) bool."""
    left, right = contact[:, :3].sum(1), contact[:, 3:].sum(1)
    inf = torch.tensor(math.inf, dtype=foot_x.dtype, device=foot_x.device)
    front = torch.where(contact, foot_x, -inf).amax(1)
    rear = torch.where(contact, foot_x, inf).amin(1)
    return (left + right >= 3) & (left >= 1) & (right >= 1) & (rear <= 0) & (front >= 0)


def body_motion(
    contact: torch.Tensor, foot_x: torch.Tensor, track: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Body motion of every step from the feet.

    Args:
        contact: (B, 6, T + 1) foot contacts.
        foot_x: (B, 6, T + 1) fore/aft foot positions in the body frame.
        track: Distance between the left and right feet (turning lever).

    Returns:
        forward push (B, T), heading change (B, T) and slip (B, T); zero push and turn where
        the body is unstable.
    """
    c = contact[..., :-1]
    u = torch.diff(foot_x, dim=-1)  # (B, 6, T) foot motion relative to the body
    cu = torch.where(c, u, 0.0)
    n_left, n_right = c[:, :3].sum(1), c[:, 3:].sum(1)
    mean_left = cu[:, :3].sum(1) / n_left.clamp(min=1)
    mean_right = cu[:, 3:].sum(1) / n_right.clamp(min=1)
    side_mean = torch.stack((mean_left, mean_right), 1).repeat_interleave(3, dim=1)
    slip = torch.where(c, (u - side_mean).abs(), 0.0).sum(1) / 6
    push = -cu.sum(1) / (n_left + n_right).clamp(min=1)
    turn = torch.where((n_left > 0) & (n_right > 0), (mean_left - mean_right) / track, 0.0)
    moving = _stable(c, foot_x[..., :-1])
    return torch.where(moving, push, 0.0), torch.where(moving, turn, 0.0), slip


@register_problem("hexapod_gait")
class HexapodGait(TorchProblem):
    """Open-loop hexapod gaits: walk forward; measures = duty factors."""

    Config = HexapodConfig
    summary = "Hexapod, 36 periodic joint parameters; measures = duty factor per leg"

    def __init__(self, config: HexapodConfig, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        self.solution_dim = 6 * PARAMS_PER_LEG
        self.measure_dim = 6 if config.measures == "duty_factor" else 2
        self.measure_bounds = tuple((0.0, 1.0) for _ in range(self.measure_dim))
        self.solution_bounds = tuple((0.0, 1.0) for _ in range(self.solution_dim))
        reach = config.steps * max_foot_step(config)
        self.objective_bounds = (-reach * (1 + 2 * config.slip_weight), reach)
        self.matrix = smoothing_matrix(config.period, config.smoothing, self.dtype).to(self.device)
        self.hip_x = torch.tensor(HIP_X * 2, dtype=self.dtype, device=self.device)
        self.track = 2 * (HALF_WIDTH + config.leg_length)

    @property
    def x0(self) -> np.ndarray:
        """Search centre: every parameter at 0.5."""
        return super().x0 + 0.5

    def gait(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Foot contacts and fore/aft foot positions over T + 1 samples, each (B, 6, T + 1)."""
        cfg = self.config
        assert isinstance(cfg, HexapodConfig)
        params = solutions.to(self.dtype).reshape(-1, 12, 3)
        cycle = joint_signals(params, self.matrix).reshape(-1, 6, 2, cfg.period)
        when = torch.arange(cfg.steps + 1, device=self.device) % cfg.period
        swing, lift = cycle[:, :, 0, when], cycle[:, :, 1, when]
        foot_x = self.hip_x[:, None] + cfg.leg_length * torch.sin(cfg.swing_angle * swing)
        return lift <= 0, foot_x

    @property
    def observation_dim(self) -> int:
        """Length of an observation: the 6 feet's contacts at each sample of one cycle."""
        return 6 * self.config.period  # type: ignore[attr-defined]

    def observe(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Objectives, measures, and the raw observation for learned measures: the gait
        diagram, whether each foot is on the ground (1) or not (0) at each of the `period`
        samples of one cycle (the controller is periodic, so one cycle is the whole gait).
        """
        objectives, measures = self._evaluate(solutions)
        contact, _ = self.gait(solutions)
        period = self.config.period  # type: ignore[attr-defined]
        return objectives, measures, contact[..., :period].to(self.dtype).flatten(1)

    def _evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        assert isinstance(cfg, HexapodConfig)
        contact, foot_x = self.gait(solutions)
        push, turn, slip = body_motion(contact, foot_x, self.track)
        heading = torch.cumsum(turn, dim=1) - turn / 2  # mid-step heading
        forward = (push * torch.cos(heading)).sum(1)
        objective = forward - cfg.slip_weight * slip.sum(1)
        duty = contact[..., :-1].to(self.dtype).mean(-1)
        if cfg.measures == "tripod_duty":
            duty = torch.stack([duty[:, list(t)].mean(1) for t in TRIPODS], 1)
        return objective, duty
