"""Problems whose environment state can be saved, restored and stepped exactly (Go-Explore).

Go-Explore (Ecoffet et al., "Go-Explore: a New Approach for Hard-Exploration Problems", 2019;
"First return, then explore", Nature 590, 2021) needs to *return* to a stored state and explore
from it. An `Explorable` problem exposes its simulator state as a float64 vector, so a batch of
states restores in one tensor and steps with the same physics as the problem's own rollouts.
`StateSpaceProblem` turns such a problem into one whose solutions *are* states, which is what a
run's archive stores when its emitters search the "states" space.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from qd.protocols import Bounds


@runtime_checkable
class Explorable(Protocol):
    """An environment whose state can be restored and stepped in batch.

    Attributes:
        state_dim: Length S of a state vector.
        action_dim: Length A of an action; every action coordinate lies in [-1, 1].
        state_bounds: (low, high) per state coordinate (may be infinite).
        measure_dim: Number of measures of a state.
        measure_bounds: (low, high) per measure of a state.
        objective_bounds: (worst, best) objective of a state.
    """

    state_dim: int
    action_dim: int
    state_bounds: Bounds
    measure_dim: int
    measure_bounds: Bounds
    objective_bounds: tuple[float, float]

    def start_states(self, n: int) -> torch.Tensor:
        """`n` copies of the initial state: shape (n, S), float64, on the problem's device."""
        ...

    def step_states(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """One step of every state (n, S) under actions (n, A); returns the next states (n, S)."""
        ...

    def evaluate_states(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Objectives (n,) and measures (n, M) of states (n, S)."""
        ...


def is_explorable(problem: Any) -> bool:
    """Whether `problem` implements the `Explorable` protocol."""
    return isinstance(problem, Explorable)


class StateSpaceProblem:
    """A problem whose solutions are states of an explorable problem.

    A solution is a state followed by its *origin*: the state its exploration segment started
    from (the archived state that was restored), both S long, so `solution_dim` = 2 S. The
    origin links every stored state to the one it was reached from, which is how the path to
    any state is recovered from the run store (`qd.report.trajectories`). `evaluate` scores
    the state itself (no rollout): the objective and measures a rollout ending there would get.

    Args:
        problem: The explorable problem.
    """

    solution_bounds: Bounds | None = None

    def __init__(self, problem: Explorable) -> None:
        self.problem = problem
        self.state_dim = problem.state_dim
        self.solution_dim = 2 * problem.state_dim
        self.measure_dim = problem.measure_dim
        self.measure_bounds = problem.measure_bounds
        self.objective_bounds = problem.objective_bounds

    @property
    def x0(self) -> np.ndarray:
        """The start state, whose origin is itself: shape (2 * state_dim,)."""
        start = self.problem.start_states(1)[0].detach().cpu().numpy().astype(np.float64)
        return np.concatenate([start, start])

    def evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Objectives (B,) and measures (B, M) of solutions (B, 2 * state_dim)."""
        if solutions.ndim != 2 or solutions.shape[1] != self.solution_dim:
            raise ValueError(
                f"states with origins should have shape (batch_size, {self.solution_dim}), "
                f"got {tuple(solutions.shape)}"
            )
        return self.problem.evaluate_states(solutions[:, : self.state_dim])
