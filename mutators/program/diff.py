"""SEARCH/REPLACE edits: parse them from model text, apply them inside EVOLVE-BLOCKs only.

Matching is line based and tried in three stages, each restricted to the blocks: exact lines,
then lines equal after normalising whitespace (tabs, trailing spaces, common indentation; the
replacement is re-indented to the matched lines), then the most similar window of as many
lines (`difflib` ratio at least `threshold`, computed for the windows sharing the most
character trigrams with the search text). A failure comes with one precise reason so the
engine can retry with it in the prompt.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from mutators.program.blocks import ProgramTemplate, common_indent, is_marker

_SEARCH = re.compile(r"^[ \t]*<{5,}[ \t]*SEARCH\b")
_DIVIDER = re.compile(r"^[ \t]*={5,}[ \t]*$")
_REPLACE = re.compile(r"^[ \t]*>{5,}[ \t]*REPLACE\b")
_FENCE = re.compile(r"^[ \t]*(```|~~~)")
NO_EDITS = "no SEARCH/REPLACE blocks in the response"

Match = Literal["exact", "whitespace", "similar"]


@dataclass(frozen=True)
class Edit:
    """One SEARCH/REPLACE pair.

    Attributes:
        search: Lines to find (leading/trailing blank lines and code fences removed).
        replace: Lines to put in their place.
        line: 1-based line of the response where the SEARCH marker stands.
    """

    search: tuple[str, ...]
    replace: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class AppliedEdit:
    """Where and how one edit matched.

    Attributes:
        block: 1-based index of the EVOLVE-BLOCK it matched in.
        line: 1-based line of the program (as it was before this edit) where the match starts.
        match: "exact", "whitespace" (equal after normalising whitespace) or "similar".
        ratio: Similarity of the matched lines to the search text (1.0 unless "similar").
    """

    block: int
    line: int
    match: Match
    ratio: float


@dataclass(frozen=True)
class DiffResult:
    """Outcome of applying a model's edits to a program.

    Attributes:
        ok: True when every edit applied.
        source: The edited program when ok, else the program unchanged.
        applied: How each edit matched (all of them when ok, those before the failure if not).
        reason: What was done, or the precise reason of the failure.
        closest: On "not found" failures, the program lines most similar to the search text.
    """

    ok: bool
    source: str
    applied: tuple[AppliedEdit, ...]
    reason: str
    closest: str = ""


class _Failure(Exception):
    def __init__(self, reason: str, closest: str = "") -> None:
        super().__init__(reason)
        self.reason, self.closest = reason, closest


def _strip_part(lines: list[str]) -> tuple[str, ...]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if lines and _FENCE.match(lines[0]):
        lines = lines[1:]
    if lines and _FENCE.match(lines[-1]) and lines[-1].strip() in ("```", "~~~"):
        lines = lines[:-1]
    return tuple(line.rstrip("\r") for line in lines)


def parse_edits(text: str) -> tuple[list[Edit], str | None]:
    """Find the SEARCH/REPLACE blocks in a model response.

    Prose and code fences around the blocks are ignored, as are fence lines directly inside a
    SEARCH or REPLACE part. Markers may use five or more `<`, `=` and `>` characters.

    Returns:
        The edits in response order, and a problem sentence when a block is incomplete (e.g.
        the response was cut off) or has an empty SEARCH part; otherwise None.
    """
    edits: list[Edit] = []
    state, start, search, replace = "prose", 0, [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if state == "prose" and _SEARCH.match(line):
            state, start, search, replace = "search", number, [], []
        elif state == "search" and _DIVIDER.match(line):
            state = "replace"
        elif state == "search":
            search.append(line)
        elif state == "replace" and _REPLACE.match(line):
            edits.append(Edit(_strip_part(search), _strip_part(replace), start))
            state = "prose"
        elif state == "replace":
            replace.append(line)
    if state == "search":
        return edits, (
            f"incomplete SEARCH/REPLACE block at response line {start}: no ======= line "
            "(the response may have been cut off)"
        )
    if state == "replace":
        return edits, (
            f"incomplete SEARCH/REPLACE block at response line {start}: no >>>>>>> REPLACE "
            "line (the response may have been cut off)"
        )
    for index, edit in enumerate(edits, start=1):
        if not edit.search:
            return edits, (
                f"edit {index} has an empty SEARCH part; copy the lines to change from the "
                "program into it"
            )
    return edits, None


def _normalise(lines: Sequence[str]) -> list[str]:
    expanded = [line.expandtabs(4).rstrip() for line in lines]
    indent = len(common_indent("\n".join(expanded)))
    return [line[indent:] for line in expanded]


def _windows(lines: Sequence[str], size: int) -> range:
    return range(max(len(lines) - size + 1, 0))


def _matches(lines: Sequence[str], search: Sequence[str],
             same: Callable[[Sequence[str], Sequence[str]], bool]) -> list[int]:
    size = len(search)
    return [i for i in _windows(lines, size) if same(lines[i : i + size], search)]


def _exact(window: Sequence[str], search: Sequence[str]) -> bool:
    return list(window) == list(search)


def _loose(window: Sequence[str], search: Sequence[str]) -> bool:
    return _normalise(window) == _normalise(search)


def _reindent(replace: Sequence[str], search: Sequence[str], window: Sequence[str]) -> list[str]:
    old = common_indent("\n".join(search))
    new = common_indent("\n".join(window))
    if old == new:
        return list(replace)
    return [new + line[len(old) :] if line.startswith(old) and line.strip() else line
            for line in replace]


def _grams(line: str) -> Counter[str]:
    text = f" {line.strip()} "
    return Counter(text[i : i + 3] for i in range(len(text) - 2))


def _shortlist(lines: Sequence[str], search: Sequence[str], keep: int) -> list[int]:
    """Return the starts of the `keep` windows sharing most character trigrams with `search`.

    The trigram counts of a window are updated as it slides, so this costs one pass over the
    block; the exact (slow) similarity is then computed for the shortlisted windows only.
    """
    size = len(search)
    target: Counter[str] = Counter()
    for line in search:
        target.update(_grams(line))
    grams = [_grams(line) for line in lines]
    window: Counter[str] = Counter()
    common, scored = 0, []
    for index, counts in enumerate(grams):
        for sign, part in ((1, counts), (-1, grams[index - size] if index >= size else None)):
            for gram, count in (part or {}).items():
                before = min(window[gram], target[gram])
                window[gram] += sign * count
                common += min(window[gram], target[gram]) - before
        if index >= size - 1:
            scored.append((-common, index - size + 1))
    return [start for _, start in sorted(scored)[:keep]]


def _similar(blocks: list[list[str]], search: Sequence[str],
             keep: int = 8) -> list[tuple[float, int, int]]:
    """(ratio, block, start) of the most promising windows of each block, best first."""
    target = "\n".join(_normalise(search))
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(target)
    scored = []
    for b, lines in enumerate(blocks):
        for start in _shortlist(lines, search, keep):
            matcher.set_seq1("\n".join(_normalise(lines[start : start + len(search)])))
            scored.append((matcher.ratio(), b, start))
    return sorted(scored, key=lambda item: (-item[0], item[1], item[2]))


def _locate(template: ProgramTemplate, edit: Edit,
            threshold: float) -> tuple[int, int, Match, float]:
    """(block, start line in block, match kind, ratio) of the one place `edit` applies."""
    blocks = [text.splitlines() for text in template.block_texts]
    for kind, same in (("exact", _exact), ("whitespace", _loose)):
        found = [(b, i) for b, lines in enumerate(blocks)
                 for i in _matches(lines, edit.search, same)]
        if len(found) > 1:
            where = ", ".join(str(template.block_first_lines[b] + i) for b, i in found)
            raise _Failure(
                f"ambiguous: search text found {len(found)} times (lines {where}); "
                "add surrounding lines to make it unique"
            )
        if found:
            return found[0][0], found[0][1], kind, 1.0
    whole = template.render(template.block_texts).splitlines()
    if _matches(whole, edit.search, _loose):
        raise _Failure("search text matches outside EVOLVE-BLOCKs")
    scored = _similar(blocks, edit.search)
    if not scored:
        raise _Failure(
            f"search text not found in any EVOLVE-BLOCK (it has {len(edit.search)} lines, "
            "more than any block)"
        )
    ratio, b, start = scored[0]
    if ratio >= threshold:
        ties = [(bb, s) for r, bb, s in scored[1:]
                if r == ratio and (bb != b or abs(s - start) >= len(edit.search))]
        if ties:
            raise _Failure(f"ambiguous: search text found {len(ties) + 1} times (equally similar)")
        return b, start, "similar", ratio
    line = template.block_first_lines[b] + start
    closest = "\n".join(blocks[b][start : start + len(edit.search)])
    raise _Failure(
        f"search text not found in any EVOLVE-BLOCK (closest match {ratio:.2f} at block {b + 1} "
        f"line {line})",
        closest,
    )


def _apply_one(source: str, edit: Edit, threshold: float) -> tuple[str, AppliedEdit]:
    if any(is_marker(line) for line in edit.replace):
        raise _Failure("the replacement contains an EVOLVE-BLOCK marker; edit only the code "
                       "between the markers")
    template = ProgramTemplate.parse(source)
    b, start, kind, ratio = _locate(template, edit, threshold)
    lines = template.block_texts[b].splitlines()
    window = lines[start : start + len(edit.search)]
    replace = list(edit.replace) if kind == "exact" else _reindent(edit.replace, edit.search,
                                                                    window)
    lines[start : start + len(edit.search)] = replace
    blocks = list(template.block_texts)
    blocks[b] = "\n".join(lines) + "\n" if lines else ""
    applied = AppliedEdit(b + 1, template.block_first_lines[b] + start, kind, ratio)
    return template.render(blocks), applied


def apply_edits(source: str, edits: Sequence[Edit], threshold: float = 0.9) -> DiffResult:
    """Apply `edits` in order to the EVOLVE-BLOCKs of `source`; all of them or none.

    Args:
        source: Program with valid EVOLVE-BLOCK markers.
        edits: Edits from `parse_edits`.
        threshold: Smallest similarity ratio accepted by the "similar" stage.

    Returns:
        A `DiffResult`; with several edits a failure reason starts with "edit i of n: ".
    """
    if not edits:
        return DiffResult(False, source, (), NO_EDITS)
    current, applied = source, []
    for index, edit in enumerate(edits, start=1):
        try:
            current, where = _apply_one(current, edit, threshold)
        except _Failure as failure:
            prefix = f"edit {index} of {len(edits)}: " if len(edits) > 1 else ""
            return DiffResult(False, source, tuple(applied), prefix + failure.reason,
                              failure.closest)
        applied.append(where)
    kinds = ", ".join(a.match if a.match != "similar" else f"similar {a.ratio:.2f}"
                      for a in applied)
    plural = "s" if len(applied) > 1 else ""
    reason = f"applied {len(applied)} edit{plural} ({kinds})"
    return DiffResult(True, current, tuple(applied), reason)


def apply_diff(source: str, response: str, threshold: float = 0.9) -> DiffResult:
    """Parse the SEARCH/REPLACE blocks of `response` and apply them to `source`.

    Returns:
        A `DiffResult`; "no SEARCH/REPLACE blocks in the response" when there are none, or the
        parse problem when a block is incomplete.
    """
    edits, problem = parse_edits(response)
    if problem:
        return DiffResult(False, source, (), problem)
    return apply_edits(source, edits, threshold)
