"""Turn (model, operator, parents) into one proposed child: an LLM call or a local operator,
with one retry that shows the model why its previous answer was rejected.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from mutators.program.types import MutationContext, OperatorError, Proposal
from qd.llm.client import LLMClient, LLMError, LLMResponse
from qd.program.budget import CallTicket


@dataclass(frozen=True)
class ProposalResult:
    """A proposal plus what it cost."""

    proposal: Proposal
    model: str | None
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    llm_error: str | None = None


class Proposer:
    """Calls operators; LLM operators go through the shared `LLMClient`.

    Args:
        client: The LLM client (shared; it enforces per-model concurrency).
        retries: How many times a rejected LLM answer is retried with the rejection reason.
    """

    def __init__(self, client: LLMClient, retries: int = 1) -> None:
        self.client = client
        self.retries = retries

    async def propose(self, operator: Any, model: Any | None, ctx: MutationContext,
                      rng: np.random.Generator, calls: CallTicket | None = None
                      ) -> ProposalResult:
        """One child from `operator` (with `model` when it needs one).

        A rejected answer is retried `retries` times, or up to the operator's `samples` calls
        when it has more. `calls` admits each model call (the run's LLM budget): a retry it
        refuses is not made and the last rejection stands. A failed call's time until it
        failed is its latency.
        """
        # An operator's propose / apply may run the language's syntax check (a compiler in the
        # sandbox, ~0.2 s for C): in a thread, so the run's other proposals and evaluations go on.
        if not operator.needs_llm:
            try:
                return ProposalResult(await asyncio.to_thread(operator.propose, ctx, rng), None)
            except OperatorError as err:  # e.g. nothing to splice yet: a rejection, not a crash
                return ProposalResult(Proposal.reject(operator.name, str(err)), None)
        totals = {"cost_usd": 0.0, "prompt_tokens": 0, "completion_tokens": 0, "latency_s": 0.0}
        proposal: Proposal | None = None
        # An operator with `samples` (e.g. infill) asks again that often after a rejection.
        attempts = max(1 + self.retries, int(getattr(operator, "samples", 1)))
        for attempt in range(attempts):
            try:  # before the call is admitted: an operator that cannot work costs nothing
                prompt = operator.build_prompt(ctx, rng)
            except OperatorError as err:  # e.g. crossover with a single valid program so far
                return ProposalResult(Proposal.reject(operator.name, str(err)), model.key,
                                      **totals)
            if calls is not None and not calls.acquire():
                if attempt:
                    break  # no call left for a retry
                raise RuntimeError("a proposal's first LLM call must be reserved")
            overrides: dict[str, Any] = {"stop": tuple(prompt.stop)} if prompt.stop else {}
            if prompt.max_tokens is not None:
                overrides["max_tokens"] = prompt.max_tokens
            if prompt.temperature is not None and model.temperature is None:
                overrides["temperature"] = prompt.temperature
            if prompt.grammar is not None and model.grammar:
                overrides["grammar"] = prompt.grammar
            start = time.monotonic()
            response: LLMResponse | None = None
            try:
                response = await self.client.complete(
                    model,
                    list(prompt.messages) if prompt.mode == "chat" else prompt.text,
                    **overrides,
                )
            except LLMError as err:
                totals["latency_s"] += time.monotonic() - start
                reason = f"LLM call failed ({err.kind}): {err}"
                return ProposalResult(Proposal.reject(prompt.operator, reason), model.key,
                                      llm_error=err.kind, **totals)
            finally:
                if calls is not None:
                    calls.release(response)
            assert response is not None
            totals["cost_usd"] += response.cost_usd
            totals["prompt_tokens"] += response.prompt_tokens
            totals["completion_tokens"] += response.completion_tokens
            totals["latency_s"] += response.latency_s
            proposal = await asyncio.to_thread(operator.apply, ctx, prompt, response.text)
            if proposal.ok:
                break
            ctx = dataclasses.replace(ctx, last_failure=proposal.reason)
        assert proposal is not None
        return ProposalResult(proposal, model.key, **totals)
