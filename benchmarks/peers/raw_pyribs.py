"""Peer baseline: a raw pyribs 0.12 MAP-Elites loop on the 100-DoF arm (numpy evaluation).

GridArchive (100 x 100 over [-100, 100]^2, qd_score_offset -(pi^2)) + one IsoLineEmitter
(x0 = 0, bounds [-pi, pi], batch_size = --batch) + Scheduler; the arm is evaluated in numpy
float64. Run with the repo's venv:

    .venv/bin/python benchmarks/peers/raw_pyribs.py --batch 540 --evaluations 200000 --seed 0

Prints one JSON line: tool, version, evaluations, seconds (the ask/evaluate/tell loop),
evals_per_s, qd_score, coverage, operator, and a few extras (iterations, batch, num_elites).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import ribs
from ribs.archives import GridArchive
from ribs.emitters import IsoLineEmitter
from ribs.schedulers import Scheduler

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _arm  # noqa: E402


def evaluate(solutions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Objectives -Var(theta) and end-effector measures of a (B, DOF) batch."""
    objectives = -np.var(solutions, axis=1)
    cumulative = np.cumsum(solutions, axis=1)
    measures = _arm.LINK * np.stack(
        (np.cos(cumulative).sum(axis=1), np.sin(cumulative).sum(axis=1)), axis=1)
    return objectives, measures


def main() -> None:
    """Run the loop and print its JSON line."""
    args = _arm.parse_args(__doc__.splitlines()[0])
    archive = GridArchive(solution_dim=_arm.DOF, dims=_arm.GRID, ranges=_arm.MEASURE_RANGES,
                          qd_score_offset=_arm.QD_OFFSET, seed=args.seed)
    emitter = IsoLineEmitter(archive, iso_sigma=args.iso_sigma, line_sigma=args.line_sigma,
                             x0=np.zeros(_arm.DOF), bounds=[(_arm.LOW, _arm.HIGH)] * _arm.DOF,
                             batch_size=args.batch, seed=args.seed)
    scheduler = Scheduler(archive, [emitter])
    evaluations = 0
    t0 = time.perf_counter()
    for _ in range(args.iterations):
        solutions = scheduler.ask()
        objectives, measures = evaluate(solutions)
        scheduler.tell(objectives, measures)
        evaluations += len(solutions)
    seconds = time.perf_counter() - t0
    stats = archive.stats
    _arm.emit({
        "tool": "pyribs", "version": ribs.__version__, "evaluations": evaluations,
        "seconds": seconds, "compile_s": None, "qd_score": float(stats.qd_score),
        "coverage": float(stats.coverage),
        "operator": f"ribs IsoLineEmitter (iso_sigma={args.iso_sigma}, "
                    f"line_sigma={args.line_sigma}, clip to [-pi, pi]; first batch "
                    "x0=0 + iso_sigma*N(0, I))",
        "iterations": args.iterations, "batch": args.batch, "seed": args.seed,
        "num_elites": int(stats.num_elites),
    })


if __name__ == "__main__":
    main()
