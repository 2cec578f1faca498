"""Evaluator of the circle-packing problem: `python evaluate.py CANDIDATE_PATH RESULT_PATH`.

The candidate's `run_packing()` runs in a child process (so its code cannot tamper with the
checks); this process then verifies the packing with a strict tolerance and writes one JSON
object to RESULT_PATH:

    {"score": sum of radii (0.0 when invalid), "valid": bool,
     "measures": [std of the radii, fraction of circles touching a side],
     "metrics": {...}, "feedback": "text for the next prompt"}

A broken candidate (exception, wrong shapes, overlap, circle outside the square, time limit)
gives valid=false with the reason in "feedback"; the exit status is 0 whenever JSON was written.
The environment variable EVALUATE_TIME_LIMIT_S (default 50) bounds the candidate's run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

N_CIRCLES = 26
TOLERANCE = 1e-9
TOUCH = 1e-4
BEST_KNOWN = 2.635
ENTRY = "run_packing"
TIME_LIMIT_S = float(os.environ.get("EVALUATE_TIME_LIMIT_S", "50"))


def run_candidate(candidate: str, out: str) -> None:
    """Child process: import the candidate, call its entry point, dump the raw arrays as JSON."""
    try:
        sys.path.insert(0, str(Path(candidate).resolve().parent))
        spec = importlib.util.spec_from_file_location("candidate", candidate)
        module = importlib.util.module_from_spec(spec)
        sys.modules["candidate"] = module
        spec.loader.exec_module(module)
        result = getattr(module, ENTRY)()
        if not isinstance(result, tuple | list) or len(result) != 2:
            kind = type(result).__name__
            raise TypeError(f"{ENTRY}() returned a {kind}, expected a pair (centers, radii)")
        payload = {"centers": np.asarray(result[0], dtype=float).tolist(),
                   "radii": np.asarray(result[1], dtype=float).tolist()}
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
                return None, f"{ENTRY}() did not finish within {TIME_LIMIT_S:g} s.", TIME_LIMIT_S
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


def check_packing(centers: np.ndarray, radii: np.ndarray) -> str | None:
    """Return why the packing is invalid (one sentence), or None when it is valid."""
    if centers.shape != (N_CIRCLES, 2):
        return f"centers has shape {centers.shape}, expected ({N_CIRCLES}, 2)."
    if radii.shape != (N_CIRCLES,):
        return f"radii has shape {radii.shape}, expected ({N_CIRCLES},)."
    if not (np.isfinite(centers).all() and np.isfinite(radii).all()):
        return "centers or radii contain NaN or infinite values."
    if (radii < 0).any():
        i = int(np.argmin(radii))
        return f"circle {i} has a negative radius ({radii[i]:.6g})."
    out = np.max(np.stack([radii - centers[:, 0], radii - centers[:, 1],
                           centers[:, 0] + radii - 1, centers[:, 1] + radii - 1]), axis=0)
    if (out > TOLERANCE).any():
        i = int(np.argmax(out))
        return (f"{int((out > TOLERANCE).sum())} circles stick out of the unit square; worst: "
                f"circle {i} (center ({centers[i, 0]:.6g}, {centers[i, 1]:.6g}), radius "
                f"{radii[i]:.6g}) by {out[i]:.3g}.")
    gaps = _pair_gaps(centers, radii)
    if (gaps < -TOLERANCE).any():
        i, j = np.unravel_index(int(np.argmin(gaps)), gaps.shape)
        distance = float(np.hypot(*(centers[i] - centers[j])))
        return (f"{int((gaps < -TOLERANCE).sum())} pairs of circles overlap; worst: circles "
                f"{i} and {j} by {-gaps[i, j]:.3g} (distance {distance:.6g}, radii "
                f"{radii[i]:.6g} + {radii[j]:.6g}).")
    return None


def _pair_gaps(centers: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Distance minus sum of radii for every pair i < j (+inf elsewhere), shape (n, n)."""
    diff = centers[:, None, :] - centers[None, :, :]
    gaps = np.sqrt((diff**2).sum(-1)) - (radii[:, None] + radii[None, :])
    gaps[np.tril_indices(len(radii))] = np.inf
    return gaps


def score_packing(centers: np.ndarray, radii: np.ndarray, seconds: float) -> dict:
    """Build the result of a valid packing: score, measures, metrics and feedback."""
    total = float(radii.sum())
    wall_gap = np.min(np.stack([centers[:, 0] - radii, centers[:, 1] - radii,
                                1 - centers[:, 0] - radii, 1 - centers[:, 1] - radii]), axis=0)
    touching = float((wall_gap <= TOUCH).mean())
    contacts = int((_pair_gaps(centers, radii) <= TOUCH).sum())
    tiny = int((radii < 1e-3).sum())
    metrics = {"sum_radii": total, "fraction_of_best_known": total / BEST_KNOWN,
               "min_radius": float(radii.min()), "max_radius": float(radii.max()),
               "radius_std": float(radii.std()), "boundary_fraction": touching,
               "contact_pairs": contacts, "run_time_s": seconds}
    feedback = (f"Valid packing of {N_CIRCLES} circles: sum of radii {total:.6f} "
                f"({total / BEST_KNOWN:.1%} of the best known {BEST_KNOWN}). Radii range "
                f"{radii.min():.4f} to {radii.max():.4f}; {round(touching * N_CIRCLES)} circles "
                f"touch a side; {contacts} pairs of circles touch each other.")
    if tiny:
        feedback += f" {tiny} circles have radius below 0.001 and add almost nothing."
    return {"score": total, "valid": True, "measures": [float(radii.std()), touching],
            "metrics": metrics, "feedback": feedback}


def evaluate(candidate: str) -> dict:
    """Run and verify one candidate program; the result dictionary described above."""
    payload, problem, seconds = _child_output(candidate)
    if payload is None:
        return _invalid(problem, {"run_time_s": seconds})
    if "error" in payload:
        where = f"\n{payload['traceback']}\n" if payload.get("traceback") else "."
        return _invalid(f"{ENTRY}() raised {payload['error']}{where}", {"run_time_s": seconds})
    try:
        centers = np.asarray(payload["centers"], dtype=float)
        radii = np.asarray(payload["radii"], dtype=float)
    except (KeyError, TypeError, ValueError) as err:
        return _invalid(f"{ENTRY}() returned unusable arrays ({err}).", {"run_time_s": seconds})
    reason = check_packing(centers, radii)
    if reason:
        return _invalid(reason, {"run_time_s": seconds})
    return score_packing(centers, radii, seconds)


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
