"""Variations without a model: literal perturbation and splice / line crossover."""

import ast

import numpy as np

from mutators.program.blocks import ProgramTemplate, outside_unchanged
from mutators.program.checks import syntax_problem
from mutators.program.local_ops import find_literals, perturb_literals, perturb_value, splice
from tests.program_ops.conftest import PROGRAMS, SOURCE, TWO_BLOCKS

CIRCLES = (PROGRAMS / "circle_packing" / "initial.py").read_text()
INDEXED = '''import numpy as np

LIMIT = 7
# EVOLVE-BLOCK-START
def h(a):
    flag = True
    b = a[0] + a[1:3].sum(axis=0) * 0.5
    return b * 2 if flag else -1.5
# EVOLVE-BLOCK-END
'''


def literal_values(source):
    return [(lit.line, lit.value) for lit in find_literals(source)]


def test_find_literals_skips_fixed_code_indices_axes_and_booleans():
    assert [lit.value for lit in find_literals(INDEXED)] == [0.5, 2, 1.5]
    assert [lit.value for lit in find_literals(INDEXED, include_ints=False)] == [0.5, 1.5]
    assert 26 not in [lit.value for lit in find_literals(CIRCLES)]  # N_CIRCLES is fixed code


def test_perturbation_is_deterministic_valid_and_changes_constants():
    first, note = perturb_literals(CIRCLES, np.random.default_rng(7), include_ints=True)
    second, _ = perturb_literals(CIRCLES, np.random.default_rng(7), include_ints=True)
    assert first == second and first != CIRCLES
    assert syntax_problem(first) is None
    assert outside_unchanged(CIRCLES, first)
    before, after = literal_values(CIRCLES), literal_values(first)
    assert len(before) == len(after)
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert 1 <= len(changed) <= 3
    assert note.startswith(f"perturbed {len(changed)} literal")
    for (_, old), (_, new) in changed:
        assert type(old) is type(new)  # ints stay ints, floats stay floats
    other, _ = perturb_literals(CIRCLES, np.random.default_rng(8), include_ints=True)
    assert other != first
    floats, _ = perturb_literals(CIRCLES, np.random.default_rng(7))
    kept = [(b, a) for b, a in zip(before, literal_values(floats), strict=True)
            if isinstance(b[1], int)]
    assert all(b == a for b, a in kept)  # by default only floats change


def test_perturbation_over_many_seeds_always_parses():
    for seed in range(30):
        child, note = perturb_literals(INDEXED, np.random.default_rng(seed), max_count=3,
                                       include_ints=True)
        assert child is not None, note
        tree = ast.parse(child)
        assert "a[0] + a[1:3].sum(axis=0)" in child and "flag = True" in child
        assert tree is not None and outside_unchanged(INDEXED, child)


def test_perturb_value_keeps_type_and_sign():
    rng = np.random.default_rng(0)
    for value in (1, 3, -4, 100, 0, 0.5, -2.0, 0.0, 1e-4):
        for _ in range(50):
            new = perturb_value(value, rng, 0.3)
            assert type(new) is type(value) and new != value
            if value:
                assert (new > 0) == (value > 0)


def test_no_literal_is_a_reason():
    source = "# EVOLVE-BLOCK-START\ndef f(x):\n    return x\n# EVOLVE-BLOCK-END\n"
    assert perturb_literals(source, np.random.default_rng(0)) == (
        None, "no numeric literal inside the EVOLVE-BLOCKs to perturb")


def circle_variant(inner: str) -> str:
    template = ProgramTemplate.parse(CIRCLES)
    return template.render([template.blocks[0].replace("0.25 * np.cos", f"{inner} * np.cos")])


def test_statement_splice_mixes_functions_and_brings_used_helpers():
    a = circle_variant("0.3")
    b_block = ProgramTemplate.parse(CIRCLES).blocks[0].replace(
        "return centers, compute_max_radii(centers)",
        "return centers, shrink(compute_max_radii(centers))").replace(
        "    return radii\n", "    return radii * 0.999\n")
    b = ProgramTemplate.parse(CIRCLES).render(
        [b_block + "\n\ndef shrink(radii):\n    return radii * 0.99\n"])
    seen = set()
    for seed in range(20):
        child, note = splice(a, b, np.random.default_rng(seed), level="statements")
        assert child is not None, note
        assert syntax_problem(child) is None and outside_unchanged(a, child)
        assert child not in (a, b)
        took_construct = "shrink(compute_max_radii" in child
        assert took_construct == ("def shrink(radii)" in child)  # helper comes along
        assert took_construct != ("radii * 0.999" in child)  # exactly one function from b
        seen.add(took_construct)
    assert seen == {True, False}


def test_block_splice_and_line_crossover():
    a = TWO_BLOCKS
    b = TWO_BLOCKS.replace("SCALE = 2.5", "SCALE = 4.0").replace(
        "base = math.sqrt(abs(base))", "base = math.log1p(abs(base))")
    child, note = splice(a, b, np.random.default_rng(1), level="blocks")
    assert note == "spliced blocks of the second parent into the first"
    assert ("SCALE = 4.0" in child) != ("log1p" in child)
    f_a = SOURCE
    f_b = SOURCE.replace("    y = x * 2", "    y = x * 5").replace("        total += v",
                                                                 "        total += v * v")
    child, note = splice(f_a, f_b, np.random.default_rng(3), level="lines")
    assert note == "spliced lines of the second parent into the first"
    assert ("x * 5" in child) != ("v * v" in child)
    assert syntax_problem(child) is None


def test_splice_refusals():
    other_problem = SOURCE.replace("return x + 1", "return x")
    child, reason = splice(SOURCE, other_problem, np.random.default_rng(0))
    assert child is None and reason.startswith("the parents differ outside their EVOLVE-BLOCKs")
    child, reason = splice(SOURCE, SOURCE, np.random.default_rng(0))
    assert child is None
    assert reason.startswith("no crossover possible (")
    for level in ("blocks", "statements", "lines"):
        assert f"{level}: fewer than two" in reason
