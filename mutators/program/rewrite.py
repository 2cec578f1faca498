"""Full rewrites: take new EVOLVE-BLOCK code out of a model response and splice it into the parent.

The response may hold the whole program (markers kept: only the blocks are taken, so code
outside them cannot change) or, for a single-block program, just the block's code, with or
without a code fence. The child must compile; code outside the blocks is the parent's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mutators.program.blocks import ProgramTemplate, TemplateError, common_indent, is_marker
from mutators.program.checks import finish
from mutators.program.types import Proposal
from qd.languages import PYTHON, Language

_OPEN = re.compile(r"^[ \t]*(```|~~~)[ \t]*([\w+.-]*)")


@dataclass(frozen=True)
class Fence:
    """One fenced code block of a response.

    Attributes:
        lang: The info string after the opening fence ("" when none), lower case.
        code: The lines between the fences.
        closed: False when the response ended inside the fence (cut off).
    """

    lang: str
    code: str
    closed: bool


def fences(text: str) -> list[Fence]:
    """Return the fenced code blocks of `text`, in order (an unterminated last one included)."""
    found: list[Fence] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opened = _OPEN.match(lines[index])
        if not opened:
            index += 1
            continue
        mark, body, index = opened.group(1), [], index + 1
        while index < len(lines) and lines[index].strip() != mark:
            body.append(lines[index])
            index += 1
        found.append(Fence(opened.group(2).lower(), "\n".join(body), index < len(lines)))
        index += 1
    return found


def extract_code(response: str, language: Language = PYTHON) -> str:
    """Return the program text of a response: the best code fence in `language`, or the whole
    text.

    Among fences tagged as the language (e.g. ```c, ```h for C) or untagged, one holding
    EVOLVE-BLOCK markers wins, then the longest. Without such fences the stripped response is
    returned as it is; with only empty ones, the empty string.
    """
    tags = {"", *language.fence_tags}
    code_fences = [f for f in fences(response) if f.lang in tags]
    candidates = [f for f in code_fences if f.code.strip()]
    if not candidates:
        return "" if code_fences else response.strip("\n")
    marked = [f for f in candidates
              if any(is_marker(line, language) for line in f.code.splitlines())]
    return max(marked or candidates, key=lambda f: len(f.code)).code


def _drop_repeated(lines: list[str], fixed: str, at_start: bool) -> list[str]:
    """Remove `fixed`'s non-blank lines when `lines` repeat them at its start (or end)."""
    wanted = [line.strip() for line in fixed.splitlines() if line.strip() and not is_marker(line)]
    if not wanted:
        return lines
    order = range(len(lines)) if at_start else range(len(lines) - 1, -1, -1)
    seen = [i for i in order if lines[i].strip()][: len(wanted)]
    got = [lines[i].strip() for i in seen]
    if got != (wanted if at_start else wanted[::-1]):
        return lines
    return lines[seen[-1] + 1 :] if at_start else lines[: seen[-1]]


def _indent_to(code: str, indent: str) -> str:
    current = common_indent(code)
    if current == indent:
        return code
    lines = [indent + line[len(current) :] if line.strip() else "" for line in code.splitlines()]
    return "\n".join(lines) + "\n"


def new_blocks(template: ProgramTemplate, code: str,
               language: Language | None = None) -> tuple[list[str] | None, str]:
    """Return the block texts a rewrite gives for `template`, or None and why it cannot.

    Args:
        template: The parent's template.
        code: Program text from `extract_code`.
        language: The program's language (its markers only), None for any.
    """
    if not code.strip():
        return None, "the response contains no code"
    if any(is_marker(line, language) for line in code.splitlines()):
        try:
            rewritten = ProgramTemplate.parse(code, language)
        except TemplateError as err:
            return None, f"the rewrite's EVOLVE-BLOCK markers are broken: {err}"
        count, wanted = len(rewritten.block_texts), len(template.block_texts)
        if count != wanted:
            return None, f"the rewrite has {count} EVOLVE-BLOCKs but the program has {wanted}"
        blocks = rewritten.blocks
    elif len(template.block_texts) == 1:
        lines = code.splitlines()
        lines = _drop_repeated(lines, template.outside[0], at_start=True)
        lines = _drop_repeated(lines, template.outside[-1], at_start=False)
        blocks = ["\n".join(lines).strip("\n") + "\n"]
    else:
        return None, (
            f"the rewrite has no EVOLVE-BLOCK markers but the program has "
            f"{len(template.block_texts)} blocks; return the whole program with its markers"
        )
    return [_indent_to(block, template.block_indent(i)) for i, block in enumerate(blocks)], ""


def splice_rewrite(parent: str, response: str, operator: str = "rewrite",
                   language: Language = PYTHON) -> Proposal:
    """Build the child program a full-rewrite response describes.

    Args:
        parent: The parent's source (valid EVOLVE-BLOCK markers).
        response: The model's text.
        operator: Name recorded in the proposal.
        language: The program's language: the code fences taken, markers and syntax check.

    Returns:
        The child, or a rejection saying why (no code, broken markers, wrong block count, does
        not compile).
    """
    template = ProgramTemplate.parse(parent, language)
    code = extract_code(response, language)
    blocks, problem = new_blocks(template, code, language)
    if blocks is None:
        return Proposal.reject(operator, problem)
    cut = [f for f in fences(response) if not f.closed and f.code == code]
    proposal = finish(operator, parent, template.render(blocks), "rewrote the EVOLVE-BLOCKs",
                      language)
    if not proposal.ok and cut:
        reason = f"{proposal.reason} (the code fence is not closed: the response was cut off)"
        return Proposal.reject(operator, reason)
    return proposal
