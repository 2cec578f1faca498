"""Variations without a model: numeric-literal perturbation and crossover of two programs.

Both only touch EVOLVE-BLOCKs and keep the program compilable; they are cheap, always valid
syntax, and give a weak model's search the small steps it rarely produces itself.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

import numpy as np

from mutators.program.blocks import ProgramTemplate, common_indent
from mutators.program.checks import same_program, syntax_problem
from qd.languages import PYTHON, Language, NumericLiteral, format_literal


def find_literals(source: str, include_ints: bool = True,
                  language: Language = PYTHON) -> list[NumericLiteral]:
    """Find the numeric literals inside the EVOLVE-BLOCKs of `source`, in file order.

    Booleans, complex and non-finite numbers, indices, slice bounds and `axis=`/`dtype=`/`ord=`
    arguments are left out, and so are ints when `include_ints` is False. Python's come from
    its syntax tree; other languages' from their lexer (`Language.literals`: never in comments
    or strings, type suffixes such as `1.5f` kept when rewritten).
    """
    template = ProgramTemplate.parse(source, language)
    spans = [template.block_span(i) for i in range(len(template.block_texts))]
    return language.literals(source, spans, include_ints)


def perturb_value(value: int | float, rng: np.random.Generator, sigma: float) -> int | float:
    """Return `value` changed a little, keeping ints ints and the sign of non-zero values.

    Floats are scaled by exp(N(0, sigma)) or shifted by N(0, sigma * max(|v|, 0.1)) (each half
    the time; zero is always shifted). Ints move by at least 1 and about sigma * |v|.
    """
    if isinstance(value, int):
        step = max(1, round(abs(value) * sigma * abs(rng.normal())))
        new = value + step * (1 if rng.random() < 0.5 else -1)
        if value != 0 and (new == 0 or (new > 0) != (value > 0)):
            new = value + step * (1 if value > 0 else -1)
        return new
    if value == 0 or rng.random() < 0.5:
        new = value + rng.normal(0.0, sigma * max(abs(value), 0.1))
        if value != 0 and (new > 0) != (value > 0):
            new = value * math.exp(rng.normal(0.0, sigma))
        return float(new)
    return float(value * math.exp(rng.normal(0.0, sigma)))


def perturb_literals(source: str, rng: np.random.Generator, max_count: int = 3,
                     sigma: float = 0.1, include_ints: bool = False,
                     literals: Sequence[NumericLiteral] | None = None,
                     language: Language = PYTHON) -> tuple[str | None, str]:
    """Change 1 to `max_count` numeric literals inside the EVOLVE-BLOCKs.

    Args:
        source: The parent program.
        rng: Source of every random choice; a fixed seed gives a fixed child.
        max_count: Most literals changed.
        sigma: Relative size of a change.
        include_ints: Whether int literals may change too.
        literals: The literals that may change (e.g. those of some lines only, or found by
            another language's parser); default: `find_literals(source, include_ints)`.
        language: The program's language (its literals' syntax and its syntax check).

    Returns:
        (child, note) with a note listing each change, or (None, reason) when the blocks hold
        no literal that can change.
    """
    if literals is None:
        literals = find_literals(source, include_ints, language)
    if not literals:
        return None, "no numeric literal inside the EVOLVE-BLOCKs to perturb"
    count = int(rng.integers(1, min(max_count, len(literals)) + 1))
    chosen = sorted(rng.choice(len(literals), size=count, replace=False).tolist())
    lines = source.splitlines(keepends=True)
    changes = []
    for index in reversed(chosen):
        lit = literals[index]
        text = format_literal(lit.value, lit)
        for _ in range(20):
            new_text = format_literal(perturb_value(lit.value, rng, sigma), lit)
            if new_text != text:
                break
        raw = lines[lit.line - 1].encode()
        lines[lit.line - 1] = (raw[: lit.start] + new_text.encode() + raw[lit.end :]).decode()
        changes.append(f"{raw[lit.start : lit.end].decode()} -> {new_text} (line {lit.line})")
    child = "".join(lines)
    problem = syntax_problem(child, language)
    if problem:
        return None, f"perturbing literals broke the program: {problem}"
    return child, f"perturbed {count} literal{'s' if count > 1 else ''}: " + ", ".join(
        reversed(changes))


Level = Literal["blocks", "statements", "lines"]


@dataclass(frozen=True)
class _Unit:
    """A top-level statement of a block with the comment and blank lines before it."""

    key: tuple[str, str] | None
    first: int
    last: int
    names: frozenset[str]


def _key(node: ast.stmt) -> tuple[str, str] | None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return ("def", node.name)
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    if isinstance(node, ast.Assign | ast.AnnAssign) and len(targets) == 1 and isinstance(
            targets[0], ast.Name):
        return ("var", targets[0].id)
    return None


def _units(block: str) -> list[_Unit] | None:
    """Cut a block into top-level statements (None when the block does not parse alone)."""
    indent = common_indent(block)
    text = "\n".join(line[len(indent):] for line in block.splitlines())
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    units, previous = [], 0
    for node in tree.body:
        names = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
        units.append(_Unit(_key(node), previous, node.end_lineno, names))
        previous = node.end_lineno
    return units


def _subset(rng: np.random.Generator, n: int) -> set[int]:
    """Draw a random non-empty proper subset of range(n), n >= 2."""
    size = int(rng.integers(1, n))
    return set(rng.choice(n, size=size, replace=False).tolist())


def _mix_blocks(a: list[str], b: list[str], rng: np.random.Generator) -> list[str] | str:
    differing = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(differing) < 2:
        return "fewer than two EVOLVE-BLOCKs differ"
    take = {differing[i] for i in _subset(rng, len(differing))}
    return [b[i] if i in take else a[i] for i in range(len(a))]


def _mix_statements(a: list[str], b: list[str], rng: np.random.Generator) -> list[str] | str:
    units_a, units_b = [_units(x) for x in a], [_units(y) for y in b]
    if any(u is None for u in units_a + units_b):
        return "a block does not parse on its own"
    choices = []
    for i, (ua, ub) in enumerate(zip(units_a, units_b, strict=True)):
        lines_a, lines_b = a[i].splitlines(), b[i].splitlines()
        by_key = {u.key: u for u in ub if u.key}
        for u in ua:
            other = by_key.get(u.key)
            if other and lines_a[u.first:u.last] != lines_b[other.first:other.last]:
                choices.append((i, u, other))
    if len(choices) < 2:
        return "fewer than two named statements (functions, assignments) differ"
    take = [choices[k] for k in sorted(_subset(rng, len(choices)))]
    blocks = list(a)
    for i in sorted({c[0] for c in take}):
        lines_a, lines_b = a[i].splitlines(), b[i].splitlines()
        swap = {u.first: o for j, u, o in take if j == i}
        used = set().union(*(o.names for o in swap.values()))
        out, cursor = [], 0
        for u in units_a[i]:
            out += lines_a[cursor:u.first]
            o = swap.get(u.first)
            out += lines_b[o.first:o.last] if o else lines_a[u.first:u.last]
            cursor = u.last
        keys_a = {u.key for u in units_a[i]}
        for o in units_b[i]:
            if o.key and o.key not in keys_a and o.key[1] in used:
                out += lines_b[o.first:o.last]
        blocks[i] = "\n".join(out + lines_a[cursor:]) + "\n"
    return blocks


def _mix_lines(a: list[str], b: list[str], rng: np.random.Generator) -> list[str] | str:
    ops = [SequenceMatcher(None, x.splitlines(), y.splitlines(), autojunk=False).get_opcodes()
           for x, y in zip(a, b, strict=True)]
    hunks = [(i, k) for i, block in enumerate(ops)
             for k, op in enumerate(block) if op[0] != "equal"]
    if len(hunks) < 2:
        return "fewer than two differing line hunks"
    take = {hunks[k] for k in _subset(rng, len(hunks))}
    blocks = []
    for i, block in enumerate(ops):
        lines_a, lines_b, out = a[i].splitlines(), b[i].splitlines(), []
        for k, (_, i1, i2, j1, j2) in enumerate(block):
            out += lines_b[j1:j2] if (i, k) in take else lines_a[i1:i2]
        blocks.append("\n".join(out) + "\n" if out else "")
    return blocks


_LEVELS: dict[str, Callable[[list[str], list[str], np.random.Generator], list[str] | str]] = {
    "blocks": _mix_blocks, "statements": _mix_statements, "lines": _mix_lines}


def splice(a: str, b: str, rng: np.random.Generator, level: Level | Literal["auto"] = "auto",
           attempts: int = 10, language: Language = PYTHON) -> tuple[str | None, str]:
    """Cross two programs of the same problem over their EVOLVE-BLOCKs.

    Levels: "blocks" takes some whole blocks from `b`; "statements" takes some top-level
    functions and assignments (matched by name) from `b`, plus the `b`-only definitions they
    use (Python only: it needs the syntax tree); "lines" aligns the blocks line by line and
    takes some differing hunks from `b`. The child keeps `a`'s code outside the blocks,
    compiles (the language's syntax check), and differs from both parents; "auto" tries the
    levels the language supports in random order. Each level gets `attempts` random draws.

    Returns:
        (child, note) or (None, reason) when no level yields a new compilable program.
    """
    ta, tb = ProgramTemplate.parse(a, language), ProgramTemplate.parse(b, language)
    if ta.outside != tb.outside:
        return None, "the parents differ outside their EVOLVE-BLOCKs; splice needs programs " \
                     "of the same problem"
    if level == "statements" and not language.supports_statements:
        return None, (f"splice level 'statements' cuts blocks with Python's syntax tree; for "
                      f"{language.title} use level blocks, lines or auto")
    levels = list(_LEVELS) if level == "auto" else [level]
    if level == "auto":
        levels = [levels[i] for i in rng.permutation(len(levels))]
        levels = [n for n in levels if n != "statements" or language.supports_statements]
    reasons = []
    for name in levels:
        for _ in range(attempts):
            blocks = _LEVELS[name](ta.blocks, tb.blocks, rng)
            if isinstance(blocks, str):
                reasons.append(f"{name}: {blocks}")
                break
            child = ta.render(blocks)
            if not (same_program(child, a, language) or same_program(child, b, language)) \
                    and syntax_problem(child, language) is None:
                return child, f"spliced {name} of the second parent into the first"
        else:
            reasons.append(f"{name}: no draw gave a new program that compiles")
    return None, "no crossover possible (" + "; ".join(reasons) + ")"
