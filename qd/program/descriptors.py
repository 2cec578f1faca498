"""Built-in program descriptors usable as archive measures next to the evaluator's own."""

from __future__ import annotations

import ast
from collections.abc import Callable

_BRANCHES = (ast.If, ast.For, ast.While, ast.AsyncFor, ast.With, ast.Try, ast.ExceptHandler,
             ast.BoolOp, ast.IfExp, ast.comprehension, ast.Match)


def code_length(code: str, eval_s: float) -> float:
    """Characters of code, excluding blank lines."""
    return float(sum(len(line) for line in code.splitlines() if line.strip()))


def line_count(code: str, eval_s: float) -> float:
    """Non-blank lines."""
    return float(sum(1 for line in code.splitlines() if line.strip()))


def complexity(code: str, eval_s: float) -> float:
    """McCabe-style cyclomatic complexity: 1 + branch points in the whole module."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return 0.0
    return float(1 + sum(isinstance(node, _BRANCHES) for node in ast.walk(tree)))


def eval_time(code: str, eval_s: float) -> float:
    """Wall-clock seconds the evaluation took."""
    return float(eval_s)


DESCRIPTORS: dict[str, Callable[[str, float], float]] = {
    "code_length": code_length,
    "lines": line_count,
    "complexity": complexity,
    "eval_time": eval_time,
}
