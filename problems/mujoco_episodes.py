"""The episode loop of the MuJoCo locomotion tasks, the same on every physics backend.

B closed-loop MLP policies act in B simulations for `episode_length` control steps: per step,
the policies' forward pass is one torch batch (`qd.policies.BatchedMLP`, padded to at least two
rows so that one solution alone takes the batched kernel too), the actions go to the physics
backend (`problems.mujoco_batch.MujocoBatch` on the CPU, `problems.mujoco_warp_batch.WarpBatch`
on a GPU), and the rewards, foot contacts and torso positions are recorded with torch ops on the
backend's device and in its precision (float64 on MuJoCo, float32 on MuJoCo Warp; totals and
measures in float64). Scoring follows QDax (`problems.locomotion_tasks`): each record describes
the state before its step, a step counts while no earlier step was terminal, the objective is
the sum of the counted rewards. On the CPU backend a batch evaluates every solution exactly as
it would evaluate alone (bit for bit), and the simulation equals gymnasium's `*-v5`
environment stepped with the same actions from the same start.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from problems.locomotion_tasks import XY_LIMIT, Task
from problems.mujoco_batch import centre_of_mass, foot_contacts
from qd.device import one_thread


class Physics(Protocol):
    """What the loop needs of a physics backend (`MujocoBatch`, `WarpBatch`)."""

    device: torch.device
    dtype: torch.dtype

    def scope(self): ...  # noqa: D102 - a context manager around an episode

    def reset(self, batch: int, qpos: np.ndarray, qvel: np.ndarray) -> None: ...  # noqa: D102

    def step(self, ctrl: torch.Tensor, live: torch.Tensor) -> None: ...  # noqa: D102

    def start_sensors(self) -> torch.Tensor: ...  # noqa: D102

    def read(self, field: str) -> torch.Tensor: ...  # noqa: D102


@dataclass
class Episodes:
    """Per-step records of B episodes of T control steps (numpy, for tests and reports).

    Attributes:
        reward: (B, T) reward of each step (0 where not counted).
        counted: (B, T) bool, whether each step counts (no earlier step was terminal).
        feet: (B, T, F) bool, foot contacts of the state before each step (False where not
            counted).
        xy: (B, T, 2) torso (x, y) of the state before each step (0 where not counted).
        objective: (B,) sum of the counted rewards.
        measures: (B, M) QDax's descriptors.
    """

    reward: np.ndarray
    counted: np.ndarray
    feet: np.ndarray
    xy: np.ndarray
    objective: np.ndarray
    measures: np.ndarray

    @classmethod
    def of(cls, records: dict[str, torch.Tensor]) -> Episodes:
        """The records of `Rollout.run` as numpy arrays."""
        return cls(**{k: v.cpu().numpy() for k, v in records.items()})


@dataclass(frozen=True)
class Rollout:
    """One task's episode loop: what it needs of the problem, fixed at construction.

    Attributes:
        task: The task's definitions.
        policy: `(params (B, D)) -> (obs (B, O)) -> outputs (B, nu)`, e.g.
            `MLPArchitecture.unflatten`.
        steps: Control steps per episode.
        dt: Seconds per control step.
        qpos0, qvel0: The start state.
        ctrl_low, ctrl_high: (nu,) the actuators' control range.
    """

    task: Task
    policy: object
    steps: int
    dt: float
    qpos0: np.ndarray
    qvel0: np.ndarray
    ctrl_low: np.ndarray
    ctrl_high: np.ndarray

    def observe(self, sim: Physics, qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
        """Policy inputs (B, observation_size) of the current states."""
        kind = self.task.observation
        if kind == "planar":
            return torch.cat((qpos[:, 1:], qvel.clamp(-10.0, 10.0)), dim=1)
        if kind == "planar_raw":
            return torch.cat((qpos[:, 1:], qvel), dim=1)
        if kind == "free":
            return torch.cat((qpos[:, 2:], qvel), dim=1)
        b = len(qpos)
        cinert = sim.read("cinert")[:, 1:].reshape(b, -1)
        cvel = sim.read("cvel")[:, 1:].reshape(b, -1)
        qfrc = sim.read("qfrc_actuator")[:, 6:]
        return torch.cat((qpos[:, 2:], qvel, cinert, cvel, qfrc), dim=1)

    def run(self, sim: Physics, solutions: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run one episode per solution (B, D) on `sim`; the per-step records as tensors on the
        backend's device (the fields of `Episodes`).
        """
        dev, dt, task = sim.device, sim.dtype, self.task
        params = solutions.detach().to(dev, dt)
        b, steps, nf = params.shape[0], self.steps, len(task.feet)
        if b == 1:  # one row alone would take another matmul kernel than a batch
            params = params.expand(2, -1)
        policy = self.policy(params)  # type: ignore[operator]
        low, high = (torch.as_tensor(a, dtype=dt, device=dev)
                     for a in (self.ctrl_low, self.ctrl_high))
        centre, half = (low + high) / 2, (high - low) / 2
        records = {
            "reward": torch.zeros((b, steps), dtype=torch.float64, device=dev),
            "counted": torch.zeros((b, steps), dtype=torch.bool, device=dev),
            "feet": torch.zeros((b, steps, nf), dtype=torch.bool, device=dev),
            "xy": torch.zeros((b, steps, 2), dtype=torch.float64, device=dev),
        }
        total = torch.zeros(b, dtype=torch.float64, device=dev)
        live = torch.ones(b, dtype=torch.bool, device=dev)
        check_every = 1 if dev.type == "cpu" else 10  # each check waits for the GPU
        # the per-step policy is tiny and the physics has its own threads: torch's intra-op
        # threads only wait on each other (a 64-64 MLP step over 24 policies: 0.19 ms on one
        # thread, 3.3 ms on two, 2-core machine under load); scores do not depend on it
        cpu = one_thread() if dev.type == "cpu" else contextlib.nullcontext()
        with sim.scope(), torch.no_grad(), cpu:
            sim.reset(b, self.qpos0, self.qvel0)
            qpos, qvel = sim.read("qpos"), sim.read("qvel")
            before = self._forward_position(sim, qpos)
            for t in range(steps):
                records["counted"][:, t] = live
                records["xy"][:, t] = torch.where(live[:, None], qpos[:, :2], 0.0)
                obs = self.observe(sim, qpos, qvel)
                out = policy(obs.expand(2, -1) if b == 1 else obs)[:b]
                ctrl = torch.clamp(centre + half * out, low, high)
                sim.step(ctrl, live)
                records["feet"][:, t] = foot_contacts(sim.start_sensors(), nf) & live[:, None]
                qpos, qvel = sim.read("qpos"), sim.read("qvel")
                after = self._forward_position(sim, qpos)
                step_reward = (
                    task.forward_weight * (after - before) / self.dt
                    + task.healthy_reward
                    - task.ctrl_weight * torch.square(ctrl).sum(dim=1)
                )
                before = after
                records["reward"][:, t] = torch.where(live, step_reward, 0.0)
                total += records["reward"][:, t]
                if task.healthy is not None:
                    live &= task.healthy(qpos, qvel)
                if (t + 1) % check_every == 0 and not bool(live.any()):
                    break
        records["objective"] = total
        records["measures"] = self._measures(records)
        return records

    def _forward_position(self, sim: Physics, qpos: torch.Tensor) -> torch.Tensor:
        """The x the forward reward follows: the torso's, or the centre of mass (which needs a
        physics backend made with `forward=True`).
        """
        if self.task.forward_com:
            return centre_of_mass(sim.read("sensordata"), len(self.task.feet))[:, 0]
        return qpos[:, 0]

    def _measures(self, records: dict[str, torch.Tensor]) -> torch.Tensor:
        counted = records["counted"]
        n = counted.sum(dim=1)
        if self.task.measures == "xy":
            last = records["xy"][torch.arange(len(n), device=n.device), n - 1]
            return torch.clamp(last, -XY_LIMIT, XY_LIMIT)
        return records["feet"].sum(dim=1).to(torch.float64) / n[:, None]
