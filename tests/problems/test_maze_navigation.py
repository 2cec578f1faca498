import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError

import qd
from problems.maze import LAYOUTS, RAY_ANGLES, MazeConfig, MazeNavigation

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- a plain-python reference robot, one individual at a time ---------------------------------


def ray_distance(x, y, angle, segments, max_range):
    dx, dy = math.cos(angle), math.sin(angle)
    best = max_range
    for x1, y1, x2, y2 in segments:
        ex, ey = x2 - x1, y2 - y1
        det = ex * dy - dx * ey  # Cramer's rule for t * d - u * e = a - p
        if det == 0:
            continue
        rx, ry = x1 - x, y1 - y
        t = (ex * ry - ey * rx) / det
        u = (dx * ry - dy * rx) / det
        if t >= 0 and 0 <= u <= 1:
            best = min(best, t)
    return best


def radar_slot(x, y, heading, goal):
    rel = math.atan2(goal[1] - y, goal[0] - x) - heading
    rel = (rel + math.pi) % (2 * math.pi) - math.pi  # in [-pi, pi)
    if -math.pi / 4 <= rel < math.pi / 4:
        return 0  # front
    if math.pi / 4 <= rel < 3 * math.pi / 4:
        return 1  # left
    if -3 * math.pi / 4 <= rel < -math.pi / 4:
        return 3  # right
    return 2  # back


def too_close(x, y, segments, radius):
    for x1, y1, x2, y2 in segments:
        ex, ey = x2 - x1, y2 - y1
        s = min(1.0, max(0.0, ((x - x1) * ex + (y - y1) * ey) / (ex * ex + ey * ey)))
        if math.hypot(x - (x1 + s * ex), y - (y1 + s * ey)) < radius:
            return True
    return False


def reference_rollout(problem, params):
    cfg, layout = problem.config, problem.layout
    net = problem.architecture.reference()
    torch.nn.utils.vector_to_parameters(torch.as_tensor(params), net.parameters())
    segments = layout.segments()
    x, y, heading = layout.start
    collisions = 0
    for _ in range(cfg.steps):
        obs = [ray_distance(x, y, heading + a, segments, cfg.sensor_range) / cfg.sensor_range
               for a in RAY_ANGLES]
        if cfg.radar:
            slots = [0.0] * 4
            slots[radar_slot(x, y, heading, layout.goal)] = 1.0
            obs += slots
        with torch.no_grad():
            left, right = net(torch.tensor([obs], dtype=torch.float64))[0].tolist()
        heading += cfg.turn_rate * (right - left) / 2
        speed = cfg.speed * (left + right) / 2
        nx, ny = x + speed * math.cos(heading), y + speed * math.sin(heading)
        if math.dist((x, y), layout.goal) <= cfg.goal_radius:
            continue
        if too_close(nx, ny, segments, cfg.radius):
            collisions += 1
            continue
        x, y = nx, ny
    return (x, y), collisions


@pytest.mark.parametrize("options", [{}, {"radar": False, "hidden": [], "layout": "hard"}])
def test_batched_rollouts_equal_the_plain_python_reference(options):
    problem = MazeNavigation(MazeConfig(steps=60, **options))
    gen = torch.Generator().manual_seed(4)
    params = torch.randn(12, problem.solution_dim, generator=gen, dtype=torch.float64) * 2
    objectives, measures = problem.evaluate(params)
    total_collisions = 0
    for i in range(len(params)):
        (x, y), collisions = reference_rollout(problem, params[i])
        total_collisions += collisions
        assert measures[i].tolist() == pytest.approx([x, y], abs=1e-9)
        distance = math.dist((x, y), problem.layout.goal)
        assert objectives[i].item() == pytest.approx(-distance, abs=1e-9)
    assert total_collisions > 0  # the walls were exercised
    assert len({round(v, 6) for v in measures[:, 0].tolist()}) > 6  # robots went different ways


def test_range_finders_and_radar_at_the_start():
    problem = MazeNavigation(MazeConfig())  # medium: start (10, 15) facing +x
    sim = problem.sim
    pos, heading = sim.reset(1)
    ranges = sim.ranges(pos, heading)[0].tolist()
    # right: floor 15 away; front-right: floor at 15 * sqrt(2); front: far wall beyond the range;
    # front-left: wall y=35 at 20 * sqrt(2); left: wall y=35; back: left side of the box.
    expected = [15.0, 15 * math.sqrt(2), 50.0, 20 * math.sqrt(2), 20.0, 10.0]
    assert ranges == pytest.approx(expected)
    assert sim.radar(pos, heading)[0].tolist() == [1.0, 0.0, 0.0, 0.0]  # goal at 43 deg: front
    assert sim.radar(pos, heading + 1.7)[0].tolist() == [0.0, 0.0, 0.0, 1.0]  # now on the right
    assert sim.observe(pos, heading).shape == (1, len(RAY_ANGLES) + 4)


def test_walls_stop_the_robot():
    problem = MazeNavigation(MazeConfig(steps=100))
    sim = problem.sim
    pos, heading = sim.reset(1)
    heading = heading + math.pi / 2  # face the wall y = 35
    for _ in range(100):
        pos, heading = sim.step(pos, heading, torch.ones(1, 2, dtype=torch.float64))
    x, y = pos[0].tolist()
    assert x == pytest.approx(10.0)
    cfg = problem.config
    assert 35 - cfg.radius - cfg.speed < y <= 35 - cfg.radius  # stopped short of the wall


def test_zero_policy_stays_at_start_and_bounds_hold():
    problem = MazeNavigation(MazeConfig())
    obj, meas = problem.evaluate(torch.zeros(1, problem.solution_dim, dtype=torch.float64))
    assert meas[0].tolist() == pytest.approx([10.0, 15.0])
    assert problem.objective_bounds == (-math.hypot(100, 100), 0.0)
    params = torch.randn(64, problem.solution_dim, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(0)) * 3
    obj, meas = problem.evaluate(params)
    assert bool((obj <= 0).all() and (obj >= problem.objective_bounds[0]).all())
    assert bool(((meas >= 0) & (meas <= 100)).all())
    obj2, meas2 = problem.evaluate(params)
    assert torch.equal(obj, obj2) and torch.equal(meas, meas2)  # deterministic


def test_config_is_validated():
    with pytest.raises(ValidationError, match="step through a wall"):
        MazeConfig(speed=4.0, radius=2.0)
    with pytest.raises(ValidationError, match="extra"):
        MazeConfig(stepz=3)
    assert set(LAYOUTS) == {"medium", "hard"}


def test_seeded_runs_are_reproducible():
    runs = [qd.evolve("maze_navigation", budget=768, seed=5, write=False) for _ in range(2)]
    a, b = (r.archive.elites() for r in runs)
    order_a, order_b = np.argsort(a["index"]), np.argsort(b["index"])
    np.testing.assert_array_equal(a["solution"][order_a], b["solution"][order_b])
    np.testing.assert_array_equal(a["objective"][order_a], b["objective"][order_b])
    assert runs[0].archive.stats() == runs[1].archive.stats()


@pytest.mark.slow  # 7-30 s; benchmarks/exploration.py measures goal reaching on this maze
def test_novelty_search_reaches_the_goal():
    # `qd evolve maze_novelty` (proximity archive) in the deceptive medium maze; with seed 1 the
    # goal region (5 units, 5% of the maze side) is first reached after about 6,000 evaluations.
    result = qd.evolve("maze_novelty", budget=15_000, seed=1, write=False)
    assert result.archive.stats().best >= -result.spec.problem.goal_radius


def test_archive_override_gives_novelty_search():
    result = qd.evolve("maze_navigation", budget=256, overrides=["archive.name=proximity"],
                       write=False)
    assert result.spec.archive.name == "proximity"
    assert result.archive.stats().num_elites > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    params = torch.randn(256, MazeNavigation(MazeConfig()).solution_dim, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(2))
    cpu = MazeNavigation(MazeConfig(steps=80)).evaluate(params)
    gpu = MazeNavigation(MazeConfig(steps=80), device="cuda").evaluate(params.cuda())
    close = torch.isclose(gpu[1].cpu(), cpu[1], atol=1e-6).all(dim=1)
    assert close.float().mean() >= 0.95  # rare wall-contact ties may break differently
    torch.testing.assert_close(gpu[0].cpu()[close], cpu[0][close], rtol=0, atol=1e-6)
