"""Paper-scale CMA-MAE, CMA-MAEGA and CMA-MEGA through `qd evolve` on the torch backend,
against the published QD scores.

The setting of pyribs' `examples/sphere.py`, which reproduces the CMA-MAE paper (Fontaine &
Nikolaidis, GECCO 2023): sphere linear projection, 100-D, a 100 x 100 grid, 15 emitters x 36
evaluations per iteration, 10,000 iterations. CMA-MAE: sigma0 0.5, archive learning rate 0.01,
threshold_min 0, improvement ranking, mu selection, basic restarts. CMA-MAEGA / CMA-MEGA: the
`cma_maega` / `cma_mega` defaults (sigma_g 10, step 1, gradient ascent; each emitter's 36
evaluations are 1 gradient point + 35 branches). QD scores come from the elitist result
archive, offset 0 (the objective is already in [0, 100]), so 1,000,000 is the maximum.

Published (pyribs docs/examples/sphere.md, 20 trials): CMA-MAE 633,369 / 81.02%, CMA-MAEGA
753,835 / 100%, CMA-MEGA 753,835 / 100%.

    python benchmarks/paper_scale.py [--quick] [--algorithms cma_mae cma_maega cma_mega]
        [--threads 1] [--save-doc] [--out PATH]

`--quick` runs 1/10 of the iterations (no published figure to compare with). Writes
runs/bench/paper_scale.json: per algorithm {"qd_score", "coverage", "seconds", "published",
"relative_gap"}. Target (issue 15): within 1% of the published QD score at full scale.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, add_output_args, print_table, write_result  # noqa: E402

import qd  # noqa: E402

PUBLISHED = {"cma_mae": (633_369.0, 0.8102), "cma_maega": (753_835.0, 1.0),
             "cma_mega": (753_835.0, 1.0)}
EMITTERS = {
    "cma_mae": {"name": "cma_mae", "sigma0": 0.5, "learning_rate": 0.01, "threshold_min": 0.0,
                "ranker": "imp", "selection_rule": "mu", "restart_rule": "basic"},
    "cma_maega": {"name": "cma_maega"},
    "cma_mega": {"name": "cma_mega"},
}


def spec(algorithm: str, iterations: int, seed: int) -> dict:
    return {
        "problem": {"name": "sphere_lp", "dim": 100},
        "archive": {"name": "grid", "cells": [100, 100], "qd_score_offset": 0.0},
        "emitters": [{**EMITTERS[algorithm], "count": 15, "batch_size": 36}],
        "run": {"budget": iterations * 15 * 36, "seed": seed, "backend": "torch",
                "store_evaluations": "none"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 iterations instead of 10,000")
    parser.add_argument("--algorithms", nargs="+", default=list(EMITTERS), choices=list(EMITTERS))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    add_output_args(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    iterations = 1_000 if args.quick else 10_000
    results, rows = {}, []
    for algorithm in args.algorithms:
        with tempfile.TemporaryDirectory(dir=ROOT / "runs") as folder:
            t0 = time.perf_counter()
            run = qd.evolve(spec(algorithm, iterations, args.seed), out=Path(folder) / "run")
            seconds = time.perf_counter() - t0
        stats = run.archive.stats()
        published, coverage = PUBLISHED[algorithm]
        gap = (stats.qd_score - published) / published
        results[algorithm] = {"qd_score": stats.qd_score, "coverage": stats.coverage,
                              "evaluations": run.end.evaluations, "seconds": seconds,
                              "published": published, "published_coverage": coverage,
                              "relative_gap": gap}
        rows.append([algorithm, f"{stats.qd_score:,.0f}", f"{100 * stats.coverage:.2f}%",
                     f"{published:,.0f}", f"{100 * coverage:.2f}%",
                     f"{100 * gap:+.2f}%" if not args.quick else "(quick)", f"{seconds:.0f}"])
    print_table(f"sphere_lp 100-D, 100x100, 15 x 36, {iterations:,} iterations, torch backend",
                ["algorithm", "QD score", "coverage", "published", "published cov.", "gap",
                 "seconds"], rows)
    write_result("paper_scale", {"quick": args.quick, "iterations": iterations,
                                 "seed": args.seed, "threads": args.threads,
                                 "results": results}, args)


if __name__ == "__main__":
    main()
