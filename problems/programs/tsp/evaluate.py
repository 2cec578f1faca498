"""Evaluator of the TSP problems: `python evaluate.py CANDIDATE_PATH RESULT_PATH`.

The candidate is a whole program in C (`.c`), C++ (`.cpp`), Rust (`.rs`) or Go (`.go`),
chosen by its extension. It is compiled here, inside the sandbox (the compile time counts
within the sandbox's timeout), then run once per instance: it reads `n` and `n` lines "x y"
on stdin and prints a permutation of 0..n-1, the order of its tour. This process checks every
tour and writes one JSON object to RESULT_PATH:

    {"score": mean over instances of (nearest-neighbour tour length / the candidate's),
     "valid": bool, "measures": [fraction of tour edges joining near neighbours],
     "metrics": {...}, "feedback": "text for the next prompt"}

The nearest-neighbour tour from point 0 (the initial program) scores 1.0; 2-opt about 1.2.
Instances: three of 200 points uniform in the unit square and one of 200 points in 8
clusters, generated from a fixed seed. A program that does not compile, crashes, runs past
RUN_TIME_LIMIT_S (default 5) on an instance or prints a wrong tour gives valid=false, score 0,
with the reason (and the compiler's errors) in "feedback".
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path

SEED = 20250114
POINTS = 200
NEAR = 5  # an edge is "near" when one end is among the other's NEAR nearest points
RUN_TIME_LIMIT_S = float(os.environ.get("RUN_TIME_LIMIT_S", "5"))
COMPILE_TIME_LIMIT_S = float(os.environ.get("COMPILE_TIME_LIMIT_S", "120"))
BINARY = "tsp_candidate"
BUILD = {
    ".c": ["gcc", "-O2", "-std=gnu17", "-o", BINARY, "{src}", "-lm"],
    ".cpp": ["g++", "-O2", "-std=gnu++17", "-o", BINARY, "{src}"],
    ".rs": ["rustc", "--edition=2021", "-O", "-C", "codegen-units=1", "-o", BINARY, "{src}"],
    ".go": ["go", "build", "-o", BINARY, "{src}"],
}

Points = list[tuple[float, float]]


def instances() -> list[Points]:
    """The four instances, the same on every call: three uniform, one clustered."""
    rng = random.Random(SEED)
    out = [[(rng.random(), rng.random()) for _ in range(POINTS)] for _ in range(3)]
    centres = [(rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)) for _ in range(8)]
    clustered = []
    for i in range(POINTS):
        cx, cy = centres[i % len(centres)]
        clustered.append((min(1.0, max(0.0, rng.gauss(cx, 0.04))),
                          min(1.0, max(0.0, rng.gauss(cy, 0.04)))))
    return out + [clustered]


def tour_length(points: Points, tour: list[int]) -> float:
    """Length of the closed tour."""
    edges = zip(tour, tour[1:] + tour[:1], strict=True)
    return sum(math.dist(points[a], points[b]) for a, b in edges)


def nearest_neighbour(points: Points) -> list[int]:
    """The reference tour: nearest neighbour from point 0 (first nearest on ties)."""
    left, tour = set(range(1, len(points))), [0]
    while left:
        last = points[tour[-1]]
        best = min(left, key=lambda j: (math.dist(last, points[j]), j))
        tour.append(best)
        left.remove(best)
    return tour


def near_fraction(points: Points, tour: list[int]) -> float:
    """Fraction of the tour's edges whose ends are among each other's NEAR nearest points."""
    near = []
    for p in points:
        order = sorted(range(len(points)), key=lambda j: math.dist(p, points[j]))
        near.append(set(order[1 : NEAR + 1]))
    edges = list(zip(tour, tour[1:] + tour[:1], strict=True))
    return sum(b in near[a] or a in near[b] for a, b in edges) / len(edges)


def _invalid(reason: str, metrics: dict | None = None) -> dict:
    return {"score": 0.0, "valid": False, "measures": [0.0], "metrics": metrics or {},
            "feedback": f"Invalid: {reason.rstrip()}\nThe program scores 0."}


def build(candidate: Path) -> tuple[bool, str, float]:
    """Compile the candidate; (ok, compiler output, seconds)."""
    command = BUILD.get(candidate.suffix)
    if command is None:
        return False, f"no build command for {candidate.suffix!r} files", 0.0
    command = [part.replace("{src}", candidate.name) for part in command]
    start = time.monotonic()
    try:
        done = subprocess.run(command, cwd=candidate.parent, capture_output=True, text=True,
                              timeout=COMPILE_TIME_LIMIT_S, check=False)
    except subprocess.TimeoutExpired:
        return False, f"compiling took longer than {COMPILE_TIME_LIMIT_S:g} s", \
            COMPILE_TIME_LIMIT_S
    except OSError as err:
        return False, f"cannot run {command[0]}: {err}", time.monotonic() - start
    output = (done.stderr + done.stdout).strip()
    return done.returncode == 0, output, time.monotonic() - start


def run_tour(binary: Path, points: Points) -> tuple[list[int] | None, str, float]:
    """Run the program on one instance; (tour or None, problem text, seconds)."""
    text = f"{len(points)}\n" + "".join(f"{x:.9f} {y:.9f}\n" for x, y in points)
    out_path = binary.with_name("tour.txt")
    start = time.monotonic()
    try:
        with out_path.open("wb") as sink:  # a file: endless output meets the file-size limit
            done = subprocess.run([str(binary)], input=text.encode(), stdout=sink,
                                  stderr=subprocess.PIPE, timeout=RUN_TIME_LIMIT_S, check=False)
    except subprocess.TimeoutExpired:
        return None, f"no tour within {RUN_TIME_LIMIT_S:g} s", RUN_TIME_LIMIT_S
    seconds = time.monotonic() - start
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-500:].strip()
        return None, f"the program exited with code {done.returncode}. {tail}", seconds
    try:
        tour = [int(token) for token in out_path.read_text().split()]
    except ValueError:
        return None, "the output holds something other than integers", seconds
    if sorted(tour) != list(range(len(points))):
        return None, (f"the output is not a permutation of 0..{len(points) - 1} "
                      f"({len(tour)} numbers)"), seconds
    return tour, "", seconds


def evaluate(candidate: Path) -> dict:
    """Compile, run and check one candidate program; the result described above."""
    ok, output, compile_s = build(candidate)
    if not ok:
        return _invalid(f"the program does not compile:\n{output[-1500:]}",
                        {"compile_s": compile_s})
    ratios, fractions, run_s = [], [], 0.0
    for number, points in enumerate(instances()):
        tour, problem, seconds = run_tour(candidate.parent / BINARY, points)
        run_s += seconds
        if tour is None:
            return _invalid(f"instance {number}: {problem}", {"compile_s": compile_s})
        reference = tour_length(points, nearest_neighbour(points))
        ratios.append(reference / tour_length(points, tour))
        fractions.append(near_fraction(points, tour))
    score = sum(ratios) / len(ratios)
    near = sum(fractions) / len(fractions)
    shown = ", ".join(f"{r:.3f}" for r in ratios)
    feedback = (f"Valid tours on all {len(ratios)} instances ({POINTS} points). Nearest-neighbour "
                f"length / your length per instance: {shown} (mean {score:.4f}; higher is "
                f"better, 2-opt reaches about 1.2). {near:.0%} of the tour's edges join near "
                f"neighbours. Compiled in {compile_s:.2f} s, ran in {run_s:.2f} s.")
    metrics = {"ratio_min": min(ratios), "near_fraction": near, "compile_s": compile_s,
               "run_s": run_s}
    return {"score": score, "valid": True, "measures": [near], "metrics": metrics,
            "feedback": feedback}


def main(argv: list[str]) -> int:
    """Command line entry; returns the exit status."""
    if len(argv) != 3:
        print("usage: python evaluate.py CANDIDATE_PATH RESULT_PATH", file=sys.stderr)
        return 2
    result = evaluate(Path(argv[1]).resolve())
    target = Path(argv[2])
    partial = target.with_name(target.name + ".part")
    partial.write_text(json.dumps(result, indent=1))
    partial.replace(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
