"""Go-Explore, phase 1 ("explore until solved"), as a pyribs emitter over environment states.

Ecoffet, Huizinga, Lehman, Stanley & Clune, "Go-Explore: a New Approach for Hard-Exploration
Problems" (arXiv:1901.10995, 2019) and "First return, then explore" (Nature 590, 2021). Each
iteration the emitter

1. *selects* `batch_size` cells of the run's archive (whose cells are Go-Explore's downscaled
   cells: a grid over the measures, e.g. the maze robot's (x, y)), with probability proportional
   to the count-based weight

       w(c) = 1 / sqrt(1 + chosen(c)) + 1 / sqrt(1 + seen(c)),

   where chosen(c) counts how often c was selected and seen(c) how many explored states fell into
   c (the paper's count subscores, Section 2.1 of the 2019 version, with unit weights and no
   epsilon terms; rarely chosen, rarely visited cells are preferred);
2. *returns* to each cell by restoring its stored state (exact, in one batch: the problem
   implements `problems.explorable.Explorable`);
3. *explores* `explore_steps` steps with random actions, repeating the previous action with
   probability `action_repeat` (the paper repeats actions with probability 0.95);
4. asks every visited state (batch_size * explore_steps rows) to be evaluated; the archive keeps
   per cell the state with the best objective.

When the archive is empty the robots start from the problem's start state (or `x0`).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field
from ribs.archives import ArchiveBase, CVTArchive, GridArchive
from ribs.emitters import EmitterBase

from mutators.base import EmitterConfig, EmitterContext, EmitterFamily
from mutators.registry import register_emitter
from problems.explorable import Explorable, StateSpaceProblem, is_explorable
from qd.errors import SpecError


class GoExploreConfig(EmitterConfig):
    """Config of the `go_explore` emitter."""

    name: Literal["go_explore"] = "go_explore"
    batch_size: int = Field(
        32, ge=1, le=1_000_000,
        description="Cells selected (returned to, explored from) per iteration; the emitter asks "
        "batch_size * explore_steps states.",
    )
    explore_steps: int = Field(
        20, ge=1, le=100_000, description="Random steps taken from each selected cell's state."
    )
    action_repeat: float = Field(
        0.95, ge=0.0, lt=1.0, description="Probability of repeating the previous random action."
    )


class GoExploreEmitter(EmitterBase):
    """Select cells by count-based weights, restore their states, explore with random actions.

    Args:
        archive: The run's archive; its solutions are states. Must have a fixed set of cells.
        problem: The explorable problem that restores and steps states.
        x0: The start state, used while the archive is empty.
        batch_size: Cells selected per iteration.
        explore_steps: Steps explored from each selected state.
        action_repeat: Probability of repeating the previous action at each step.
        seed: Seed of the emitter's numpy generator (the only randomness it uses).
    """

    def __init__(
        self,
        archive: ArchiveBase,
        problem: Explorable,
        x0: np.ndarray,
        batch_size: int,
        explore_steps: int,
        action_repeat: float,
        seed: int,
    ) -> None:
        super().__init__(archive, solution_dim=2 * problem.state_dim, bounds=None,
                         lower_bounds=None, upper_bounds=None)
        self._problem = problem
        self._x0 = np.asarray(x0, dtype=np.float64)[: problem.state_dim]
        self._cells = batch_size
        self._steps = explore_steps
        self._repeat = action_repeat
        self._rng = np.random.default_rng(seed)
        self.chosen = np.zeros(archive.cells, dtype=np.int64)
        self.seen = np.zeros(archive.cells, dtype=np.int64)
        self._pending: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        # The problem (its tensors live on the run's device) is not part of the search state:
        # checkpoints leave it out and `reattach` supplies the resumed run's problem, so a run
        # may resume on another device.
        return {k: v for k, v in self.__dict__.items() if k != "_problem"}

    def reattach(self, problem: StateSpaceProblem) -> None:
        """Use the (resumed) run's problem after unpickling."""
        self._problem = problem.problem

    @property
    def batch_size(self) -> int:
        """States asked per iteration: cells selected times steps explored from each."""
        return self._cells * self._steps

    def weights(self, indices: np.ndarray) -> np.ndarray:
        """Selection weight of each archive cell index (unnormalised)."""
        return 1.0 / np.sqrt(1.0 + self.chosen[indices]) + 1.0 / np.sqrt(1.0 + self.seen[indices])

    def select(self) -> tuple[np.ndarray, np.ndarray | None]:
        """States to return to (B, S) and their cell indices (None while the archive is empty)."""
        if self.archive.empty:
            return np.tile(self._x0, (self._cells, 1)), None
        data = self.archive.data(["index", "solution"])
        indices = np.asarray(data["index"])
        weights = self.weights(indices)
        pick = self._rng.choice(len(indices), size=self._cells, p=weights / weights.sum())
        states = np.asarray(data["solution"], dtype=np.float64)[pick, : self._x0.size]
        return states, indices[pick]

    def actions(self) -> np.ndarray:
        """Random actions (steps, B, A) in [-1, 1], each repeating the previous with p = repeat."""
        shape = (self._steps, self._cells, self._problem.action_dim)
        fresh = self._rng.uniform(-1.0, 1.0, size=shape)
        keep = self._rng.random(shape[:2]) < self._repeat
        for t in range(1, self._steps):
            fresh[t][keep[t]] = fresh[t - 1][keep[t]]
        return fresh

    def ask(self) -> np.ndarray:
        """Every state visited while exploring, each followed by the state its segment started
        from: (batch_size * explore_steps, 2 * state_dim).

        Rows come grouped by selected cell, in step order.
        """
        starts, self._pending = self.select()
        actions = self.actions()
        device = self._problem.start_states(1).device
        states = torch.from_numpy(starts).to(device)
        visited = torch.empty((self._cells, self._steps, starts.shape[1]), dtype=torch.float64,
                              device=device)
        with torch.no_grad():
            for t in range(self._steps):
                states = self._problem.step_states(states, torch.from_numpy(actions[t]).to(device))
                visited[:, t] = states
        rows = visited.reshape(-1, starts.shape[1]).cpu().numpy()
        return np.concatenate([rows, np.repeat(starts, self._steps, axis=0)], axis=1)

    def tell(self, solution: Any, objective: Any, measures: Any, add_info: Any,
             **fields: Any) -> None:
        """Count the selected cells as chosen and the cells of the visited states as seen."""
        if self._pending is not None:
            np.add.at(self.chosen, self._pending, 1)
            self._pending = None
        np.add.at(self.seen, self.archive.index_of(np.asarray(measures)), 1)


@register_emitter("go_explore")
class GoExplore(EmitterFamily):
    """Go-Explore phase 1 over the states of an explorable problem (maze_navigation)."""

    Config = GoExploreConfig
    solution_space = "states"

    def adapt_problem(self, problem: Any) -> StateSpaceProblem:
        """Wrap the problem so that the archive stores states; refuse non-explorable problems."""
        if not is_explorable(problem):
            name = getattr(getattr(problem, "config", None), "name", type(problem).__name__)
            raise SpecError(
                f"problem.name: the go_explore emitter needs a problem whose state can be "
                f"restored and stepped (maze_navigation); {name!r} is not. Use another emitter "
                "or problem"
            )
        return StateSpaceProblem(problem)

    def x0(self, context: EmitterContext) -> np.ndarray:
        """The configured start state (S entries) or the problem's, with itself as origin."""
        if self.config.x0 is None:
            return context.x0
        state = np.asarray(self.config.x0, dtype=float)
        size = context.x0.size // 2
        if state.shape != (size,):
            raise SpecError(f"emitters.x0: a start state has {size} entries, got {state.size}")
        return np.concatenate([state, state])

    def _build_one(self, archive: ArchiveBase, context: EmitterContext, seed: int) -> EmitterBase:
        cfg = self.config
        assert isinstance(cfg, GoExploreConfig)
        if not isinstance(archive, (GridArchive, CVTArchive)):
            raise SpecError(
                "archive.name: the go_explore emitter needs an archive with fixed cells (grid "
                "or cvt), whose cells are Go-Explore's cells"
            )
        problem = context.problem
        assert isinstance(problem, StateSpaceProblem)
        return GoExploreEmitter(
            archive,
            problem.problem,
            self.x0(context),
            batch_size=cfg.batch_size,
            explore_steps=cfg.explore_steps,
            action_repeat=cfg.action_repeat,
            seed=seed,
        )
