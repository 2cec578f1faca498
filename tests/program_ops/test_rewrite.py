"""Full rewrites: code extraction from fenced or raw text, splicing and validation."""

from mutators.program.blocks import ProgramTemplate, outside_unchanged
from mutators.program.rewrite import extract_code, fences, splice_rewrite
from tests.program_ops.conftest import SOURCE, TWO_BLOCKS

NEW_BLOCK = '''def f(x):
    return helper(x * 3)


def g(values):
    return sum(values)
'''


def full_program(block: str = NEW_BLOCK, source: str = SOURCE) -> str:
    return ProgramTemplate.parse(source).render([block])


def test_fences_and_extraction_prefer_the_marked_python_fence():
    response = ("Idea: simplify.\n```text\nnot code\n```\n```python\nx = 1\n```\n"
                f"Full program:\n```py\n{full_program()}```\nDone.")
    assert [f.lang for f in fences(response)] == ["text", "python", "py"]
    assert extract_code(response) == full_program().rstrip("\n")
    assert extract_code("  x = 1\n") == "  x = 1"


def test_fenced_full_program_changes_only_the_blocks():
    # The model also "improved" main(); only its blocks are taken.
    answer = full_program().replace("return f(3) + g([1, 2])", "return 0")
    proposal = splice_rewrite(SOURCE, f"Here it is:\n\n```python\n{answer}```\nEnjoy.")
    assert proposal.ok and proposal.changed, proposal.reason
    assert proposal.code == full_program()
    assert outside_unchanged(SOURCE, proposal.code)
    assert proposal.reason == "rewrote the EVOLVE-BLOCKs"


def test_unfenced_program_and_block_only_answers():
    raw = splice_rewrite(SOURCE, full_program())
    assert raw.code == full_program()
    fenced_block = splice_rewrite(SOURCE, f"```\n{NEW_BLOCK}```")
    assert fenced_block.code == full_program()
    # No markers, but the fixed code repeated around the new block: it is dropped.
    template = ProgramTemplate.parse(SOURCE)
    unmarked = template.outside[0] + NEW_BLOCK + template.outside[1]
    unmarked = "\n".join(line for line in unmarked.splitlines() if "EVOLVE-BLOCK" not in line)
    repeated = splice_rewrite(SOURCE, f"```python\n{unmarked}\n```")
    assert repeated.code == full_program()


def test_rejections_carry_reasons():
    assert splice_rewrite(SOURCE, "```python\n```").reason == "the response contains no code"
    broken = splice_rewrite(SOURCE, "```python\ndef f(x):\n    return (x\n```")
    assert not broken.ok
    assert broken.reason.startswith("the program does not parse: '(' was never closed at line")
    cut = splice_rewrite(SOURCE, "```python\ndef f(x):\n    return (x")
    assert cut.reason.endswith("(the code fence is not closed: the response was cut off)")
    no_markers = splice_rewrite(TWO_BLOCKS, "```python\nSCALE = 1\n```")
    assert no_markers.reason == (
        "the rewrite has no EVOLVE-BLOCK markers but the program has 2 blocks; return the "
        "whole program with its markers")
    assert splice_rewrite(TWO_BLOCKS, full_program()).reason == (
        "the rewrite has 1 EVOLVE-BLOCKs but the program has 2")
    unbalanced = splice_rewrite(SOURCE, "# EVOLVE-BLOCK-START\nx = 1\n")
    assert unbalanced.reason.startswith("the rewrite's EVOLVE-BLOCK markers are broken")


def test_identical_rewrite_is_not_a_change():
    same = splice_rewrite(SOURCE, SOURCE.replace("    y = x * 2", "    y = x * 2  # same"))
    assert same.ok and not same.changed
    assert same.reason.endswith("the result is identical to the parent")


def test_indentation_follows_the_parents_block():
    answer = TWO_BLOCKS.replace("    base = base + OFFSET\n    base = math.sqrt(abs(base))\n",
                                "base = base * 2\n")
    proposal = splice_rewrite(TWO_BLOCKS, answer)
    assert proposal.ok and proposal.changed, proposal.reason
    assert "    # EVOLVE-BLOCK-START\n    base = base * 2\n    # EVOLVE-BLOCK-END" in proposal.code
