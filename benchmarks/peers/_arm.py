"""The shared task of the peer MAP-Elites baselines: constants and the command line.

Kept free of any third-party import so that every peer venv (pyribs, QDax, EvoTorch) can use it.
The task is the 100-DoF planar arm of `problems/arm.py`: a solution is 100 joint angles in
[-pi, pi], link length 1, measures = end-effector (x, y) = (sum cos(cumsum theta),
sum sin(cumsum theta)) in [-100, 100]^2, objective = -Var(theta) (population variance),
archived in a 100 x 100 grid; QD score = sum over elites of (objective - offset) with
offset = -(pi^2), the worst objective.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

DOF = 100
LINK = 1.0
LOW, HIGH = -math.pi, math.pi
REACH = DOF * LINK
MEASURE_RANGES = ((-REACH, REACH), (-REACH, REACH))
GRID = (100, 100)
CELLS = GRID[0] * GRID[1]
QD_OFFSET = -(math.pi**2)


def parse_args(description: str) -> argparse.Namespace:
    """The command line every peer script shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--batch", type=int, default=540, help="solutions per iteration")
    parser.add_argument("--evaluations", type=int, default=200_000,
                        help="evaluation budget; runs evaluations // batch iterations (>= 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iso-sigma", type=float, default=0.05)
    parser.add_argument("--line-sigma", type=float, default=0.2)
    args = parser.parse_args()
    if args.batch < 1 or args.evaluations < 1:
        parser.error("--batch and --evaluations must be positive")
    args.iterations = max(1, args.evaluations // args.batch)
    return args


def emit(record: dict[str, Any]) -> None:
    """Print the one JSON line the lead's benchmark reads (everything else goes to stderr)."""
    seconds = record["seconds"]
    record["evals_per_s"] = record["evaluations"] / seconds if seconds > 0 else None
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
