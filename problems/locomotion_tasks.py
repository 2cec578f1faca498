"""The definitions of QDax's MuJoCo locomotion tasks: robots, rewards, termination, measures.

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

What differs from QDax (which simulates with Brax: QDax 0.5.1's tasks, read here, with Brax
v2's "spring" pipeline by default; QDax 0.5.0's `examples/mapelites.ipynb`, the last release on
PyPI, with Brax's v1 engine, whose walker2d ends an episode below height 0.7 instead of 0.8 and
whose ant is another robot: 10 kg torso, motor strength 350, a contact cost in the reward;
`benchmarks/peers/robots_vs_qdax.py` runs both next to qd and `docs/robots.md` gives the
figures):

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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

Healthy = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _walker_healthy(qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
    z, angle = qpos[:, 1], qpos[:, 2]
    return (z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0)


def _hopper_healthy(qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
    z, angle = qpos[:, 1], qpos[:, 2]
    state = torch.cat((qpos[:, 2:], qvel), dim=1)
    inside = ((state > -100.0) & (state < 100.0)).all(dim=1)
    return inside & (z > 0.7) & (angle > -0.2) & (angle < 0.2)


def _z_between(low: float, high: float) -> Healthy:
    def healthy(qpos: torch.Tensor, qvel: torch.Tensor) -> torch.Tensor:
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
