"""Go-Explore on the maze: exact state restore, solving the deceptive maze, resume, spec errors."""

import math
import signal

import numpy as np
import pytest
import torch

import qd
from mutators.go_explore import GoExploreEmitter
from problems.explorable import StateSpaceProblem, is_explorable
from problems.maze import MazeConfig, MazeNavigation
from qd.numeric.build import build_components
from qd.spec_loader import load_spec
from qd.store import RunStore
from tests.resume.test_kill_resume import load_archive, start, wait_rows

torch.set_num_threads(1)
GOAL_RADIUS = 5.0


class ScriptedPolicy:
    """Stands in for a `BatchedMLP` in `MazeSimulator.rollout`: returns recorded actions."""

    def __init__(self, actions: torch.Tensor) -> None:
        self.actions = actions  # (steps, B, 2)
        self.batch_size = actions.shape[1]
        self.t = 0

    def __call__(self, observations: torch.Tensor) -> torch.Tensor:
        self.t += 1
        return self.actions[self.t - 1]


def steer(state: torch.Tensor, target: tuple[float, float]) -> torch.Tensor:
    """Wheel commands turning a robot towards `target`, then driving to it: (1, 2)."""
    x, y, heading = state[0, 0].item(), state[0, 1].item(), state[0, 2].item()
    want = math.atan2(target[1] - y, target[0] - x)
    error = math.remainder(want - heading, 2 * math.pi)
    if abs(error) > 1e-3:
        turn = max(-1.0, min(1.0, error / 0.5))  # heading += turn_rate * turn
        return torch.tensor([[-turn, turn]], dtype=torch.float64)
    forward = min(1.0, math.hypot(target[0] - x, target[1] - y) / 3.0)
    return torch.tensor([[forward, forward]], dtype=torch.float64)


def goal_actions(problem: MazeNavigation) -> torch.Tensor:
    """A hand-steered path through the medium maze into the goal, then 10 more moving steps."""
    waypoints = [(87.0, 15.0), (87.0, 50.0), (12.0, 50.0), (12.0, 74.0), (85.0, 74.0),
                 (85.0, 85.0)]
    state, actions = problem.start_states(1), []
    for target in waypoints:
        for _ in range(200):
            if math.hypot(state[0, 0] - target[0], state[0, 1] - target[1]) < 0.5:
                break
            actions.append(steer(state, target))
            state = problem.step_states(state, actions[-1])
    actions += [torch.tensor([[1.0, 0.5]], dtype=torch.float64)] * 10
    return torch.stack(actions)  # (steps, 1, 2)


def straight(problem: MazeNavigation, actions: torch.Tensor) -> list[torch.Tensor]:
    """States (1, 4) before the first step and after each step, stepping from the start."""
    states = [problem.start_states(1)]
    for action in actions:
        states.append(problem.step_states(states[-1], action))
    return states


def assert_exact_restore(problem: MazeNavigation, actions: torch.Tensor, j: int) -> None:
    """Restoring the state at step j amid other states and replaying j+1..n is exact."""
    states = straight(problem, actions)
    # the state API is the rollout's physics: same positions as `MazeSimulator.rollout`
    path: list[torch.Tensor] = []
    problem.sim.rollout(ScriptedPolicy(actions), len(actions), path)  # type: ignore[arg-type]
    assert all(torch.equal(p, s[:, :2]) for p, s in zip(path, states, strict=True))
    gen = torch.Generator().manual_seed(j)
    others = torch.rand(7, 4, generator=gen, dtype=torch.float64) * torch.tensor(
        [100.0, 100.0, 6.0, 50.0], dtype=torch.float64)
    batch = torch.cat((others[:3], states[j], others[3:]))
    for action in actions[j:]:
        noise = torch.rand(8, 2, generator=gen, dtype=torch.float64) * 2 - 1
        batch = problem.step_states(batch, torch.cat((noise[:3], action, noise[4:])))
    assert torch.equal(batch[3], states[-1][0])
    assert batch[3, 3].item() == len(actions)


def test_restore_is_exact_through_wall_contacts():
    problem = MazeNavigation(MazeConfig(layout="medium"))
    gen = torch.Generator().manual_seed(0)
    # mostly forward: the robot runs into the outer wall on the right and slides along walls
    actions = (torch.rand(80, 1, 2, generator=gen, dtype=torch.float64) * 0.6 + 0.4)
    states = straight(problem, actions)
    stuck = [t for t in range(80) if torch.equal(states[t][:, :2], states[t + 1][:, :2])]
    assert stuck, "the scripted robot never hit a wall"
    for j in (0, stuck[0] - 3, stuck[0], 79):
        assert_exact_restore(problem, actions, j)


def test_restore_is_exact_through_reaching_the_goal():
    problem = MazeNavigation(MazeConfig(layout="medium"))
    actions = goal_actions(problem)
    states = straight(problem, actions)
    final = states[-1][0]
    assert math.dist(final[:2].tolist(), (85.0, 85.0)) <= GOAL_RADIUS
    # a robot within goal_radius stops: the moving commands at the end do not move it
    assert torch.equal(states[-10][:, :2], states[-1][:, :2])
    assert not torch.equal(states[-10][:, 2], states[-1][:, 2])  # its heading still turns
    objective, measures = problem.evaluate_states(states[-1])
    assert objective.item() >= -GOAL_RADIUS and torch.equal(measures, states[-1][:, :2])
    n = len(actions)
    for j in (0, n // 2, n - 12, n - 3):
        assert_exact_restore(problem, actions, j)


def test_state_space_problem_scores_states():
    problem = MazeNavigation(MazeConfig(layout="medium"))
    assert is_explorable(problem)
    states = StateSpaceProblem(problem)
    assert states.solution_dim == 8 and states.solution_bounds is None  # state, origin
    assert states.measure_bounds == problem.measure_bounds
    assert states.objective_bounds == problem.objective_bounds
    np.testing.assert_array_equal(states.x0, [10.0, 15.0, 0.0, 0.0] * 2)
    objective, measures = states.evaluate(torch.tensor([[85.0, 82.0, 1.0, 9.0, 80, 80, 0, 5]],
                                                       dtype=torch.float64))
    assert objective.item() == -3.0 and measures.tolist() == [[85.0, 82.0]]


def test_emitter_asks_every_visited_state_and_counts_cells():
    components = build_components(load_spec("maze_go_explore", ["run.seed=4"]).spec)
    (emitter,) = components.emitters
    assert isinstance(emitter, GoExploreEmitter)
    assert components.batch_size == emitter.batch_size == 32 * 20
    first = components.scheduler.ask()
    assert first.shape == (640, 8)  # each visited state, then the state it was reached from
    np.testing.assert_array_equal(first[::20, 3], np.ones(32))  # all start at t = 0
    np.testing.assert_array_equal(first[19::20, 3], np.full(32, 20.0))
    np.testing.assert_array_equal(first[:, 4:], np.tile([10.0, 15.0, 0.0, 0.0], (640, 1)))
    objectives, measures = components.evaluator(first)
    components.scheduler.tell(objectives, measures)
    assert emitter.seen.sum() == 640 and emitter.chosen.sum() == 0  # nothing chosen yet
    second = components.scheduler.ask()
    components.scheduler.tell(*components.evaluator(second))
    assert emitter.chosen.sum() == 32
    # second-round explorations continue from archived states: t runs on from theirs, and
    # each row's origin is an archived state, the one restored for its segment
    assert (second[19::20, 3] > 20).any()
    first_rows = {row[:4].tobytes() for row in first}
    assert all(row[4:].tobytes() in first_rows for row in second)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_go_explore_reaches_the_goal_of_the_deceptive_maze(seed):
    result = qd.evolve("maze_go_explore", budget=100_000, seed=seed, write=False)
    stats = result.archive.stats()
    assert stats.best >= -GOAL_RADIUS
    assert stats.coverage > 0.8  # nearly every reachable 2x2 cell of the 50x50 grid
    hit = next(m.evaluations for m in result.metrics if m.best >= -GOAL_RADIUS)
    assert hit < 100_000


def test_seeded_run_is_reproducible():
    a = qd.evolve("maze_go_explore", budget=20_000, seed=7, write=False).archive.elites()
    b = qd.evolve("maze_go_explore", budget=20_000, seed=7, write=False).archive.elites()
    c = qd.evolve("maze_go_explore", budget=20_000, seed=8, write=False).archive.elites()
    for key in ("index", "solution", "objective", "measures"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["solution"], c["solution"])


RESUMABLE = ["run.checkpoint_every=4", "run.checkpoint_seconds=0"]


def test_resume_with_replay_equals_an_uninterrupted_run(tmp_path):
    reference = qd.evolve("maze_go_explore", budget=25_600, seed=3, write=False,
                          overrides=RESUMABLE)
    run = tmp_path / "run"
    qd.evolve("maze_go_explore", budget=12_800, seed=3, out=run, overrides=RESUMABLE)  # 20 it.
    store = RunStore.open(run, create=False)
    newest = store.checkpoints.all()[0]
    store.close()
    (run / "checkpoints" / newest.file).write_bytes(b"lost")  # forces a replay from iteration 16
    resumed = qd.resume(run, budget=25_600)
    assert resumed.restored.checkpoint_iteration == 16 and resumed.restored.replayed == 4
    assert resumed.end.evaluations == 25_600
    a, b = resumed.archive.elites(), reference.archive.elites()
    for key in ("index", "solution", "objective", "measures"):
        np.testing.assert_array_equal(a[key], b[key])
    # Checkpoints leave the problem (device tensors) out: a run can resume on another device.
    emitter = build_components(load_spec("maze_go_explore").spec).emitters[0]
    assert "_problem" not in emitter.__getstate__() and emitter._problem is not None
    # The report draws the paths to the best states, rebuilt from the stored origins.
    from qd.report.render import write_report

    assert "trajectory-paths" in write_report(run).read_text()


def test_paths_to_archived_states_are_rebuilt_from_the_store(tmp_path):
    from contextlib import closing

    from qd.report.source import open_run_store, read_run_files
    from qd.report.trajectories import maze_paths

    run = tmp_path / "run"
    result = qd.evolve("maze_go_explore", budget=100_000, seed=1, out=run)
    assert result.archive.stats().best >= -GOAL_RADIUS
    problem = MazeNavigation(MazeConfig(layout="medium"))
    elites = result.archive.elites()
    with closing(open_run_store(run)) as store:
        data = maze_paths(read_run_files(run), store, k=5)
    assert len(data["paths"]) == 5
    for path in data["paths"]:
        (at,) = np.flatnonzero(elites["index"] == path["index"])
        state = elites["solution"][at]
        xy = np.stack([path["x"], path["y"]], axis=1)
        assert len(xy) == int(state[3]) + 1  # the start, then one point per step
        np.testing.assert_array_equal(xy[0], [10.0, 15.0])  # the maze's start
        np.testing.assert_array_equal(xy[-1], state[:2])  # the archived state
        step = np.linalg.norm(np.diff(xy, axis=0), axis=1)
        assert step.max() <= problem.config.speed + 1e-9  # one physical step apart
        assert np.all(problem.sim.blocked(torch.from_numpy(xy)).numpy() == 0)  # never in a wall
    assert data["paths"][0]["objective"] >= -GOAL_RADIUS  # the best path ends at the goal


def test_sigkilled_run_resumes_to_the_uninterrupted_archive(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('[problem]\nname = "maze_navigation"\n[archive]\ncells = [50, 50]\n'
                    '[[emitters]]\nname = "go_explore"\nbatch_size = 16\nexplore_steps = 10\n'
                    '[run]\nbudget = 32000\nseed = 11\ncheckpoint_every = 7\n'
                    'checkpoint_seconds = 0\n')
    reference = qd.evolve(spec, out=tmp_path / "reference")
    run = tmp_path / "run"
    proc = start("evolve", str(spec), "--out", str(run))
    wait_rows(proc, run, 60)  # of 200 iterations
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = RunStore.open(run, create=False)
    killed_at = store.batches.last_iteration()
    store.close()
    assert 60 <= killed_at < 200  # killed mid-run
    proc = start("evolve", str(run), "--resume")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    resumed, expected = load_archive(run), load_archive(reference.path)
    for key in ("solution", "objective", "measures", "index"):
        np.testing.assert_array_equal(resumed[key], expected[key], err_msg=key)


def test_non_explorable_problem_is_one_spec_error_line(run_cli, tmp_path):
    (tmp_path / "problem.toml").write_text(
        '[problem]\nname = "sphere_lp"\n[[emitters]]\nname = "go_explore"\n')
    proc = run_cli("evolve", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "problem.name" in lines[0] and "'sphere_lp'" in lines[0] and "go_explore" in lines[0]


def test_mixing_with_a_gaussian_emitter_is_one_spec_error():
    spec = {"problem": {"name": "maze_navigation"},
            "emitters": [{"name": "go_explore"}, {"name": "gaussian"}]}
    with pytest.raises(qd.SpecError) as error:
        qd.evolve(spec, write=False)
    message = str(error.value)
    assert message.startswith("emitters: these emitters search different spaces") and \
        "go_explore (states)" in message and "gaussian (problem)" in message
    assert "\n" not in message


def test_archive_without_fixed_cells_is_refused():
    spec = {"problem": {"name": "maze_navigation"}, "archive": {"name": "proximity"},
            "emitters": [{"name": "go_explore"}]}
    with pytest.raises(qd.SpecError, match=r"^archive.name: the go_explore emitter needs"):
        qd.evolve(spec, write=False)
