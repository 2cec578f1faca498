"""SEARCH/REPLACE parsing and application: exact, whitespace, similar, and precise failures."""

import re

from mutators.program.blocks import outside_unchanged
from mutators.program.diff import NO_EDITS, apply_diff, parse_edits
from tests.program_ops.conftest import SOURCE, TWO_BLOCKS, line_of


def diff(search: str, replace: str, marks: int = 7) -> str:
    return (f"{'<' * marks} SEARCH\n{search}\n{'=' * marks}\n{replace}\n"
            f"{'>' * marks} REPLACE\n")


def test_parse_tolerates_prose_fences_and_marker_lengths():
    response = (
        "I will double the step.\n\n```diff\n"
        + diff("    y = x * 2", "    y = x * 4")
        + "```\nAnd a second change:\n"
        + diff("```python\n    total = 0\n```", "```python\n    total = 1\n```", marks=5)
    )
    edits, problem = parse_edits(response)
    assert problem is None
    assert [(e.search, e.replace) for e in edits] == [
        (("    y = x * 2",), ("    y = x * 4",)),
        (("    total = 0",), ("    total = 1",)),
    ]
    assert edits[0].line == 4


def test_exact_edit_applies_inside_the_block_only():
    edit = diff("    y = x * 2\n    if y > 10:", "    y = x * 3\n    if y > 9:")
    result = apply_diff(SOURCE, edit)
    assert result.ok, result.reason
    assert "    y = x * 3\n    if y > 9:\n" in result.source
    assert result.source.count("y = x * 2") == 0
    assert outside_unchanged(SOURCE, result.source)
    (applied,) = result.applied
    assert (applied.block, applied.line, applied.match) == (1, line_of(SOURCE, "    y = x * 2"),
                                                            "exact")
    assert result.reason == "applied 1 edit (exact)"


def test_whitespace_tolerant_match_reindents_the_replacement():
    search = "y = x * 2   \nif y > 10:\n\ty = y - 1"  # no indent, trailing spaces, a tab
    replace = "y = x * 5\nif y > 10:\n    y = y - 2"
    result = apply_diff(SOURCE, diff(search, replace))
    assert result.ok, result.reason
    assert "    y = x * 5\n    if y > 10:\n        y = y - 2\n    return helper(y)" in result.source
    assert result.applied[0].match == "whitespace"


def test_similar_match_above_threshold_applies():
    search = "    y = x*2\n    if y > 10:\n        y = y - 1\n    return helper(y)"
    result = apply_diff(SOURCE, diff(search, "    return helper(x)"))
    assert result.ok, result.reason
    (applied,) = result.applied
    assert applied.match == "similar" and 0.9 <= applied.ratio < 1.0
    assert "def f(x):\n    return helper(x)\n" in result.source
    assert result.reason == f"applied 1 edit (similar {applied.ratio:.2f})"
    strict = apply_diff(SOURCE, diff(search, "    return helper(x)"), threshold=0.999)
    assert not strict.ok


def test_not_found_reports_closest_match_block_and_line():
    result = apply_diff(SOURCE, diff("    total = 10\n    for w in items:", "    pass"))
    assert not result.ok and result.source == SOURCE and result.applied == ()
    line = line_of(SOURCE, "    total = 0")
    found = re.fullmatch(
        r"search text not found in any EVOLVE-BLOCK \(closest match (0\.\d\d) at block 1 "
        rf"line {line}\)", result.reason)
    assert found, result.reason
    assert 0.5 < float(found.group(1)) < 0.9
    assert result.closest == "    total = 0\n    for v in values:"


def test_search_in_fixed_code_is_rejected_as_outside():
    edit = diff("def helper(x):\n    return x + 1", "def helper(x):\n    return 0")
    result = apply_diff(SOURCE, edit)
    assert not result.ok
    assert result.reason == "search text matches outside EVOLVE-BLOCKs"
    across = apply_diff(SOURCE, diff("# EVOLVE-BLOCK-START\ndef f(x):", "def f(x):"))
    assert across.reason == "search text matches outside EVOLVE-BLOCKs"
    spanning = apply_diff(SOURCE, diff("    return total\n# EVOLVE-BLOCK-END", "    return 0"))
    assert spanning.reason == "search text matches outside EVOLVE-BLOCKs"


def test_replacement_with_a_marker_is_rejected():
    result = apply_diff(SOURCE, diff("    total = 0", "    total = 0\n# EVOLVE-BLOCK-END"))
    assert not result.ok
    assert "replacement contains an EVOLVE-BLOCK marker" in result.reason


def test_ambiguous_search_counts_the_matches():
    source = SOURCE.replace("        total += v\n",
                            "        total += v\n        total += v\n        total += v\n")
    result = apply_diff(source, diff("        total += v", "        total -= v"))
    assert not result.ok
    first = line_of(source, "        total += v")
    assert result.reason == (
        f"ambiguous: search text found 3 times (lines {first}, {first + 1}, {first + 2}); "
        "add surrounding lines to make it unique")


def test_no_blocks_and_incomplete_blocks():
    assert apply_diff(SOURCE, "Let us make f faster.").reason == NO_EDITS
    assert NO_EDITS == "no SEARCH/REPLACE blocks in the response"
    cut = "<<<<<<< SEARCH\n    y = x * 2\n=======\n    y = x * 3\n"
    assert apply_diff(SOURCE, cut).reason == (
        "incomplete SEARCH/REPLACE block at response line 1: no >>>>>>> REPLACE line "
        "(the response may have been cut off)")
    empty = apply_diff(SOURCE, diff("", "x = 1"))
    assert empty.reason.startswith("edit 1 has an empty SEARCH part")


def test_edits_apply_in_order_and_all_or_nothing():
    both = diff("    y = x * 2", "    y = x * 7") + diff("        total += v",
                                                       "        total += 2 * v")
    result = apply_diff(SOURCE, both)
    assert result.ok and len(result.applied) == 2
    assert result.reason == "applied 2 edits (exact, exact)"
    assert "x * 7" in result.source and "2 * v" in result.source
    broken = diff("    y = x * 2", "    y = x * 7") + diff("    nothing_like_this()", "    pass")
    failed = apply_diff(SOURCE, broken)
    assert not failed.ok and failed.source == SOURCE
    assert failed.reason.startswith("edit 2 of 2: search text not found in any EVOLVE-BLOCK")
    assert len(failed.applied) == 1


def test_edit_in_an_indented_block_of_a_two_block_program():
    result = apply_diff(TWO_BLOCKS, diff("base = base + OFFSET", "base = base - OFFSET"))
    assert result.ok, result.reason
    assert "    base = base - OFFSET\n" in result.source
    assert result.applied[0].block == 2
    assert outside_unchanged(TWO_BLOCKS, result.source)
    outside = apply_diff(TWO_BLOCKS, diff("    base = x * SCALE", "    base = x"))
    assert outside.reason == "search text matches outside EVOLVE-BLOCKs"
