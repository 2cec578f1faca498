"""One numeric iteration — ask → evaluate → tell — shared by the engine and by resume's
re-evaluation replay, on either backend.

With DQD emitter groups (torch backend) an iteration first asks the points whose gradients the
groups need, evaluates them with their jacobians and tells them, then asks the regular batch;
both count as evaluations and are stored together (gradient points first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from qd.numeric.build import Components


@dataclass
class EvaluatedBatch:
    """What one iteration evaluated (tensors on the torch backend, arrays on pyribs').

    Attributes:
        solutions: (B, D).
        objectives: (B,).
        measures: (B, M) as told to the archive.
        admitted: (B,) bool, whether each solution entered the result archive (None when not
            asked for).
        refit: A learned-measure refit's summary, when one happened.
    """

    solutions: Any
    objectives: Any
    measures: Any
    admitted: Any = None
    refit: dict[str, float] | None = None

    @property
    def size(self) -> int:
        """Number of evaluations."""
        return int(self.solutions.shape[0])

    def host(self, rows: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Float64 host copies of solutions, objectives and measures (`rows`: a bool mask)."""
        out = []
        for value in (self.solutions, self.objectives, self.measures):
            if rows is not None:
                value = value[rows]
            if isinstance(value, torch.Tensor):
                value = value.detach().to("cpu", torch.float64).numpy()
            out.append(np.asarray(value, dtype=np.float64))
        return out[0], out[1], out[2]


def run_iteration(components: Components, iteration: int, admitted: bool = False) -> EvaluatedBatch:
    """Ask, evaluate and tell iteration `iteration`; `admitted` also reports which solutions
    entered the result archive.
    """
    c = components
    scheduler = c.scheduler
    parts: list[EvaluatedBatch] = []
    if getattr(scheduler, "dqd", None):
        points = scheduler.ask_dqd()
        objectives, measures, jacobians = c.evaluator.jacobian(points)
        scheduler.tell_dqd(objectives, measures, jacobians)
        parts.append(EvaluatedBatch(points, objectives, measures,
                                    scheduler.last_result_status > 0))
    solutions = scheduler.ask()
    objectives, evaluated = c.evaluator(solutions)
    before = _result_elites(c, evaluated) if admitted and not c.archive.on_torch else None
    measures, refit = c.tell(iteration, objectives, evaluated)
    status = None
    if admitted:
        status = (scheduler.last_result_status > 0 if c.archive.on_torch
                  else _entered(before, objectives))
    parts.append(EvaluatedBatch(solutions, objectives, measures, status, refit))
    if len(parts) == 1:
        return parts[0]
    return EvaluatedBatch(*(torch.cat([getattr(p, f) for p in parts])
                            for f in ("solutions", "objectives", "measures")),
                          admitted=torch.cat([p.admitted for p in parts]) if admitted else None,
                          refit=refit)


def _result_elites(c: Components, measures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Occupancy and elite objective of each solution's result cell before the tell."""
    occupied, data = c.archive.result.retrieve(measures)
    return occupied, data["objective"]


def _entered(before: Any, objectives: np.ndarray) -> np.ndarray:
    """Whether each solution beat its cell's elite (elitist result archive: status > 0)."""
    occupied, elite = before
    return ~occupied | (objectives > np.where(occupied, elite, -np.inf))
