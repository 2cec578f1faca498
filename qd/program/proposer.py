"""Turn (model, operator, parents) into one proposed child: an LLM call or a local operator,
with one retry that shows the model why its previous answer was rejected.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from mutators.program.types import MutationContext, Proposal
from qd.llm.client import LLMClient, LLMError


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
                      rng: np.random.Generator) -> ProposalResult:
        """One child from `operator` (with `model` when it needs one)."""
        if not operator.needs_llm:
            return ProposalResult(operator.propose(ctx, rng), None)
        totals = {"cost_usd": 0.0, "prompt_tokens": 0, "completion_tokens": 0, "latency_s": 0.0}
        proposal: Proposal | None = None
        for _ in range(1 + self.retries):
            prompt = operator.build_prompt(ctx, rng)
            overrides: dict[str, Any] = {"stop": tuple(prompt.stop)} if prompt.stop else {}
            if prompt.max_tokens is not None:
                overrides["max_tokens"] = prompt.max_tokens
            if prompt.temperature is not None and model.temperature is None:
                overrides["temperature"] = prompt.temperature
            try:
                response = await self.client.complete(
                    model,
                    list(prompt.messages) if prompt.mode == "chat" else prompt.text,
                    **overrides,
                )
            except LLMError as err:
                reason = f"LLM call failed ({err.kind}): {err}"
                return ProposalResult(Proposal.reject(prompt.operator, reason), model.key,
                                      llm_error=err.kind, **totals)
            totals["cost_usd"] += response.cost_usd
            totals["prompt_tokens"] += response.prompt_tokens
            totals["completion_tokens"] += response.completion_tokens
            totals["latency_s"] += response.latency_s
            proposal = operator.apply(ctx, prompt, response.text)
            if proposal.ok:
                break
            ctx = dataclasses.replace(ctx, last_failure=proposal.reason)
        assert proposal is not None
        return ProposalResult(proposal, model.key, **totals)
