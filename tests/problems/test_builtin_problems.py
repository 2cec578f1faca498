import math

import numpy as np
import pytest
import torch

from problems.arm import ArmConfig, ArmRepertoire
from problems.linear_projection import RastriginLP, RastriginLPConfig, SphereLP, SphereLPConfig


@pytest.mark.parametrize("cls,cfg", [(SphereLP, SphereLPConfig), (RastriginLP, RastriginLPConfig)])
def test_linear_projection_optimum_scores_100(cls, cfg):
    problem = cls(cfg(dim=6))
    x = torch.full((1, 6), problem.shift, dtype=torch.float64)
    obj, meas = problem.evaluate(x)
    assert obj.item() == pytest.approx(100.0)
    assert meas[0].tolist() == pytest.approx([3 * problem.shift, 3 * problem.shift])


@pytest.mark.parametrize("cls,cfg", [(SphereLP, SphereLPConfig), (RastriginLP, RastriginLPConfig)])
def test_linear_projection_objective_in_0_100_inside_the_box(cls, cfg):
    problem = cls(cfg(dim=20))
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(5000, 20, generator=gen, dtype=torch.float64) * 2 - 1) * 5.12
    obj, meas = problem.evaluate(x)
    assert obj.min() >= 0 and obj.max() <= 100
    lo = torch.tensor([b[0] for b in problem.measure_bounds], dtype=torch.float64)
    hi = torch.tensor([b[1] for b in problem.measure_bounds], dtype=torch.float64)
    assert bool(((meas >= lo) & (meas <= hi)).all())


def test_linear_projection_clips_outside_the_box():
    problem = SphereLP(SphereLPConfig(dim=2))
    _, meas = problem.evaluate(torch.tensor([[10.24, -1.0]], dtype=torch.float64))
    assert meas[0].tolist() == pytest.approx([0.5, -1.0])  # 5.12 / 10.24


def test_batched_equals_one_by_one():
    problem = RastriginLP(RastriginLPConfig(dim=8))
    x = torch.randn(64, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3
    obj, meas = problem.evaluate(x)
    for i in range(0, 64, 9):
        o, m = problem.evaluate(x[i : i + 1])
        assert o.item() == pytest.approx(obj[i].item())
        assert m[0].tolist() == pytest.approx(meas[i].tolist())


def test_arm_straight_and_folded():
    problem = ArmRepertoire(ArmConfig(joints=4, link_length=0.5))
    x = torch.tensor([[0.0, 0, 0, 0], [math.pi / 2, 0, 0, 0], [0, math.pi, 0, math.pi]],
                     dtype=torch.float64)
    obj, meas = problem.evaluate(x)
    assert meas[0].tolist() == pytest.approx([2.0, 0.0])
    assert meas[1].tolist() == pytest.approx([0.0, 2.0], abs=1e-12)
    assert meas[2].tolist() == pytest.approx([0.0, 0.0], abs=1e-12)
    assert obj[0].item() == 0.0
    assert obj[2].item() == pytest.approx(-np.var([0, math.pi, 0, math.pi]))
    assert problem.measure_bounds == ((-2.0, 2.0), (-2.0, 2.0))


def test_wrong_shape_is_a_clear_error():
    problem = SphereLP(SphereLPConfig(dim=4))
    with pytest.raises(ValueError, match=r"shape \(batch_size, 4\), got \(2, 3\)"):
        problem.evaluate(torch.zeros(2, 3, dtype=torch.float64))
