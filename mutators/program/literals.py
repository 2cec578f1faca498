"""A program's structure without its tunable literals, and the lines an edit touched: how the
literal tuner (`qd/program/tuning.py`) tells an edit of the structure from a change of
constants, and which constants it moves first.

Language-neutral: the literals are those `perturb_literals` may change
(`local_ops.find_literals`, by the program's `qd.languages.Language`: Python's syntax tree,
other languages' lexer), and the masked program is compared by `Language.normalise`
(comments and formatting ignored), so a new language needs nothing here.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from mutators.program.blocks import TemplateError
from mutators.program.local_ops import find_literals
from qd.languages import PYTHON, Language


def structure(source: str, language: Language = PYTHON,
              include_ints: bool = False) -> str | None:
    """`source` with every tunable literal written as 0, normalised by the language; None when
    its literals cannot be found (it does not parse, or its markers are broken).
    """
    try:
        literals = find_literals(source, include_ints, language)
    except (TemplateError, SyntaxError, ValueError):
        return None
    lines = source.splitlines(keepends=True)
    for lit in reversed(literals):  # file order reversed: offsets on a line stay valid
        raw = lines[lit.line - 1].encode()
        lines[lit.line - 1] = (raw[: lit.start] + b"0" + raw[lit.end :]).decode()
    return language.normalise("".join(lines))


def structure_changed(parent: str, child: str, language: Language = PYTHON,
                      include_ints: bool = False) -> bool:
    """Tell whether `child` differs from `parent` in more than the tunable literals (a child
    whose literals cannot be found counts as changed).
    """
    a = structure(parent, language, include_ints)
    b = structure(child, language, include_ints)
    return a is None or b is None or a != b


def changed_lines(parent: str, child: str) -> frozenset[int]:
    """The 1-based lines of `child` that are new or replaced relative to `parent`."""
    matcher = SequenceMatcher(None, parent.splitlines(), child.splitlines(), autojunk=False)
    return frozenset(line + 1 for tag, _, _, j1, j2 in matcher.get_opcodes()
                     if tag in ("replace", "insert") for line in range(j1, j2))
