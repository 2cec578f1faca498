"""The same MAP-Elites loop through qd's torch backend, qd's pyribs backend, raw pyribs, QDax
and EvoTorch, plus archive insertion alone.

Task: the 100-DoF planar arm (measures: end-effector x, y), a 100x100 grid, iso+line variation
(iso_sigma 0.05, line_sigma 0.2, bounds [-pi, pi]), one emitter of batch B, the same number of
evaluations for every tool at a batch size. qd runs end to end with a run folder whose store
keeps nothing but metrics (`run.store_evaluations = "none"`; the "all" row shows what storing
every evaluation costs). QDax and EvoTorch run from their own virtual environments
(`benchmarks/peers/setup.sh`; skipped with a message when absent); raw pyribs runs in this
repository's. Every tool on the same number of CPU threads (`--threads`, default 1).

    python benchmarks/qd_loop.py [--quick] [--threads N] [--save-doc] [--out PATH]

Writes runs/bench/qd_loop.json:
{"evals_per_s": {"<tool>@<batch>": ...}, "qd_score": {...}, "coverage": {...},
 "insert_per_s": {"torch": ..., "pyribs": ...}, "ratios": {...}}.
Targets (issue 15): qd torch >= 10x qd pyribs end to end at batch 4096 on CPU, and >= QDax's
evaluations/s at equal QD score.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, add_output_args, print_table, write_result  # noqa: E402

import qd  # noqa: E402

ISO, LINE, JOINTS, SEED = 0.05, 0.2, 100, 3
EVOTORCH_GENERATIONS = 5
PEERS = ROOT / "benchmarks" / "peers"
#: tool -> (script, python of its virtual environment)
PEER_TOOLS = {
    "raw_pyribs": ("raw_pyribs.py", Path(sys.executable)),
    "qdax": ("qdax_map_elites.py", PEERS / ".venv-qdax" / "bin" / "python"),
    "evotorch": ("evotorch_map_elites.py", PEERS / ".venv-evotorch" / "bin" / "python"),
}


def spec(batch: int, evaluations: int, backend: str, store: str) -> dict:
    return {
        "problem": {"name": "arm_repertoire", "joints": JOINTS},
        "archive": {"name": "grid", "cells": [100, 100]},
        "emitters": [{"name": "iso_line", "batch_size": batch, "iso_sigma": ISO,
                      "line_sigma": LINE}],
        "run": {"budget": evaluations, "seed": SEED, "backend": backend,
                "store_evaluations": store, "checkpoint_seconds": 60},
    }


def run_qd(batch: int, evaluations: int, backend: str, store: str) -> dict:
    """One qd run with a run folder; evaluations/s over the run's own elapsed time."""
    with tempfile.TemporaryDirectory(dir=ROOT / "runs") as folder:
        t0 = time.perf_counter()
        result = qd.evolve(spec(batch, evaluations, backend, store), out=Path(folder) / "run")
        seconds = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
    stats = result.archive.stats()
    return {"evaluations": result.end.evaluations, "seconds": seconds,
            "loop_s": result.end.elapsed_s,
            "evals_per_s": result.end.evaluations / result.end.elapsed_s,
            "qd_score": stats.qd_score, "coverage": stats.coverage, "folder_bytes": size}


def run_peer(tool: str, batch: int, evaluations: int, threads: int) -> dict | str:
    """A peer's loop in its own process; the reason as a string when it cannot run."""
    script, python = PEER_TOOLS[tool]
    if not python.is_file():
        return f"skipped: {python.parent.parent.name} missing (run benchmarks/peers/setup.sh)"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
                        f"intra_op_parallelism_threads={threads}",
           "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    command = [str(python), str(PEERS / script), "--batch", str(batch), "--evaluations",
               str(evaluations), "--seed", str(SEED), "--iso-sigma", str(ISO), "--line-sigma",
               str(LINE)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"failed (exit {done.returncode}): {tail[0][:200]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def insert_rates(batch: int, repeats: int) -> dict[str, float]:
    """Solutions/s of one archive `add` at `batch` into a 100x100 grid: TensorArchive vs
    pyribs GridArchive, on the same pre-drawn batches (elitist)."""
    from ribs.archives import GridArchive

    from archives.tensor import GridIndex, TensorArchive

    rng = np.random.default_rng(0)
    ranges = [(-100.0, 100.0), (-100.0, 100.0)]
    batches = [(rng.normal(size=(batch, JOINTS)), -rng.random(batch),
                rng.uniform(-100, 100, size=(batch, 2))) for _ in range(repeats)]
    ribs = GridArchive(solution_dim=JOINTS, dims=[100, 100], ranges=ranges,
                       qd_score_offset=-math.pi ** 2)
    t0 = time.perf_counter()
    for sols, objs, meas in batches:
        ribs.add(sols, objs, meas)
    ribs_s = time.perf_counter() - t0
    archive = TensorArchive(GridIndex([100, 100], ranges, 1e-6), JOINTS,
                            qd_score_offset=-math.pi ** 2)
    tensors = [tuple(torch.from_numpy(a) for a in b) for b in batches]
    t0 = time.perf_counter()
    for sols, objs, meas in tensors:
        archive.add(sols, objs, meas)
    archive.stats  # noqa: B018 - wait for the device and take what metrics would read
    torch_s = time.perf_counter() - t0
    return {"torch": batch * repeats / torch_s, "pyribs": batch * repeats / ribs_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 200k evaluations per run")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of every tool")
    parser.add_argument("--batches", type=int, nargs="+", default=[540, 4096])
    parser.add_argument("--tools", nargs="+", default=["qd_torch", "qd_torch_all", "qd_pyribs",
                                                       "raw_pyribs", "qdax", "evotorch"])
    add_output_args(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    iterations = {540: 400, 4096: 50} if args.quick else {540: 4000, 4096: 500}
    evals_per_s, qd_score, coverage, notes, details = {}, {}, {}, {}, {}
    rows = []
    for batch in args.batches:
        evaluations = batch * iterations.get(batch, max(1, 200_000 // batch))
        for tool in args.tools:
            key = f"{tool}@{batch}"
            if tool.startswith("qd_"):
                backend = "pyribs" if tool == "qd_pyribs" else "torch"
                result: dict | str = run_qd(batch, evaluations, backend,
                                            "all" if tool.endswith("_all") else "none")
            elif tool == "evotorch":  # ~10 s a generation whatever the batch: a short run
                result = run_peer(tool, batch, 10_000 + EVOTORCH_GENERATIONS * batch,
                                  args.threads)
                if isinstance(result, dict):
                    notes[key] = (f"{result['evaluations']} evaluations only (its population "
                                  "is the 10,000-cell grid, re-binned each generation in "
                                  "O(cells x candidates)); QD score not comparable")
            else:
                result = run_peer(tool, batch, evaluations, args.threads)
            if isinstance(result, str):
                notes[key] = result
                rows.append([tool, batch, evaluations, result, "", "", ""])
                continue
            details[key] = result
            evals_per_s[key] = result["evals_per_s"]
            qd_score[key] = result["qd_score"]
            coverage[key] = result["coverage"]
            rows.append([tool, batch, result["evaluations"], f"{result['evals_per_s']:,.0f}",
                         f"{result['qd_score']:,.1f}", f"{100 * result['coverage']:.1f}%",
                         f"{result.get('folder_bytes', 0) / 1e6:.1f}" if tool.startswith("qd_")
                         else ""])
    insert = insert_rates(4096, 50 if args.quick else 500)
    ratios = {}
    for batch in args.batches:
        base = evals_per_s.get(f"qd_pyribs@{batch}")
        mine = evals_per_s.get(f"qd_torch@{batch}")
        if base and mine:
            ratios[f"torch_vs_pyribs_backend@{batch}"] = mine / base
        if mine and evals_per_s.get(f"qdax@{batch}"):
            ratios[f"torch_vs_qdax@{batch}"] = mine / evals_per_s[f"qdax@{batch}"]
        if mine and evals_per_s.get(f"raw_pyribs@{batch}"):
            ratios[f"torch_vs_raw_pyribs@{batch}"] = mine / evals_per_s[f"raw_pyribs@{batch}"]
    ratios["insert_torch_vs_pyribs@4096"] = insert["torch"] / insert["pyribs"]
    print_table(f"MAP-Elites on the {JOINTS}-DoF arm, 100x100 grid, {args.threads} thread(s)",
                ["tool", "batch", "evaluations", "evals/s", "QD score", "coverage",
                 "folder MB"], rows)
    print_table("ratios", ["ratio", "value"], [[k, v] for k, v in ratios.items()])
    print(f"archive add alone at batch 4096: torch {insert['torch']:,.0f}/s, "
          f"pyribs {insert['pyribs']:,.0f}/s")
    write_result("qd_loop", {"quick": args.quick, "threads": args.threads,
                             "evals_per_s": evals_per_s, "qd_score": qd_score,
                             "coverage": coverage, "insert_per_s": insert, "ratios": ratios,
                             "runs": details, "notes": notes}, args)


if __name__ == "__main__":
    main()
