"""B MuJoCo simulations stepped together on MuJoCo's native thread pool (the CPU physics).

`MujocoBatch` keeps the B environments of an evaluation in one `mujoco.batch.Batch`
(MuJoCo >= 4): each environment is a row of `mjSTATE_INTEGRATION` state (qpos, qvel, act,
warm start, controls, ...), and C calls step every live row on `threads` threads, releasing the
GIL. A control step is `frame_skip` calls of `mj_step`, exactly what gymnasium's
`MujocoEnv.do_simulation` does per environment (`mj_step(model, data, nstep=frame_skip)`).
The tasks need the sensors (foot contacts) of the state a step starts from, which the first
`mj_step` computes before it integrates: the batch steps once, keeps those sensors
(`start_sensors`), then steps `frame_skip - 1` more times. Tasks that also need derived
fields of the new state (the humanoid observes inertias, velocities and actuator forces, and
its forward term is the centre of mass) ask for `forward=True`: then the control step ends
with the forward stages at the new state (`mjSTAGE_ACC`, i.e. `mj_forward`, which changes
neither the state nor the solver's warm start). Without it a control step costs 9-16% less
(walker2d, ant, halfcheetah, one thread). MuJoCo guarantees the batch bit-identical to a loop
over one `MjData` per environment at any thread count (`tests/problems/test_mujoco_tasks.py`
checks it against gymnasium's environments), so the scores depend neither on `threads` nor on
which other solutions share the batch.

Why not `mujoco.rollout`: it restarts every call from a FULLPHYSICS state, which does not hold
the solver's warm start, so calling it once per control step (a closed-loop policy must see
each new state) changes the solver's starting point at every step and drifts from continuous
stepping in the last bits. The batch's state rows hold the warm start.

Sensors added to the gymnasium model (`load_model`): per foot a `contact` sensor (the subtree
of the foot body against the floor geom, `data="found"`), and a `subtreecom` sensor of the root
body (the centre of mass of the whole robot). A foot touches the ground when MuJoCo has an
active contact between it and the floor. QDax (Brax) counts contacts at distance <= 0; MuJoCo's
soft contacts act from the geoms' margin on (the ant's geoms have margin 0.01 on each side: a
resting ant stands at distance ~0.0197 with its full weight on the contacts), so the MuJoCo
equivalent of "touching" is an active contact, i.e. distance < margin - gap, which with gap 0
(all these models; `load_model` checks) is every floor contact MuJoCo reports.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from pathlib import Path
from typing import ClassVar

import mujoco
import numpy as np
import torch
from mujoco import batch as mj_batch

#: Fields a physics backend's `read` can return, with their per-environment shape.
FIELDS = ("qpos", "qvel", "sensordata", "cinert", "cvel", "qfrc_actuator")
_ACC = int(mujoco.mjtStage.mjSTAGE_ACC)
_NONE = int(mujoco.mjtStage.mjSTAGE_NONE)


def assets_dir() -> Path:
    """Folder of gymnasium's MuJoCo MJCF models."""
    import gymnasium

    return Path(gymnasium.__file__).parent / "envs" / "mujoco" / "assets"


@functools.cache
def load_model(xml: str, feet: tuple[str, ...], root: str, floor: str = "floor") -> mujoco.MjModel:
    """Compile gymnasium's `xml` model with the foot-contact and centre-of-mass sensors.

    Unnamed bodies (the ant's lower legs) are named `<parent>.child` first; names do not
    change the physics.

    Args:
        xml: File name in `assets_dir()` (e.g. "walker2d_v5.xml").
        feet: Body names; the subtree of each is one foot.
        root: Name of the root body (its subtree centre of mass is the robot's).
        floor: Name of the ground geom.

    Returns:
        The model; sensordata holds the number of floor contacts of each foot, then the
        (x, y, z) centre of mass.
    """
    spec = mujoco.MjSpec.from_file(str(assets_dir() / xml))
    for body in spec.bodies:
        if not body.name and body.parent is not None:
            body.name = f"{body.parent.name}.child"
    found = 1 << int(mujoco.mjtConDataField.mjCONDATA_FOUND)
    for i, body in enumerate(feet):
        spec.add_sensor(
            name=f"foot_{i}", type=mujoco.mjtSensor.mjSENS_CONTACT,
            objtype=mujoco.mjtObj.mjOBJ_XBODY, objname=body,  # the body's subtree
            reftype=mujoco.mjtObj.mjOBJ_GEOM, refname=floor,
            intprm=[found, 0, 1],  # data = found, no reduction, num = 1
        )
    spec.add_sensor(name="com", type=mujoco.mjtSensor.mjSENS_SUBTREECOM,
                    objtype=mujoco.mjtObj.mjOBJ_BODY, objname=root)
    with warnings.catch_warnings():  # gymnasium's half_cheetah.xml; nothing a user can change
        warnings.filterwarnings("ignore", message="compiler attribute 'settotalmass'")
        model = spec.compile()
    if model.geom_gap.any():
        raise ValueError(f"{xml}: geoms with a contact gap; foot contacts assume gap = 0")
    return model


def foot_contacts(sensordata: torch.Tensor, n_feet: int) -> torch.Tensor:
    """Whether each foot touches the ground: (B, n_feet) bool from (B, nsensordata)."""
    return sensordata[:, :n_feet] > 0


def centre_of_mass(sensordata: torch.Tensor, n_feet: int) -> torch.Tensor:
    """The robot's centre of mass: (B, 3) from (B, nsensordata)."""
    return sensordata[:, n_feet : n_feet + 3]


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class MujocoBatch:
    """B simulations of one model on the CPU, stepped `frame_skip` physics steps per control step.

    The batch grows to the largest B asked for and is kept between episodes (making one costs
    more than a control step); `reset` restores every row it uses completely.

    Args:
        model: The compiled model (shared, read-only).
        frame_skip: Physics steps per control step.
        threads: Threads stepping the environments (0: every CPU this process may use).
        forward: Compute the derived fields (`read`) of the new state after each control step.
    """

    name: ClassVar[str] = "mujoco"
    device = torch.device("cpu")
    dtype = torch.float64

    def __init__(self, model: mujoco.MjModel, frame_skip: int, threads: int = 0,
                 forward: bool = False) -> None:
        self.model = model
        self.frame_skip = frame_skip
        self.threads = threads if threads > 0 else available_cpus()
        self.forward = forward
        self.batch_size = 0
        self._batch: mj_batch.Batch | None = None
        self._views: dict[str, np.ndarray] = {}
        self._start_sensors = np.empty((0, model.nsensordata))

    def scope(self) -> contextlib.AbstractContextManager[None]:
        """Context of an episode's calls (nothing to set up on the CPU)."""
        return contextlib.nullcontext()

    def reset(self, batch: int, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Start `batch` environments in state (qpos (nq,), qvel (nv,)) at time 0, forward.

        The reset clears everything a previous episode left (time, controls, warm start).
        """
        if self._batch is None or self._batch.nsim < batch:
            self._batch = mj_batch.Batch(self.model, batch, nthread=self.threads)
            self._views = {name: self._batch.bind(name) for name in (*FIELDS, "ctrl")}
        self.batch_size = batch
        ids = np.arange(batch, dtype=np.int32)
        self._batch.reset(ids, stage=_NONE)
        self._views["qpos"][:batch] = qpos
        self._views["qvel"][:batch] = qvel
        self._batch.forward(ids, stage=_ACC)

    def step(self, ctrl: torch.Tensor, live: torch.Tensor) -> None:
        """One control step of the live environments.

        Args:
            ctrl: (B, nu) controls; rows of environments that are not live are ignored.
            live: (B,) bool, which environments to step.
        """
        assert self._batch is not None, "reset() first"
        ids = np.flatnonzero(live.numpy()).astype(np.int32)
        sensors = self._views["sensordata"]
        self._views["ctrl"][: self.batch_size] = ctrl.numpy()
        if self.forward:
            self._start_sensors = sensors[: self.batch_size].copy()
            self._batch.step(ids, nstep=self.frame_skip, stage=_ACC)
            return
        self._batch.step(ids, nstep=1, stage=_NONE)
        self._start_sensors = sensors[: self.batch_size].copy()
        if self.frame_skip > 1:
            self._batch.step(ids, nstep=self.frame_skip - 1, stage=_NONE)

    def start_sensors(self) -> torch.Tensor:
        """Sensor data (B, nsensordata) of the states the last control step started from."""
        return torch.from_numpy(self._start_sensors)

    def read(self, field: str) -> torch.Tensor:
        """Copy one `MjData` field of every environment: shape (B, *field shape). State fields
        (qpos, qvel) are the current state's; derived fields are the current state's with
        `forward=True` (and after `reset`), else those of the last physics step's start.
        """
        if field not in FIELDS:
            raise ValueError(f"unknown field {field!r}; choose one of {FIELDS}")
        return torch.from_numpy(self._views[field][: self.batch_size].copy())

    def close(self) -> None:
        """Free the simulations (a later `reset` makes new ones)."""
        self._batch, self._views, self.batch_size = None, {}, 0

    def __getstate__(self) -> dict:
        return {"model": self.model, "frame_skip": self.frame_skip, "threads": self.threads,
                "forward": self.forward}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)  # type: ignore[misc]
