"""Python: the code utilities through Python's own syntax tree, checked in-process.

`compile` checks the syntax (it never runs the code, so no sandbox is needed); duplicates are
compared on the syntax tree without docstrings; literals and branch points come from the tree.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from qd.languages.language import Language
from qd.languages.lexer import Syntax
from qd.languages.literals import NumericLiteral

_BRANCHES = (ast.If, ast.For, ast.While, ast.AsyncFor, ast.With, ast.Try, ast.ExceptHandler,
             ast.BoolOp, ast.IfExp, ast.comprehension, ast.Match)


def python_syntax_problem(source: str) -> str | None:
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


def python_normalise(code: str) -> str:
    """AST round trip without docstrings; raw whitespace-collapsed text without `#` comments
    when it does not parse.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return re.sub(r"\s+", " ", re.sub(r"#[^\n]*", "", code)).strip()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)):
            body[:1] = [] if len(body) > 1 else [ast.Pass()]
    return ast.unparse(tree)


def _excluded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Tell whether a literal is an index, slice bound or `axis=` argument (rarely worth it)."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Subscript) and child is parent.slice:
            return True
        if isinstance(parent, ast.keyword) and parent.arg in ("axis", "dtype", "ord"):
            return True
        if isinstance(parent, ast.stmt):
            return False
        child, parent = parent, parents.get(parent)
    return False


@dataclass(frozen=True)
class PythonLanguage(Language):
    """Python, with the code utilities on its syntax tree."""

    def syntax_problem(self, source: str) -> str | None:
        """Why `source` does not compile (`compile`, in-process), or None."""
        return python_syntax_problem(source)

    def normalise(self, code: str) -> str:
        """AST round trip without docstrings (see `python_normalise`)."""
        return python_normalise(code)

    def same_program(self, a: str, b: str) -> bool:
        """Same syntax tree (comments and formatting ignored); unparsable sources as text."""
        try:
            return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b))
        except (SyntaxError, ValueError):
            return a == b

    def complexity(self, code: str) -> float:
        """McCabe-style: 1 + branch points of the whole module (0 when it does not parse)."""
        try:
            tree = ast.parse(code)
        except SyntaxError:
            return 0.0
        return float(1 + sum(isinstance(node, _BRANCHES) for node in ast.walk(tree)))

    def literals(self, source: str, spans: Sequence[tuple[int, int]],
                 include_ints: bool = True) -> list[NumericLiteral]:
        """Numeric constants of the syntax tree on lines inside `spans`; booleans, complex and
        non-finite numbers, indices, slice bounds and `axis=`/`dtype=`/`ord=` arguments left
        out, and ints too unless `include_ints`.
        """
        tree = ast.parse(source)
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        found = []
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
                continue
            if not isinstance(node.value, int | float) or not math.isfinite(node.value):
                continue
            if isinstance(node.value, int) and not include_ints:
                continue
            if not any(a <= node.lineno <= b for a, b in spans) or _excluded(node, parents):
                continue
            found.append(NumericLiteral(node.value, node.lineno, node.col_offset,
                                        node.end_col_offset))
        return sorted(found, key=lambda lit: (lit.line, lit.start))

    @property
    def supports_statements(self) -> bool:
        """Python blocks can be cut into named statements (functions, assignments)."""
        return True


PYTHON = PythonLanguage(
    name="python", title="Python", extensions=(".py",), fence="python",
    fence_tags=("python", "py", "python3", "py3"),
    syntax=Syntax(line_comments=("#",), block_comments=(), quotes=('"', "'"), char_quote=False),
    comment="#",
)
