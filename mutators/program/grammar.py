"""GBNF grammars (llama.cpp's grammar format) that keep a base model's answer well formed.

`line_grammar` constrains the rest of one cut line (the `infill` operator): balanced brackets,
the brackets the cut left open closed in the order the original line closed them, no newline
but the final one. llama.cpp's server samples only tokens the grammar allows, so an answer can
no longer run past its line or leave a bracket open; it can still be wrong Python otherwise
(`x = 1 +`), which the operator's compile check catches.
"""

from __future__ import annotations

_PAIRS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _PAIRS.items()}


def _code_chars(text: str) -> str:
    """`text` without its string literals and comment (brackets in them do not count)."""
    out, quote, i = [], "", 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "#":
            break
        else:
            out.append(c)
        i += 1
    return "".join(out)


def closers_needed(prefix: str, tail: str) -> list[str]:
    """The closing brackets that `tail` uses for brackets opened before it (in `prefix`, or on
    earlier lines when the statement spans lines), in the order it uses them.
    """
    stack = [c for c in _code_chars(prefix) if c in _PAIRS or c in _CLOSERS]
    opened: list[str] = []
    for c in stack:
        if c in _PAIRS:
            opened.append(c)
        elif opened and opened[-1] == _CLOSERS[c]:
            opened.pop()
    own: list[str] = []
    needed: list[str] = []
    for c in _code_chars(tail):
        if c in _PAIRS:
            own.append(c)
        elif c in _CLOSERS:
            if own:
                own.pop()
            else:
                needed.append(c)
                if opened:
                    opened.pop()
    return needed


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def line_grammar(prefix: str, tail: str) -> str:
    """A GBNF grammar for the rest of a line cut after `prefix` whose original rest is `tail`:
    text with balanced brackets that closes what `tail` closed of the brackets opened before
    the cut, in the same order, then a newline.
    """
    parts = ["seg"]
    for closer in closers_needed(prefix, tail):
        parts += [_literal(closer), "seg"]
    return "\n".join([
        f'root ::= {" ".join(parts)} "\\n"',
        'seg ::= ([^()\\[\\]{}\\n] | "(" seg ")" | "[" seg "]" | "{" seg "}")*',
    ]) + "\n"
