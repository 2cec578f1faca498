import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError

import qd
from problems.hexapod import HALF_WIDTH, HIP_X, TRIPODS, HexapodConfig, HexapodGait

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- a plain-python reference, one controller at a time ----------------------------------------


def reference_signal(amplitude, phase, duty, period, smoothing):
    square = [amplitude * (1.0 if (k / period - phase) % 1.0 < duty else -1.0)
              for k in range(period)]
    if smoothing == 0:
        return square
    sigma = smoothing * period
    out = []
    for k in range(period):
        weights = [math.exp(-0.5 * (min(abs(j - k), period - abs(j - k)) / sigma) ** 2)
                   for j in range(period)]
        out.append(sum(w * s for w, s in zip(weights, square, strict=True)) / sum(weights))
    return out


def reference_walk(cfg, params):
    legs = []
    for leg in range(6):
        p = params[6 * leg : 6 * leg + 6]
        swing = reference_signal(*p[:3], cfg.period, cfg.smoothing)
        lift = reference_signal(*p[3:], cfg.period, cfg.smoothing)
        foot = [HIP_X[leg % 3] + cfg.leg_length * math.sin(cfg.swing_angle * swing[t % cfg.period])
                for t in range(cfg.steps + 1)]
        contact = [lift[t % cfg.period] <= 0 for t in range(cfg.steps + 1)]
        legs.append((foot, contact))
    x = yaw = slip_total = 0.0
    track = 2 * (HALF_WIDTH + cfg.leg_length)
    for t in range(cfg.steps):
        stance = [i for i in range(6) if legs[i][1][t]]
        motion = {i: legs[i][0][t + 1] - legs[i][0][t] for i in stance}
        left = [motion[i] for i in stance if i < 3]
        right = [motion[i] for i in stance if i >= 3]
        mean_l = sum(left) / len(left) if left else 0.0
        mean_r = sum(right) / len(right) if right else 0.0
        slip_total += sum(abs(motion[i] - (mean_l if i < 3 else mean_r)) for i in stance) / 6
        feet = [legs[i][0][t] for i in stance]
        stable = len(stance) >= 3 and left and right and min(feet) <= 0 <= max(feet)
        if stable:
            turn = (mean_l - mean_r) / track
            x += -sum(motion.values()) / len(stance) * math.cos(yaw + turn / 2)
            yaw += turn
    duty = [sum(contact[: cfg.steps]) / cfg.steps for _, contact in legs]
    return x - cfg.slip_weight * slip_total, duty


def tripod_gait(backwards=False):
    """Alternating tripods: each foot is down while its hip swings back (forward walking)."""
    row = []
    for leg in range(6):
        offset = 0.0 if leg in TRIPODS[0] else 0.5
        lift_phase = (0.75 + offset + (0.5 if backwards else 0.0)) % 1.0
        row += [1.0, offset, 0.5, 1.0, lift_phase, 0.5]
    return torch.tensor([row], dtype=torch.float64)


@pytest.mark.parametrize(
    "options", [{}, {"smoothing": 0.0, "steps": 40, "period": 16, "slip_weight": 0.3}]
)
def test_batched_walks_equal_the_plain_python_reference(options):
    cfg = HexapodConfig(**options)
    problem = HexapodGait(cfg)
    params = torch.rand(10, 36, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    params = torch.cat((params, tripod_gait()))
    objectives, measures = problem.evaluate(params)
    for i in range(len(params)):
        objective, duty = reference_walk(cfg, params[i].tolist())
        assert objectives[i].item() == pytest.approx(objective, abs=1e-9)
        assert measures[i].tolist() == pytest.approx(duty, abs=1e-12)
    assert len({round(v, 6) for v in objectives.tolist()}) > 8


def test_tripod_gait_walks_forward_and_backward():
    problem = HexapodGait(HexapodConfig())
    forward, duty = problem.evaluate(tripod_gait())
    backward, _ = problem.evaluate(tripod_gait(backwards=True))
    stride = 2 * 0.5 * math.sin(math.pi / 4)  # hip swings from -45 to +45 degrees
    pushes = 2 * 150 / 50  # each tripod pushes once per cycle, 3 cycles
    assert forward.item() == pytest.approx(pushes * stride, rel=1e-3)
    assert backward.item() == pytest.approx(-forward.item(), rel=1e-9)
    assert duty[0].tolist() == pytest.approx([0.5] * 6)


def test_feet_that_never_lift_stand_still_and_score_full_duty():
    params = tripod_gait()
    params[0, 3::6] = 0.0  # zero lift amplitude: every foot always down
    objective, duty = HexapodGait(HexapodConfig()).evaluate(params)
    assert duty[0].tolist() == [1.0] * 6
    assert objective.item() < 0  # the two tripods fight each other: they slip, the body stays


def test_objective_and_measures_stay_in_bounds():
    problem = HexapodGait(HexapodConfig(measures="tripod_duty"))
    assert problem.measure_dim == 2 and problem.solution_dim == 36
    params = torch.rand(2000, 36, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    obj, meas = problem.evaluate(params)
    worst, best = problem.objective_bounds
    assert bool((obj >= worst).all() and (obj <= best).all())
    assert meas.shape == (2000, 2) and bool(((meas >= 0) & (meas <= 1)).all())


def test_config_is_validated():
    with pytest.raises(ValidationError, match="must not exceed steps"):
        HexapodConfig(steps=40, period=50)
    with pytest.raises(ValidationError, match="extra"):
        HexapodConfig(legs=8)


def test_seeded_runs_are_reproducible():
    spec = {"problem": {"name": "hexapod_gait", "steps": 100},
            "archive": {"name": "cvt", "centroids": 100, "samples": 2000},
            "emitters": [{"name": "iso_line", "batch_size": 50, "count": 2}],
            "run": {"budget": 1000, "seed": 4}}
    a, b = (qd.evolve(spec, write=False) for _ in range(2))
    ea, eb = a.archive.elites(), b.archive.elites()
    np.testing.assert_array_equal(ea["index"], eb["index"])
    np.testing.assert_array_equal(ea["solution"], eb["solution"])
    assert a.archive.stats() == b.archive.stats()
    assert a.metrics[-1].qd_score > a.metrics[0].qd_score


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    params = torch.rand(512, 36, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    cpu = HexapodGait(HexapodConfig()).evaluate(params)
    gpu = HexapodGait(HexapodConfig(), device="cuda").evaluate(params.cuda())
    torch.testing.assert_close(gpu[0].cpu(), cpu[0], rtol=0, atol=1e-9)
    torch.testing.assert_close(gpu[1].cpu(), cpu[1], rtol=0, atol=1e-12)
