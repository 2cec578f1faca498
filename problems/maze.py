"""Deceptive maze navigation with an MLP-controlled robot (after Lehman & Stanley 2011).

Lehman & Stanley, "Abandoning Objectives: Evolution Through the Search for Novelty Alone",
Evolutionary Computation 19(2), 2011: a differential-drive robot with range finders and a goal
radar must reach a goal in a maze whose straight-line distance to the goal leads into dead ends.
The layouts here are our own, in the style of their "medium" and "hard" mazes.

All B robots are stepped together: each step casts every robot's rays against every wall at once
(a [B, rays, walls] ray-segment intersection), runs the B policies with one batched matmul per
layer (`qd.policies`), then moves the robots; a move that would bring a robot closer than its
radius to a wall is cancelled (the robot stays where it is, its heading still changes).
Objective: minus the final distance to the goal. Measures: the final (x, y).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from problems.base import TorchProblem
from problems.registry import register_problem
from problems.rollouts import PathScene, Rollouts
from qd.policies import BatchedMLP, MLPArchitecture, PolicyConfig, architecture_from

#: Range-finder directions relative to the heading (radians): right, front-right, front,
#: front-left, left, back, as in Lehman & Stanley's robot.
RAY_ANGLES = tuple(math.radians(a) for a in (-90.0, -45.0, 0.0, 45.0, 90.0, 180.0))
#: Radar pie slices (front, left, back, right), each a quarter turn centred on its direction.
RADAR_SLICES = 4


@dataclass(frozen=True)
class MazeLayout:
    """A maze: a box [0, width] x [0, height], inner walls, start pose and goal.

    Attributes:
        size: (width, height) of the outer box (its four sides are walls too).
        walls: Inner walls as segments (x1, y1, x2, y2).
        start: Start pose (x, y, heading in radians).
        goal: Goal position (x, y).
    """

    size: tuple[float, float]
    walls: tuple[tuple[float, float, float, float], ...]
    start: tuple[float, float, float]
    goal: tuple[float, float]

    def segments(self) -> list[tuple[float, float, float, float]]:
        """Every wall, the four sides of the box first."""
        w, h = self.size
        box = [(0.0, 0.0, w, 0.0), (w, 0.0, w, h), (w, h, 0.0, h), (0.0, h, 0.0, 0.0)]
        return box + [tuple(map(float, s)) for s in self.walls]  # type: ignore[misc]

    @property
    def diagonal(self) -> float:
        """Length of the box diagonal (the worst possible distance to the goal)."""
        return math.hypot(*self.size)


#: "medium": three corridors in an S. From the start the goal pulls the robot right and up into
#: the middle corridor, whose right end is a dead end just below the goal; the way on is back
#: left, up through the far gap, then right under a low ceiling stub.
#: "hard": four corridors in a zig-zag. The goal (top left) pulls the robot up into the start
#: corridor's ceiling and, in the third corridor, into a dead end 15 units below the goal; the gaps
#: are on the far side. Two stubs narrow the first and third corridors. The path is about 400
#: units long, so use `steps` >= 300.
LAYOUTS: dict[str, MazeLayout] = {
    "medium": MazeLayout(
        size=(100.0, 100.0),
        walls=((0, 35, 75, 35), (25, 65, 100, 65), (55, 100, 55, 80)),
        start=(10.0, 15.0, 0.0),
        goal=(85.0, 85.0),
    ),
    "hard": MazeLayout(
        size=(100.0, 100.0),
        walls=(
            (0, 25, 80, 25),
            (20, 50, 100, 50),
            (0, 75, 80, 75),
            (45, 0, 45, 13),
            (50, 75, 50, 62),
        ),
        start=(10.0, 10.0, 0.0),
        goal=(10.0, 90.0),
    ),
}


class MazeConfig(PolicyConfig):
    """Config of `maze_navigation`."""

    name: Literal["maze_navigation"] = "maze_navigation"
    layout: Literal["medium", "hard"] = Field("medium", description="Which maze.")
    steps: int = Field(200, ge=1, le=100_000, description="Simulation steps T per rollout.")
    radar: bool = Field(True, description="Give the policy a 4-slice goal radar.")
    sensor_range: float = Field(50.0, gt=0, description="Range of the range finders.")
    speed: float = Field(3.0, gt=0, description="Distance per step at full forward speed.")
    turn_rate: float = Field(0.5, gt=0, le=math.pi, description="Max heading change per step.")
    radius: float = Field(2.0, gt=0, le=10, description="Robot radius (collision distance).")
    goal_radius: float = Field(
        5.0, ge=0, description="A robot this close to the goal stops there (0: never stops)."
    )
    observation_points: int = Field(
        10, ge=1, le=1000,
        description="Learned measures: positions sampled along the trajectory as the observation.",
    )

    @model_validator(mode="after")
    def _no_tunnelling(self) -> MazeConfig:
        if self.speed >= 2 * self.radius:
            raise ValueError(
                f"speed ({self.speed}) must be below twice the radius ({2 * self.radius}), "
                "or a robot could step through a wall"
            )
        return self


class MazeSimulator:
    """Batched differential-drive robots in one maze (torch, any device).

    Args:
        layout: The maze.
        config: Sensor, speed and radius options.
        device: Torch device of the state.
        dtype: Floating point type of the state.
    """

    def __init__(
        self, layout: MazeLayout, config: MazeConfig, device: torch.device, dtype: torch.dtype
    ) -> None:
        self.layout = layout
        self.config = config
        opts = {"device": device, "dtype": dtype}
        seg = torch.tensor(layout.segments(), **opts)  # (W, 4)
        self.a = seg[:, :2]
        self.e = seg[:, 2:] - seg[:, :2]
        self.inv_len2 = 1.0 / (self.e * self.e).sum(1)
        self.rays = torch.tensor(RAY_ANGLES, **opts)
        self.slots = torch.arange(RADAR_SLICES, **opts)
        self.far = torch.tensor(config.sensor_range, **opts)
        self.goal = torch.tensor(layout.goal, **opts)
        self.opts = opts

    @property
    def num_inputs(self) -> int:
        """Length of an observation: ray readings plus radar slices."""
        return len(RAY_ANGLES) + (RADAR_SLICES if self.config.radar else 0)

    def reset(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`batch` robots at the start pose: positions (B, 2) and headings (B,)."""
        x, y, heading = self.layout.start
        pos = torch.tensor([x, y], **self.opts).expand(batch, 2).clone()
        return pos, torch.full((batch,), heading, **self.opts)

    def ranges(self, pos: torch.Tensor, heading: torch.Tensor) -> torch.Tensor:
        """Distance along each ray to the nearest wall, capped at the sensor range: (B, rays)."""
        angle = heading[:, None] + self.rays  # (B, R)
        dx, dy = torch.cos(angle).unsqueeze(-1), torch.sin(angle).unsqueeze(-1)  # (B, R, 1)
        ex, ey = self.e[:, 0], self.e[:, 1]  # (W,)
        apx = (self.a[:, 0] - pos[:, :1]).unsqueeze(1)  # (B, 1, W): wall start - robot
        apy = (self.a[:, 1] - pos[:, 1:]).unsqueeze(1)
        # Ray p + t d meets wall a + u e where t = (ap x e) / (d x e), u = (ap x d) / (d x e).
        inv = torch.reciprocal(dx * ey - dy * ex)  # (B, R, W); inf for parallel walls
        t = (apx * ey - apy * ex) * inv
        u = (apx * dy - apy * dx) * inv
        hit = (t >= 0) & (u >= 0) & (u <= 1)  # NaN (ray along a wall) compares False
        return torch.where(hit, t, self.far).amin(-1).clamp_(max=self.config.sensor_range)

    def radar(self, pos: torch.Tensor, heading: torch.Tensor) -> torch.Tensor:
        """One-hot goal direction in the robot's frame (front, left, back, right): (B, 4)."""
        delta = self.goal - pos
        rel = torch.atan2(delta[:, 1], delta[:, 0]) - heading + math.pi / 4
        slot = torch.floor(torch.remainder(rel, 2 * math.pi) / (math.pi / 2)).clamp_(max=3)
        return (slot.unsqueeze(1) == self.slots).to(pos.dtype)

    def observe(self, pos: torch.Tensor, heading: torch.Tensor) -> torch.Tensor:
        """Policy input: ray ranges / sensor range, then the radar when enabled: (B, inputs)."""
        ranges = self.ranges(pos, heading) / self.config.sensor_range
        if not self.config.radar:
            return ranges
        return torch.cat((ranges, self.radar(pos, heading)), dim=1)

    def blocked(self, pos: torch.Tensor) -> torch.Tensor:
        """Whether each position is closer than the robot radius to some wall: (B,) bool."""
        ex, ey = self.e[:, 0], self.e[:, 1]
        qax = pos[:, :1] - self.a[:, 0]  # (B, W): robot - wall start
        qay = pos[:, 1:] - self.a[:, 1]
        s = ((qax * ex + qay * ey) * self.inv_len2).clamp_(0.0, 1.0)  # closest point parameter
        dx, dy = qax - s * ex, qay - s * ey
        return (dx * dx + dy * dy < self.config.radius**2).any(dim=1)

    def step(
        self, pos: torch.Tensor, heading: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply wheel commands (B, 2) in [-1, 1] (left, right); returns the new (pos, heading)."""
        left, right = action[:, 0], action[:, 1]
        heading = heading + self.config.turn_rate * (right - left) / 2
        speed = self.config.speed * (left + right) / 2
        target = pos + speed.unsqueeze(1) * torch.stack((torch.cos(heading), torch.sin(heading)), 1)
        return torch.where(self.blocked(target).unsqueeze(1), pos, target), heading

    def arrived(self, pos: torch.Tensor) -> torch.Tensor:
        """Whether each robot is within `goal_radius` of the goal: (B, 1) bool."""
        delta = pos - self.goal
        return (delta * delta).sum(1, keepdim=True) <= self.config.goal_radius**2

    def step_states(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """One rollout step of states (B, 4) = (x, y, heading, t) under wheel commands (B, 2).

        Exactly the physics of `rollout` (the same `step` and `arrived`): a robot within
        `goal_radius` of the goal keeps its position (its heading still turns); `t` counts steps.
        """
        pos, heading, t = states[:, :2], states[:, 2], states[:, 3:]
        moved, heading = self.step(pos, heading, actions)
        pos = torch.where(self.arrived(pos), pos, moved)
        return torch.cat((pos, heading.unsqueeze(1), t + 1), dim=1)

    def rollout(self, policy: BatchedMLP, steps: int,
                path: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Run `steps` steps of the B robots under their policies; returns final positions.

        A robot that comes within `goal_radius` of the goal stops there for the rest of the run.
        With `path`, the positions (B, 2) before the first step and after each step are appended
        to it (for drawing trajectories).
        """
        pos, heading = self.reset(policy.batch_size)
        if path is not None:
            path.append(pos)
        for _ in range(steps):
            moved, heading = self.step(pos, heading, policy(self.observe(pos, heading)))
            pos = torch.where(self.arrived(pos), pos, moved)
            if path is not None:
                path.append(pos)
        return pos


@register_problem("maze_navigation")
class MazeNavigation(TorchProblem):
    """Reach the goal of a deceptive maze; measures = final (x, y)."""

    Config = MazeConfig
    summary = "Deceptive maze, MLP robot with range finders; measures = final (x, y)"
    measure_dim = 2

    def __init__(self, config: MazeConfig, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        self.layout = LAYOUTS[config.layout]
        self.sim = MazeSimulator(self.layout, config, self.device, self.dtype)
        self.architecture: MLPArchitecture = architecture_from(config, self.sim.num_inputs, 2)
        self.solution_dim = self.architecture.num_params
        width, height = self.layout.size
        self.measure_bounds = ((0.0, width), (0.0, height))
        self.objective_bounds = (-self.layout.diagonal, 0.0)
        self.steps = config.steps

    # Exact state API (`problems.explorable.Explorable`, used by Go-Explore): a state is the
    # float64 vector (x, y, heading, t), t = steps taken since the start.
    state_dim = 4
    action_dim = 2

    @property
    def state_bounds(self) -> tuple[tuple[float, float], ...]:
        """(low, high) of x, y, heading (unwrapped radians) and t."""
        width, height = self.layout.size
        return ((0.0, width), (0.0, height), (-math.inf, math.inf), (0.0, math.inf))

    def start_states(self, n: int) -> torch.Tensor:
        """`n` robots at the start pose with t = 0: shape (n, 4)."""
        pos, heading = self.sim.reset(n)
        return torch.cat((pos, heading.unsqueeze(1), torch.zeros_like(heading).unsqueeze(1)), 1)

    def step_states(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Next states (n, 4) after wheel commands (n, 2) in [-1, 1]; rollout physics."""
        return self.sim.step_states(states.to(self.dtype), actions.to(self.dtype))

    def evaluate_states(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Objective (minus the distance to the goal) and measures (x, y) of states (n, 4)."""
        pos = states[:, :2].to(self.dtype)
        return -torch.linalg.vector_norm(pos - self.sim.goal, dim=1), pos

    def trajectories(self, solutions: torch.Tensor) -> torch.Tensor:
        """Positions of each robot over the run: shape (B, steps + 1, 2)."""
        path: list[torch.Tensor] = []
        self.sim.rollout(self.architecture.unflatten(solutions.to(self.dtype)), self.steps, path)
        return torch.stack(path, dim=1)

    # Report views (`problems.rollouts`): the paths of solutions, or of stored states
    # (Go-Explore runs), through the maze.
    rollout_views = ("paths",)

    def rollouts(self, solutions: np.ndarray) -> Rollouts:
        """Each robot's positions over the run, (steps + 1, 2) from the start, in the maze."""
        with torch.no_grad():
            points = self.trajectories(torch.from_numpy(solutions)).cpu().numpy()
        return Rollouts(xy=tuple(points), scene=self._scene())

    def state_rollouts(self, paths: Sequence[np.ndarray]) -> Rollouts:
        """The positions of state sequences (T_i, 4): their (x, y) columns."""
        return Rollouts(xy=tuple(np.asarray(p)[:, :2] for p in paths), scene=self._scene())

    def _scene(self) -> PathScene:
        layout = self.layout
        return PathScene(tuple(layout.segments()), "walls",
                         (layout.start[0], layout.start[1]), layout.goal)

    @property
    def observation_dim(self) -> int:
        """Length of an observation: (x, y) at `observation_points` times."""
        return 2 * self.config.observation_points  # type: ignore[attr-defined]

    def observe(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Objectives, final (x, y), and the raw observation for learned measures: the robot's
        position at `observation_points` evenly spaced times (the last one final), each
        coordinate divided by the maze size so it lies in [0, 1].
        """
        path = self.trajectories(solutions)  # (B, T + 1, 2)
        points = self.config.observation_points  # type: ignore[attr-defined]
        times = torch.linspace(self.steps / points, self.steps, points).round().long()
        scale = torch.tensor(self.layout.size, device=path.device, dtype=path.dtype)
        final = path[:, -1]
        distance = torch.linalg.vector_norm(final - self.sim.goal, dim=1)
        return -distance, final, (path[:, times] / scale).flatten(1)

    def _evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        policy = self.architecture.unflatten(solutions.to(self.dtype))
        final = self.sim.rollout(policy, self.steps)
        distance = torch.linalg.vector_norm(final - self.sim.goal, dim=1)
        return -distance, final
