"""The operators that need no model: `perturb_literals` and `splice` (crossover of two parents)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from mutators.program.checks import finish
from mutators.program.local_ops import perturb_literals, splice
from mutators.program.operators import OperatorBase, OperatorConfig, register_operator
from mutators.program.types import MutationContext, Proposal


class PerturbLiteralsConfig(OperatorConfig):
    """Options of the `perturb_literals` operator."""

    name: Literal["perturb_literals"] = "perturb_literals"
    max_count: int = Field(3, ge=1, le=50, description="Most literals changed per child.")
    sigma: float = Field(0.1, gt=0.0, le=5.0, description="Relative size of a change.")
    include_ints: bool = Field(False, description="Whether int literals may change too (they "
                               "are often counts or exponents, and changing them breaks more).")


class SpliceConfig(OperatorConfig):
    """Options of the `splice` operator."""

    name: Literal["splice"] = "splice"
    level: Literal["auto", "blocks", "statements", "lines"] = Field(
        "auto", description="Granularity of the crossover; auto tries all in random order.")
    attempts: int = Field(10, ge=1, le=1000, description="Random draws per level.")


@register_operator("perturb_literals")
class PerturbLiterals(OperatorBase):
    """Change 1 to `max_count` numeric literals inside the EVOLVE-BLOCKs a little."""

    Config = PerturbLiteralsConfig
    needs_llm = False
    mode = None

    def propose(self, ctx: MutationContext, rng: np.random.Generator) -> Proposal:
        """Perturb the parent's literals (a fixed rng state gives a fixed child)."""
        cfg = self.config
        child, note = perturb_literals(ctx.parent.code, rng, cfg.max_count, cfg.sigma,
                                       cfg.include_ints, language=ctx.language)
        if child is None:
            return Proposal.reject(self.name, note)
        return finish(self.name, ctx.parent.code, child, note, ctx.language)


@register_operator("splice")
class Splice(OperatorBase):
    """Cross the parent with a second parent over blocks, statements or line hunks."""

    Config = SpliceConfig
    needs_llm = False
    mode = None
    parents = 2

    def propose(self, ctx: MutationContext, rng: np.random.Generator) -> Proposal:
        """Splice parts of `ctx.second_parent` into `ctx.parent`."""
        if ctx.second_parent is None:
            return Proposal.reject(self.name, "splice needs a second parent")
        child, note = splice(ctx.parent.code, ctx.second_parent.code, rng, self.config.level,
                             self.config.attempts, ctx.language)
        if child is None:
            return Proposal.reject(self.name, note)
        return finish(self.name, ctx.parent.code, child, note, ctx.language)
