"""MuJoCo robots: env-steps/s of the batched evaluator vs gymnasium, and a short QD run each.

Stepping (walker2d_uni on gymnasium's Walker2d-v5 model, ant_omni on Ant-v5): B policies
(zero-centred MLPs 64-64 with noise 0.05, so that episodes last) for T control steps, counted
as simulated environment steps per second, by

- `qd_threads1` / `qd`: `problem.episodes` (one torch batch per control step, one MuJoCo batch
  call stepping every live environment `frame_skip` times plus its forward pass, terminated
  episodes stop) on 1 thread / on every CPU (`problem.threads = 0`, the default);
- `physics_only`: the bare physics of the same controls, a Python loop of
  `mj_step(model, data, nstep=frame_skip)` over B MjData per control step, one thread: the
  floor of any one-thread evaluator (gymnasium's included);
- `gymnasium_sync`: `gymnasium.vector.SyncVectorEnv` of B copies of the gymnasium env (same
  start, same policy batch per step, autoreset), B x T steps, one process;
- `gymnasium_parallel`: one process per CPU, each a SyncVectorEnv of B / CPUs environments,
  all stepping at once (gymnasium's AsyncVectorEnv would run one process per environment);
- `warp` (with `--device cuda`): the same evaluator on MuJoCo Warp, B = `--gpu-batch`.

`physics_share` is gymnasium_sync / physics_only: the fraction of gymnasium's own step that is
MuJoCo. No evaluator running the same physics on c cores can beat gymnasium_sync by more than
c / physics_share (the `ceiling` column). QD: the built-in spec of each task at a small budget.

    python benchmarks/robots.py [--quick] [--save-doc] [--out PATH] [--device cuda]

Writes runs/bench/robots.json: {"steps_per_s": {task: {variant: steps/s}},
"speedup_vs_gymnasium": {task: qd / gymnasium_sync}, "speedup_vs_gymnasium_parallel": {...},
"physics_share": {...}, "ceiling": {...}, "qd": {task: {"budget", "evaluations", "qd_score",
"coverage", "best", "seconds"}}}.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import time
from pathlib import Path

import mujoco
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, median, print_table, write_result  # noqa: E402

import qd  # noqa: E402  (imports the registries in the right order)
from problems import problem_registry  # noqa: E402
from problems.locomotion_tasks import TASKS  # noqa: E402
from problems.mujoco_batch import available_cpus  # noqa: E402

GYM_OPTIONS = {"ant_omni": {"include_cfrc_ext_in_observation": False}}


def make(name: str, device: str = "cpu", **options):
    cls = problem_registry.get(name)
    return cls(cls.Config(**options), device=device)


def policies(problem, batch: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return 0.05 * torch.randn(batch, problem.solution_dim, generator=gen, dtype=torch.float64)


def recorded_controls(problem, x: torch.Tensor) -> np.ndarray:
    """(T, B, nu) actions the policies take in the evaluator's episodes."""
    sim = problem.sim
    controls = []
    original = sim.step

    def step(ctrl, live):
        controls.append(ctrl.cpu().numpy().copy())
        original(ctrl, live)

    sim.step = step
    try:
        problem.episodes(x)
    finally:
        del sim.step
    return np.stack(controls)


def evaluator_rate(problem, x: torch.Tensor, repeats: int) -> float:
    problem.episodes(x[:2])  # warm up (Warp compiles its kernels, CUDA captures its graph)
    times, steps = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        ep = problem.episodes(x)
        times.append(time.perf_counter() - t0)
        steps = int(ep.counted.sum())
    return steps / median(times)


def physics_rate(problem, controls: np.ndarray, repeats: int) -> float:
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
        times.append(time.perf_counter() - t0)
    return controls.shape[0] * controls.shape[1] / median(times)


def gymnasium_loop(name: str, x: torch.Tensor, repeats: int) -> float:
    """Median seconds of T steps of a SyncVectorEnv of len(x) gymnasium envs driven by the
    policies x (one process)."""
    import gymnasium as gym

    problem = make(name, threads=1)
    env_id, options = TASKS[name].env, GYM_OPTIONS.get(name, {})
    policy = problem.architecture.unflatten(x)
    times = []
    for _ in range(repeats):
        envs = gym.vector.SyncVectorEnv([lambda: gym.make(env_id, **options)] * len(x))
        obs, _ = envs.reset(seed=[problem.config.reset_seed] * len(x))
        t0 = time.perf_counter()
        for _ in range(problem.config.episode_length):
            with torch.no_grad():
                action = problem.actions(policy(torch.from_numpy(obs)).numpy())
            obs, *_ = envs.step(action)
        times.append(time.perf_counter() - t0)
        envs.close()
    return median(times)


def gymnasium_rate(name: str, x: torch.Tensor, repeats: int, workers: int = 1) -> float:
    """Env-steps/s of gymnasium: one SyncVectorEnv, or `workers` processes each stepping a
    block of the envs at the same time (gymnasium's AsyncVectorEnv runs one process per env,
    which on a few cores only adds context switches)."""
    steps = make(name, threads=1).config.episode_length * len(x)
    if workers == 1:
        return steps / gymnasium_loop(name, x, repeats)
    blocks = torch.tensor_split(x, workers)
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        seconds = list(pool.map(gymnasium_loop, [name] * workers, blocks, [repeats] * workers))
    return steps / max(seconds)


def stepping(name: str, batch: int, repeats: int) -> dict[str, float]:
    """Median env-steps/s of each variant over `repeats` rounds, the variants interleaved
    within a round (on a shared machine the load drifts; every variant sees the same drift)."""
    problem = make(name, threads=1)
    x = policies(problem, batch)
    controls = recorded_controls(problem, x)
    cpus = available_cpus()
    everyone = make(name)
    variants = {
        "qd_threads1": lambda: evaluator_rate(problem, x, 1),
        "qd": lambda: evaluator_rate(everyone, x, 1),
        "physics_only": lambda: physics_rate(problem, controls, 1),
        "gymnasium_sync": lambda: gymnasium_rate(name, x, 1),
        "gymnasium_parallel": lambda: gymnasium_rate(name, x, 1, cpus),
    }
    rounds = [{key: run() for key, run in variants.items()} for _ in range(repeats)]
    return {key: median([r[key] for r in rounds]) for key in variants}


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
    parser.add_argument("--device", default="cpu", help="cuda: also time MuJoCo Warp")
    parser.add_argument("--gpu-batch", type=int, default=8192, help="worlds per Warp batch")
    add_output_args(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    batch, repeats = (32, 1) if args.quick else (128, 5)
    budgets = {"walker2d_uni": 1000, "ant_omni": 500} if args.quick else {
        "walker2d_uni": 10000, "ant_omni": 5000}
    tasks = ("walker2d_uni", "ant_omni")
    rates = {name: stepping(name, batch, repeats) for name in tasks}
    if args.device != "cpu":
        for name in tasks:
            warp = make(name, args.device, physics="warp")
            rates[name]["warp"] = evaluator_rate(warp, policies(warp, args.gpu_batch).to(
                args.device), repeats)
    cpus = available_cpus()
    speedup = {n: r["qd"] / r["gymnasium_sync"] for n, r in rates.items()}
    speedup_parallel = {n: r["qd"] / r["gymnasium_parallel"] for n, r in rates.items()}
    share = {n: r["gymnasium_sync"] / r["physics_only"] for n, r in rates.items()}
    ceiling = {n: cpus / s for n, s in share.items()}
    results = {name: qd_run(name, budget) for name, budget in budgets.items()}
    columns = ["task", *next(iter(rates.values())), "x sync", "x parallel", "physics share",
               "ceiling"]
    print_table(f"env-steps/s, B = {batch}, {cpus} CPUs", columns,
                [[n, *r.values(), speedup[n], speedup_parallel[n], share[n], ceiling[n]]
                 for n, r in rates.items()])
    print_table("QD", ["task", *next(iter(results.values()))],
                [[name, *r.values()] for name, r in results.items()])
    payload = {"batch": batch, "episode_length": 100, "cpus": cpus, "steps_per_s": rates,
               "speedup_vs_gymnasium": speedup, "speedup_vs_gymnasium_parallel": speedup_parallel,
               "physics_share": share, "ceiling": ceiling, "qd": results}
    if args.device != "cpu":
        payload["gpu_batch"] = args.gpu_batch
    print(f"wrote {write_result('robots', payload, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
