import gymnasium as gym
import mujoco
import numpy as np
import pytest
import torch
from pydantic import ValidationError

import qd
from problems import problem_registry
from problems.mujoco_tasks import TASKS, XY_LIMIT

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NAMES = ["walker2d_uni", "hopper_uni", "halfcheetah_uni", "ant_uni", "ant_omni", "humanoid_uni"]


def make(name, **options):
    cls = problem_registry.get(name)
    return cls(cls.Config(**options))


def solutions(problem, n, seed=0, spread=0.1):
    """n policies around the problem's search centre."""
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.as_tensor(problem.x0)
    return x0 + spread * torch.randn(n, problem.solution_dim, generator=gen, dtype=torch.float64)


#: Options and spread that give episodes of a few dozen steps with the feet on the ground: the
#: bipeds stand a while around 0 (around a LeCun-uniform centre they fall at once), the others
#: move more around a LeCun-uniform network.
LIVELY = {"walker2d_uni": ({}, 0.3), "humanoid_uni": ({}, 0.05)}


def lively(name, n, seed, **options):
    extra, spread = LIVELY.get(name, ({"init": "lecun_uniform"}, 0.1))
    problem = make(name, **extra, **options)
    return problem, solutions(problem, n, seed=seed, spread=spread)


def act(problem, params, obs):
    """The problem's policy on one observation (the same batched kernel the problem uses)."""
    policy = problem.architecture.unflatten(torch.as_tensor(params)[None].expand(2, -1))
    with torch.no_grad():
        out = policy(torch.as_tensor(obs)[None].expand(2, -1))[0].numpy()
    lo, hi = problem.model.actuator_ctrlrange.T
    return np.clip((lo + hi) / 2 + (hi - lo) / 2 * out, lo, hi)


# --- an independent one-environment episode, recorded step by step ---------------------------


def in_subtree(model, body, root):
    while body != root and body != 0:
        body = model.body_parentid[body]
    return body == root


def feet_on_floor(model, data, feet):
    """Per foot: does any contact of its subtree with the floor exist (read from data.contact)."""
    floor = model.geom("floor").id
    touching = [False] * len(feet)
    for i in range(data.ncon):
        g1, g2 = data.contact.geom[i]
        if floor not in (g1, g2):
            continue
        body = model.geom_bodyid[g2 if g1 == floor else g1]
        for k, name in enumerate(feet):
            if in_subtree(model, body, model.body(name).id):
                touching[k] = True
    return touching


def observation(name, d):
    if name in ("walker2d_uni", "hopper_uni"):
        return np.concatenate([d.qpos[1:], np.clip(d.qvel, -10, 10)])
    if name == "halfcheetah_uni":
        return np.concatenate([d.qpos[1:], d.qvel])
    if name.startswith("ant"):
        return np.concatenate([d.qpos[2:], d.qvel])
    return np.concatenate([d.qpos[2:], d.qvel, d.cinert[1:].ravel(), d.cvel[1:].ravel(),
                           d.qfrc_actuator[6:]])


def healthy(name, d):
    q, v = d.qpos, d.qvel
    if name == "walker2d_uni":
        return 0.8 < q[1] < 2.0 and -1.0 < q[2] < 1.0
    if name == "hopper_uni":
        return q[1] > 0.7 and -0.2 < q[2] < 0.2 and all(abs(s) < 100 for s in [*q[2:], *v])
    if name.startswith("ant"):
        return 0.2 <= q[2] <= 1.0
    if name == "humanoid_uni":
        return 1.0 <= q[2] <= 2.0
    return True


def forward_x(name, model, d):
    if name == "humanoid_uni":  # mass-weighted mean of the body centres (gymnasium's)
        return float((model.body_mass * d.xipos[:, 0]).sum() / model.body_mass.sum())
    return float(d.xpos[model.body("torso").id, 0])


def plain_episode(problem, name, params, steps):
    """QDax's scoring of one policy, written out: descriptors of the state before each step,
    rewards summed up to and including the first terminal step."""
    m, task = problem.model, TASKS[name]
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:] = problem.qpos0, problem.qvel0
    mujoco.mj_forward(m, d)
    dt = m.opt.timestep * task.frame_skip
    total, contacts, positions = 0.0, [], []
    for _ in range(steps):
        contacts.append(feet_on_floor(m, d, task.feet))
        positions.append(d.xpos[m.body("torso").id, :2].copy())
        action = act(problem, params, observation(name, d))
        x_before = forward_x(name, m, d)
        d.ctrl[:] = action
        mujoco.mj_step(m, d, nstep=task.frame_skip)
        mujoco.mj_forward(m, d)
        total += (task.forward_weight * (forward_x(name, m, d) - x_before) / dt
                  + task.healthy_reward - task.ctrl_weight * float(np.sum(action**2)))
        if not healthy(name, d):
            break
    feet = np.mean(np.array(contacts, dtype=float), axis=0)
    return total, feet, np.clip(positions[-1], -XY_LIMIT, XY_LIMIT), len(contacts)


@pytest.mark.parametrize("name", NAMES)
def test_scores_equal_an_independent_recorded_episode(name):
    steps = 60
    problem, x = lively(name, 4, seed=1, episode_length=steps)
    ep = problem.episodes(x)
    lengths = ep.counted.sum(1)
    assert lengths.max() > 30 and (ep.measures != 0).any()  # not trivially short or empty
    for i in range(4):
        total, feet, xy, n = plain_episode(problem, name, x[i].numpy(), steps)
        assert ep.counted[i].sum() == n
        assert ep.objective[i] == pytest.approx(total, rel=1e-10, abs=1e-9)
        if name == "ant_omni":
            np.testing.assert_array_equal(ep.measures[i], xy)
        else:
            np.testing.assert_array_equal(ep.measures[i], feet)
    objectives, measures = problem.evaluate(x)
    np.testing.assert_array_equal(objectives.numpy(), ep.objective)
    np.testing.assert_array_equal(measures.numpy(), ep.measures)


def test_some_episodes_terminate_early_and_are_measured_over_their_steps():
    problem = make("walker2d_uni", episode_length=100)
    ep = problem.episodes(solutions(problem, 8, seed=2, spread=0.3))
    lengths = ep.counted.sum(1)
    assert lengths.min() < 100
    assert not ep.counted[lengths.argmin(), lengths.min():].any()
    assert (ep.reward[~ep.counted] == 0).all() and not ep.feet[~ep.counted].any()
    expected = ep.feet.sum(1) / lengths[:, None]
    np.testing.assert_array_equal(ep.measures, expected)


@pytest.mark.parametrize("name,env,options", [
    ("walker2d_uni", "Walker2d-v5", {}),
    ("ant_omni", "Ant-v5", {"include_cfrc_ext_in_observation": False}),
])
def test_the_simulation_is_gymnasiums(name, env, options):
    """Same start (gymnasium's reset(seed)), same observations, same physics, bit for bit."""
    steps = 50
    problem, x = lively(name, 3, seed=1, episode_length=steps, reset_seed=3)
    ep = problem.episodes(x)
    assert ep.counted.sum(1).max() > 20
    for i in range(3):
        env_ = gym.make(env, **options).unwrapped
        obs, _ = env_.reset(seed=3)
        np.testing.assert_array_equal(env_.data.qpos, problem.qpos0)
        np.testing.assert_array_equal(env_.data.qvel, problem.qvel0)
        total, n = 0.0, 0
        for _ in range(steps):
            before = env_.data.qpos[:2].copy()
            obs, reward, terminated, _, info = env_.step(act(problem, x[i].numpy(), obs))
            n += 1
            total += reward
            if terminated:
                break
        assert ep.counted[i].sum() == n
        if name == "walker2d_uni":  # gymnasium v5 pays no healthy reward on the terminal step
            assert ep.objective[i] == pytest.approx(total + terminated, rel=1e-12)
        else:
            np.testing.assert_array_equal(ep.measures[i], np.clip(before, -XY_LIMIT, XY_LIMIT))


@pytest.mark.parametrize("name", ["walker2d_uni", "ant_omni", "humanoid_uni"])
def test_a_batch_equals_each_solution_alone_bit_for_bit(name):
    problem, x = lively(name, 5, seed=5, episode_length=40)
    objectives, measures = problem.evaluate(x)
    for i in range(5):
        o, m = problem.evaluate(x[i : i + 1])
        assert torch.equal(o[0], objectives[i]) and torch.equal(m[0], measures[i])
    o, m = problem.evaluate(x[1:4])
    assert torch.equal(o, objectives[1:4]) and torch.equal(m, measures[1:4])
    threaded, _ = lively(name, 0, seed=5, episode_length=40, threads=2)
    o, m = threaded.evaluate(x)
    assert torch.equal(o, objectives) and torch.equal(m, measures)


def test_scores_are_a_pure_function_of_the_parameters():
    a, b = (make("ant_uni", episode_length=30, init="lecun_uniform") for _ in range(2))
    x = solutions(a, 4, seed=6)
    first = a.evaluate(x)
    a.evaluate(solutions(a, 7, seed=7))  # another episode in between reuses the MjData
    for again in (a.evaluate(x), b.evaluate(x)):
        assert torch.equal(again[0], first[0]) and torch.equal(again[1], first[1])
    other_start = make("ant_uni", episode_length=30, reset_seed=1, init="lecun_uniform")
    other_start = other_start.evaluate(x)
    assert not torch.equal(other_start[0], first[0])


def test_start_state_noise():
    exact = make("hopper_uni", reset_noise_scale=0.0)
    np.testing.assert_array_equal(exact.qpos0, exact.model.qpos0)
    assert not exact.qvel0.any()
    noisy = make("hopper_uni")
    assert 0 < np.abs(noisy.qpos0 - noisy.model.qpos0).max() <= 5e-3


@pytest.mark.parametrize("name", NAMES)
def test_shapes_bounds_and_observations(name):
    problem = make(name, episode_length=15, init="lecun_uniform")
    env = gym.make(TASKS[name].env, **(
        {"include_cfrc_ext_in_observation": False} if name[:3] in ("ant", "hum") else {}))
    assert problem.observation_size == env.observation_space.shape[0]
    assert problem.model.nu == env.action_space.shape[0]
    assert problem.solution_dim == problem.architecture.num_params
    assert problem.architecture.sizes[1:-1] == (64, 64)
    assert problem.architecture.activation == "relu" and problem.solution_bounds is None
    feet = len(TASKS[name].feet)
    assert problem.measure_dim == (2 if name == "ant_omni" else feet)
    objectives, measures = problem.evaluate(solutions(problem, 4, seed=8, spread=0.5))
    assert objectives.shape == (4,) and measures.shape == (4, problem.measure_dim)
    assert bool(torch.isfinite(objectives).all())
    lo = torch.tensor([b[0] for b in problem.measure_bounds], dtype=torch.float64)
    hi = torch.tensor([b[1] for b in problem.measure_bounds], dtype=torch.float64)
    assert bool(((measures >= lo) & (measures <= hi)).all())
    assert problem.objective_bounds[0] < problem.objective_bounds[1]


def test_x0_is_zero_or_a_lecun_uniform_network():
    assert not make("walker2d_uni").x0.any()
    problem = make("walker2d_uni", init="lecun_uniform")
    x0 = problem.x0
    w1 = x0[: 64 * 17]
    assert np.abs(w1).max() <= np.sqrt(3 / 17) and np.abs(w1).max() > 0.9 * np.sqrt(3 / 17)
    assert not x0[64 * 17 : 64 * 17 + 64].any()  # zero biases
    np.testing.assert_array_equal(x0, make("walker2d_uni", init="lecun_uniform").x0)
    assert not np.array_equal(x0, make("walker2d_uni", init="lecun_uniform", init_seed=1).x0)


def test_config_is_validated():
    with pytest.raises(ValidationError):
        problem_registry.get("walker2d_uni").Config(episode_length=0)
    with pytest.raises(ValidationError, match="extra"):
        problem_registry.get("ant_omni").Config(legs=6)


def small_run(budget, **run):
    return {
        "problem": {"name": "walker2d_uni", "episode_length": 25},
        "archive": {"name": "cvt", "centroids": 32, "samples": 2000},
        "emitters": [{"name": "iso_line", "batch_size": 16, "iso_sigma": 0.05,
                      "line_sigma": 0.1}],
        "run": {"budget": budget, "seed": 3, **run},
    }


def test_short_walker_evolution_fills_cells():
    result = qd.evolve(small_run(96), write=False)
    stats = result.archive.stats()
    assert stats.num_elites >= 3
    assert result.metrics[-1].qd_score >= result.metrics[0].qd_score


def test_stopped_and_resumed_walker_run_equals_an_uninterrupted_one(tmp_path):
    def archive(run):
        data = np.load(run / "archive.npz")
        order = np.argsort(data["index"])
        return {k: data[k][order] for k in ("solution", "objective", "measures", "index")}

    qd.evolve(small_run(48), out=tmp_path / "stopped")
    qd.resume(tmp_path / "stopped", budget=96)
    qd.evolve(small_run(96), out=tmp_path / "whole")
    resumed, whole = archive(tmp_path / "stopped"), archive(tmp_path / "whole")
    for key in whole:
        np.testing.assert_array_equal(resumed[key], whole[key])


@pytest.mark.parametrize("emitter", [
    {"name": "gaussian", "sigma": 0.3},
    {"name": "cma_me", "sigma0": 0.3},
    {"name": "cma_mae", "sigma0": 0.3},
])
@pytest.mark.parametrize("backend", ["pyribs", "torch"])
def test_every_emitter_family_evolves_a_walker_repertoire(emitter, backend):
    spec = {
        "problem": {"name": "walker2d_uni", "episode_length": 15, "hidden": [8]},
        "archive": {"name": "cvt", "centroids": 32, "samples": 2000},
        "emitters": [{"batch_size": 12, **emitter}],
        "run": {"budget": 48, "seed": 1, "backend": backend},
    }
    result = qd.evolve(spec, write=False)
    assert result.end.evaluations == 48
    assert result.archive.stats().num_elites >= 2
