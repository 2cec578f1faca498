"""Checks every child program passes before it is proposed: compiles, fixed code intact, changed.

The checks are the program's language's (`qd.languages`): Python is compiled in-process, a
compiled language's front end runs in the sandbox (`gcc -fsyntax-only`, ...).
"""

from __future__ import annotations

from mutators.program.blocks import outside_difference
from mutators.program.types import Proposal
from qd.languages import PYTHON, Language


def syntax_problem(source: str, language: Language = PYTHON) -> str | None:
    """Why `source` does not compile, as one sentence (with the line or the compiler's first
    errors), or None when it does.
    """
    return language.syntax_problem(source)


def same_program(a: str, b: str, language: Language = PYTHON) -> bool:
    """Tell whether `a` and `b` are the same program up to comments and formatting (Python:
    the same syntax tree; sources that do not parse are compared as text).
    """
    return language.same_program(a, b)


def finish(operator: str, parent: str, child: str, note: str,
           language: Language = PYTHON) -> Proposal:
    """Validate `child` against `parent` and wrap it as a proposal.

    Args:
        operator: Name of the proposing operator.
        parent: The parent's source.
        child: The candidate source.
        note: What the operator did, used as the reason of an accepted child.
        language: The program's language (its markers, syntax check and comparison).

    Returns:
        A rejection when the child does not compile or changes code outside the
        EVOLVE-BLOCKs; otherwise the child, with `changed` False (and a note saying so) when it
        equals the parent up to comments and formatting.
    """
    problem = syntax_problem(child, language) or outside_difference(parent, child, language)
    if problem:
        return Proposal.reject(operator, problem)
    if same_program(parent, child, language):
        return Proposal(child, f"{note}; the result is identical to the parent", operator, False)
    return Proposal(child, note, operator, True)
