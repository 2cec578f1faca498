"""Circle packing with the embedded local model: what the LLM proposes and who makes the elites.

Runs the built-in `circle_packing` spec (problems/programs/circle_packing) through `qd.evolve`
on the embedded Gemma 3 270M base model, once per seed and per variant, each into a temporary
run folder, and reads each run's programs table back (`RunStore.open(folder,
readonly=True).programs`). Variants (`--variants`, all in one invocation so their figures are
measured under the same load):

- `default`: the built-in spec as it is (since issue 17 the settings of `llm`);
- `llm`: the settings that make the model's proposals count: `infill` (cutting at operands of
  arithmetic) next to `perturb_literals` and `splice`, literal tuning of its structural
  children, and the bandit's `min_share = 0.5`;
- `completion`: the base models' default operators (`completion`, `perturb_literals`,
  `splice`) with the plain sliding-window UCB: the built-in spec before issue 17;
- `infill`: the opt-in of the first issue-17 session (`infill` cutting at any expression, no
  tuning);
- `llm_no_tune`, `llm_no_floor`: `llm` without tuning or without `min_share`; `llm_grammar`:
  `llm` with the infill grammar sent to the model; `llm_power_law`: `llm` with power-law parent
  selection (rank^-1) instead of uniform.

Reports per seed: evaluations, proposals by operator and status, the share of LLM proposals
(rows of an LLM operator that are not tuning variants) that were valid and new (status "ok":
evaluated, so not a duplicate, and a valid packing), the evaluations spent on tuning variants,
the initial and best scores, QD score and coverage, which operators made the final elites (a
tuned variant counts for the LLM operator that made its structure; `llm_elites_tuned` says how
many were tuned), how many elites have an LLM-made program in their lineage, and wall time.

    .venv/bin/python benchmarks/circle_packing.py [--quick] [--seeds 0 1 2] [--budget N]
        [--variants default llm infill] [--save-doc] [--name NAME] [--out PATH]

`--quick`: seed 0, 50 evaluations; default: seeds 0, 1, 2, 100 evaluations each. Writes
runs/bench/circle_packing.json; with `--save-doc` docs/bench/circle_packing_quick.json or
_full.json (`--name` changes the file name). A rerun with the same seed gives somewhat
different figures (proposals run 4 at a time and the bandit's rewards are per second spent,
so timing changes the choices).
"""

from __future__ import annotations

import argparse
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
#: The embedded model's proposals made to count (opt-in): infill cutting at operands, literal
#: tuning of its structural children (`[llm.tune]`, on by default for base-model operators)
#: and a bandit that keeps every arm above half an equal share of the pulls.
LLM = ['llm.operators=["infill", "perturb_literals", "splice"]',
       'llm.bandit={name="sliding_window_ucb", window=100, exploration=0.15, '
       'cost_mode="per_cost", min_share=0.5}']
VARIANTS: dict[str, list[str]] = {
    "default": [],  # the built-in spec: since issue 17 the same settings as "llm"
    "llm": LLM,
    "completion": ['llm.operators=["completion", "perturb_literals", "splice"]',
                   'llm.bandit={name="sliding_window_ucb", window=100, exploration=0.15, '
                   'cost_mode="per_cost"}'],
    "infill": ['llm.operators=[{name="infill", cuts="expressions"}, "perturb_literals", '
               '"splice"]', "llm.tune={steps=0}"],
    "llm_no_tune": [*LLM, "llm.tune={steps=0}"],
    "llm_no_floor": [LLM[0]],
    "llm_grammar": [*LLM, 'llm.models=[{model="local", mode="completion", grammar=true}]'],
    "llm_power_law": [*LLM, 'llm.selector={name="power_law", alpha=1.0}'],
}


def _kind(operator: str) -> str:
    """"llm" for an operator that needs a model call, "local" for one that does not,
    "initial" for the initial program (no registered operator)."""
    if operator not in operator_registry.names():  # the initial program's "initial"
        return "initial"
    return "llm" if operator_registry.get(operator).needs_llm else "local"


def _llm_ancestry(by_id: dict[int, Any], pid: int) -> bool:
    """Whether an LLM operator made `pid` or any of its ancestors."""
    seen, todo = set(), [pid]
    while todo:
        p = by_id[todo.pop()]
        if _kind(p.operator) == "llm":
            return True
        todo += [q for q in p.parents if q not in seen and q in by_id]
        seen.update(p.parents)
    return False


def run_seed(seed: int, budget: int, folder: Path, overrides: list[str]) -> dict[str, Any]:
    """One run of the spec with `overrides`; its outcome read back from the run store."""
    t0 = time.perf_counter()
    result = qd.evolve(SPEC, budget=budget, seed=seed, out=folder, overrides=overrides)
    wall = time.perf_counter() - t0
    arms = [{"model": None if model is None else model.model, "operator": op.name}
            for model, op in result.programs.s.arms]
    with closing(RunStore.open(folder, readonly=True)) as store:
        programs = store.programs.all()
    evaluated = Status.evaluated_statuses()
    by_operator: dict[str, dict[str, int]] = {}
    for p in programs:
        counts = by_operator.setdefault(p.operator + (" (tuning)" if p.tuned_from else ""), {})
        counts[str(p.status)] = counts.get(str(p.status), 0) + 1
    by_id = {p.id: p for p in programs}
    llm = [p for p in programs if _kind(p.operator) == "llm" and p.tuned_from is None]
    tuning = [p for p in programs if p.tuned_from is not None]
    ok = [p for p in programs if p.status is Status.OK and p.score is not None]
    best = max(ok, key=lambda p: p.score)  # type: ignore[arg-type,return-value]
    llm_ok = [p for p in llm if p.status is Status.OK and p.score is not None]
    improved = [p for p in llm_ok if by_id[p.parents[0]].score is not None
                and p.score > by_id[p.parents[0]].score]  # type: ignore[operator]
    elites = [by_id[int(s[0])] for s in result.archive.elites()["solution"]]
    stats = result.archive.stats()
    return {
        "seed": seed, "budget": budget, "end_reason": result.end.reason, "arms": arms,
        "evaluations": sum(1 for p in programs if p.status in evaluated),
        "proposals": len(programs),
        "by_status": dict(sorted(Counter(str(p.status) for p in programs).items())),
        "by_operator": {op: dict(sorted(c.items())) for op, c in sorted(by_operator.items())},
        "llm_proposals": len(llm),
        "llm_by_status": dict(sorted(Counter(str(p.status) for p in llm).items())),
        "llm_evaluated": sum(1 for p in llm if p.status in evaluated),
        "llm_valid_new": len(llm_ok),
        "llm_valid_new_share": len(llm_ok) / len(llm) if llm else None,
        "llm_improved_on_parent": len(improved),
        "llm_best_score": max((p.score for p in llm_ok), default=None),
        "llm_calls": result.programs.s.client.ledger.totals().calls,
        "tuning_evaluations": sum(1 for p in tuning if p.status in evaluated),
        "tuned_children": len({p.tuned_from for p in tuning}),
        "valid_evaluations": len(ok),
        "initial_score": next(p for p in programs if not p.parents).score,
        "best_score": best.score, "best_operator": best.operator,
        "best_tuned": best.tuned_from is not None, "best_generation": best.generation,
        "qd_score": stats.qd_score, "coverage": stats.coverage,
        "elites": len(elites),
        "elites_by_operator": dict(sorted(Counter(p.operator for p in elites).items())),
        "elites_by_kind": {k: sum(_kind(p.operator) == k for p in elites)
                           for k in ("llm", "local", "initial")},
        "llm_elites_tuned": sum(_kind(p.operator) == "llm" and p.tuned_from is not None
                                for p in elites),
        "elites_with_llm_ancestry": sum(_llm_ancestry(by_id, p.id) for p in elites),
        "llm_latency_s": sum(p.llm_latency_s for p in programs),
        "eval_s": sum(p.eval_s or 0.0 for p in programs),
        "wall_s": wall,
    }


def totals(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums over the seeds of one variant, the share of valid new LLM proposals, and the seeds
    with at least one LLM-made final elite."""
    keys = ("evaluations", "valid_evaluations", "proposals", "llm_proposals", "llm_evaluated",
            "llm_valid_new", "llm_improved_on_parent", "llm_calls", "tuning_evaluations",
            "elites", "llm_elites_tuned", "elites_with_llm_ancestry", "wall_s")
    total: dict[str, Any] = {key: sum(r[key] for r in runs) for key in keys}
    total["elites_by_kind"] = {k: sum(r["elites_by_kind"][k] for r in runs)
                               for k in ("llm", "local", "initial")}
    total["llm_valid_new_share"] = (total["llm_valid_new"] / total["llm_proposals"]
                                    if total["llm_proposals"] else None)
    total["seeds_with_llm_elite"] = sum(r["elites_by_kind"]["llm"] > 0 for r in runs)
    total["best_score"] = [r["best_score"] for r in runs]
    total["qd_score"] = [r["qd_score"] for r in runs]
    return total


def _report(name: str, budget: int, runs: list[dict[str, Any]]) -> None:
    print_table(f"{name}: circle_packing with the embedded model, {budget} evaluations per seed",
                ["seed", "evals", "valid", "LLM props", "LLM ok", "share", "tuning evals",
                 "best", "QD score", "elites LLM (tuned)/local/init", "LLM lineage", "wall s"],
                [[r["seed"], r["evaluations"], r["valid_evaluations"], r["llm_proposals"],
                  r["llm_valid_new"], r["llm_valid_new_share"], r["tuning_evaluations"],
                  r["best_score"], r["qd_score"],
                  f"{r['elites_by_kind']['llm']} ({r['llm_elites_tuned']})/"
                  f"{r['elites_by_kind']['local']}/{r['elites_by_kind']['initial']}",
                  r["elites_with_llm_ancestry"], r["wall_s"]] for r in runs])
    statuses = sorted({s for r in runs for c in r["by_operator"].values() for s in c})
    print_table(f"{name}: proposals by operator and status (all seeds)", ["operator", *statuses],
                [[op, *[sum(r["by_operator"].get(op, {}).get(s, 0) for r in runs)
                        for s in statuses]]
                 for op in sorted({op for r in runs for op in r["by_operator"]})])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seed 0, 50 evaluations")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds (default 0 with --quick, else 0 1 2)")
    parser.add_argument("--budget", type=int, default=None,
                        help="evaluations per seed (default 50 with --quick, else 100)")
    parser.add_argument("--variants", nargs="+", default=["default"], choices=sorted(VARIANTS),
                        help="configurations to compare, run seed by seed in this order")
    parser.add_argument("--name", default="circle_packing", help="JSON file name stem")
    add_output_args(parser)
    args = parser.parse_args()
    seeds = args.seeds if args.seeds is not None else ([0] if args.quick else [0, 1, 2])
    budget = args.budget if args.budget is not None else (50 if args.quick else 100)
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in args.variants}
    with tempfile.TemporaryDirectory(prefix="qd-bench-circle-") as tmp:
        for seed in seeds:  # seed-major: every variant of a seed under similar load
            for variant in args.variants:
                folder = Path(tmp) / f"{variant}-seed-{seed}"
                r = run_seed(seed, budget, folder, VARIANTS[variant])
                results[variant].append(r)
                print(f"{variant} seed {seed}: {r['evaluations']} evaluations, best "
                      f"{r['best_score']:.4f}, QD {r['qd_score']:.2f}, LLM ok "
                      f"{r['llm_valid_new']}/{r['llm_proposals']}, LLM elites "
                      f"{r['elites_by_kind']['llm']} ({r['wall_s']:.0f} s)", flush=True)
    for variant, runs in results.items():
        _report(variant, budget, runs)
    summary = {v: totals(runs) for v, runs in results.items()}
    print_table("variants compared (all seeds)",
                ["variant", "LLM ok / props", "share", "seeds with LLM elite",
                 "LLM elites (tuned)", "best per seed", "QD score per seed", "wall s"],
                [[v, f"{t['llm_valid_new']}/{t['llm_proposals']}", t["llm_valid_new_share"],
                  f"{t['seeds_with_llm_elite']}/{len(seeds)}",
                  f"{t['elites_by_kind']['llm']} ({t['llm_elites_tuned']})",
                  " ".join(f"{x:.3f}" for x in t["best_score"]),
                  " ".join(f"{x:.2f}" for x in t["qd_score"]), t["wall_s"]]
                 for v, t in summary.items()])
    payload = {"spec": SPEC, "seeds": seeds, "budget": budget,
               "variants": {v: VARIANTS[v] for v in args.variants},
               "runs": results, "total": summary}
    print(f"wrote {write_result(args.name, payload, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
