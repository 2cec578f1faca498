"""QDax's MuJoCo locomotion tasks: closed-loop MLP controllers on the MuJoCo physics engine.

The six QD-RL tasks of QDax (walker2d_uni, hopper_uni, halfcheetah_uni, ant_uni, ant_omni,
humanoid_uni) as registered problems. Their definitions (robots, rewards, termination,
measures, QDax's sources, and what differs from Brax) are in `problems.locomotion_tasks`; the
episode loop is `problems.mujoco_episodes`.

Physics (`physics`): "mujoco" steps the B simulations of a batch with MuJoCo on the CPU
(`problems.mujoco_batch`, float64, MuJoCo's native thread pool, bit-identical to gymnasium's
`*-v5` environments); "warp" with MuJoCo Warp on the run's device (`problems.mujoco_warp_batch`,
float32, the whole batch on the GPU); "auto" (the default) takes Warp on a CUDA device where
MuJoCo Warp is installed and supports the model, MuJoCo otherwise, and logs which.
"""

from __future__ import annotations

import logging
import math
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from problems.base import TorchProblem
from problems.locomotion_tasks import TASKS, TOP_SPEED, XY_LIMIT, Task
from problems.mujoco_batch import MujocoBatch, load_model
from problems.mujoco_episodes import Episodes, Physics, Rollout
from problems.mujoco_views import VIEWS, LocomotionRollouts
from problems.registry import register_problem
from qd.errors import SpecError
from qd.policies import Activation, MLPArchitecture, PolicyConfig

__all__ = ["TASKS", "XY_LIMIT", "Episodes", "MujocoLocomotion", "MujocoTaskConfig", "Task"]

logger = logging.getLogger(__name__)


class MujocoTaskConfig(PolicyConfig):
    """Options shared by the MuJoCo locomotion tasks."""

    hidden: list[int] = Field(  # type: ignore[assignment]
        [64, 64], max_length=8, description="Hidden layer sizes of the MLP policy (QDax: 64, 64)."
    )
    activation: Activation = Field("relu", description="Hidden activation (QDax: relu).")
    episode_length: int = Field(100, ge=1, le=100_000, description="Control steps per episode.")
    reset_noise_scale: float | None = Field(
        None, ge=0, le=1,
        description="Start-state noise scale; None: gymnasium's; 0: exactly qpos0 at rest.",
    )
    reset_seed: int = Field(0, ge=0, description="Seed of the one fixed start-state noise draw.")
    init: Literal["zeros", "lecun_uniform"] = Field(
        "zeros", description="Search centre x0: 0 (zero actions) or one LeCun-uniform MLP."
    )
    init_seed: int = Field(0, ge=0, description="Seed of the LeCun-uniform x0.")
    threads: int = Field(
        0, ge=0, le=256,
        description="Threads stepping the CPU simulations (0: every CPU; scores do not depend "
        "on it).",
    )
    physics: Literal["auto", "mujoco", "warp"] = Field(
        "auto",
        description="Physics engine: 'mujoco' (CPU, float64), 'warp' (MuJoCo Warp on the run's "
        "device, float32), 'auto' (warp on a CUDA device where it can, else mujoco).",
    )


def lecun_uniform(architecture: MLPArchitecture, seed: int) -> np.ndarray:
    """Flat parameters of one MLP: weights U(+-sqrt(3 / fan_in)), zero biases (QDax's init)."""
    gen = torch.Generator().manual_seed(seed)
    parts = []
    for out, inp in architecture.layer_shapes:
        limit = math.sqrt(3.0 / inp)
        weight = (torch.rand(out * inp, generator=gen, dtype=torch.float64) * 2 - 1) * limit
        parts += [weight, torch.zeros(out, dtype=torch.float64)]
    return torch.cat(parts).numpy()


class MujocoLocomotion(LocomotionRollouts, TorchProblem):
    """A QDax locomotion task on MuJoCo; subclasses name the task."""

    task_name: ClassVar[str]
    needs = "CPU (MuJoCo physics, torch policies); CUDA optional (MuJoCo Warp)"

    def __init__(self, config: MujocoTaskConfig, device: torch.device | str = "cpu") -> None:
        super().__init__(config, device)
        task = self.task = TASKS[self.task_name]
        self.model = load_model(task.xml, task.feet, "torso")
        m = self.model
        self.dt = m.opt.timestep * task.frame_skip
        self.n_feet = len(task.feet)
        lo, hi = m.actuator_ctrlrange[:, 0].copy(), m.actuator_ctrlrange[:, 1].copy()
        self.ctrl_low, self.ctrl_high = lo, hi
        self.ctrl_centre, self.ctrl_half = (lo + hi) / 2, (hi - lo) / 2
        self.qpos0, self.qvel0 = self._start_state(config)
        self.observation_size = self._observation_size()
        self.architecture = MLPArchitecture(
            (self.observation_size, *config.hidden, m.nu), config.activation, "tanh"
        )
        self.solution_dim = self.architecture.num_params
        if task.measures == "xy":
            self.measure_dim = 2
            self.measure_bounds = ((-XY_LIMIT, XY_LIMIT), (-XY_LIMIT, XY_LIMIT))
        else:
            self.measure_dim = self.n_feet
            self.measure_bounds = tuple((0.0, 1.0) for _ in range(self.n_feet))
        steps = config.episode_length
        best = task.forward_weight * TOP_SPEED + task.healthy_reward
        self.objective_bounds = (-task.reward_offset * steps, best * steps)
        self.solution_bounds = None
        self.rollout = Rollout(task, self.architecture.unflatten, steps, self.dt, self.qpos0,
                               self.qvel0, self.ctrl_low, self.ctrl_high)
        self.sim: Physics = self._physics(config)

    def _physics(self, config: MujocoTaskConfig) -> Physics:
        """The physics backend `config.physics` names (see the module docstring)."""
        m, task = self.model, self.task
        forward = task.observation == "humanoid" or task.forward_com  # see MujocoBatch
        choice = config.physics
        if choice == "auto":
            choice = "warp" if self.device.type == "cuda" else "mujoco"
        if choice == "warp":
            from problems.mujoco_warp_batch import WarpBatch

            try:
                sim = WarpBatch(m, task.frame_skip, self.device, forward, self.task_name)
            except SpecError as exc:
                if config.physics == "warp":
                    raise
                logger.warning("%s: MuJoCo on the CPU instead of MuJoCo Warp: %s",
                               self.task_name, exc)
            else:
                logger.info("%s: physics warp on %s", self.task_name, self.device)
                return sim
        logger.info("%s: physics mujoco", self.task_name)
        return MujocoBatch(m, task.frame_skip, config.threads, forward)

    def _start_state(self, config: MujocoTaskConfig) -> tuple[np.ndarray, np.ndarray]:
        m, task = self.model, self.task
        scale = task.reset_noise if config.reset_noise_scale is None else config.reset_noise_scale
        if scale == 0:
            return m.qpos0.copy(), np.zeros(m.nv)
        rng = np.random.default_rng(config.reset_seed)  # gymnasium's env.reset(seed=...) draw
        qpos = m.qpos0 + rng.uniform(-scale, scale, m.nq)
        if task.qvel_noise == "normal":
            qvel = scale * rng.standard_normal(m.nv)
        else:
            qvel = rng.uniform(-scale, scale, m.nv)
        return qpos, qvel

    def _observation_size(self) -> int:
        m = self.model
        kind = self.task.observation
        if kind in ("planar", "planar_raw"):
            return m.nq - 1 + m.nv
        if kind == "free":
            return m.nq - 2 + m.nv
        return m.nq - 2 + m.nv + 10 * (m.nbody - 1) + 6 * (m.nbody - 1) + m.nv - 6

    @property
    def x0(self) -> np.ndarray:
        """Search centre: zeros (the policy that outputs no action: the robot rests), or one
        LeCun-uniform MLP (QDax's initialisation of each member of its random initial
        population; qd's emitters start from a single centre, see the built-in specs).
        """
        cfg = self.config
        assert isinstance(cfg, MujocoTaskConfig)
        if cfg.init == "zeros":
            return super().x0
        return lecun_uniform(self.architecture, cfg.init_seed)

    def actions(self, outputs: np.ndarray) -> np.ndarray:
        """Map tanh outputs in [-1, 1] onto the actuators' ctrlrange (and clip to it)."""
        return np.clip(self.ctrl_centre + self.ctrl_half * outputs, self.ctrl_low, self.ctrl_high)

    def episodes(self, solutions: torch.Tensor) -> Episodes:
        """Run one episode per solution (B, solution_dim) and keep the per-step records."""
        return Episodes.of(self.rollout.run(self.sim, solutions))

    def _evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        records = self.rollout.run(self.sim, solutions)
        opts = {"dtype": self.dtype, "device": solutions.device}
        return records["objective"].to(**opts), records["measures"].to(**opts)


def _task_problem(name: str, summary: str) -> type[MujocoLocomotion]:
    """Define and register the config and problem classes of task `name`."""
    config = type(
        f"{name.title().replace('_', '')}Config",
        (MujocoTaskConfig,),
        {
            "__doc__": f"Config of `{name}`.",
            "__annotations__": {"name": Literal[name]},  # type: ignore[valid-type]
            "name": name,
            "__module__": __name__,
        },
    )
    problem = type(
        f"{name.title().replace('_', '')}",
        (MujocoLocomotion,),
        {"__doc__": f"QDax's `{name}` on MuJoCo: {summary}.", "Config": config,
         "task_name": name, "summary": summary, "__module__": __name__,
         "rollout_views": VIEWS[TASKS[name].measures]},  # report views: problems.mujoco_views
    )
    globals()[config.__name__] = config
    return register_problem(name)(problem)


Walker2dUni = _task_problem(
    "walker2d_uni", "MuJoCo Walker2d, MLP policy; measures = contact fraction of each foot")
HopperUni = _task_problem(
    "hopper_uni", "MuJoCo Hopper, MLP policy; measure = contact fraction of the foot")
HalfcheetahUni = _task_problem(
    "halfcheetah_uni", "MuJoCo HalfCheetah, MLP policy; measures = contact fraction of each foot")
AntUni = _task_problem(
    "ant_uni", "MuJoCo Ant, MLP policy; measures = contact fraction of each of the 4 feet")
AntOmni = _task_problem(
    "ant_omni", "MuJoCo Ant, MLP policy, no forward reward; measures = final torso (x, y)")
HumanoidUni = _task_problem(
    "humanoid_uni", "MuJoCo Humanoid, MLP policy; measures = contact fraction of each foot")
