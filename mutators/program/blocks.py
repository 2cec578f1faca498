"""EVOLVE-BLOCK templates: split a program into fixed code and evolvable blocks, and back."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from qd.errors import QDError
from qd.languages import PYTHON, Language, language_registry

START_MARKER = PYTHON.start_marker
END_MARKER = PYTHON.end_marker


@functools.lru_cache(maxsize=64)
def _marker_patterns(tokens: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(START, END) line patterns for marker lines opened by any of the comment `tokens`."""
    opener = "|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True))
    return (re.compile(rf"^[ \t]*(?:{opener})[ \t]*EVOLVE-BLOCK-START\b"),
            re.compile(rf"^[ \t]*(?:{opener})[ \t]*EVOLVE-BLOCK-END\b"))


def _patterns(language: Language | None) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Marker patterns of `language`, or of every registered language when None."""
    if language is not None:
        return _marker_patterns(language.marker_tokens)
    tokens = {t for _, lang in language_registry.items() for t in lang.marker_tokens}
    return _marker_patterns(tuple(sorted(tokens)))


class TemplateError(QDError, ValueError):
    """EVOLVE-BLOCK markers are missing, unbalanced or nested; the message names the line."""

    exit_code = 2


def is_marker(line: str, language: Language | None = None) -> bool:
    """Tell whether `line` is an EVOLVE-BLOCK start or end marker (indentation allowed), in
    `language`'s comments (None: in the comments of any registered language).
    """
    start, end = _patterns(language)
    return bool(start.match(line) or end.match(line))


@dataclass(frozen=True)
class ProgramTemplate:
    """A program cut into fixed segments and the evolvable blocks between them.

    `outside[i]` is the fixed text before block i (for i > 0 it starts with the END marker line
    of block i - 1 and ends with the START marker line of block i); `outside[-1]` runs from the
    last END marker to the end of the file. Joining outside and block texts alternately gives
    the source back exactly.

    Attributes:
        outside: Fixed segments, one more than there are blocks.
        block_texts: Text between each pair of markers (marker lines excluded).
        block_first_lines: 1-based line number in the file of each block's first line.
        outside_first_lines: 1-based line number in the file of each fixed segment's first line.
    """

    outside: tuple[str, ...]
    block_texts: tuple[str, ...]
    block_first_lines: tuple[int, ...]
    outside_first_lines: tuple[int, ...]

    @classmethod
    def parse(cls, source: str, language: Language | None = None) -> ProgramTemplate:
        """Split `source` at its EVOLVE-BLOCK markers.

        Args:
            source: The program.
            language: Accept only this language's comment markers (`// EVOLVE-BLOCK-START`
                for C) and name them in errors; None: markers in any registered language's
                comments, errors naming Python's.

        Raises:
            TemplateError: No markers, a START inside a block (nesting), an END without a
                START, or a START never closed.
        """
        lines = source.splitlines(keepends=True)
        outside: list[str] = []
        blocks: list[str] = []
        block_first: list[int] = []
        outside_first: list[int] = [1]
        segment_start, open_line = 0, None
        start_re, end_re = _patterns(language)
        named = language or PYTHON
        start_marker, end_marker = named.start_marker, named.end_marker
        for index, line in enumerate(lines):
            number = index + 1
            if start_re.match(line):
                if open_line is not None:
                    raise TemplateError(
                        f"nested EVOLVE-BLOCK: line {number} starts a block inside the block "
                        f"opened at line {open_line}; close it with {end_marker!r} first"
                    )
                outside.append("".join(lines[segment_start : index + 1]))
                open_line, segment_start = number, index + 1
                block_first.append(number + 1)
            elif end_re.match(line):
                if open_line is None:
                    raise TemplateError(
                        f"unbalanced EVOLVE-BLOCK markers: {end_marker!r} at line {number} "
                        f"has no {start_marker!r} before it"
                    )
                blocks.append("".join(lines[segment_start:index]))
                open_line, segment_start = None, index
                outside_first.append(number)
        if open_line is not None:
            raise TemplateError(
                f"unbalanced EVOLVE-BLOCK markers: the block opened at line {open_line} is "
                f"never closed with {end_marker!r}"
            )
        if not blocks:
            raise TemplateError(
                f"no EVOLVE-BLOCK markers: put the evolvable code between a line "
                f"{start_marker!r} and a line {end_marker!r}"
            )
        outside.append("".join(lines[segment_start:]))
        return cls(tuple(outside), tuple(blocks), tuple(block_first), tuple(outside_first))

    @property
    def blocks(self) -> list[str]:
        """Text of each evolvable block, in file order."""
        return list(self.block_texts)

    def render(self, new_blocks: Sequence[str]) -> str:
        """Return the program with its blocks replaced by `new_blocks` (same count and order).

        A non-empty block that lacks a final newline gets one, so the END marker keeps its line.

        Raises:
            ValueError: `new_blocks` has the wrong length or contains an EVOLVE-BLOCK marker.
        """
        if len(new_blocks) != len(self.block_texts):
            raise ValueError(
                f"got {len(new_blocks)} blocks for a program with {len(self.block_texts)}"
            )
        parts = [self.outside[0]]
        for block, segment in zip(new_blocks, self.outside[1:], strict=True):
            if any(is_marker(line) for line in block.splitlines()):
                raise ValueError("a new block contains an EVOLVE-BLOCK marker line")
            if block and not block.endswith("\n"):
                block += "\n"
            parts += [block, segment]
        return "".join(parts)

    def block_span(self, index: int) -> tuple[int, int]:
        """(first, last) 1-based file lines of block `index`; last < first for an empty block."""
        first = self.block_first_lines[index]
        return first, first + len(self.block_texts[index].splitlines()) - 1

    def block_indent(self, index: int) -> str:
        """Smallest indentation of the non-blank lines of block `index`.

        An empty block takes the indentation of its START marker.
        """
        return common_indent(self.block_texts[index]) or _leading(
            self.outside[index].splitlines()[-1]
        )


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def common_indent(text: str) -> str:
    """Longest whitespace prefix shared by every non-blank line of `text` ("" if none)."""
    indents = [_leading(line) for line in text.splitlines() if line.strip()]
    if not indents:
        return ""
    shortest = min(indents, key=len)
    for length in range(len(shortest), -1, -1):
        if all(indent.startswith(shortest[:length]) for indent in indents):
            return shortest[:length]
    return ""


def outside_difference(parent: str, child: str, language: Language | None = None) -> str | None:
    """Why `child` is not `parent` with only its EVOLVE-BLOCKs changed, or None if it is.

    Args:
        parent: Source with valid markers.
        child: Source to check.
        language: The program's language (its markers only), or None for any.

    Returns:
        None when the markers and every line outside the blocks are identical; otherwise one
        sentence naming the first difference (with the child's line number).
    """
    before = ProgramTemplate.parse(parent, language)
    try:
        after = ProgramTemplate.parse(child, language)
    except TemplateError as err:
        return f"the EVOLVE-BLOCK markers are broken: {err}"
    if len(after.block_texts) != len(before.block_texts):
        return (
            f"the program has {len(after.block_texts)} EVOLVE-BLOCKs instead of "
            f"{len(before.block_texts)}"
        )
    for old, new, first in zip(before.outside, after.outside, after.outside_first_lines,
                               strict=True):
        if old == new:
            continue
        old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
        for offset, (a, b) in enumerate(zip(old_lines, new_lines, strict=False)):
            if a != b:
                return f"code outside EVOLVE-BLOCKs changed at line {first + offset}: " + repr(
                    b.rstrip()
                )
        offset = min(len(old_lines), len(new_lines))
        return (
            f"code outside EVOLVE-BLOCKs changed at line {first + offset} "
            "(lines added or removed)"
        )
    return None


def outside_unchanged(parent: str, child: str) -> bool:
    """Tell whether `child` differs from `parent` only inside EVOLVE-BLOCKs (markers intact)."""
    return outside_difference(parent, child) is None
