"""Store overhead: the same seeded run with the run store (SQLite + checkpoints) and without.

sphere_lp 100-D, 5 CMA-ME emitters x 36, 100x100 grid; "with" writes the full run folder
(every evaluated batch and its metrics in SQLite, checkpoints at the default interval and at the
end, metrics.jsonl, archive.npz), "without" keeps the run in memory. Same process, alternating
repeats, median times.

    python benchmarks/store_overhead.py [--quick] [--save-doc] [--out PATH]

Writes runs/bench/store_overhead.json with {"ratio"} = time with store / time without.
Target: <= 1.10 at the default checkpoint interval.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, median, print_table, timed, write_result  # noqa: E402

import qd  # noqa: E402

SEED = 11


def spec(iterations: int) -> dict:
    return {
        "problem": {"name": "sphere_lp", "dim": 100},
        "archive": {"name": "grid", "cells": [100, 100]},
        "emitters": [{"name": "cma_me", "count": 5, "batch_size": 36, "sigma0": 0.5}],
        "run": {"budget": iterations * 180, "seed": SEED},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (< 60 s)")
    add_output_args(parser)
    args = parser.parse_args()
    iterations = 500 if args.quick else 1500
    repeats = 3 if args.quick else 5
    qd.evolve(spec(3), write=False)  # warm-up: numba compiles pyribs' CMA-ES kernels
    with_store, without, sizes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            dt, plain = timed(lambda: qd.evolve(spec(iterations), write=False))
            without.append(dt)
            out = Path(tmp) / f"run{r}"
            dt, stored = timed(lambda out=out: qd.evolve(spec(iterations), out=out))
            with_store.append(dt)
            assert stored.end.stats == plain.end.stats, "the store changed the results"
            sizes.append(sum(p.stat().st_size for p in out.rglob("*") if p.is_file()))
    t_with, t_without = median(with_store), median(without)
    result = {
        "iterations": iterations,
        "evaluations": iterations * 180,
        "repeats": repeats,
        "seconds_with_store": t_with,
        "seconds_without_store": t_without,
        "ratio": t_with / t_without,
        "run_folder_bytes": int(median(sizes)),
        "checkpoint_seconds_default": 60.0,
    }
    print_table(
        f"store overhead: CMA-ME sphere_lp 100-D, 5x36, {iterations} iterations",
        ["variant", "seconds (median)", "run folder MB"],
        [["in memory", t_without, "-"],
         ["with run store", t_with, result["run_folder_bytes"] / 1e6],
         ["ratio with/without", result["ratio"], "target <= 1.10"]],
    )
    print(f"wrote {write_result('store_overhead', result, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
