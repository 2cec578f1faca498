"""Evaluator of the online bin-packing problem: `python evaluate.py CANDIDATE_PATH RESULT_PATH`.

Instances follow OR-Library's OR1 ("u") family: integer item sizes drawn uniformly from
[20, 100], bins of capacity 150; five instances of 500 items are generated here from a fixed
seed. The candidate's `priority(item, bins)` packs them online in a child process (so its code
cannot tamper with the checks); this process verifies the returned assignment of items to bins
and writes one JSON object to RESULT_PATH:

    {"score": -(bins used / L1 lower bound), averaged over instances (higher is better),
     "valid": bool, "measures": [mean fraction of bins at least 99% full, code lines],
     "metrics": {...}, "feedback": "text for the next prompt"}

`L1 = ceil(sum of sizes / capacity)`. A broken candidate (exception, wrong output shape, NaN
scores, time limit) gives valid=false and score 0.0 with the reason in "feedback"; the exit
status is 0 whenever JSON was written. EVALUATE_TIME_LIMIT_S (default 60) bounds the run.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

SEED = 20240501
INSTANCES = 5
ITEMS = 500
CAPACITY = 150.0
SIZE_RANGE = (20, 100)
FULL = 0.99
ENTRY = "priority"
TIME_LIMIT_S = float(os.environ.get("EVALUATE_TIME_LIMIT_S", "60"))


def instances() -> list[np.ndarray]:
    """Return the item sizes of every instance, shape (ITEMS,) each, the same on every call."""
    rng = np.random.default_rng(SEED)
    low, high = SIZE_RANGE
    return [rng.integers(low, high + 1, size=ITEMS).astype(float) for _ in range(INSTANCES)]


def pack(priority, items: np.ndarray) -> list[int]:
    """Pack `items` online with `priority`; return the bin index of each item."""
    remaining: list[float] = []
    assignment = []
    for step, item in enumerate(items):
        fits = [b for b, free in enumerate(remaining) if free >= item]
        options = np.array([remaining[b] for b in fits] + [CAPACITY])
        scores = np.asarray(priority(float(item), options.copy()), dtype=float)
        if scores.shape != options.shape:
            raise ValueError(f"{ENTRY}() returned shape {scores.shape} for {len(options)} bins "
                             f"(item {step})")
        if not np.isfinite(scores).all():
            raise ValueError(f"{ENTRY}() returned NaN or infinite scores (item {step})")
        choice = int(np.argmax(scores))
        if choice == len(fits):
            remaining.append(CAPACITY - item)
            assignment.append(len(remaining) - 1)
        else:
            remaining[fits[choice]] -= item
            assignment.append(fits[choice])
    return assignment


def run_candidate(candidate: str, out: str) -> None:
    """Child process: import the candidate and pack every instance with its `priority`."""
    try:
        sys.path.insert(0, str(Path(candidate).resolve().parent))
        spec = importlib.util.spec_from_file_location("candidate", candidate)
        module = importlib.util.module_from_spec(spec)
        sys.modules["candidate"] = module
        spec.loader.exec_module(module)
        payload = {"assignments": [pack(getattr(module, ENTRY), items) for items in instances()]}
    except (Exception, SystemExit) as err:  # untrusted code: every failure is a result
        payload = {"error": f"{type(err).__name__}: {err}",
                   "traceback": candidate_frames(err, candidate)}
    Path(out).write_text(json.dumps(payload))


def candidate_frames(err: BaseException, candidate: str) -> str:
    """Return the last traceback lines of `err` that point into the candidate's file."""
    path = Path(candidate).resolve()
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if Path(f.filename).resolve() == path]
    return "".join(traceback.format_list(frames[-4:])).rstrip()


def _invalid(reason: str, metrics: dict | None = None) -> dict:
    return {"score": 0.0, "valid": False, "measures": [0.0, 0.0], "metrics": metrics or {},
            "feedback": f"Invalid: {reason.rstrip()}\nThe program scores 0."}


def _child_output(candidate: str) -> tuple[dict | None, str, float]:
    """Run the candidate in a child; (payload or None, problem text, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        out, log = Path(tmp, "result.json"), Path(tmp, "output.txt")
        command = [sys.executable, str(Path(__file__).resolve()), "--child",
                   str(Path(candidate).resolve()), str(out)]
        start = time.monotonic()
        with log.open("wb") as sink:
            child = subprocess.Popen(command, cwd=tmp, stdout=sink, stderr=subprocess.STDOUT)
            try:
                code = child.wait(timeout=TIME_LIMIT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                return None, f"packing did not finish within {TIME_LIMIT_S:g} s.", TIME_LIMIT_S
        seconds = time.monotonic() - start
        if not out.is_file():
            tail = log.read_text(errors="replace")[-800:].strip()
            problem = (f"the candidate's process exited with code {code} before returning a "
                       f"result. Output: {tail or '(none)'}")
            return None, problem, seconds
        try:
            payload = json.loads(out.read_text())
        except ValueError as err:
            return None, f"the candidate's process wrote an unreadable result ({err}).", seconds
        if not isinstance(payload, dict):
            return None, "the candidate's process wrote an unreadable result.", seconds
        return payload, "", seconds


def bin_loads(items: np.ndarray, assignment: object) -> np.ndarray | str:
    """Total size in each bin, shape (bins,), or why `assignment` is not a valid packing."""
    if not isinstance(assignment, list) or len(assignment) != len(items):
        return f"the assignment does not give a bin for each of the {len(items)} items."
    if not all(isinstance(b, int) and 0 <= b < len(items) for b in assignment):
        return "the assignment holds bin indices that are not integers in range."
    index = np.asarray(assignment)
    loads = np.bincount(index, weights=items)
    if (np.bincount(index) == 0).any():
        return "bins were not opened in order (an index was skipped)."
    if (loads > CAPACITY + 1e-9).any():
        b = int(np.argmax(loads))
        return f"bin {b} holds {loads[b]:g}, more than the capacity {CAPACITY:g}."
    return loads


def code_lines(candidate: str) -> int:
    """Non-blank, non-comment lines inside the EVOLVE-BLOCKs (the whole file if none)."""
    lines, inside, marked, count = Path(candidate).read_text().splitlines(), False, False, 0
    for line in lines:
        text = line.strip()
        if text.startswith("# EVOLVE-BLOCK-START"):
            inside = marked = True
        elif text.startswith("# EVOLVE-BLOCK-END"):
            inside = False
        elif inside and text and not text.startswith("#"):
            count += 1
    if marked:
        return count
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def score_packings(candidate: str, all_loads: list[np.ndarray], seconds: float) -> dict:
    """Build the result of valid packings: score, measures, metrics and feedback."""
    data = instances()
    bounds = [math.ceil(items.sum() / CAPACITY) for items in data]
    used = [len(loads) for loads in all_loads]
    ratios = [u / b for u, b in zip(used, bounds, strict=True)]
    full = float(np.mean([(loads >= FULL * CAPACITY).mean() for loads in all_loads]))
    lines = code_lines(candidate)
    excess = 100 * (float(np.mean(ratios)) - 1)
    metrics = {"bins_over_l1": float(np.mean(ratios)), "excess_percent": excess,
               "bins_used": int(sum(used)), "l1_bound": int(sum(bounds)),
               "full_bin_fraction": full, "code_lines": lines, "run_time_s": seconds}
    feedback = (f"Valid on all {INSTANCES} instances ({ITEMS} items each, sizes "
                f"{SIZE_RANGE[0]}-{SIZE_RANGE[1]}, capacity {CAPACITY:g}): {excess:.2f}% more "
                f"bins than the L1 lower bound (0% would be optimal). Bins used {used} vs lower "
                f"bounds {bounds}; {full:.0%} of the bins are at least {FULL:.0%} full.")
    return {"score": -float(np.mean(ratios)), "valid": True, "measures": [full, float(lines)],
            "metrics": metrics, "feedback": feedback}


def evaluate(candidate: str) -> dict:
    """Run and verify one candidate program; the result dictionary described above."""
    payload, problem, seconds = _child_output(candidate)
    if payload is None:
        return _invalid(problem, {"run_time_s": seconds})
    if "error" in payload:
        where = f"\n{payload['traceback']}\n" if payload.get("traceback") else "."
        return _invalid(f"packing raised {payload['error']}{where}", {"run_time_s": seconds})
    assignments = payload.get("assignments")
    if not isinstance(assignments, list) or len(assignments) != INSTANCES:
        return _invalid("the packing result is malformed.", {"run_time_s": seconds})
    all_loads = []
    for number, (items, assignment) in enumerate(zip(instances(), assignments, strict=True)):
        loads = bin_loads(items, assignment)
        if isinstance(loads, str):
            return _invalid(f"instance {number}: {loads}", {"run_time_s": seconds})
        all_loads.append(loads)
    return score_packings(candidate, all_loads, seconds)


def main(argv: list[str]) -> int:
    """Command line entry; returns the exit status."""
    if len(argv) == 4 and argv[1] == "--child":
        run_candidate(argv[2], argv[3])
        return 0
    if len(argv) != 3:
        print("usage: python evaluate.py CANDIDATE_PATH RESULT_PATH", file=sys.stderr)
        return 2
    result = evaluate(argv[1])
    target = Path(argv[2])
    partial = target.with_name(target.name + ".part")
    partial.write_text(json.dumps(result, indent=1))
    partial.replace(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
