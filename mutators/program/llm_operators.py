"""The LLM operators: SEARCH/REPLACE diff, full rewrite, crossover (chat) and completion (base).

Which fits which model: a strong chat model does well with `diff` (cheap, focused edits) and
`rewrite` (bold changes); `crossover` merges two elites from different cells or islands; a small
base model cannot follow instructions and gets `completion` (FunSearch-style continuation).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from mutators.program.checks import finish
from mutators.program.completion import STOP_SEQUENCES, build_prompt_text, complete
from mutators.program.diff import apply_diff
from mutators.program.operators import OperatorBase, OperatorConfig, register_operator
from mutators.program.prompts import chat_messages, program_view, views
from mutators.program.rewrite import splice_rewrite
from mutators.program.types import MutationContext, OperatorError, Prompt, Proposal

_TEMPERATURE = Field(0.8, ge=0.0, le=2.0, description="Suggested sampling temperature.")
_INSPIRATIONS = Field(2, ge=0, le=10, description="Most inspiration programs shown.")


class DiffConfig(OperatorConfig):
    """Options of the `diff` operator."""

    name: Literal["diff"] = "diff"
    temperature: float = _TEMPERATURE
    max_tokens: int = Field(2048, ge=16, description="Suggested limit on generated tokens.")
    inspirations: int = _INSPIRATIONS
    threshold: float = Field(0.9, gt=0.0, le=1.0,
                             description="Least similarity accepted by fuzzy matching.")


class RewriteConfig(OperatorConfig):
    """Options of the `rewrite` operator."""

    name: Literal["rewrite"] = "rewrite"
    temperature: float = _TEMPERATURE
    max_tokens: int = Field(4096, ge=16, description="Suggested limit on generated tokens.")
    inspirations: int = _INSPIRATIONS


class CrossoverConfig(OperatorConfig):
    """Options of the `crossover` operator."""

    name: Literal["crossover"] = "crossover"
    temperature: float = _TEMPERATURE
    max_tokens: int = Field(4096, ge=16, description="Suggested limit on generated tokens.")


class CompletionConfig(OperatorConfig):
    """Options of the `completion` operator."""

    name: Literal["completion"] = "completion"
    strategy: Literal["cut", "versions"] = Field(
        "cut", description="cut: continue the parent's body after k lines; versions: write "
        "the next version after the earlier ones.")
    function: str | None = Field(None, description="Function to evolve; default: the first "
                                 "top-level function inside the EVOLVE-BLOCKs.")
    max_versions: int = Field(3, ge=1, le=10, description="Most earlier versions shown.")
    temperature: float = Field(0.6, ge=0.0, le=2.0, description="Suggested temperature.")
    max_tokens: int = Field(512, ge=16, description="Suggested limit on generated tokens.")


def _chat_values(ctx: MutationContext, inspirations: int) -> dict:
    return {"task": ctx.task.strip(), "parent": program_view(ctx.parent),
            "others": views(ctx.inspirations, inspirations), "last_failure": ctx.last_failure,
            "language": ctx.language}


@register_operator("diff")
class DiffOperator(OperatorBase):
    """Ask a chat model for SEARCH/REPLACE edits; apply them inside the EVOLVE-BLOCKs."""

    Config = DiffConfig

    def build_prompt(self, ctx: MutationContext, rng: np.random.Generator) -> Prompt:
        """Build the chat prompt (parent, inspirations, task, last rejection reason)."""
        messages = chat_messages("diff.j2", **_chat_values(ctx, self.config.inspirations))
        return Prompt(self.name, "chat", messages=messages, max_tokens=self.config.max_tokens,
                      temperature=self.config.temperature, state={"parent": ctx.parent.id})

    def apply(self, ctx: MutationContext, prompt: Prompt, response_text: str) -> Proposal:
        """Apply the response's edits; a failure's reason says which edit and why."""
        result = apply_diff(ctx.parent.code, response_text, self.config.threshold)
        if not result.ok:
            detail = (f"The program lines closest to that SEARCH text are:\n```\n"
                      f"{result.closest}\n```" if result.closest else "")
            return Proposal.reject(self.name, result.reason, detail)
        return finish(self.name, ctx.parent.code, result.source, result.reason, ctx.language)


@register_operator("rewrite")
class RewriteOperator(OperatorBase):
    """Ask a chat model for the whole program; take its EVOLVE-BLOCKs."""

    Config = RewriteConfig

    def build_prompt(self, ctx: MutationContext, rng: np.random.Generator) -> Prompt:
        """Build the chat prompt (parent, inspirations, task, last rejection reason)."""
        messages = chat_messages("rewrite.j2", **_chat_values(ctx, self.config.inspirations))
        return Prompt(self.name, "chat", messages=messages, max_tokens=self.config.max_tokens,
                      temperature=self.config.temperature, state={"parent": ctx.parent.id})

    def apply(self, ctx: MutationContext, prompt: Prompt, response_text: str) -> Proposal:
        """Splice the rewritten blocks into the parent."""
        return splice_rewrite(ctx.parent.code, response_text, self.name, ctx.language)


@register_operator("crossover")
class CrossoverOperator(OperatorBase):
    """Ask a chat model to merge two parents (e.g. elites of different cells or islands)."""

    Config = CrossoverConfig
    parents = 2

    def build_prompt(self, ctx: MutationContext, rng: np.random.Generator) -> Prompt:
        """Build the chat prompt showing both parents.

        Raises:
            OperatorError: The context has no second parent.
        """
        if ctx.second_parent is None:
            raise OperatorError("crossover needs a second parent (MutationContext.second_parent)")
        messages = chat_messages("crossover.j2", task=ctx.task.strip(),
                                 parent=program_view(ctx.parent),
                                 other=program_view(ctx.second_parent),
                                 last_failure=ctx.last_failure, language=ctx.language)
        state = {"parent": ctx.parent.id, "second_parent": ctx.second_parent.id}
        return Prompt(self.name, "chat", messages=messages, max_tokens=self.config.max_tokens,
                      temperature=self.config.temperature, state=state)

    def apply(self, ctx: MutationContext, prompt: Prompt, response_text: str) -> Proposal:
        """Splice the merged blocks into the first parent."""
        return splice_rewrite(ctx.parent.code, response_text, self.name, ctx.language)


@register_operator("completion")
class CompletionOperator(OperatorBase):
    """Let a base code model continue a FunSearch-style prompt of function versions."""

    Config = CompletionConfig
    mode = "completion"
    languages = frozenset({"python"})
    language_note = ("it renames, cuts and re-parses Python functions through Python's syntax "
                     "tree; use diff or rewrite with a chat model, or perturb_literals and splice")

    def build_prompt(self, ctx: MutationContext, rng: np.random.Generator) -> Prompt:
        """Build the completion text; its state holds the version number and the cut point.

        Raises:
            OperatorError: The parent defines no such function inside its EVOLVE-BLOCKs.
        """
        cfg = self.config
        text, state = build_prompt_text(ctx.parent, ctx.inspirations, ctx.task, cfg.strategy,
                                        cfg.max_versions, rng, cfg.function)
        return Prompt(self.name, "completion", text=text, stop=STOP_SEQUENCES,
                      max_tokens=cfg.max_tokens, temperature=cfg.temperature, state=state)

    def apply(self, ctx: MutationContext, prompt: Prompt, response_text: str) -> Proposal:
        """Complete the function with the continuation and put it in the parent's place."""
        return complete(ctx.parent.code, prompt.state, response_text, self.name)
