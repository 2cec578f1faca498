"""Immutable records shared by the program operators: contexts, prompts, proposals (the
program record itself is `qd.program.types.Program`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from qd.errors import QDError
from qd.languages import PYTHON, Language
from qd.program.types import Program

Mode = Literal["chat", "completion"]


class OperatorError(QDError):
    """An operator cannot work on this program at all (a setup problem, not a bad response).

    Example: the completion operator is asked to evolve a function that no EVOLVE-BLOCK defines.
    A response that cannot be applied is never an exception: it is a `Proposal` with a reason.
    """

    exit_code = 2


@dataclass(frozen=True)
class MutationContext:
    """Everything an operator may use to propose one child.

    Attributes:
        parent: The program to vary.
        second_parent: Another program for crossover operators (from another cell or island).
        inspirations: A few other good programs shown to the model, e.g. elites of other cells.
        task: Description of the problem, shown at the top of prompts.
        last_failure: Why the previous attempt on this parent was rejected; retry prompts show it.
        language: The programs' language: markers, prompts, fences and checks follow it.
    """

    parent: Program
    second_parent: Program | None = None
    inspirations: tuple[Program, ...] = ()
    task: str = ""
    last_failure: str | None = None
    language: Language = PYTHON


@dataclass(frozen=True)
class Prompt:
    """A request for one model call, built by an LLM operator and handed back to its `apply`.

    Exactly one of `messages` (chat mode) and `text` (completion mode) is set.

    Attributes:
        operator: Name of the operator that built it.
        mode: "chat" (a list of role/content messages) or "completion" (plain text to continue).
        messages: Chat messages, each a mapping with "role" and "content".
        text: Text for a base model to continue.
        stop: Stop sequences the client should pass to the model.
        max_tokens: Suggested upper bound on generated tokens.
        temperature: Suggested sampling temperature, or None for the client's default.
        state: What the operator needs back in `apply` (e.g. the cut point of a completion).
        grammar: A GBNF grammar for the answer (llama.cpp), sent only to models that take
            grammars (`ModelConfig.grammar`); None: none.
    """

    operator: str
    mode: Mode
    messages: tuple[Mapping[str, str], ...] = ()
    text: str | None = None
    stop: tuple[str, ...] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    state: Mapping[str, Any] = field(default_factory=dict)
    grammar: str | None = None

    def __post_init__(self) -> None:
        if self.mode == "chat" and (not self.messages or self.text is not None):
            raise ValueError("a chat prompt needs messages and no text")
        if self.mode == "completion" and (self.text is None or self.messages):
            raise ValueError("a completion prompt needs text and no messages")


@dataclass(frozen=True)
class Proposal:
    """The outcome of one variation: a child program or the reason there is none.

    Attributes:
        code: Full source of the child, or None when the variation was rejected.
        reason: Why it was rejected, or a short note on what was done.
        operator: Name of the operator that produced it.
        changed: True when the child differs from the parent beyond comments and formatting
            (compared as syntax trees); False for a rejection or a copy of the parent.
        detail: Optional longer text for a retry prompt, e.g. the program lines closest to a
            SEARCH text that was not found; the engine may append it to `last_failure`.
    """

    code: str | None
    reason: str
    operator: str
    changed: bool = False
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when there is a child program (possibly identical to the parent)."""
        return self.code is not None

    @classmethod
    def reject(cls, operator: str, reason: str, detail: str = "") -> Proposal:
        """Build a proposal without a child, carrying the reason."""
        return cls(code=None, reason=reason, operator=operator, changed=False, detail=detail)
