"""B MuJoCo simulations stepped together: the physics under `problems.mujoco_tasks`.

Each environment has its own `mujoco.MjData`; a control step sets every live environment's
`ctrl`, advances it `frame_skip` physics steps with one `mujoco.mj_step(model, data, nstep)`
call (exactly what gymnasium's `MujocoEnv.do_simulation` does, so the states equal gymnasium's
bit for bit), then runs `mujoco.mj_forward` so that everything read afterwards (contacts, body
positions, the sensors below) belongs to the new state. `mj_forward` changes neither the state
nor the solver warm start, so the trajectory is the same as without it.

`threads > 1` splits the live environments into contiguous chunks stepped on a thread pool
(MuJoCo releases the GIL inside `mj_step`). Every environment only ever touches its own
`MjData`, so the result does not depend on the thread count or the batch composition.

Why not `mujoco.rollout`: it restarts every call from a FULLPHYSICS state with a zero
`qacc_warmstart` (the warm start is not part of the state it returns), so calling it once per
control step changes the solver's starting point at every step and the trajectory drifts from
continuous stepping (gymnasium's) in the last bits; it also returns sensors of the state
*before* each physics step, so the contacts of the new state need a second call. On the
2-core machine it was measured against (`benchmarks/robots.py`) it was no faster than this
loop; the numbers are in the module docstring of `problems.mujoco_tasks`.

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

import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mujoco
import numpy as np

#: Fields of `MjData` that `MujocoBatch.gather` can copy out, with their per-environment shape.
FIELDS = ("qpos", "qvel", "sensordata", "cinert", "cvel", "qfrc_actuator")


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
    model = spec.compile()
    if model.geom_gap.any():
        raise ValueError(f"{xml}: geoms with a contact gap; foot contacts assume gap = 0")
    return model


def foot_contacts(sensordata: np.ndarray, n_feet: int) -> np.ndarray:
    """Whether each foot touches the ground: (B, n_feet) bool from (B, nsensordata)."""
    return sensordata[:, :n_feet] > 0


def centre_of_mass(sensordata: np.ndarray, n_feet: int) -> np.ndarray:
    """The robot's centre of mass: (B, 3) from (B, nsensordata)."""
    return sensordata[:, n_feet : n_feet + 3]


class MujocoBatch:
    """B simulations of one model, stepped `frame_skip` physics steps per control step.

    The `MjData` of each environment is kept between episodes (allocating one costs about as
    much as a control step); `reset` restores every one of them completely.

    Args:
        model: The compiled model (shared, read-only).
        frame_skip: Physics steps per control step.
        threads: Threads stepping the environments (1: the calling thread only).
    """

    def __init__(self, model: mujoco.MjModel, frame_skip: int, threads: int = 1) -> None:
        self.model = model
        self.frame_skip = frame_skip
        self.threads = max(1, threads)
        self._all: list[mujoco.MjData] = []
        self.datas: list[mujoco.MjData] = []
        self._pool: ThreadPoolExecutor | None = None

    @property
    def batch_size(self) -> int:
        """Number B of environments of the current episode."""
        return len(self.datas)

    def reset(self, batch: int, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Start `batch` environments in state (qpos (nq,), qvel (nv,)) at time 0, forward.

        `mj_resetData` clears everything a previous episode left (time, controls, warm start).
        """
        m = self.model
        while len(self._all) < batch:
            self._all.append(mujoco.MjData(m))
        self.datas = self._all[:batch]
        for d in self.datas:
            mujoco.mj_resetData(m, d)
            d.qpos[:] = qpos
            d.qvel[:] = qvel
            mujoco.mj_forward(m, d)

    def step(self, ctrl: np.ndarray, live: np.ndarray) -> None:
        """One control step of the live environments.

        Args:
            ctrl: (B, nu) controls; rows of environments that are not live are ignored.
            live: (B,) bool, which environments to step.
        """
        index = np.flatnonzero(live)
        if self.threads == 1 or len(index) < 2 * self.threads:
            self._step_some(ctrl, index)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="mujoco")
        chunks = np.array_split(index, self.threads)
        for future in [self._pool.submit(self._step_some, ctrl, c) for c in chunks]:
            future.result()

    def _step_some(self, ctrl: np.ndarray, index: np.ndarray) -> None:
        m, nstep, datas = self.model, self.frame_skip, self.datas
        for i in index.tolist():
            d = datas[i]
            d.ctrl[:] = ctrl[i]
            mujoco.mj_step(m, d, nstep=nstep)
            mujoco.mj_forward(m, d)

    def gather(self, field: str) -> np.ndarray:
        """Copy one `MjData` field of every environment: shape (B, *field shape)."""
        if field not in FIELDS:
            raise ValueError(f"unknown field {field!r}; choose one of {FIELDS}")
        return np.stack([getattr(d, field) for d in self.datas])

    def close(self) -> None:
        """Stop the thread pool (a later `step` starts a new one)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __getstate__(self) -> dict:
        return {"model": self.model, "frame_skip": self.frame_skip, "threads": self.threads}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["model"], state["frame_skip"], state["threads"])  # type: ignore[misc]
