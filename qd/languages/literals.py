"""Numeric literals of a program: where they stand, and how a changed value is written back.

Python's literals come from its syntax tree (`qd.languages.python`); other languages' from the
lexer: numbers in code (never in comments or strings), with the language's exponent letters
and type suffixes (`1.5f`, `2.0_f64`, `1.0d0`, `10u`) kept when a value is rewritten.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from qd.languages.lexer import Syntax, segments

#: Lines of C-family preprocessor directives whose numbers are never changed.
_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(include|import|pragma|if|ifdef|ifndef|elif|line|error)")
_HEX_PREFIXES = ("x", "X", "b", "B", "o", "O")


@dataclass(frozen=True)
class NumericLiteral:
    """A numeric literal of a program: its value and where its text stands.

    Attributes:
        value: The int or float value.
        line: 1-based line.
        start: Byte offset of its first character in the line (UTF-8).
        end: Byte offset just after its last character.
        suffix: Text kept after a rewritten value (a type suffix such as `f` or `_f64`).
        exponent: The exponent letter a rewritten float must carry ("" for none required;
            "d" for Fortran's double-precision `1.0d0`).
    """

    value: int | float
    line: int
    start: int
    end: int
    suffix: str = ""
    exponent: str = ""


@functools.lru_cache(maxsize=16)
def number_pattern(exponents: str) -> re.Pattern[str]:
    """The regex of a number token with exponent letters `exponents` (e.g. "eE")."""
    return re.compile(
        r"(?<![\w.$'])"  # not inside an identifier, after a dot or a Verilog size quote
        r"(?P<mant>(?:\d+(?:_+\d+)*)?\.\d+(?:_+\d+)*|\d+(?:_+\d+)*\.(?![.\w])|\d+(?:_+\d+)*)"
        rf"(?P<exp>[{exponents}][+-]?\d+)?"
        r"(?P<suffix>[A-Za-z_]\w*)?"
        r"(?!['.\w])"
    )


def _value(match: re.Match[str]) -> int | float | None:
    mant, exp, suffix = match.group("mant"), match.group("exp") or "", match.group("suffix")
    if suffix and mant == "0" and suffix[0] in _HEX_PREFIXES:
        return None  # 0x1F, 0b101, 0o17
    digits = mant.replace("_", "")
    try:
        if "." in digits or exp:
            value = float(digits + ("e" + exp[1:] if exp else ""))
            return value if math.isfinite(value) else None
        return int(digits)
    except ValueError:
        return None


def _indexing(line: str, start: int, end: int) -> bool:
    """Tell whether the number at [start, end) of `line` is alone inside brackets: `a[3]`."""
    before, after = line[:start].rstrip(), line[end:].lstrip()
    return before.endswith("[") and after.startswith("]")


def find_text_literals(source: str, syntax: Syntax, pattern: re.Pattern[str],
                       spans: Sequence[tuple[int, int]], include_ints: bool,
                       directives: bool) -> list[NumericLiteral]:
    """Numeric literals in the code (not comments or strings) of lines inside `spans`.

    Args:
        source: The program.
        syntax: The language's comment and string delimiters.
        pattern: From `number_pattern`.
        spans: (first, last) 1-based lines to search (the EVOLVE-BLOCKs).
        include_ints: Whether int literals are included.
        directives: Skip C preprocessor lines other than `#define`.
    """
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    lines = source.splitlines(keepends=True)
    found = []
    for kind, seg_start, seg_end in segments(source, syntax):
        if kind != "code":
            continue
        for match in pattern.finditer(source, seg_start, seg_end):
            value = _value(match)
            if value is None or (isinstance(value, int) and not include_ints):
                continue
            line_no = _line_of(starts, match.start())
            if not any(a <= line_no <= b for a, b in spans):
                continue
            text = lines[line_no - 1]
            col, col_end = match.start() - starts[line_no - 1], match.end() - starts[line_no - 1]
            if (directives and _DIRECTIVE.match(text)) or _indexing(text, col, col_end):
                continue
            exp = match.group("exp") or ""
            found.append(NumericLiteral(
                value, line_no, len(text[:col].encode()), len(text[:col_end].encode()),
                suffix=match.group("suffix") or "",
                exponent=exp[0].lower() if exp and exp[0] not in "eE" else ""))
    return found


def _line_of(starts: list[int], offset: int) -> int:
    low, high = 0, len(starts) - 1
    while low < high:
        mid = (low + high + 1) // 2
        if starts[mid] <= offset:
            low = mid
        else:
            high = mid - 1
    return low + 1


def format_literal(value: int | float, literal: NumericLiteral | None = None) -> str:
    """Source text of `value` in the form of `literal` (its suffix and exponent letter kept);
    negative values in parentheses, so `a - x` never becomes `a --x`.
    """
    if isinstance(value, int):
        text = str(value)
    else:
        text = f"{value:.6g}"
        if not any(c in text for c in ".en"):
            text += ".0"
    if literal is not None and literal.exponent and isinstance(value, float):
        text = text.replace("e", literal.exponent) if "e" in text else \
            text + literal.exponent + "0"
    if literal is not None:
        text += literal.suffix
    return f"({text})" if text.startswith("-") else text
