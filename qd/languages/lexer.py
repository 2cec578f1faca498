"""A small lexer for languages qd does not parse: where comments, strings and code stand.

Enough to strip comments, find numeric literals outside strings and comments, and count
branch points; it is not a parser (the language's compiler checks the syntax).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["code", "comment", "string"]
# A one-character literal ('a', '\n', '\x41', '\u{1F600}'); anything else after a quote is code
# (Rust lifetimes 'a, Julia's adjoint A').
_CHAR = re.compile(r"'(?:\\(?:x[0-9A-Fa-f]{2}|u\{[0-9A-Fa-f]{1,6}\}|u[0-9A-Fa-f]{4}|.)|[^'\\\n])'")


@dataclass(frozen=True)
class Syntax:
    """Comment and string delimiters of a language.

    Attributes:
        line_comments: Tokens that comment out the rest of the line ("//", "#", "!").
        block_comments: (open, close) pairs ("/*", "*/").
        nested_blocks: Block comments nest (Rust, Julia, Wolfram).
        quotes: String delimiters with backslash escapes.
        raw_quotes: String delimiters without escapes (Go's and JavaScript's backquote).
        char_quote: `'` opens a one-character literal ('a'), not a string.
    """

    line_comments: tuple[str, ...] = ("//",)
    block_comments: tuple[tuple[str, str], ...] = (("/*", "*/"),)
    nested_blocks: bool = False
    quotes: tuple[str, ...] = ('"',)
    raw_quotes: tuple[str, ...] = ()
    char_quote: bool = True


def _block_end(code: str, start: int, pair: tuple[str, str], nested: bool) -> int:
    """Index just after the block comment opened at `start` (end of text if never closed)."""
    opening, closing = pair
    depth, i = 1, start + len(opening)
    while i < len(code):
        if code.startswith(closing, i):
            depth -= 1
            i += len(closing)
            if depth == 0 or not nested:
                return i
        elif nested and code.startswith(opening, i):
            depth += 1
            i += len(opening)
        else:
            i += 1
    return len(code)


def _string_end(code: str, start: int, quote: str, escapes: bool) -> int:
    """Index just after the string opened at `start` (end of line if never closed)."""
    i = start + 1
    while i < len(code):
        char = code[i]
        if escapes and char == "\\":
            i += 2
            continue
        if char == quote:
            return i + 1
        if char == "\n" and quote not in ("`",):
            return i
        i += 1
    return len(code)


def _token_at(code: str, i: int, syntax: Syntax) -> tuple[Kind, int] | None:
    """(kind, end) of a comment or string starting at `i`, or None for code."""
    for token in syntax.line_comments:
        if code.startswith(token, i):
            end = code.find("\n", i)
            return "comment", len(code) if end < 0 else end
    for pair in syntax.block_comments:
        if code.startswith(pair[0], i):
            return "comment", _block_end(code, i, pair, syntax.nested_blocks)
    char = code[i]
    if char in syntax.quotes:
        return "string", _string_end(code, i, char, escapes=True)
    if char in syntax.raw_quotes:
        return "string", _string_end(code, i, char, escapes=False)
    if syntax.char_quote and char == "'":
        match = _CHAR.match(code, i)
        if match:
            return "string", match.end()
    return None


def segments(code: str, syntax: Syntax) -> list[tuple[Kind, int, int]]:
    """Cut `code` into consecutive (kind, start, end) spans of code, comments and strings."""
    out: list[tuple[Kind, int, int]] = []
    start = i = 0
    while i < len(code):
        found = _token_at(code, i, syntax)
        if found is None:
            i += 1
            continue
        kind, end = found
        if i > start:
            out.append(("code", start, i))
        out.append((kind, i, end))
        start = i = end
    if start < len(code):
        out.append(("code", start, len(code)))
    return out


def without_comments(code: str, syntax: Syntax, blank_strings: bool = False) -> str:
    """`code` with every comment removed (a line comment's newline is kept); strings are kept,
    or replaced by `""` when `blank_strings` (for counting keywords in code only).
    """
    parts = []
    for kind, start, end in segments(code, syntax):
        if kind == "code":
            parts.append(code[start:end])
        elif kind == "string":
            parts.append('""' if blank_strings else code[start:end])
        else:
            parts.append(" ")
    return "".join(parts)


def normalised(code: str, syntax: Syntax) -> str:
    """Comments removed and every run of whitespace one space: equal for programs that differ
    only in comments and layout.
    """
    return re.sub(r"\s+", " ", without_comments(code, syntax)).strip()
