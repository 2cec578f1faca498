"""LLM loop throughput: proposals per second at concurrency 1, 4 and 16, and engine overhead.

The program engine runs the toy problem against a scripted OpenAI-compatible server on
127.0.0.1 that answers every request after a fixed 200 ms. Every answer is the same valid diff,
so after the first child every proposal is rejected as a duplicate before evaluation: the
measurement is the proposal loop itself (bandit, parent selection, prompt, HTTP call, diff,
novelty filter, store), not the sandbox. Throughput is taken from the stored proposal times.

Overhead per candidate = wall time of each proposal in the engine minus the time spent inside
`LLMClient.complete` (the HTTP call through litellm), at concurrency 1: the engine's own work
(bandit, parents, prompt, diff, novelty filter, store writes). The litellm client's own cost is
reported apart, from a run against a 0 ms server.

    python benchmarks/llm_loop.py [--quick] [--save-doc] [--out PATH]

Writes runs/bench/llm_loop.json with {"throughput": {"1", "4", "16"}, "efficiency_16",
"overhead_ms", ...}. Targets: efficiency_16 >= 0.8, overhead < 5 ms.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, print_table, write_result  # noqa: E402

import qd  # noqa: E402
from qd.llm.client import LLMClient  # noqa: E402
from qd.program.engine import ProgramEngine  # noqa: E402
from tests.fixtures.scripted_llm import Reply, ScriptedLLMServer  # noqa: E402

TIMES = {"one": 0.0, "client": 0.0, "n": 0}


def _instrument() -> None:
    """Time each proposal and each client call (benchmark only; wraps two coroutines)."""
    one, complete = ProgramEngine._one, LLMClient.complete

    async def timed_one(self, *args, **kwargs):  # noqa: ANN001, ANN202
        t0 = time.perf_counter()
        try:
            return await one(self, *args, **kwargs)
        finally:
            TIMES["one"] += time.perf_counter() - t0
            TIMES["n"] += 1

    async def timed_complete(self, *args, **kwargs):  # noqa: ANN001, ANN202
        t0 = time.perf_counter()
        try:
            return await complete(self, *args, **kwargs)
        finally:
            TIMES["client"] += time.perf_counter() - t0

    ProgramEngine._one, LLMClient.complete = timed_one, timed_complete

TOY = ROOT / "tests" / "fixtures" / "programs" / "toy"
DIFF = ("<<<<<<< SEARCH\n    return [1.0, 1.0, 1.0]\n=======\n    return [2.0, 1.0, 1.0]\n"
        ">>>>>>> REPLACE\n")


def run(server: ScriptedLLMServer, concurrency: int, calls: int, out: Path) -> dict:
    """One run; returns proposals/s (from stored times) and the time split at concurrency 1."""
    model = (f'llm.models=[{{model="openai/scripted", api_base="{server.api_base}", '
             f'mode="chat", max_concurrency={concurrency}, timeout_s=30}}]')
    result = qd.evolve(TOY, out=out, overrides=[
        model, 'llm.operators=["diff"]', f"llm.proposals_in_flight={concurrency}",
        "llm.stagnation_limit=0", "llm.retries=0", "run.budget=1000",
        f"run.max_llm_calls={calls}"])
    with sqlite3.connect(out / "store.sqlite") as conn:
        rows = conn.execute("SELECT created, llm_latency_s FROM programs WHERE model IS NOT NULL "
                            "ORDER BY created").fetchall()
    times = [t for t, _ in rows]
    span = times[-1] - times[0]
    return {"proposals": len(rows), "per_s": (len(rows) - 1) / span if span > 0 else 0.0,
            "span_s": span, "llm_s": sum(lat for _, lat in rows[1:]),
            "reason": result.end.reason}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (< 60 s)")
    add_output_args(parser)
    args = parser.parse_args()
    per_slot = 8 if args.quick else 25
    results, rows = {}, []
    _instrument()
    with ScriptedLLMServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.respond_with(lambda request: Reply(text=DIFF))
        run(server, 1, 3, Path(tmp) / "warmup")  # imports litellm, starts its HTTP client
        server.latency_s = 0.0
        fast = run(server, 1, 4 * per_slot, Path(tmp) / "zero-latency")
        server.latency_s = 0.2
        for c in (1, 4, 16):
            TIMES.update(one=0.0, client=0.0, n=0)
            results[str(c)] = run(server, c, per_slot * c, Path(tmp) / f"c{c}")
            if c == 1:
                engine_ms = 1000 * (TIMES["one"] - TIMES["client"]) / max(TIMES["n"], 1)
            rows.append([c, results[str(c)]["proposals"], results[str(c)]["per_s"]])
    overhead_ms = engine_ms
    client_ms = 1000 * fast["span_s"] / max(fast["proposals"] - 1, 1)
    throughput = {c: r["per_s"] for c, r in results.items()}
    payload = {
        "latency_s": 0.2,
        "throughput": throughput,
        "efficiency_16": throughput["16"] / (16 * throughput["1"]),
        "efficiency_4": throughput["4"] / (4 * throughput["1"]),
        "overhead_ms": overhead_ms,
        "per_proposal_ms_zero_latency": client_ms,
        "litellm_client_ms": client_ms - overhead_ms,
        "runs": results,
    }
    print_table("LLM proposal loop, scripted server with 200 ms latency",
                ["concurrency", "proposals", "proposals/s"], rows)
    print(f"efficiency at 16: {payload['efficiency_16']:.3f} (target >= 0.8); engine overhead "
          f"per candidate (outside the LLM client): {overhead_ms:.2f} ms (target < 5); whole "
          f"loop per proposal against a 0 ms server (litellm client + engine): {client_ms:.1f} ms")
    print(f"wrote {write_result('llm_loop', payload, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
