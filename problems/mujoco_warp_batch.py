"""B MuJoCo simulations as one MuJoCo Warp batch: the GPU physics under `problems.mujoco_tasks`.

MuJoCo Warp (`mujoco_warp`, DeepMind/NVIDIA's port of MuJoCo to NVIDIA Warp) keeps the B
environments ("worlds") of an evaluation in device arrays and steps all of them with one
launch per kernel. `WarpBatch` offers what `problems.mujoco_batch.MujocoBatch` offers (reset,
a control step of `frame_skip` physics steps keeping the sensors of the state it starts from,
with `forward=True` followed by a forward pass at the new state, `read` of the fields the tasks
observe) with the fields as torch tensors on the run's device,
shared with Warp without copies, so that the policy's forward pass, the rewards and the records
never leave the GPU. On CUDA the control step (`frame_skip` x `mjw.step`, the copy of the start
sensors, and `mjw.forward` where asked) is captured once as a CUDA graph and replayed.

Warp computes in float32, MuJoCo in float64, and the two engines differ in details (MuJoCo
Warp picks other tangent directions for a contact's friction pyramid, so a robot whose feet
slide on the floor, such as the ant, takes another path after its first contact; the planar
walker2d agrees to about 1e-5 over 30 control steps): `tests/problems/test_mujoco_warp.py`
states the tolerances. Warp also runs on the CPU (`physics = "warp"` with a CPU device), which
is how these tests run without a GPU.

Every world is stepped every control step (a GPU steps a whole batch at once); the episode
loop masks what terminated worlds do afterwards, so the records are those of
`MujocoBatch`, which stops stepping them.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any, ClassVar

import mujoco
import numpy as np
import torch

from problems.mujoco_batch import FIELDS
from qd.errors import SpecError

#: Install hint for the optional MuJoCo Warp dependency.
INSTALL = "pip install 'qd[warp]' (or: pip install mujoco-warp)"


@functools.cache
def _modules() -> tuple[Any, Any]:
    """Import warp and mujoco_warp once (a clear error where they are not installed)."""
    try:
        import mujoco_warp
        import warp
    except ImportError as exc:
        raise SpecError(
            f"problem.physics: 'warp' needs MuJoCo Warp, which is not installed ({exc.name}); "
            f"{INSTALL}, or use physics = 'mujoco'"
        ) from exc
    warp.config.log_level = warp.LOG_WARNING  # no line per kernel module loaded
    warp.init()
    return warp, mujoco_warp


def warp_device(device: torch.device) -> str:
    """Warp's name of a torch device ("cpu", "cuda:0", ...)."""
    if device.type == "cuda":
        return f"cuda:{device.index if device.index is not None else torch.cuda.current_device()}"
    return "cpu"


class WarpBatch:
    """B simulations of one model in MuJoCo Warp, with torch views of their fields.

    Args:
        model: The compiled model (with the sensors of `problems.mujoco_batch.load_model`).
        frame_skip: Physics steps per control step.
        device: The torch device of the run (CUDA, or the CPU for checks).
        forward: Compute the derived fields (`read`) of the new state after each control step.
        task: The task's name, for the message when MuJoCo Warp cannot simulate its model.

    Raises:
        SpecError: MuJoCo Warp is not installed, or cannot simulate the model (e.g. the PGS
            solver); the message gives the fix.
    """

    name: ClassVar[str] = "warp"
    dtype = torch.float32

    def __init__(self, model: mujoco.MjModel, frame_skip: int, device: torch.device,
                 forward: bool = False, task: str = "this task") -> None:
        self.wp, self.mjw = _modules()
        self.model = model
        self.frame_skip = frame_skip
        self.forward = forward
        self.device = torch.device(device)
        self._wp_device = warp_device(self.device)
        try:
            with self.wp.ScopedDevice(self._wp_device):
                self._m = self.mjw.put_model(model)
        except NotImplementedError as exc:
            raise SpecError(
                f"problem.physics: MuJoCo Warp cannot simulate {task}'s model ({exc}); "
                "use physics = 'mujoco' (MuJoCo on the CPU)"
            ) from exc
        self.task = task
        self.batch_size = 0
        self._d: Any = None
        self._views: dict[str, torch.Tensor] = {}
        self._graph: Any = None
        self._stepped = False

    def _allocate(self, batch: int) -> None:
        """Device data for `batch` worlds, with room for every floor contact of every geom."""
        m = self.model
        nconmax = 4 * m.ngeom
        njmax = 6 * nconmax + 2 * m.njnt
        with self.wp.ScopedDevice(self._wp_device):
            self._d = self.mjw.put_data(m, mujoco.MjData(m), nworld=batch, nconmax=nconmax,
                                        njmax=njmax)
        wp = self.wp
        self._views = {f: wp.to_torch(getattr(self._d, f)) for f in (*FIELDS, "ctrl")}
        self._start_wp = wp.zeros_like(self._d.sensordata)  # copied by Warp: graph-capturable
        self._start = wp.to_torch(self._start_wp)
        self._graph, self._stepped = None, False
        self.batch_size = batch

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Run an episode's torch and Warp work in order: on CUDA both on Warp's stream of the
        device (a non-default stream, which CUDA graph capture needs).
        """
        wp = self.wp
        with wp.ScopedDevice(self._wp_device):
            if self.device.type != "cuda":
                yield
                return
            with torch.cuda.stream(wp.stream_to_torch(wp.get_stream(self._wp_device))):
                yield

    def reset(self, batch: int, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Start `batch` worlds in state (qpos (nq,), qvel (nv,)) at time 0, forward (call
        inside `scope()`).
        """
        if self._d is None or self.batch_size != batch:
            self._allocate(batch)
        self.mjw.reset_data(self._m, self._d)
        self._views["qpos"].copy_(torch.as_tensor(qpos, dtype=self.dtype))
        self._views["qvel"].copy_(torch.as_tensor(qvel, dtype=self.dtype))
        self.mjw.forward(self._m, self._d)

    def _control_step(self) -> None:
        wp, d = self.wp, self._d
        if self.forward:
            wp.copy(self._start_wp, d.sensordata)
        for i in range(self.frame_skip):
            self.mjw.step(self._m, d)
            if i == 0 and not self.forward:  # the first step computed the start's sensors
                wp.copy(self._start_wp, d.sensordata)
        if self.forward:
            self.mjw.forward(self._m, self._d)

    def step(self, ctrl: torch.Tensor, live: torch.Tensor) -> None:
        """One control step of every world, inside `scope()` (`live` is not needed: see the
        module docstring).

        Args:
            ctrl: (B, nu) controls on the batch's device.
            live: (B,) bool; unused.
        """
        self._views["ctrl"].copy_(ctrl)
        wp = self.wp
        if self.device.type != "cuda":
            self._control_step()
        elif self._graph is not None:
            wp.capture_launch(self._graph)
        elif not self._stepped:  # the first step compiles and loads the kernels
            self._control_step()
            self._stepped = True
        else:
            with wp.ScopedCapture() as capture:
                self._control_step()
            self._graph = capture.graph
            wp.capture_launch(self._graph)

    def start_sensors(self) -> torch.Tensor:
        """Sensor data (B, nsensordata) of the states the last control step started from."""
        return self._start.clone()

    def read(self, field: str) -> torch.Tensor:
        """Copy one field of every world: shape (B, *field shape), on the batch's device (see
        `MujocoBatch.read` for which state the derived fields describe).
        """
        if field not in FIELDS:
            raise ValueError(f"unknown field {field!r}; choose one of {FIELDS}")
        return self._views[field].clone()

    def close(self) -> None:
        """Free the device data (a later `reset` allocates it again)."""
        self._d, self._views, self._graph, self.batch_size = None, {}, None, 0

    def __getstate__(self) -> dict:
        return {"model": self.model, "frame_skip": self.frame_skip, "device": str(self.device),
                "forward": self.forward, "task": self.task}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**{**state, "device": torch.device(state["device"])})  # type: ignore[misc]
