"""Program variation operators (LLM and local) over EVOLVE-BLOCK programs, registered by name.

Registered: diff, rewrite, crossover, completion, infill (LLM) and perturb_literals, splice (local).
See docs/operators.md.
"""

from mutators.program import infill, llm_operators, local_operators  # noqa: F401  (registration)
from mutators.program.blocks import ProgramTemplate, TemplateError, outside_unchanged
from mutators.program.operators import (
    LLMOperator,
    LocalOperator,
    Operator,
    OperatorConfig,
    make_operator,
    operator_config,
    operator_registry,
    register_operator,
)
from mutators.program.types import (
    MutationContext,
    OperatorError,
    Prompt,
    Proposal,
)

__all__ = [
    "LLMOperator",
    "LocalOperator",
    "MutationContext",
    "Operator",
    "OperatorConfig",
    "OperatorError",
    "ProgramTemplate",
    "Prompt",
    "Proposal",
    "TemplateError",
    "make_operator",
    "operator_config",
    "operator_registry",
    "outside_unchanged",
    "register_operator",
]
