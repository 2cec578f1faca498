"""What counts as a structural edit (literals masked, by the program's language), which lines
an edit touched, and the tuner's variants."""

import numpy as np

from mutators.program.literals import changed_lines, structure, structure_changed
from qd.languages import language_named
from qd.program.config import TuneSection
from qd.program.tuning import LiteralTuner, tuned_operators
from tests.program_ops.conftest import PROGRAMS

CIRCLES = (PROGRAMS / "circle_packing" / "initial.py").read_text()
RING = "        centers.append([0.5 + 0.25 * np.cos(angle), 0.5 + 0.25 * np.sin(angle)])"


def test_structure_ignores_float_constants_but_not_new_expressions():
    floats = CIRCLES.replace("0.25 * np.cos", "0.3125 * np.cos")
    assert not structure_changed(CIRCLES, floats)
    assert structure_changed(CIRCLES, CIRCLES.replace("range(8)", "range(9)"))  # an int
    assert not structure_changed(CIRCLES, CIRCLES.replace("range(8)", "range(9)"),
                                 include_ints=True)
    assert structure_changed(CIRCLES, CIRCLES.replace("0.25 * np.cos(angle)",
                                                      "0.25 * np.cos(angle + 0.1)"))
    assert not structure_changed(CIRCLES, CIRCLES.replace("    n = len(centers)",
                                                          "    n = len(centers)  # count"))
    assert structure(CIRCLES + "\nx = (") is None  # does not parse
    assert structure_changed(CIRCLES, CIRCLES + "\nx = (")


def test_structure_of_a_lexer_language():
    c = language_named("c")
    source = ("int n = 3;\n// EVOLVE-BLOCK-START\ndouble f(double x) {\n"
              "    return 0.5 * x + 2.0; /* 1.0 */\n}\n// EVOLVE-BLOCK-END\n")
    assert not structure_changed(source, source.replace("0.5 *", "0.75 *"), c)
    assert not structure_changed(source, source.replace("/* 1.0 */", "/* 9.0 */"), c)
    assert structure_changed(source, source.replace("0.5 * x", "0.5 * x * x"), c)


def test_changed_lines_are_the_childs_new_lines():
    child = CIRCLES.replace(RING, RING.replace("0.25 * np.cos", "0.3 * np.cos"))
    line = child.splitlines().index(RING.replace("0.25 * np.cos", "0.3 * np.cos")) + 1
    assert changed_lines(CIRCLES, child) == {line}
    assert changed_lines(CIRCLES, CIRCLES) == frozenset()


def test_variants_prefer_the_edited_lines_and_change_only_literals():
    child = CIRCLES.replace(RING, RING.replace("np.cos(angle)", "np.cos(angle + 0.1)"))
    focus = changed_lines(CIRCLES, child)
    tuner = LiteralTuner(TuneSection(focus=1.0, max_count=1), ["infill"])
    for seed in range(10):
        code, note = tuner.variant(child, focus, np.random.default_rng(seed))
        assert code is not None and not structure_changed(child, code)
        assert changed_lines(child, code) == focus, note  # only the edited line moved
    spread = LiteralTuner(TuneSection(focus=0.0, max_count=1), ["infill"])
    moved = {min(changed_lines(child, spread.variant(child, focus, np.random.default_rng(s))[0]))
             for s in range(20)}
    assert moved - focus  # without focus, other lines' literals move too


def test_which_operators_are_tuned():
    from mutators.program import make_operator

    ops = [make_operator(n) for n in ("infill", "completion", "diff", "perturb_literals")]
    assert tuned_operators(TuneSection(), ops) == ["infill", "completion"]
    assert tuned_operators(TuneSection(operators=["diff"]), ops) == ["diff"]
    tuner = LiteralTuner(TuneSection(), ["infill"])
    edited = CIRCLES.replace("np.cos(angle)", "np.cos(angle + 0.1)")
    assert tuner.wants("infill", CIRCLES, edited)
    assert not tuner.wants("diff", CIRCLES, edited)
    assert not tuner.wants("infill", CIRCLES, CIRCLES.replace("0.25 *", "0.3 *"))
    assert not LiteralTuner(TuneSection(steps=0), ["infill"]).wants("infill", CIRCLES, edited)


def test_tuning_is_worth_it_for_children_close_to_the_best():
    tuner = LiteralTuner(TuneSection(gap=0.05), ["infill"], scale=2.0)
    assert tuner.worth_it(1.9, best=2.0) and tuner.worth_it(2.5, best=2.0)
    assert not tuner.worth_it(1.89, best=2.0)
