"""MuJoCo robots: env-steps/s of the batched evaluator vs gymnasium, and a short QD run each.

Stepping (walker2d_uni on gymnasium's Walker2d-v5 model, ant_omni on Ant-v5): B policies
(zero-centred MLPs 64-64 with noise 0.05, so that episodes last) for T control steps, counted
as simulated environment steps per second, by

- `qd_evaluator`: `problem.episodes` (one torch batch per step, one `mj_step(nstep=frame_skip)`
  plus one `mj_forward` per live environment, terminated episodes stop); `qd_evaluator_threads2`
  the same with `threads = 2`;
- `mj_step_loop`: the bare physics of the same controls: a Python loop of
  `mj_step(model, data, nstep=frame_skip)` over the B datas, per control step;
- `rollout_nthread1` / `rollout_nthread2`: the same physics with `mujoco.rollout.Rollout`
  (`nstep = frame_skip` from the current states, one call per control step, persistent pool);
- `gymnasium_sync_vector`: `gymnasium.vector.SyncVectorEnv` of B copies of the gymnasium env
  (same start seed, same policy batch per step, autoreset), B x T steps.

The open-loop controls of the physics-only rows are the actions the policies took in the
`qd_evaluator` run. QD: MAP-Elites with the built-in spec of each task at a small budget.

    python benchmarks/robots.py [--quick] [--save-doc] [--out PATH]

Writes runs/bench/robots.json: {"steps_per_s": {task: {variant: steps/s}},
"speedup_vs_gymnasium": {task: qd_evaluator / gymnasium_sync_vector},
"qd": {task: {"budget", "evaluations", "qd_score", "coverage", "best", "seconds"}}}.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, median, print_table, write_result  # noqa: E402

import qd  # noqa: E402  (imports the registries in the right order)
from problems import problem_registry  # noqa: E402
from problems.mujoco_tasks import TASKS  # noqa: E402

GYM_OPTIONS = {"ant_omni": {"include_cfrc_ext_in_observation": False}}


def make(name: str, **options):
    cls = problem_registry.get(name)
    return cls(cls.Config(**options))


def policies(problem, batch: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return 0.05 * torch.randn(batch, problem.solution_dim, generator=gen, dtype=torch.float64)


def recorded_controls(problem, x: torch.Tensor) -> np.ndarray:
    """(T, B, nu) actions the policies take in the evaluator's episodes."""
    sim = problem.sim
    controls = []
    original = sim.step

    def step(ctrl, live):
        controls.append(ctrl.copy())
        original(ctrl, live)

    sim.step = step
    try:
        problem.episodes(x)
    finally:
        del sim.step
    return np.stack(controls)


def evaluator_rate(problem, x: torch.Tensor, repeats: int) -> float:
    times, steps = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        ep = problem.episodes(x)
        times.append(time.perf_counter() - t0)
        steps = int(ep.counted.sum())
    return steps / median(times)


def loop_rate(problem, controls: np.ndarray, repeats: int) -> float:
    import mujoco

    m, fs = problem.model, problem.task.frame_skip
    times = []
    for _ in range(repeats):
        datas = [mujoco.MjData(m) for _ in range(controls.shape[1])]
        for d in datas:
            d.qpos[:], d.qvel[:] = problem.qpos0, problem.qvel0
        t0 = time.perf_counter()
        for ctrl in controls:
            for d, c in zip(datas, ctrl, strict=True):
                d.ctrl[:] = c
                mujoco.mj_step(m, d, nstep=fs)
            np.stack([d.qpos for d in datas]), np.stack([d.qvel for d in datas])
        times.append(time.perf_counter() - t0)
    return controls.shape[0] * controls.shape[1] / median(times)


def rollout_rate(problem, controls: np.ndarray, nthread: int, repeats: int) -> float:
    import mujoco
    from mujoco import rollout

    m, fs = problem.model, problem.task.frame_skip
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    d0 = mujoco.MjData(m)
    d0.qpos[:], d0.qvel[:] = problem.qpos0, problem.qvel0
    start = np.empty(mujoco.mj_stateSize(m, spec))
    mujoco.mj_getState(m, d0, start, spec)
    times = []
    with rollout.Rollout(nthread=nthread) as pool:
        datas = [mujoco.MjData(m) for _ in range(max(1, nthread))]
        for _ in range(repeats):
            state = np.tile(start, (controls.shape[1], 1))
            t0 = time.perf_counter()
            for ctrl in controls:
                out, _ = pool.rollout(m, datas, state, np.repeat(ctrl[:, None], fs, axis=1),
                                      nstep=fs)
                state = out[:, -1]
            times.append(time.perf_counter() - t0)
    return controls.shape[0] * controls.shape[1] / median(times)


def gymnasium_rate(name: str, problem, x: torch.Tensor, steps: int, repeats: int) -> float:
    import gymnasium as gym

    env_id = TASKS[name].env
    policy = problem.architecture.unflatten(x)
    times = []
    for _ in range(repeats):
        envs = gym.vector.SyncVectorEnv(
            [lambda: gym.make(env_id, **GYM_OPTIONS.get(name, {})) for _ in range(len(x))])
        obs, _ = envs.reset(seed=[problem.config.reset_seed] * len(x))
        t0 = time.perf_counter()
        for _ in range(steps):
            with torch.no_grad():
                action = problem.actions(policy(torch.from_numpy(obs)).numpy())
            obs, *_ = envs.step(action)
        times.append(time.perf_counter() - t0)
        envs.close()
    return steps * len(x) / median(times)


def stepping(name: str, batch: int, repeats: int) -> dict[str, float]:
    problem = make(name)
    x = policies(problem, batch)
    controls = recorded_controls(problem, x)
    threaded = make(name, threads=2)
    return {
        "qd_evaluator": evaluator_rate(problem, x, repeats),
        "qd_evaluator_threads2": evaluator_rate(threaded, x, repeats),
        "mj_step_loop": loop_rate(problem, controls, repeats),
        "rollout_nthread1": rollout_rate(problem, controls, 1, repeats),
        "rollout_nthread2": rollout_rate(problem, controls, 2, repeats),
        "gymnasium_sync_vector": gymnasium_rate(name, problem, x, problem.config.episode_length,
                                                repeats),
    }


def qd_run(name: str, budget: int) -> dict[str, float]:
    t0 = time.perf_counter()
    result = qd.evolve(name, budget=budget, seed=0, write=False)
    stats = result.archive.stats()
    return {"budget": budget, "evaluations": result.end.evaluations,
            "qd_score": stats.qd_score, "coverage": stats.coverage, "best": stats.best,
            "seconds": time.perf_counter() - t0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="B = 32, 1 repeat, QD budget 1000")
    add_output_args(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    batch, repeats = (32, 1) if args.quick else (128, 3)
    budgets = {"walker2d_uni": 1000, "ant_omni": 500} if args.quick else {
        "walker2d_uni": 10000, "ant_omni": 5000}
    rates = {name: stepping(name, batch, repeats) for name in ("walker2d_uni", "ant_omni")}
    speedup = {name: r["qd_evaluator"] / r["gymnasium_sync_vector"] for name, r in rates.items()}
    results = {name: qd_run(name, budget) for name, budget in budgets.items()}
    columns = ["task", *next(iter(rates.values()))]
    print_table(f"env-steps/s, B = {batch}", columns,
                [[name, *r.values()] for name, r in rates.items()])
    print_table("QD", ["task", *next(iter(results.values()))],
                [[name, *r.values()] for name, r in results.items()])
    payload = {"batch": batch, "episode_length": 100, "steps_per_s": rates,
               "speedup_vs_gymnasium": speedup, "qd": results}
    print(f"wrote {write_result('robots', payload, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
