"""Engine overhead: the same CMA-ME run through `qd.evolve` and through a raw pyribs loop.

sphere_lp (100-D), 5 CMA-ME emitters x batch 36, 100x100 grid, same seeds, in one process.
Both loops use the same objective function (qd's batched sphere_lp), so the difference is the
engine: spec handling, seeding, torch<->numpy moves and per-iteration metrics ("ratio", qd in
memory), and also the run folder with its store and checkpoints ("ratio_with_store").

    python benchmarks/engine_overhead.py [--quick] [--save-doc] [--out PATH]

Writes runs/bench/engine_overhead.json:
{"iters_per_s_qd", "iters_per_s_raw", "ratio", "qd_score_qd", "qd_score_raw"}.
Target: ratio >= 0.9 and equal QD scores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from ribs.archives import GridArchive
from ribs.emitters import EvolutionStrategyEmitter
from ribs.schedulers import Scheduler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, median, print_table, timed, write_result  # noqa: E402

import qd  # noqa: E402
from problems.linear_projection import SphereLP, SphereLPConfig  # noqa: E402
from qd.seeds import derive_seeds  # noqa: E402

DIM, EMITTERS, BATCH, SEED = 100, 5, 36, 7


def raw_pyribs(iterations: int) -> float:
    """A hand-written pyribs ask/tell loop; returns the final QD score."""
    problem = SphereLP(SphereLPConfig(dim=DIM))
    seeds = derive_seeds(SEED, 1 + EMITTERS)
    archive = GridArchive(
        solution_dim=DIM,
        dims=[100, 100],
        ranges=problem.measure_bounds,
        qd_score_offset=problem.objective_bounds[0],
        seed=seeds[0],
    )
    emitters = [
        EvolutionStrategyEmitter(archive, x0=np.zeros(DIM), sigma0=0.5, batch_size=BATCH, seed=s)
        for s in seeds[1:]
    ]
    scheduler = Scheduler(archive, emitters)
    for _ in range(iterations):
        solutions = scheduler.ask()
        objectives, measures = problem.evaluate(torch.from_numpy(solutions))
        scheduler.tell(objectives.numpy(), measures.numpy())
    return float(archive.stats.qd_score)


def via_qd(iterations: int, out: Path | None) -> float:
    """The same configuration through the public API (a full run folder unless `out` is None)."""
    spec = {
        "problem": {"name": "sphere_lp", "dim": DIM},
        "archive": {"name": "grid", "cells": [100, 100]},
        "emitters": [{"name": "cma_me", "count": EMITTERS, "batch_size": BATCH, "sigma0": 0.5}],
        "run": {"budget": iterations * EMITTERS * BATCH, "seed": SEED},
    }
    result = qd.evolve(spec, out=out, write=out is not None)
    return result.end.stats.qd_score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (< 60 s)")
    parser.add_argument("--repeats", type=int, default=None)
    add_output_args(parser)
    args = parser.parse_args()
    iterations = 400 if args.quick else 1000
    repeats = args.repeats or (3 if args.quick else 5)
    raw_pyribs(3)  # warm-up: numba compiles pyribs' CMA-ES kernels once per process
    t_qd, t_store, t_raw, score_qd, score_raw = [], [], [], 0.0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            dt, score_raw = timed(lambda: raw_pyribs(iterations))
            t_raw.append(dt)
            dt, score_qd = timed(lambda: via_qd(iterations, None))
            t_qd.append(dt)
            dt, score_store = timed(lambda r=r: via_qd(iterations, Path(tmp) / f"run{r}"))
            t_store.append(dt)
            assert score_store == score_qd
    ips_qd, ips_raw = iterations / median(t_qd), iterations / median(t_raw)
    ips_store = iterations / median(t_store)
    result = {
        "iterations": iterations,
        "repeats": repeats,
        "iters_per_s_qd": ips_qd,
        "iters_per_s_raw": ips_raw,
        "ratio": ips_qd / ips_raw,
        "iters_per_s_qd_with_store": ips_store,
        "ratio_with_store": ips_store / ips_raw,
        "qd_score_qd": score_qd,
        "qd_score_raw": score_raw,
        "equal_qd_scores": score_qd == score_raw,
    }
    print_table(
        f"engine overhead: CMA-ME sphere_lp {DIM}-D, {EMITTERS}x{BATCH}, {iterations} iterations",
        ["loop", "iterations/s (median)", "QD score"],
        [["raw pyribs", ips_raw, score_raw], ["qd.evolve (in memory)", ips_qd, score_qd],
         ["qd.evolve (run folder + store)", ips_store, score_qd],
         ["ratio qd/raw", result["ratio"], "equal" if score_qd == score_raw else "DIFFERENT"],
         ["ratio with store", result["ratio_with_store"], ""]],
    )
    print(f"wrote {write_result('engine_overhead', result, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
