"""Judge latency and parse rate on the embedded local model (Gemma 3 270M, CPU).

Asks ~20 distinct questions (ratings on three axes for five program variants, plus five
"interestingly new?" questions) with no retries, and reports per-call latency and the share of
answers the parsers understood. Writes runs/bench/judge_local.json.

    .venv/bin/python benchmarks/judge_local.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from qd.judge import Judge, JudgeRecords, JudgeSection  # noqa: E402
from qd.judge.build import resolved_judge_model  # noqa: E402
from qd.judge.prompts import novelty_prompt, parse_rating, parse_yes_no  # noqa: E402
from qd.llm import LLMClient  # noqa: E402

AXES = [{"name": "approach", "low": "greedy", "high": "optimisation-based"},
        {"name": "complexity", "low": "a few lines", "high": "many interacting parts"},
        {"name": "randomness", "low": "deterministic", "high": "randomised search"}]
VARIANTS = [
    "",
    "\ndef jitter(c):\n    import random\n    return [(x + random.random() * 0.01, y, r) "
    "for x, y, r in c]\n",
    "\ndef refine(c):\n    from scipy.optimize import minimize\n    return minimize(lambda v: "
    "-sum(v), [r for _, _, r in c], method='SLSQP')\n",
    "\ndef ring(n):\n    import math\n    return [(0.5 + 0.3 * math.cos(k), 0.5 + 0.3 * "
    "math.sin(k), 0.05) for k in range(n)]\n",
    "\ndef grid(n):\n    return [(0.1 + 0.2 * (i % 5), 0.1 + 0.2 * (i // 5), 0.1) "
    "for i in range(n)]\n",
]


async def _measure(judge: Judge, programs: list[str]) -> list[tuple[str, float, bool]]:
    out = []
    for code in programs:
        for index, axis in enumerate(judge.section.axes):
            t0 = time.perf_counter()
            answer = await judge._ask(f"rate:{axis.name}", judge._rating_prompt(axis, code),
                                      parse_rating)
            out.append((f"rate:{index}", time.perf_counter() - t0, answer.value is not None))
    for i, code in enumerate(programs):
        neighbours = [p for j, p in enumerate(programs) if j != i][:2]
        t0 = time.perf_counter()
        answer = await judge._ask("novel", novelty_prompt(code, neighbours, judge.task),
                                  parse_yes_no)
        out.append(("novel", time.perf_counter() - t0, answer.value is not None))
    return out


def main() -> None:
    """Run the measurement and print a summary."""
    initial = (ROOT / "problems/programs/circle_packing/initial.py").read_text()
    programs = [initial + v for v in VARIANTS]
    section = JudgeSection.model_validate({"model": "local", "axes": AXES, "retries": 0})
    t0 = time.perf_counter()
    with resolved_judge_model(section, []) as model:
        start_s = time.perf_counter() - t0
        judge = Judge(section, model, LLMClient(), JudgeRecords(), "pack circles in a square")
        rows = asyncio.run(_measure(judge, programs))
    usage = judge.client.ledger.totals()
    result = {"calls": len(rows), "server_start_s": start_s,
              "parsed": sum(ok for _, _, ok in rows),
              "parse_rate": sum(ok for _, _, ok in rows) / len(rows),
              "rating_parse_rate": _rate([ok for k, _, ok in rows if k.startswith("rate")]),
              "novelty_parse_rate": _rate([ok for k, _, ok in rows if k == "novel"]),
              "latency_median_s": statistics.median(t for _, t, _ in rows),
              "latency_max_s": max(t for _, t, _ in rows),
              "prompt_tokens_mean": usage.prompt_tokens / max(usage.calls, 1),
              "answers": [c.answer for c in judge.records.calls()]}
    path = write_result("judge_local", result)
    for key, value in result.items():
        if key != "answers":
            print(f"{key:22s} {value:.3g}" if isinstance(value, float) else f"{key:22s} {value}")
    print("answers:", result["answers"])
    print("written to", Path(path).relative_to(ROOT))


def _rate(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


if __name__ == "__main__":
    main()
