"""Literal tuning: a short local search over the numeric literals of a child that a model made
and that changed the program's structure, run before the model's operator is rewarded.

A structural edit by a model (a new formula, another loop bound) arrives with the constants its
parent's structure was tuned for, so it usually loses its cell to the parent's tuned relatives
before anything adapts it; and when `perturb_literals` adapts it later, the credit goes to
`perturb_literals`. The tuner gives such a child up to `steps` evaluations of literal variants,
(1+1) hill climbing: each variant perturbs the best program so far, preferring the literals on
the lines the operator edited. Every variant is an ordinary proposal of the run: stored,
checked for exact duplicates, evaluated (one evaluation of `run.budget` each) and offered to the
archive, with `operator` = the operator that made the structure and `tuned_from` = the child's
id. The operator's arm is rewarded once, for the best of the child and its variants, and charged
for all their evaluations (`ProgramEngine._tune`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import numpy as np

from mutators.program.literals import changed_lines, structure_changed
from mutators.program.local_ops import find_literals, perturb_literals
from qd.languages import PYTHON, Language
from qd.program.config import TuneSection
from qd.program.types import Program, Status

#: evaluate(code, parent, note) -> the evaluated record (its status, and score when valid), or
#: None when the run has no evaluation left for it.
EvaluateVariant = Callable[[str, Program, str], Awaitable[Program | None]]


@dataclass(frozen=True)
class TuningOutcome:
    """What tuning one child did.

    Attributes:
        variants: The variants proposed, in order, as their evaluated records (a duplicate
            of an earlier program has status DUPLICATE and was not evaluated).
        best: The best valid program among the child and its variants.
    """

    variants: tuple[Program, ...]
    best: Program


class LiteralTuner:
    """Tunes the literals of the valid, structurally new children of some operators.

    Args:
        config: The `[llm.tune]` section.
        operators: Names of the operators whose children are tuned.
        language: The programs' language (how their literals are found and written).
        scale: The objective range (best − worst bound), the unit of `gap`.
    """

    def __init__(self, config: TuneSection, operators: Iterable[str],
                 language: Language = PYTHON, scale: float = 1.0) -> None:
        self.config = config
        self.operators = frozenset(operators)
        self.language = language
        self.scale = scale

    def wants(self, operator: str, parent: str, child: str) -> bool:
        """Whether a valid child of `operator` is to be tuned: the operator is one of the tuned
        ones and the child differs from `parent` in more than the tunable literals.
        """
        return (self.config.steps > 0 and operator in self.operators
                and structure_changed(parent, child, self.language, self.config.include_ints))

    def worth_it(self, score: float, best: float) -> bool:
        """Whether a child that scored `score` is worth tuning evaluations: it lies within
        `gap` × the objective range below `best`, the archive's best score.
        """
        return score >= best - self.config.gap * self.scale

    def variant(self, source: str, focus: frozenset[int],
                rng: np.random.Generator) -> tuple[str | None, str]:
        """One literal variant of `source`: (child, note), or (None, reason) when it has no
        literal to change. With probability `focus` only literals on the `focus` lines move.
        """
        cfg = self.config
        literals = find_literals(source, cfg.include_ints, self.language)
        near = [lit for lit in literals if lit.line in focus]
        if near and rng.random() < cfg.focus:
            literals = near
        if not literals:
            return None, "no numeric literal inside the EVOLVE-BLOCKs to tune"
        return perturb_literals(source, rng, cfg.max_count, cfg.sigma, cfg.include_ints,
                                literals, self.language)

    async def tune(self, child: Program, parent: str, rng: np.random.Generator,
                   evaluate: EvaluateVariant) -> TuningOutcome:
        """Hill-climb the literals of the evaluated, valid `child` of the program `parent`.

        Stops after `steps` variants, after `patience` variants in a row that are not better
        than the best so far, when a variant cannot be made, or when `evaluate` has no
        evaluation left.
        """
        cfg = self.config
        focus = changed_lines(parent, child.code or "")
        best, misses, variants = child, 0, []
        for step in range(1, cfg.steps + 1):
            code, note = self.variant(best.code or "", focus, rng)
            if code is None:
                break
            record = await evaluate(code, best, f"tuned literals of program {child.id} "
                                                f"(step {step} of {cfg.steps}): {note}")
            if record is None:
                break
            variants.append(record)
            if record.status is Status.OK and record.score is not None \
                    and best.score is not None and record.score > best.score:
                best, misses = record, 0
                continue
            misses += 1
            if cfg.patience and misses >= cfg.patience:
                break
        return TuningOutcome(tuple(variants), best)


def tuned_operators(config: TuneSection, operators: Iterable[object]) -> list[str]:
    """Names of the operators whose children are tuned: `config.operators`, or by default the
    model operators in completion mode among `operators` (operator objects).
    """
    if config.operators is not None:
        return list(config.operators)
    return [op.name for op in operators  # type: ignore[attr-defined]
            if getattr(op, "needs_llm", False) and getattr(op, "mode", None) == "completion"]
