"""Batched evaluation: evaluations/s of one torch call for B solutions vs a per-individual loop.

For arm_repertoire (12 joints) and maze_navigation (medium maze, T = 200 steps, MLP 10-8-2), the
batched problem evaluates B = 1, 64, 1024 and 16384 random solutions in one call; the baseline
is a Python loop calling the same problem on one solution at a time. Timings are medians of up
to `--repeats` runs (fewer once a measurement has taken 3 s with --quick, 30 s without).

    python benchmarks/batched_eval.py [--quick] [--device cpu|cuda] [--threads N]
                                      [--save-doc] [--out PATH]

Writes runs/bench/batched_eval.json:
{"device", "threads", "arm": {...}, "maze": {...}, "speedup_arm", "speedup_maze"}, where a
speedup is the best batched evaluations/s over the per-individual loop's. Target on CPU: >= 50x
for both. On CPU the default is one torch thread, so the ratio measures vectorisation alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, median, print_table, write_result  # noqa: E402

import qd  # noqa: E402, F401  (imports the registries in the right order)
from problems.arm import ArmConfig, ArmRepertoire  # noqa: E402
from problems.maze import MazeConfig, MazeNavigation  # noqa: E402

BATCH_SIZES = (1, 64, 1024, 16384)


def timer(device: torch.device) -> Callable[[Callable[[], object]], float]:
    """A wall-clock timer that waits for the device to finish."""

    def run(fn: Callable[[], object]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - t0

    return run


def repeated(clock, fn, repeats: int, budget_s: float) -> float:
    """Median time of `fn` over `repeats` runs, stopping early once `budget_s` is spent."""
    times: list[float] = []
    while len(times) < repeats and (not times or sum(times) < budget_s):
        times.append(clock(fn))
    return median(times)


def batched_rates(problem, sample, device, args) -> dict[str, float]:
    """Median evaluations/s of one `evaluate` call per batch size."""
    clock = timer(device)
    rates = {}
    with torch.no_grad():
        problem.evaluate(sample(64).to(device))  # warm-up (allocations, CUDA kernels)
        for batch in BATCH_SIZES:
            x = sample(batch).to(device)
            seconds = repeated(clock, lambda x=x: problem.evaluate(x), args.repeats, args.budget_s)
            rates[str(batch)] = batch / seconds
    return rates


def loop_rate(problem, sample, device, individuals: int, args) -> float:
    """Median evaluations/s of a Python loop evaluating one solution per call."""
    clock = timer(device)
    x = sample(individuals).to(device)

    def loop() -> None:
        for i in range(individuals):
            problem.evaluate(x[i : i + 1])

    with torch.no_grad():
        problem.evaluate(x[:1])
        return individuals / repeated(clock, loop, args.repeats, args.budget_s)


def measure(name, problem, sample, device, args) -> dict:
    """Batched and per-individual rates of one problem."""
    gen = torch.Generator().manual_seed(0)

    def draw(n: int) -> torch.Tensor:
        return sample(n, gen)

    loop_n = {"arm": 400 if args.quick else 2000, "maze": 8 if args.quick else 40}[name]
    out = {
        "loop_evals_per_s": loop_rate(problem, draw, device, loop_n, args),
        "batched_evals_per_s": batched_rates(problem, draw, device, args),
    }
    out["speedup"] = max(out["batched_evals_per_s"].values()) / out["loop_evals_per_s"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (< 60 s on CPU)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--repeats", type=int, default=None)
    add_output_args(parser)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: torch sees no CUDA GPU here", file=sys.stderr)
        return 2
    args.repeats = args.repeats or (3 if args.quick else 7)
    args.budget_s = 3.0 if args.quick else 30.0  # per measurement; at least one run each
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    arm = ArmRepertoire(ArmConfig(joints=12), device)
    maze = MazeNavigation(MazeConfig(), device)
    results = {
        "arm": measure("arm", arm, lambda n, g: (torch.rand(n, arm.solution_dim, generator=g,
                                                            dtype=torch.float64) * 2 - 1) * 3.14,
                       device, args),
        "maze": measure("maze", maze, lambda n, g: torch.randn(n, maze.solution_dim, generator=g,
                                                               dtype=torch.float64),
                        device, args),
    }
    steps = maze.steps
    results["maze"]["steps"] = steps
    results["maze"]["env_steps_per_s"] = {
        b: r * steps for b, r in results["maze"]["batched_evals_per_s"].items()
    }
    rows = []
    for name in ("arm", "maze"):
        r = results[name]
        rows.append([name, "loop (1 per call)", r["loop_evals_per_s"], 1.0,
                     r["loop_evals_per_s"] * steps if name == "maze" else "-"])
        for b, rate in r["batched_evals_per_s"].items():
            rows.append([name, f"batched B={b}", rate, rate / r["loop_evals_per_s"],
                         rate * steps if name == "maze" else "-"])
    payload = {"device": str(device), "threads": args.threads, "quick": args.quick,
               "repeats": args.repeats, "budget_s_per_measurement": args.budget_s, **results,
               "speedup_arm": results["arm"]["speedup"], "speedup_maze": results["maze"]["speedup"]}
    title = f"batched evaluation on {device} ({args.threads} thread(s)), median of <= "
    columns = ["problem", "mode", "evals/s", "vs loop", "env-steps/s"]
    print_table(title + f"{args.repeats} runs", columns, rows)
    print(f"speedup arm {payload['speedup_arm']:.0f}x, maze {payload['speedup_maze']:.0f}x")
    print(f"wrote {write_result('batched_eval', payload, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
