"""Checks every child program passes before it is proposed: compiles, fixed code intact, changed."""

from __future__ import annotations

import ast
import warnings

from mutators.program.blocks import outside_difference
from mutators.program.types import Proposal


def syntax_problem(source: str) -> str | None:
    """Why `source` does not compile, as one sentence with the line, or None when it does.

    `compile` is used rather than `ast.parse` alone because it also catches errors found by the
    symbol table (e.g. `return` outside a function, `nonlocal` of an unknown name).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, "<program>", "exec", dont_inherit=True)
        except SyntaxError as err:
            text = (err.text or "").rstrip()
            where = f" at line {err.lineno}" if err.lineno else ""
            shown = f": {text.strip()!r}" if text.strip() else ""
            return f"the program does not parse: {err.msg}{where}{shown}"
        except ValueError as err:  # e.g. source containing NUL bytes
            return f"the program does not parse: {err}"
    return None


def same_program(a: str, b: str) -> bool:
    """Tell whether `a` and `b` have the same syntax tree (comments and formatting ignored).

    Sources that do not parse are compared as text.
    """
    try:
        return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b))
    except (SyntaxError, ValueError):
        return a == b


def finish(operator: str, parent: str, child: str, note: str) -> Proposal:
    """Validate `child` against `parent` and wrap it as a proposal.

    Args:
        operator: Name of the proposing operator.
        parent: The parent's source.
        child: The candidate source.
        note: What the operator did, used as the reason of an accepted child.

    Returns:
        A rejection when the child does not compile or changes code outside the EVOLVE-BLOCKs;
        otherwise the child, with `changed` False (and a note saying so) when its syntax tree
        equals the parent's.
    """
    problem = syntax_problem(child) or outside_difference(parent, child)
    if problem:
        return Proposal.reject(operator, problem)
    if same_program(parent, child):
        return Proposal(child, f"{note}; the result is identical to the parent", operator, False)
    return Proposal(child, note, operator, True)
