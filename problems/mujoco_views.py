"""Report views of the MuJoCo locomotion tasks: torso paths (ant_omni) and gait diagrams.

`LocomotionRollouts` is mixed into `problems.mujoco_tasks.MujocoLocomotion`; it turns the
per-step records of `episodes` into the plain `problems.rollouts.Rollouts` a report draws. A
task offers the view of what its measures describe (`VIEWS`): ant_omni, whose measures are the
final torso (x, y), offers `paths` (the torso's (x, y) at the start of each counted step, the
last one being the measure before its clip to the [-30, 30]^2 box, drawn inside that box); the
foot-contact tasks offer `gait` (each foot's contact at each counted step, whose mean is the
measure).
"""

from __future__ import annotations

from typing import Literal, Protocol

import mujoco
import numpy as np
import torch

from problems.rollouts import PathScene, Rollouts, box_segments
from qd.protocols import Bounds

#: The views a task offers, by the kind of its measures (`Task.measures`).
VIEWS: dict[str, tuple[str, ...]] = {"xy": ("paths",), "feet": ("gait",)}


class _Episodes(Protocol):
    counted: np.ndarray | torch.Tensor
    feet: np.ndarray | torch.Tensor
    xy: np.ndarray | torch.Tensor


def _numpy(values: np.ndarray | torch.Tensor) -> np.ndarray:
    """Records as numpy arrays on the CPU (a batched backend may keep them as tensors)."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


class _Task(Protocol):
    feet: tuple[str, ...]
    measures: Literal["feet", "xy"]


class _Locomotion(Protocol):
    task: _Task
    model: mujoco.MjModel
    qpos0: np.ndarray
    measure_bounds: Bounds

    def episodes(self, solutions: torch.Tensor) -> _Episodes: ...


def foot_labels(model: mujoco.MjModel, feet: tuple[str, ...]) -> tuple[str, ...]:
    """Names to show for the foot bodies: their own, or for a body unnamed in the model file
    (`load_model` names it `<parent>.child`: the ant's lower legs) the leg it ends, two bodies
    up (gymnasium's ant: front_left_leg, front_right_leg, back_leg, right_back_leg).
    """
    labels = []
    for name in feet:
        body = model.body(name)
        if name.endswith(".child"):
            body = model.body(model.body(body.parentid[0]).parentid[0])
        labels.append(body.name)
    return tuple(labels)


class LocomotionRollouts:
    """The report records of a locomotion task's episodes (see the module docstring)."""

    def rollouts(self: _Locomotion, solutions: np.ndarray) -> Rollouts:
        """Re-simulate solutions (B, solution_dim): per episode its counted steps' contacts
        (T_i, F) and, for the (x, y) task, its torso positions (T_i, 2) from the start state.
        """
        episodes = self.episodes(torch.from_numpy(np.asarray(solutions, dtype=np.float64)))
        counted, feet = _numpy(episodes.counted), _numpy(episodes.feet)
        steps = counted.sum(axis=1)  # counted steps come first: a prefix
        contacts = tuple(feet[i, :n] for i, n in enumerate(steps))
        labels = foot_labels(self.model, self.task.feet)
        if self.task.measures != "xy":
            return Rollouts(contacts=contacts, feet=labels)
        (x_low, x_high), (y_low, y_high) = self.measure_bounds
        scene = PathScene(box_segments((x_low, x_high), (y_low, y_high)), "measure box",
                          (float(self.qpos0[0]), float(self.qpos0[1])), fit_paths=True)
        xy = tuple(_numpy(episodes.xy)[i, :n] for i, n in enumerate(steps))
        return Rollouts(xy=xy, contacts=contacts, feet=labels, scene=scene)
