"""QDax's MuJoCo locomotion tasks: closed-loop MLP controllers on the MuJoCo physics engine.

The six standard QD-RL tasks of QDax (Chalumeau et al., "QDax: A Library for Quality-Diversity
and Population-based Algorithms with Hardware Acceleration", JMLR 2024), as defined in
adaptive-intelligent-robotics/QDax (read at commit 46b8fee, v0.5.1; v0.4 kept the same
definitions under `qdax/environments/`):

- `qdax/tasks/brax/__init__.py` (v0.4: `qdax/environments/__init__.py`): which robot and
  wrappers make each task, the descriptor extractor of each, `reward_offset` (here the
  objective's worst bound is `-reward_offset * episode_length`, QDax's QD-score offset), and
  ant_omni's descriptor limits [-30, 30]^2;
- `qdax/tasks/brax/wrappers/locomotion_wrappers.py` (v0.4: `qdax/environments/
  locomotion_wrappers.py`): `FEET_NAMES` (walker2d: foot, foot_left; halfcheetah: bfoot,
  ffoot; hopper: foot; ant: the four lower legs; humanoid: left_shin, right_shin), a foot
  touches the ground when a contact of it has distance <= 0 (`FeetContactWrapper`); the
  torso's (x, y), clipped to the limits (`XYPositionWrapper`); the forward term taken out of
  the reward (`NoForwardRewardWrapper`, ant_omni);
- `qdax/tasks/brax/descriptor_extractors.py` (v0.4: `qdax/environments/bd_extractors.py`):
  `get_feet_contact_proportion` (mean over the counted steps of each foot's contact) and
  `get_final_xy_position` (the descriptor of the last counted step);
- `qdax/tasks/brax/env_creators.py`: `scoring_function_brax_envs` and
  `get_mask_from_transitions`: an episode of `episode_length` control steps; a step is counted
  while no earlier step was terminal (the terminating step itself counts); the objective is the
  sum of the counted rewards; each transition's state descriptor is the one of the state
  *before* its action (`make_policy_network_play_step_fn_brax`);
- `examples/mapelites.ipynb`: episode_length 100, policy MLP with hidden layers (64, 64), ReLU
  hidden activations, tanh output, LeCun-uniform weights and zero biases (`qdax/core/
  neuroevolution/networks/networks.py`, `MLP`), iso_sigma 0.005, line_sigma 0.05, a 1024-cell
  CVT over the descriptor bounds, batches of 100.

The robots' rewards and termination are those of the Brax environments QDax wraps (google/brax,
`brax/envs/{walker2d,hopper,half_cheetah,ant,humanoid}.py`):

| task | forward term | healthy reward | control cost | terminates when |
|---|---|---|---|---|
| walker2d_uni | dx_torso / dt | 1 | 1e-3 sum a^2 | not (0.8 < z < 2 and -1 < angle < 1) |
| hopper_uni | dx_torso / dt | 1 | 1e-3 sum a^2 | not (z > 0.7, angle, q[2:], qd inside) |
| halfcheetah_uni | dx_torso / dt | - | 0.1 sum a^2 | never |
| ant_uni | dx_torso / dt | 1 | 0.5 sum a^2 | torso z outside [0.2, 1] |
| ant_omni | (none) | 1 | 0.5 sum a^2 | torso z outside [0.2, 1] |
| humanoid_uni | 1.25 dx_com / dt | 5 | 0.1 sum a^2 | torso z outside [1, 2] |

Hopper's "inside": angle in (-0.2, 0.2) and every q[2:], qd in (-100, 100). The healthy
reward is paid on every counted step (Brax's `terminate_when_unhealthy=True`).
Measures: `*_uni`, the fraction of counted steps in which each foot touches the ground (feet in
the model's body order, as QDax's v0.5 index lookup gives them); `ant_omni`, the torso's (x, y)
at the start of the last counted step, clipped to [-30, 30]^2. Both divide by, or stop at, the
counted steps: an episode that terminates early is measured over the steps it lived.

What differs from QDax (which simulates with Brax, by default its "spring" backend):

- Physics engine: MuJoCo (`mujoco` package) instead of Brax. Models: gymnasium's MJCF files
  (`gymnasium/envs/mujoco/assets`: walker2d_v5.xml, hopper.xml, half_cheetah.xml, ant.xml,
  humanoid.xml, the models of gymnasium's v5 environments, themselves the classic MuJoCo
  locomotion models Brax's assets were derived from). They are used as gymnasium ships them,
  so the dynamics are those of the widely used `*-v5` environments: soft MuJoCo contacts with
  the models' solver settings (Newton/RK4 or PGS for humanoid) instead of Brax's spring
  contacts, and gymnasium's timestep and frame skip (walker2d, hopper: 0.002 s x 4; halfcheetah,
  ant: 0.01 s x 5; humanoid: 0.003 s x 5) instead of Brax's spring re-tuning (e.g. halfcheetah
  0.003125 s x 16 with other gears, ant 0.005 s x 10, humanoid 0.0015 s x 10). Brax fuses
  joint-less bodies into their parents, so QDax's humanoid "shin" includes the foot: here a
  foot is the subtree of the named body (right_shin + right_foot). In gymnasium's ant every leg
  geom collides with the floor (Brax's ant: only the foot spheres). Touching is MuJoCo's
  active contact (distance below the contact margin, which is where MuJoCo's soft contacts
  push: a resting ant's feet stay ~0.02 above the floor), where Brax tests distance <= 0; see
  `problems.mujoco_batch`.
- Observations are gymnasium v5's (which match Brax's for walker2d, hopper, halfcheetah and
  ant): x (and y) excluded, walker2d/hopper velocities clipped to [-10, 10]; ant without
  contact forces (27 values, as Brax/QDax: gymnasium's `include_cfrc_ext_in_observation=False`);
  humanoid qpos[2:], qvel, cinert, cvel and qfrc_actuator of the bodies/joints after the root
  (270 values, gymnasium's layout without contact forces; Brax's humanoid has the same kinds
  of quantities in its own layout), all of the current state (`mj_forward` after each step,
  where gymnasium reads what the last physics sub-step left).
- Start state: one fixed state, QDax's "deterministic" scoring (a single `env.reset(key)`
  reused for every evaluation): the model's qpos0 plus the gymnasium/Brax reset noise drawn
  once from `numpy.random.default_rng(reset_seed)` (the same draw as gymnasium's
  `env.reset(seed=reset_seed)`), or exactly qpos0 at rest with `reset_noise_scale = 0`. A
  solution's scores are a pure function of its parameters.
- Actions: the policy's tanh outputs mapped linearly onto the actuators' ctrlrange (the
  identity for ranges [-1, 1]; humanoid's [-0.4, 0.4] as Brax rescales) and clipped to it;
  the control cost is on the mapped action, as in Brax.
- humanoid_uni's forward term uses MuJoCo's subtree centre of mass of the torso (Brax and
  gymnasium compute the same mass-weighted mean of the body centres their own way).

Evaluation (`problems.mujoco_batch`): the B solutions' MLPs run as one torch batch per control
step (`qd.policies.BatchedMLP`, padded to at least two rows so that one solution alone takes
the batched kernel too), the B simulations are stepped with one `mj_step(nstep=frame_skip)`
each, and terminated episodes stop being stepped. A batch evaluates every solution exactly as
it would evaluate alone (bit for bit), and the simulation state equals gymnasium's `*-v5`
environment stepped with the same actions from the same start.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from problems.base import TorchProblem
from problems.mujoco_batch import MujocoBatch, centre_of_mass, foot_contacts, load_model
from problems.mujoco_views import VIEWS, LocomotionRollouts
from problems.registry import register_problem
from qd.policies import Activation, MLPArchitecture, PolicyConfig

Healthy = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _walker_healthy(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    z, angle = qpos[:, 1], qpos[:, 2]
    return (z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0)


def _hopper_healthy(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    z, angle = qpos[:, 1], qpos[:, 2]
    state = np.concatenate((qpos[:, 2:], qvel), axis=1)
    inside = ((state > -100.0) & (state < 100.0)).all(axis=1)
    return inside & (z > 0.7) & (angle > -0.2) & (angle < 0.2)


def _z_between(low: float, high: float) -> Healthy:
    def healthy(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        z = qpos[:, 2]
        return (z >= low) & (z <= high)

    return healthy


@dataclass(frozen=True)
class Task:
    """One QDax locomotion task on a gymnasium MuJoCo model.

    Attributes:
        env: The gymnasium environment with the same model and frame skip (for comparisons).
        xml: Model file in gymnasium's assets folder.
        frame_skip: Physics steps per control step.
        feet: Foot bodies, in model order (each foot is the body's subtree).
        observation: "planar" (qpos[1:], qvel clipped to +-10), "planar_raw" (qpos[1:], qvel),
            "free" (qpos[2:], qvel) or "humanoid" (qpos[2:], qvel, cinert, cvel, qfrc_actuator).
        forward_weight: Weight of the forward velocity term (0: none, the omni task).
        forward_com: Forward velocity of the centre of mass (else of the torso, qpos[0]).
        healthy_reward: Reward per counted step.
        ctrl_weight: Weight of the squared-action cost.
        healthy: Health check of the state after a step (None: episodes never terminate).
        reset_noise: Scale of the start-state noise (gymnasium's default).
        qvel_noise: Distribution of the start velocity noise, "uniform" or "normal".
        reward_offset: QDax's `reward_offset` (per step, to keep QD scores positive).
        measures: "feet" (contact proportion per foot) or "xy" (final torso (x, y)).
    """

    env: str
    xml: str
    frame_skip: int
    feet: tuple[str, ...]
    observation: Literal["planar", "planar_raw", "free", "humanoid"]
    forward_weight: float
    ctrl_weight: float
    healthy_reward: float
    healthy: Healthy | None
    reset_noise: float
    qvel_noise: Literal["uniform", "normal"]
    reward_offset: float
    measures: Literal["feet", "xy"] = "feet"
    forward_com: bool = False


#: The ant's four lower legs, unnamed in gymnasium's ant.xml (QDax: "$ Body 4", 7, 10, 13),
#: named after their parents by `load_model`.
_ANT_FEET = ("aux_1.child", "aux_2.child", "aux_3.child", "aux_4.child")

TASKS: dict[str, Task] = {
    "walker2d_uni": Task("Walker2d-v5", "walker2d_v5.xml", 4, ("foot", "foot_left"), "planar",
                         1.0, 1e-3, 1.0, _walker_healthy, 5e-3, "uniform", 1.413),
    "hopper_uni": Task("Hopper-v5", "hopper.xml", 4, ("foot",), "planar",
                       1.0, 1e-3, 1.0, _hopper_healthy, 5e-3, "uniform", 0.9),
    "halfcheetah_uni": Task("HalfCheetah-v5", "half_cheetah.xml", 5, ("bfoot", "ffoot"),
                            "planar_raw", 1.0, 0.1, 0.0, None, 0.1, "normal", 9.231),
    "ant_uni": Task("Ant-v5", "ant.xml", 5, _ANT_FEET, "free",
                    1.0, 0.5, 1.0, _z_between(0.2, 1.0), 0.1, "normal", 3.24),
    "ant_omni": Task("Ant-v5", "ant.xml", 5, _ANT_FEET, "free",
                     0.0, 0.5, 1.0, _z_between(0.2, 1.0), 0.1, "normal", 3.0, measures="xy"),
    "humanoid_uni": Task("Humanoid-v5", "humanoid.xml", 5, ("right_shin", "left_shin"),
                         "humanoid", 1.25, 0.1, 5.0, _z_between(1.0, 2.0), 1e-2, "uniform", 0.0,
                         forward_com=True),
}

#: ant_omni's descriptor limits (QDax `XYPositionWrapper` minval / maxval).
XY_LIMIT = 30.0
#: Nominal top speed (m/s) used only for the objective's best bound (not a clip).
TOP_SPEED = 10.0


@dataclass
class Episodes:
    """Per-step records of B episodes of T control steps.

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
    threads: int = Field(1, ge=1, le=256, description="Threads stepping the simulations.")


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
    needs = "CPU (MuJoCo physics, torch policies)"

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
        self.sim = MujocoBatch(m, task.frame_skip, config.threads)

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

    def observe_states(self, sim: MujocoBatch, qpos: np.ndarray,
                       qvel: np.ndarray) -> np.ndarray:
        """Policy inputs (B, observation_size) of the current states."""
        kind = self.task.observation
        if kind == "planar":
            return np.concatenate((qpos[:, 1:], np.clip(qvel, -10.0, 10.0)), axis=1)
        if kind == "planar_raw":
            return np.concatenate((qpos[:, 1:], qvel), axis=1)
        if kind == "free":
            return np.concatenate((qpos[:, 2:], qvel), axis=1)
        b = len(qpos)
        cinert = sim.gather("cinert")[:, 1:].reshape(b, -1)
        cvel = sim.gather("cvel")[:, 1:].reshape(b, -1)
        qfrc = sim.gather("qfrc_actuator")[:, 6:]
        return np.concatenate((qpos[:, 2:], qvel, cinert, cvel, qfrc), axis=1)

    def actions(self, outputs: np.ndarray) -> np.ndarray:
        """Map tanh outputs in [-1, 1] onto the actuators' ctrlrange (and clip to it)."""
        return np.clip(self.ctrl_centre + self.ctrl_half * outputs, self.ctrl_low, self.ctrl_high)

    def episodes(self, solutions: torch.Tensor) -> Episodes:
        """Run one episode per solution (B, solution_dim) and keep the per-step records."""
        cfg, task = self.config, self.task
        assert isinstance(cfg, MujocoTaskConfig)
        params = solutions.detach().to("cpu", torch.float64)
        b, steps, nf = params.shape[0], cfg.episode_length, self.n_feet
        if b == 1:  # one row alone would take another matmul kernel than a batch
            params = params.expand(2, -1)
        policy = self.architecture.unflatten(params)
        sim = self.sim
        sim.reset(b, self.qpos0, self.qvel0)
        reward = np.zeros((b, steps))
        counted = np.zeros((b, steps), dtype=bool)
        feet = np.zeros((b, steps, nf), dtype=bool)
        xy = np.zeros((b, steps, 2))
        total = np.zeros(b)
        live = np.ones(b, dtype=bool)
        qpos, qvel, sens = sim.gather("qpos"), sim.gather("qvel"), sim.gather("sensordata")
        for t in range(steps):
            counted[:, t] = live
            feet[:, t] = foot_contacts(sens, nf) & live[:, None]
            xy[:, t] = np.where(live[:, None], qpos[:, :2], 0.0)
            obs = torch.from_numpy(self.observe_states(sim, qpos, qvel))
            if b == 1:
                obs = obs.expand(2, -1)
            with torch.no_grad():
                out = policy(obs)[:b].numpy()
            ctrl = self.actions(out)
            before = self._forward_position(qpos, sens)
            sim.step(ctrl, live)
            qpos, qvel, sens = sim.gather("qpos"), sim.gather("qvel"), sim.gather("sensordata")
            step_reward = (
                task.forward_weight * (self._forward_position(qpos, sens) - before) / self.dt
                + task.healthy_reward
                - task.ctrl_weight * np.square(ctrl).sum(axis=1)
            )
            reward[:, t] = np.where(live, step_reward, 0.0)
            total += reward[:, t]
            if task.healthy is not None:
                live &= task.healthy(qpos, qvel)
            if not live.any():
                break
        n = counted.sum(axis=1)
        if task.measures == "xy":
            last = xy[np.arange(b), n - 1]
            measures = np.clip(last, -XY_LIMIT, XY_LIMIT)
        else:
            measures = feet.sum(axis=1) / n[:, None]
        return Episodes(reward, counted, feet, xy, total, measures)

    def _forward_position(self, qpos: np.ndarray, sens: np.ndarray) -> np.ndarray:
        if self.task.forward_com:
            return centre_of_mass(sens, self.n_feet)[:, 0]
        return qpos[:, 0]

    def _evaluate(self, solutions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ep = self.episodes(solutions)
        opts = {"dtype": self.dtype, "device": solutions.device}
        return torch.as_tensor(ep.objective, **opts), torch.as_tensor(ep.measures, **opts)



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
