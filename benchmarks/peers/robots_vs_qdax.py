"""qd's built-in MuJoCo locomotion specs next to QDax's own MAP-Elites on its Brax tasks.

For each task, budget and seed: `qd evolve TASK --budget N --seed S --set problem.threads=1`
(qd's built-in spec, MuJoCo, one thread) and `qdax_brax_tasks.py --task TASK --evaluations N
--seed S` in the QDax venv (QDax 0.5.0's notebook setup, one XLA thread), each as its own
process with OMP_NUM_THREADS=1, one after the other. Writes one JSON file with both sides'
figures, the commands that made them and what is and is not comparable.

    .venv/bin/python benchmarks/peers/robots_vs_qdax.py --tasks walker2d_uni ant_omni \
        --evaluations 1000 5000 --seeds 0 --brax v1 v2 --out docs/bench/robots_qdax.json

Needs the QDax venv (`bash benchmarks/peers/setup.sh qdax`). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from itertools import product
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "benchmarks" / "peers"
QDAX_PY = PEERS / ".venv-qdax" / "bin" / "python"
QD_CLI = Path(sys.executable).parent / "qd"
#: QDax's reward_offset (qdax/tasks/brax/v1/__init__.py) x episode_length 100: the QD-score
#: offset of both sides (qd: minus the objective's lower bound).
QD_OFFSET = {"walker2d_uni": 141.3, "hopper_uni": 90.0, "halfcheetah_uni": 923.1,
             "ant_uni": 324.0, "ant_omni": 300.0, "humanoid_uni": 0.0}
#: qd settings compared (extra `--set` values on the built-in spec).
ISO_LINE_ONLY = 'emitters=[{name="iso_line",batch_size=100,iso_sigma=0.005,line_sigma=0.05}]'
QD_VARIANTS = {
    "builtin": [],
    "iso_line_only": [ISO_LINE_ONLY],
    "iso_line_lecun": [ISO_LINE_ONLY, "problem.init=lecun_uniform"],
}
QD_VARIANT_TEXT = {
    "builtin": "built-in spec: iso_line 75 (0.005, 0.05) + gaussian 25 (sigma 0.2), from the "
    "zero policy",
    "iso_line_only": "QDax's emitter alone: one iso_line of 100 (0.005, 0.05), from the zero "
    "policy",
    "iso_line_lecun": "one iso_line of 100 (0.005, 0.05), from one LeCun-uniform policy "
    "(problem.init=lecun_uniform)",
}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

QD_SCORE_DEFINITION = (
    "Both sides: QD score = sum over filled cells of (fitness + reward_offset * episode_length), "
    "QDax's default_qd_metrics(qd_offset=reward_offset * episode_length) and qd's pyribs "
    "archive with qd_score_offset = objective lower bound = -reward_offset * episode_length "
    "(MujocoLocomotion.objective_bounds), with QDax's reward_offset per task (walker2d_uni "
    "1.413, ant_omni 3.0). The offset is the full episode's for every elite on both sides, also "
    "for an episode that terminated early (its fitness sums only the counted steps, the "
    "terminating one included, on both sides). QDax sums in float32, qd in float64 "
    "(qd_score_f64 is QDax's repertoire summed in float64). Coverage: elites / 1024 cells "
    "(QDax reports it in percent). Best: highest fitness in the archive.")


PROBE_DEFINITION = (
    "--probe N: no search; each side plays the zero policy (all parameters 0) and N "
    "LeCun-uniform MLPs (QDax's initialisation; different draws on each side) once, from its "
    "fixed start state, on its own engine. steps = counted control steps (an episode ends at "
    "the first unhealthy state, at most 100); objective and measures as in the runs. It "
    "compares the engines and robots, not the algorithms.")


def parse_args() -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["walker2d_uni", "ant_omni"])
    parser.add_argument("--evaluations", type=int, nargs="+", default=[5000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--brax", nargs="+", choices=("v1", "v2"), default=["v1"],
                        help="QDax task modules to run (v2 uses the 'spring' pipeline)")
    parser.add_argument("--qd-variants", nargs="+", choices=tuple(QD_VARIANTS),
                        default=["builtin"], help="qd settings to run (see QD_VARIANTS)")
    parser.add_argument("--probe", type=int, default=0,
                        help="only the physics probe: the zero policy and N random policies")
    parser.add_argument("--table", action="store_true",
                        help="only print the markdown table of --out's runs")
    parser.add_argument("--skip-qd", action="store_true")
    parser.add_argument("--skip-qdax", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "robots_qdax.json")
    parser.add_argument("--merge", action="store_true",
                        help="keep the runs already in --out (those not run again)")
    return parser.parse_args()


def log(message: str) -> None:
    """A progress line on stderr."""
    sys.stderr.write(f"[robots_vs_qdax] {message}\n")
    sys.stderr.flush()


def shown(command: list[str]) -> str:
    """The command as a repo-relative shell line."""
    return " ".join(str(Path(c).relative_to(ROOT)) if c.startswith(str(ROOT)) else c
                    for c in command)


def run_qdax(task: str, budget: int, seed: int, brax: str) -> dict[str, Any]:
    """One QDax run (its JSON line, plus the command)."""
    command = [str(QDAX_PY), str(PEERS / "qdax_brax_tasks.py"), "--task", task,
               "--evaluations", str(budget), "--seed", str(seed), "--brax", brax]
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, **ONE_THREAD})
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"robots_vs_qdax: QDax run failed ({shown(command)})")
    line = json.loads(done.stdout.strip().splitlines()[-1])
    line["process_s"] = time.perf_counter() - t0
    line["command"] = "OMP_NUM_THREADS=1 " + shown(command)
    return line


def run_qd(task: str, budget: int, seed: int, variant: str) -> dict[str, Any]:
    """One qd run of the built-in spec with `variant`'s settings (summary.json, the curve)."""
    with tempfile.TemporaryDirectory(prefix="qd-robots-") as tmp:
        out = Path(tmp) / "run"
        command = [str(QD_CLI), "evolve", task, "--budget", str(budget), "--seed", str(seed),
                   "--set", "problem.threads=1", "--out", str(out), "-q"]
        for value in QD_VARIANTS[variant]:
            command[-3:-3] = ["--set", value]
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              env={**os.environ, **ONE_THREAD})
        process_s = time.perf_counter() - t0
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-4000:])
            raise SystemExit(f"robots_vs_qdax: qd run failed ({shown(command)})")
        summary = json.loads((out / "summary.json").read_text())
        rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines() if r]
    command[command.index(str(out))] = "/tmp/qd-run"
    return {
        "tool": "qd", "task": task, "budget": budget, "seed": seed,
        "evaluations": summary["evaluations"], "qd_score": summary["qd_score"],
        "coverage": summary["coverage"], "num_elites": summary["num_elites"],
        "cells": 1024, "max_fitness": summary["best"], "seconds": summary["elapsed_s"],
        "process_s": process_s, "evals_per_s": summary["evaluations"] / summary["elapsed_s"],
        "physics": f"MuJoCo {metadata.version('mujoco')} (gymnasium's MJCF models), float64",
        "variant": variant,
        "qd_offset": QD_OFFSET[task],
        "spec": f"problems/specs/{task}.toml, CVT 1024 from 20 000 samples; "
                + QD_VARIANT_TEXT[variant],
        "versions": {"qd": metadata.version("qd"), "ribs": metadata.version("ribs"),
                     "torch": metadata.version("torch"), "mujoco": metadata.version("mujoco")},
        "curve": [[r["evaluations"], r["qd_score"], r["coverage"]] for r in rows
                  if r["iteration"] % 5 == 0 or r is rows[-1]],
        "command": "OMP_NUM_THREADS=1 .venv/bin/" + shown(command),
    }


def probe_qd(task: str, n: int, seed: int) -> dict[str, Any]:
    """qd's side of the physics probe: the zero policy and n LeCun-uniform MLPs, one episode
    each from the built-in spec's start state (`problem.episodes`)."""
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(PEERS))
    from _robots import probe_stats

    from problems.mujoco_tasks import lecun_uniform
    from problems.registry import problem_registry

    torch.set_num_threads(1)
    cls = problem_registry.get(task)
    problem = cls(cls.Config(threads=1), "cpu")
    rows = [np.zeros(problem.solution_dim)]
    rows += [lecun_uniform(problem.architecture, seed * 100_000 + i) for i in range(n)]
    episodes = problem.episodes(torch.as_tensor(np.stack(rows), dtype=torch.float64))
    return {"tool": "qd", "task": task, "probe": n, "seed": seed,
            "physics": f"MuJoCo {metadata.version('mujoco')} (gymnasium's MJCF models), float64",
            **probe_stats(episodes.objective, episodes.counted.sum(axis=1), episodes.measures,
                          problem.config.episode_length)}


def probe_qdax(task: str, n: int, seed: int, brax: str) -> dict[str, Any]:
    """QDax's side of the physics probe (`qdax_brax_tasks.py --probe n`)."""
    command = [str(QDAX_PY), str(PEERS / "qdax_brax_tasks.py"), "--task", task, "--probe",
               str(n), "--seed", str(seed), "--brax", brax]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, **ONE_THREAD})
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"robots_vs_qdax: QDax probe failed ({shown(command)})")
    return {**json.loads(done.stdout.strip().splitlines()[-1]),
            "command": "OMP_NUM_THREADS=1 " + shown(command)}


def brief(rec: dict[str, Any]) -> str:
    """One table line for the log."""
    name = side_name(rec)
    return (f"{rec['task']:13s} {name:28s} evals {rec['evaluations']:6d}  QD "
            f"{rec['qd_score']:10.1f}  cov {rec['coverage']:.4f}  best "
            f"{rec['max_fitness']:8.2f}  {rec['seconds']:7.1f} s")


def side_name(rec: dict[str, Any]) -> str:
    """`qd (variant)` or `qdax (brax engine)`."""
    how = rec["physics"].split(",")[0] if rec["tool"] == "qdax" else rec.get("variant", "builtin")
    return f"{rec['tool']} ({how})"


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and spread over seeds of each (task, budget, side)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for rec in runs:
        groups.setdefault((rec["task"], rec["budget"], side_name(rec)), []).append(rec)
    rows = []
    for (task, budget, side), recs in sorted(groups.items()):
        row: dict[str, Any] = {"task": task, "budget": budget, "side": side,
                               "evaluations": recs[0]["evaluations"],
                               "seeds": sorted(r["seed"] for r in recs)}
        for rec in recs:
            rec["mean_fitness"] = rec["qd_score"] / rec["num_elites"] - QD_OFFSET[task]
        for field in ("qd_score", "coverage", "max_fitness", "mean_fitness", "seconds"):
            values = [float(r[field]) for r in recs]
            row[field] = statistics.fmean(values)
            row[f"{field}_min"], row[f"{field}_max"] = min(values), max(values)
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The summary as a markdown table (means over seeds, min-max in brackets; elite mean:
    mean fitness of the elites, QD score / elites - offset).
    """
    lines = ["| task | side | evals | seeds | QD score | coverage | best | elite mean | seconds |",
             "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        seeds = ",".join(map(str, r["seeds"]))
        lines.append(
            f"| {r['task']} | {r['side']} | {r['evaluations']} | {seeds} | "
            f"{r['qd_score']:,.0f} [{r['qd_score_min']:,.0f}-{r['qd_score_max']:,.0f}] | "
            f"{r['coverage']:.3f} [{r['coverage_min']:.3f}-{r['coverage_max']:.3f}] | "
            f"{r['max_fitness']:.1f} | {r['mean_fitness']:.1f} | {r['seconds']:.1f} |")
    return "\n".join(lines)


def command_line() -> str:
    """This invocation, as the other benchmarks record theirs (`python <script> <args>`)."""
    return shlex.join(["python", str(Path(__file__).resolve().relative_to(ROOT)), *sys.argv[1:]])


def git_commit() -> str | None:
    """HEAD of the repository (None when git cannot tell)."""
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() or None


def load_average() -> dict[str, list[float]]:
    """The machine's load average now (other jobs share its cores)."""
    return {"loadavg_end": list(os.getloadavg())} if hasattr(os, "getloadavg") else {}


def cpu_model() -> str:
    """The CPU's model name."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def run_key(rec: dict[str, Any]) -> tuple:
    """What identifies a run in the JSON file."""
    return (rec["tool"], rec["task"], rec["budget"], rec["seed"], rec["physics"],
            rec.get("variant", "builtin" if rec["tool"] == "qd" else None))


def run_all(args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """The MAP-Elites runs, or with `--probe` only the physics probes, each side in turn."""
    if args.probe:
        sides = [] if args.skip_qd else [("qd", "")]
        sides += [("qdax", b) for b in ([] if args.skip_qdax else args.brax)]
        probes = []
        for task, seed, (tool, brax) in product(args.tasks, args.seeds, sides):
            probes.append(probe_qd(task, args.probe, seed) if tool == "qd"
                          else probe_qdax(task, args.probe, seed, brax))
            log(f"probe {task} {tool} {probes[-1]['physics'][:24]}: "
                f"{json.dumps(probes[-1]['random_policies'])}")
        return [], probes
    sides = [("qd", v) for v in ([] if args.skip_qd else args.qd_variants)]
    sides += [("qdax", b) for b in ([] if args.skip_qdax else args.brax)]
    runs = []
    for task, budget, seed, (tool, how) in product(args.tasks, args.evaluations, args.seeds,
                                                   sides):
        runs.append(run_qd(task, budget, seed, how) if tool == "qd"
                    else run_qdax(task, budget, seed, how))
        log(brief(runs[-1]))
    return runs, []


def merged(new: list[dict], old: list[dict], key: Any) -> list[dict]:
    """`old` records not run again, then `new`."""
    again = {key(r) for r in new}
    return [r for r in old if key(r) not in again] + new


def main() -> None:
    """Run every combination and write the JSON file."""
    args = parse_args()
    if args.table:
        sys.stdout.write(table(summarise(json.loads(args.out.read_text())["runs"])) + "\n")
        return
    if not args.skip_qdax and not QDAX_PY.exists():
        raise SystemExit("robots_vs_qdax: no QDax venv; run `bash benchmarks/peers/setup.sh "
                         "qdax` first (or pass --skip-qdax)")
    invocation = {"command": command_line(),
                  "date": datetime.now(UTC).isoformat(timespec="seconds"),
                  "commit": git_commit()}
    runs, probes = run_all(args)
    invocation.update(runs=len(runs), probes=len(probes), **load_average())
    invocations = [invocation]
    if args.merge and args.out.exists():
        old = json.loads(args.out.read_text())
        runs = merged(runs, old.get("runs", []), run_key)
        probes = merged(probes, old.get("probes", []),
                        lambda r: (r["tool"], r["task"], r["seed"], r["physics"], r["probe"]))
        invocations = old.get("invocations", []) + invocations
    result = {
        "benchmark": "robots_qdax",
        "command": invocations[0]["command"],
        "what": "qd's built-in MuJoCo specs vs QDax 0.5.0's MAP-Elites on its Brax tasks, "
                "same task names, budgets and seeds, one CPU thread each (OMP_NUM_THREADS=1 "
                "for every process), run one after the other on the same machine",
        "invocations": invocations,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "cpu_model": cpu_model(),
                    "note": "2 shared cores, other jobs running: timings are indicative"},
        "qd_score_definition": QD_SCORE_DEFINITION,
        "probe_definition": PROBE_DEFINITION,
        "summary": summarise(runs),
        "runs": runs,
        "probes": probes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
