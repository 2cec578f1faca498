"""Circle packing with the embedded local model: what the LLM proposes and who makes the elites.

Runs the built-in `circle_packing` spec (problems/programs/circle_packing) through `qd.evolve`
with the spec's defaults — the embedded Gemma 3 270M base model with its default operators
(`infill`, next to the local `perturb_literals` and `splice`) — into a temporary run folder,
once per seed, and reads each run's programs table back (`RunStore.open(folder,
readonly=True).programs`). Reports per seed: evaluations, proposals by operator and by status,
how many proposals of an LLM operator were valid and new (status "ok": evaluated, so not a
duplicate, and a valid packing), the initial program's score and the best score, which
operators made the final elites (LLM vs local operators vs the initial program), how many
elites have an LLM-made program in their lineage (themselves or an ancestor), and wall time.

    .venv/bin/python benchmarks/circle_packing.py [--quick] [--seeds 0 1 2] [--budget N]
        [--save-doc] [--out PATH]

`--quick`: seed 0, 50 evaluations (under a minute on a 2-core machine); default: seeds 0, 1, 2,
100 evaluations each (about 2 min). Writes runs/bench/circle_packing.json; with `--save-doc`
docs/bench/circle_packing_quick.json or _full.json. A rerun with the same seed gives somewhat
different figures (proposals run 4 at a time and the bandit's rewards are per second spent,
so timing changes the choices).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, print_table, write_result  # noqa: E402

import qd  # noqa: E402
from mutators.program import operator_registry  # noqa: E402
from qd.program.types import Status  # noqa: E402
from qd.store import RunStore  # noqa: E402

SPEC = "circle_packing"


def _kind(operator: str) -> str:
    """"llm" for an operator that needs a model call, "local" for one that does not,
    "initial" for the initial program (no registered operator)."""
    if operator not in operator_registry.names():  # the initial program's "initial"
        return "initial"
    return "llm" if operator_registry.get(operator).needs_llm else "local"


def run_seed(seed: int, budget: int, folder: Path,
             operators: list[str] | None = None) -> dict[str, Any]:
    """One run of the spec (with `operators` instead of its defaults); its outcome read back
    from the run store."""
    t0 = time.perf_counter()
    overrides = [f"llm.operators={json.dumps(operators)}"] if operators else []
    result = qd.evolve(SPEC, budget=budget, seed=seed, out=folder, overrides=overrides)
    wall = time.perf_counter() - t0
    arms = [{"model": None if model is None else model.model, "operator": op.name}
            for model, op in result.programs.s.arms]
    with closing(RunStore.open(folder, readonly=True)) as store:
        programs = store.programs.all()
    evaluated = Status.evaluated_statuses()
    by_operator: dict[str, dict[str, int]] = {}
    for p in programs:
        counts = by_operator.setdefault(p.operator, {})
        counts[str(p.status)] = counts.get(str(p.status), 0) + 1
    by_status = Counter(str(p.status) for p in programs)
    llm = [p for p in programs if _kind(p.operator) == "llm"]
    llm_status = Counter(str(p.status) for p in llm)
    by_id = {p.id: p for p in programs}
    initial = next(p for p in programs if not p.parents)
    ok = [p for p in programs if p.status is Status.OK and p.score is not None]
    best = max(ok, key=lambda p: p.score)  # type: ignore[arg-type,return-value]
    llm_ok = [p for p in llm if p.status is Status.OK and p.score is not None]
    improved = [p for p in llm_ok
                if by_id[p.parents[0]].score is not None
                and p.score > by_id[p.parents[0]].score]  # type: ignore[operator]
    elite_ids = [int(s[0]) for s in result.archive.elites()["solution"]]
    elite_ops = Counter(by_id[i].operator for i in elite_ids)
    elite_kinds = Counter(_kind(by_id[i].operator) for i in elite_ids)

    def llm_ancestry(pid: int) -> bool:
        """Whether an LLM operator made `pid` or any of its ancestors."""
        seen, todo = set(), [pid]
        while todo:
            p = by_id[todo.pop()]
            if _kind(p.operator) == "llm":
                return True
            todo += [q for q in p.parents if q not in seen and q in by_id]
            seen.update(p.parents)
        return False
    return {
        "seed": seed,
        "budget": budget,
        "end_reason": result.end.reason,
        "arms": arms,
        "evaluations": sum(1 for p in programs if p.status in evaluated),
        "proposals": len(programs),
        "by_status": dict(sorted(by_status.items())),
        "by_operator": {op: dict(sorted(c.items())) for op, c in sorted(by_operator.items())},
        "llm_proposals": len(llm),
        "llm_by_status": dict(sorted(llm_status.items())),
        "llm_evaluated": sum(1 for p in llm if p.status in evaluated),
        "llm_valid_new": len(llm_ok),
        "llm_improved_on_parent": len(improved),
        "llm_best_score": max((p.score for p in llm_ok), default=None),
        "valid_evaluations": len(ok),
        "initial_score": initial.score,
        "best_score": best.score,
        "best_operator": best.operator,
        "best_generation": best.generation,
        "elites": len(elite_ids),
        "elites_by_operator": dict(sorted(elite_ops.items())),
        "elites_by_kind": {k: elite_kinds.get(k, 0) for k in ("llm", "local", "initial")},
        "elites_with_llm_ancestry": sum(llm_ancestry(i) for i in elite_ids),
        "llm_latency_s": sum(p.llm_latency_s for p in programs),
        "eval_s": sum(p.eval_s or 0.0 for p in programs),
        "wall_s": wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="seed 0, 50 evaluations (under a minute on 2 cores)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds (default 0 with --quick, else 0 1 2)")
    parser.add_argument("--budget", type=int, default=None,
                        help="evaluations per seed (default 50 with --quick, else 100)")
    parser.add_argument("--operators", nargs="+", default=None,
                        help="llm.operators instead of the spec's defaults, e.g. infill "
                        "perturb_literals splice (its JSON is named circle_packing_<first>)")
    add_output_args(parser)
    args = parser.parse_args()
    seeds = args.seeds if args.seeds is not None else ([0] if args.quick else [0, 1, 2])
    budget = args.budget if args.budget is not None else (50 if args.quick else 100)
    runs = []
    with tempfile.TemporaryDirectory(prefix="qd-bench-circle-") as tmp:
        for seed in seeds:
            runs.append(run_seed(seed, budget, Path(tmp) / f"seed-{seed}", args.operators))
            r = runs[-1]
            print(f"seed {seed}: {r['evaluations']} evaluations, best {r['best_score']:.4f} "
                  f"({r['wall_s']:.0f} s)", flush=True)
    print_table(f"circle_packing with the embedded model, {budget} evaluations per seed",
                ["seed", "evals", "valid", "props", "LLM props", "LLM ok", "LLM > parent",
                 "initial", "best", "best by", "elites LLM/local/init", "LLM lineage",
                 "wall s"],
                [[r["seed"], r["evaluations"], r["valid_evaluations"], r["proposals"],
                  r["llm_proposals"], r["llm_valid_new"], r["llm_improved_on_parent"],
                  r["initial_score"], r["best_score"], r["best_operator"],
                  "/".join(str(r["elites_by_kind"][k]) for k in ("llm", "local", "initial")),
                  r["elites_with_llm_ancestry"], r["wall_s"]] for r in runs])
    statuses = sorted({s for r in runs for c in r["by_operator"].values() for s in c})
    print_table("proposals by operator and status (all seeds)", ["operator", *statuses],
                [[op, *[sum(r["by_operator"].get(op, {}).get(s, 0) for r in runs)
                        for s in statuses]]
                 for op in sorted({op for r in runs for op in r["by_operator"]})])
    total = {key: sum(r[key] for r in runs) for key in
             ("evaluations", "valid_evaluations", "proposals", "llm_proposals", "llm_evaluated",
              "llm_valid_new", "llm_improved_on_parent", "elites",
              "elites_with_llm_ancestry")}
    total["elites_by_kind"] = {k: sum(r["elites_by_kind"][k] for r in runs)
                               for k in ("llm", "local", "initial")}
    payload = {"spec": SPEC, "seeds": seeds, "budget": budget, "operators": args.operators,
               "runs": runs, "total": total}
    name = f"circle_packing_{args.operators[0]}" if args.operators else "circle_packing"
    print(f"wrote {write_result(name, payload, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
