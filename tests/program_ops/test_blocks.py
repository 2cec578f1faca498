"""EVOLVE-BLOCK templates: parsing, errors, rendering and the outside-code check."""

import pytest

from mutators.program.blocks import (
    ProgramTemplate,
    TemplateError,
    outside_difference,
    outside_unchanged,
)
from tests.program_ops.conftest import SOURCE, TWO_BLOCKS, line_of


def test_parse_splits_blocks_and_renders_back_exactly():
    template = ProgramTemplate.parse(SOURCE)
    assert len(template.blocks) == 1
    assert template.blocks[0].startswith("def f(x):\n")
    assert template.blocks[0].endswith("    return total\n")
    assert template.render(template.blocks) == SOURCE
    first = line_of(SOURCE, "def f(x):")
    assert template.block_span(0) == (first, line_of(SOURCE, "    return total"))


def test_two_blocks_and_indented_markers():
    template = ProgramTemplate.parse(TWO_BLOCKS)
    assert template.blocks == ["SCALE = 2.5\nOFFSET = 3\n",
                               "    base = base + OFFSET\n    base = math.sqrt(abs(base))\n"]
    assert template.block_indent(1) == "    "
    assert template.render(template.blocks) == TWO_BLOCKS


@pytest.mark.parametrize("source, words", [
    ("x = 1\n", ["no EVOLVE-BLOCK markers"]),
    ("x = 1\n# EVOLVE-BLOCK-END\n", ["unbalanced", "line 2", "no '# EVOLVE-BLOCK-START'"]),
    ("# EVOLVE-BLOCK-START\nx = 1\n", ["unbalanced", "opened at line 1", "never closed"]),
    ("# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-START\nx = 1\n# EVOLVE-BLOCK-END\n# EVOLVE-BLOCK-END\n",
     ["nested", "line 2", "opened at line 1"]),
])
def test_marker_errors_name_the_problem(source, words):
    with pytest.raises(TemplateError) as err:
        ProgramTemplate.parse(source)
    for word in words:
        assert word in str(err.value)


def test_render_replaces_only_blocks_and_adds_missing_newline():
    template = ProgramTemplate.parse(TWO_BLOCKS)
    child = template.render(["SCALE = 1.0", "    base = -base\n"])
    assert "SCALE = 1.0\n# EVOLVE-BLOCK-END\n" in child
    assert outside_unchanged(TWO_BLOCKS, child)
    assert ProgramTemplate.parse(child).blocks == ["SCALE = 1.0\n", "    base = -base\n"]


def test_render_rejects_wrong_count_and_markers():
    template = ProgramTemplate.parse(TWO_BLOCKS)
    with pytest.raises(ValueError, match="got 1 blocks"):
        template.render(["x = 1\n"])
    with pytest.raises(ValueError, match="marker"):
        template.render(["x = 1\n# EVOLVE-BLOCK-END\n", ""])


def test_outside_check_detects_changes_and_names_the_line():
    inside = SOURCE.replace("y = x * 2", "y = x * 3")
    assert outside_unchanged(SOURCE, inside)
    outside = SOURCE.replace("return x + 1", "return x + 2")
    assert not outside_unchanged(SOURCE, outside)
    line = line_of(SOURCE, "    return x + 1")
    assert outside_difference(SOURCE, outside) == (
        f"code outside EVOLVE-BLOCKs changed at line {line}: '    return x + 2'")
    added = SOURCE + "print(1)\n"
    assert "lines added or removed" in outside_difference(SOURCE, added)
    unmarked = SOURCE.replace("# EVOLVE-BLOCK-END\n", "")
    assert "markers are broken" in outside_difference(SOURCE, unmarked)
    assert outside_difference(TWO_BLOCKS, SOURCE) == (
        "the program has 1 EVOLVE-BLOCKs instead of 2")
