"""Judge discrimination, latency and parse rate on the embedded local model (Gemma 3 270M).

Rates five circle-packing variants on three axes and asks five "interestingly new?" questions
(no retries), once per scoring method — `sample` (parse one greedy answer) and `logprobs`
(QDAIF-style expected rating / P(yes) from next-token probabilities) — and per prompt variant
(the shipped zero-shot template `rate.j2`, program first and the axis after it, and the
earlier few-shot one, axis and three examples before the program). Reports, per axis, the
spread of ratings across programs (population std) and whether the program meant to be highest
on that axis got the highest rating. Writes runs/bench/judge_local.json.

    .venv/bin/python benchmarks/judge_local.py [--save-doc] [--out PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, write_result  # noqa: E402
from jinja2 import Template  # noqa: E402

from qd.judge import Judge, JudgeRecords, JudgeSection  # noqa: E402
from qd.judge.prompts import novelty_prompt, parse_rating, parse_yes_no, shorten_code  # noqa: E402
from qd.llm import LLMClient  # noqa: E402
from qd.llm.local_server import LocalModelServer  # noqa: E402

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
#: The variant meant to rate highest per axis (None: no clear expectation).
EXPECTED_TOP = {"approach": 2, "complexity": None, "randomness": 1}
FEW_SHOT = Template(
    "Programs are rated from 0 to 10 on \"{{ axis.name }}\". Answer with one number.\n"
    "0 means: {{ axis.low }}.\n10 means: {{ axis.high }}.\n"
    "{% if task %}The programs solve: {{ task }}\n{% endif %}\n"
    "Program: a program that is entirely {{ axis.low }}.\nRating (0-10): 0\n\n"
    "Program: a program that is entirely {{ axis.high }}.\nRating (0-10): 10\n\n"
    "Program: a program that is partly {{ axis.low }} and partly {{ axis.high }}.\n"
    "Rating (0-10): 5\n\nProgram:\n```python\n{{ code }}\n```\nRating (0-10):")


class FewShotJudge(Judge):
    """The judge with the earlier few-shot rating prompt (axis and examples first)."""

    def _rating_prompt(self, axis: Any, code: str) -> str:
        return FEW_SHOT.render(axis=axis, task=self.task,
                               code=shorten_code(code, self.section.max_code_chars))


async def _measure(judge: Judge, programs: list[str]) -> dict[str, Any]:
    ratings: dict[str, list[float | None]] = {a["name"]: [] for a in AXES}
    latency, novel = [], []
    for code in programs:
        for axis in judge.section.axes:
            t0 = time.perf_counter()
            answer = await judge._ask(f"rate:{axis.name}", judge._rating_prompt(axis, code),
                                      parse_rating, digits=True)
            latency.append(time.perf_counter() - t0)
            ratings[axis.name].append(answer.value)
    for i, code in enumerate(programs):
        neighbours = [p for j, p in enumerate(programs) if j != i][:2]
        t0 = time.perf_counter()
        answer = await judge._ask("novel", novelty_prompt(code, neighbours, judge.task),
                                  parse_yes_no, digits=False)
        latency.append(time.perf_counter() - t0)
        novel.append(answer.value)
    values = [v for r in ratings.values() for v in r] + novel
    axes = {}
    for name, row in ratings.items():
        ok = [float(v) for v in row if v is not None]
        top = EXPECTED_TOP[name]
        axes[name] = {"ratings": row, "std": statistics.pstdev(ok) if len(ok) > 1 else 0.0,
                      "expected_top": top,
                      "top_is_expected": (None if top is None or len(ok) < len(row)
                                          else max(range(len(ok)), key=ok.__getitem__) == top)}
    return {"axes": axes, "novelty": novel,
            "novelty_std": statistics.pstdev([float(v) for v in novel if v is not None] or [0]),
            "parse_rate": sum(v is not None for v in values) / len(values),
            "latency_median_s": statistics.median(latency), "latency_max_s": max(latency),
            "calls": len(judge.records.calls()),
            "prompt_tokens": judge.client.ledger.totals().prompt_tokens}


def main() -> None:
    """Run every (scoring, prompt) configuration on one logits-keeping local server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_args(parser)
    args = parser.parse_args()
    initial = (ROOT / "problems/programs/circle_packing/initial.py").read_text()
    programs = [initial + v for v in VARIANTS]
    result: dict[str, Any] = {"programs": ["initial" + (f" + {v.split('(')[0].strip()}"
                                                      if v else "") for v in VARIANTS],
                              "runs": {}}
    t0 = time.perf_counter()
    with LocalModelServer(extra_args=("--logits_all", "True")) as server:
        result["server_start_s"] = time.perf_counter() - t0
        model = server.model_config(name="judge/local/local")
        for scoring in ("sample", "logprobs"):
            for prompt, cls in (("shipped", Judge), ("few-shot", FewShotJudge)):
                section = JudgeSection.model_validate({"model": "local", "axes": AXES,
                                                       "retries": 0, "scoring": scoring})
                judge = cls(section, model, LLMClient(), JudgeRecords(),
                            "pack circles in a square")
                run = asyncio.run(_measure(judge, programs))
                result["runs"][f"{scoring}/{prompt}"] = run
                stds = {n: round(a["std"], 3) for n, a in run["axes"].items()}
                tops = {n: a["top_is_expected"] for n, a in run["axes"].items()}
                print(f"{scoring:8s} {prompt:9s} std {stds} top-as-expected {tops} "
                      f"novelty {run['novelty']} latency median {run['latency_median_s']:.2f}"
                      f" s, max {run['latency_max_s']:.2f} s")
                for name, axis in run["axes"].items():
                    print(f"    {name:10s} {axis['ratings']}")
    path = write_result("judge_local", result, args)
    print("written to", Path(path).relative_to(ROOT))


if __name__ == "__main__":
    main()
