"""Program variation operators: their protocols, the registry and how to build one by name.

An LLM operator builds a `Prompt` (`build_prompt`) and turns the model's text into a
`Proposal` (`apply`); the engine makes the call in between. A local operator proposes a child
directly (`propose`). `parents` says how many parents an operator wants in its context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from mutators.program.types import Mode, MutationContext, Prompt, Proposal
from qd.components import ComponentConfig
from qd.languages import Language
from qd.registry import Registry

operator_registry: Registry[type] = Registry("operator")
register_operator = operator_registry.register


class OperatorConfig(ComponentConfig):
    """Base of every program operator's config; subclasses narrow `name` to a `Literal`."""


@runtime_checkable
class Operator(Protocol):
    """What every program operator exposes.

    Attributes:
        name: Registered name.
        needs_llm: True when a model call sits between `build_prompt` and `apply`.
        mode: "chat" or "completion" for LLM operators, None for local ones.
        parents: How many parents it uses (2: `MutationContext.second_parent` is required).
        languages: Names of the program languages it works on; None: any language.
    """

    name: str
    needs_llm: bool
    mode: Mode | None
    parents: int
    languages: frozenset[str] | None


@runtime_checkable
class LLMOperator(Operator, Protocol):
    """An operator that needs one model call per proposal."""

    def build_prompt(self, ctx: MutationContext, rng: np.random.Generator) -> Prompt:
        """Build the request for the model.

        Raises:
            OperatorError: The operator cannot work on this context (e.g. no second parent).
        """
        ...

    def apply(self, ctx: MutationContext, prompt: Prompt, response_text: str) -> Proposal:
        """Turn the model's text for `prompt` into a child, or a rejection with its reason."""
        ...


@runtime_checkable
class LocalOperator(Operator, Protocol):
    """An operator that proposes children without a model."""

    def propose(self, ctx: MutationContext, rng: np.random.Generator) -> Proposal:
        """Propose one child of `ctx.parent`, or a rejection with its reason."""
        ...


class OperatorBase:
    """Shared constructor and attributes of the registered operators."""

    Config: ClassVar[type[OperatorConfig]]
    needs_llm: ClassVar[bool] = True
    mode: ClassVar[Mode | None] = "chat"
    parents: ClassVar[int] = 1
    languages: ClassVar[frozenset[str] | None] = None
    #: Why the operator is limited to `languages` (shown when it is refused for another one).
    language_note: ClassVar[str] = ""

    def __init__(self, config: OperatorConfig | None = None) -> None:
        self.config = config if config is not None else self.Config()

    @property
    def name(self) -> str:
        """The registered name (the config's `name`)."""
        return self.config.name


def language_refusal(operator: Operator, language: Language) -> str | None:
    """Why `operator` cannot vary programs in `language`, or None when it can."""
    allowed = getattr(operator, "languages", None)
    if allowed is None or language.name in allowed:
        return None
    note = getattr(operator, "language_note", "")
    return (f"operator {operator.name!r} works on {', '.join(sorted(allowed))} programs only, "
            f"not {language.title}" + (f": {note}" if note else ""))


def operator_config(data: OperatorConfig | Mapping[str, Any]) -> OperatorConfig:
    """Validate an operator config given as a model or as plain data chosen by `name`.

    Raises:
        RegistryError: The name is unknown.
        SpecError: An option is invalid or unknown.
    """
    return operator_registry.config(data)  # type: ignore[no-any-return]


def make_operator(config: OperatorConfig | Mapping[str, Any] | str) -> Operator:
    """Build the registered operator named by `config` (a name alone takes the defaults)."""
    cfg = operator_config({"name": config} if isinstance(config, str) else config)
    return operator_registry.get(cfg.name)(cfg)
