"""MuJoCo Warp physics (`physics = "warp"`) against MuJoCo's, on Warp's CPU device and on CUDA.

The stated tolerances (float32 against float64, and MuJoCo Warp's own contact frames):

- planar walkers (walker2d_uni, hopper_uni) over 30 control steps: the same steps counted, the
  same foot-contact measures, torso (x, y) within 1e-3 at every step, objectives within 0.05
  per counted step;
- ant_omni before its feet reach the floor (its first 2 control steps): torso (x, y) within 1e-5.
  After contact the ant's path differs, because MuJoCo Warp orients the friction pyramid of a
  contact otherwise than MuJoCo does (measured: one physics step from the same state gives
  different pyramid forces), so its scores are another engine's, not MuJoCo's within a bound.
"""

import numpy as np
import pytest
import torch

import qd
from problems import problem_registry
from qd.errors import SpecError

pytestmark = pytest.mark.usefixtures("one_torch_thread")
pytest.importorskip("mujoco_warp", reason="MuJoCo Warp is not installed: pip install 'qd[warp]'")

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]


def make(name, device="cpu", **options):
    cls = problem_registry.get(name)
    return cls(cls.Config(**options), device=device)


def policies(problem, n, spread, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.as_tensor(problem.x0)
    return x0 + spread * torch.randn(n, problem.solution_dim, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,options,spread", [
    ("walker2d_uni", {}, 0.3),
    ("hopper_uni", {"init": "lecun_uniform"}, 0.1),
])
def test_warp_equals_mujoco_on_the_planar_walkers(name, options, spread, device):
    steps = 30
    cpu = make(name, episode_length=steps, physics="mujoco", **options)
    warp = make(name, device, episode_length=steps, physics="warp", **options)
    assert type(warp.sim).__name__ == "WarpBatch" and warp.sim.device.type == device
    x = policies(cpu, 6, spread)
    a, b = cpu.episodes(x), warp.episodes(x.to(device))
    lengths = a.counted.sum(1)
    assert lengths.min() < steps and lengths.max() == steps  # some fall, some stand
    np.testing.assert_array_equal(b.counted, a.counted)
    np.testing.assert_array_equal(b.measures, a.measures)
    np.testing.assert_allclose(b.xy, a.xy, rtol=0, atol=1e-3)
    assert np.abs(b.objective - a.objective).max() <= 0.05 * lengths.min()
    objectives, measures = warp.evaluate(x.to(device))
    assert objectives.device.type == device and measures.dtype == torch.float64
    np.testing.assert_array_equal(objectives.cpu().numpy(), b.objective)


@pytest.mark.parametrize("device", DEVICES)
def test_warp_equals_mujoco_on_the_ant_before_contact(device):
    cpu = make("ant_omni", episode_length=2, physics="mujoco", init="lecun_uniform")
    warp = make("ant_omni", device, episode_length=2, physics="warp", init="lecun_uniform")
    x = policies(cpu, 4, 0.1)
    a, b = cpu.episodes(x), warp.episodes(x.to(device))
    assert not a.feet.any()  # still in the air
    np.testing.assert_allclose(b.xy, a.xy, rtol=0, atol=1e-5)
    np.testing.assert_allclose(b.measures, a.measures, rtol=0, atol=1e-5)


def test_warp_scores_are_a_pure_function_of_the_parameters():
    problem = make("walker2d_uni", episode_length=20, physics="warp")
    x = policies(problem, 4, 0.3)
    first = problem.evaluate(x)
    problem.evaluate(policies(problem, 6, 0.3, seed=2))  # another batch size in between
    again = problem.evaluate(x)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    alone = problem.evaluate(x[2:3])
    assert torch.equal(alone[0][0], first[0][2]) and torch.equal(alone[1][0], first[1][2])


def test_humanoid_pgs_solver_is_refused_by_warp_and_auto_falls_back(caplog):
    with pytest.raises(SpecError, match="PGS.*physics = 'mujoco'"):
        make("humanoid_uni", episode_length=5, physics="warp")
    assert type(make("humanoid_uni", episode_length=5).sim).__name__ == "MujocoBatch"


def test_auto_takes_mujoco_on_a_cpu_device():
    assert type(make("walker2d_uni", episode_length=5).sim).__name__ == "MujocoBatch"


def test_missing_mujoco_warp_is_one_clear_error(monkeypatch):
    from problems import mujoco_warp_batch

    mujoco_warp_batch._modules.cache_clear()
    monkeypatch.setitem(__import__("sys").modules, "mujoco_warp", None)
    try:
        with pytest.raises(SpecError, match=r"not installed.*pip install 'qd\[warp\]'"):
            make("walker2d_uni", episode_length=5, physics="warp")
    finally:
        mujoco_warp_batch._modules.cache_clear()


def test_a_warp_run_through_the_engine():
    spec = {
        "problem": {"name": "walker2d_uni", "episode_length": 10, "physics": "warp"},
        "archive": {"name": "cvt", "centroids": 16, "samples": 500},
        "emitters": [{"name": "iso_line", "batch_size": 8, "iso_sigma": 0.05,
                      "line_sigma": 0.1}],
        "run": {"budget": 24, "seed": 0},
    }
    result = qd.evolve(spec, write=False)
    assert result.end.evaluations == 24 and result.archive.stats().num_elites >= 1
