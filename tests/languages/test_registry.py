"""The language registry: detection, markers, literals, normalisation, complexity, fences."""

from pathlib import Path

import numpy as np
import pytest

import qd
from mutators.program.blocks import ProgramTemplate, TemplateError, is_marker
from mutators.program.local_ops import find_literals, perturb_literals
from mutators.program.rewrite import extract_code
from problems.measure_sources import Evaluated, measure_source
from qd.embeddings.embedders import code_hash
from qd.errors import SpecError
from qd.languages import (
    ToolchainError,
    detect_language,
    format_literal,
    language_named,
    language_registry,
)

C_PROGRAM = """#include <stdio.h>
#define N 3   /* fixed: outside the block */

// EVOLVE-BLOCK-START
#define SCALE 2.5f
/* a comment with 9.5 in it */
static double f(double x) {
    double a[4] = {0};
    const char *s = "7.25";  // and 8.5 here
    if (x > 1.0 && x < 1e3) return x * SCALE + a[2] + 0.125L;
    return x > 0 ? x : -x;
}
// EVOLVE-BLOCK-END

int main(void) { printf("%f\\n", f(N)); return 0; }
"""


def _program(language, body: str = "x = 1") -> str:
    return f"head\n{language.start_marker}\n{body}\n{language.end_marker}\ntail\n"


@pytest.mark.parametrize("name", language_registry.names())
def test_every_language_parses_its_own_markers_only(name):
    language = language_named(name)
    template = ProgramTemplate.parse(_program(language), language)
    assert template.blocks == ["x = 1\n"]
    assert ProgramTemplate.parse(_program(language)).blocks == ["x = 1\n"]  # any language
    other = next(lang for _, lang in language_registry.items()
                 if not set(lang.marker_tokens) & set(language.marker_tokens))
    with pytest.raises(TemplateError, match="no EVOLVE-BLOCK markers") as err:
        ProgramTemplate.parse(_program(other), language)
    assert language.start_marker in str(err.value)
    assert detect_language(f"initial{language.extensions[0]}") is language
    assert language.candidate_name == "candidate" + language.extensions[0]


def test_block_comment_markers_and_marker_lines():
    c, wolfram = language_named("c"), language_named("wolfram")
    source = "int a;\n  /* EVOLVE-BLOCK-START */\nint b;\n  /* EVOLVE-BLOCK-END */\n"
    assert ProgramTemplate.parse(source, c).blocks == ["int b;\n"]
    assert wolfram.start_marker == "(* EVOLVE-BLOCK-START *)"
    assert is_marker("// EVOLVE-BLOCK-END", c) and not is_marker("# EVOLVE-BLOCK-END", c)
    assert is_marker("! EVOLVE-BLOCK-START", language_named("fortran"))


def test_unknown_extension_and_language_are_one_clear_spec_error(tmp_path):
    (tmp_path / "evaluate.py").write_text("")
    (tmp_path / "initial.cob").write_text("")
    spec = tmp_path / "problem.toml"
    spec.write_text('[problem]\nname = "program"\ninitial = "initial.cob"\n'
                    'evaluator = "evaluate.py"\n')
    with pytest.raises(SpecError) as err:
        qd.load_spec(tmp_path)
    message = str(err.value)
    assert "'.cob'" in message and "set problem.language" in message
    assert "c (.c .h)" in message and "rust (.rs)" in message and len(message.splitlines()) == 1
    spec.write_text(spec.read_text() + 'language = "cobol"\n')
    with pytest.raises(SpecError, match=r"problem\.language: unknown language 'cobol'; "
                                        r"choose one of: c, cpp, .*rust"):
        qd.load_spec(tmp_path)
    spec.write_text(spec.read_text().replace("cobol", "c"))
    assert qd.load_spec(tmp_path).spec.problem.language == "c"  # named: any extension
    (tmp_path / "initial.c").write_text("")
    spec.write_text(spec.read_text().replace('language = "c"\n', "").replace(".cob", ".c"))
    assert qd.load_spec(tmp_path).spec.problem.program_language is language_named("c")


def test_c_literals_skip_comments_strings_indices_and_fixed_code():
    c = language_named("c")
    found = [(lit.value, lit.suffix) for lit in find_literals(C_PROGRAM, True, c)]
    assert found == [(2.5, "f"), (0, ""), (1.0, ""), (1e3, ""), (0.125, "L"), (0, "")]
    assert [lit.value for lit in find_literals(C_PROGRAM, False, c)] == [2.5, 1.0, 1e3, 0.125]


def test_rust_and_fortran_literal_forms_survive_a_rewrite():
    rust = language_named("rust")
    code = "let x = 1.5_f64 + 2f32 + t.0 + 0x1F; for i in 0..10 {} let y = 1.max(2);"
    found = rust.literals(code, [(1, 1)], include_ints=False)
    assert [(lit.value, lit.suffix) for lit in found] == [(1.5, "_f64")]
    assert format_literal(1.75, found[0]) == "1.75_f64"
    assert format_literal(-0.5, found[0]) == "(-0.5_f64)"  # `a - x` never becomes `a --x`
    fortran = language_named("fortran")
    found = fortran.literals("x = 1.0d0 + 2.5_dp ! 4.0", [(1, 1)])
    assert [(lit.value, lit.suffix, lit.exponent) for lit in found] == [(1.0, "", "d"),
                                                                          (2.5, "_dp", "")]
    assert format_literal(1.25, found[0]) == "1.25d0"  # stays double precision
    assert format_literal(3.0, found[1]) == "3.0_dp"


def test_perturbing_c_literals_keeps_the_program_compiling():
    c = language_named("c")
    child, note = perturb_literals(C_PROGRAM, np.random.default_rng(3), max_count=4,
                                   language=c)
    assert child is not None, note
    assert child != C_PROGRAM and "perturbed" in note
    assert c.syntax_problem(child) is None
    assert "7.25" in child and "9.5" in child and "#define N 3" in child  # untouched
    template, before = ProgramTemplate.parse(child, c), ProgramTemplate.parse(C_PROGRAM, c)
    assert template.outside == before.outside


def test_normalisation_keeps_directives_and_ignores_comments_and_layout():
    c = language_named("c")
    other_define = C_PROGRAM.replace("#define SCALE 2.5f", "#define SCALE 3.5f")
    assert code_hash(other_define, c) != code_hash(C_PROGRAM, c)
    relaid = C_PROGRAM.replace("/* a comment with 9.5 in it */", "// another comment") \
        .replace("    return x > 0", "        return   x > 0")
    assert code_hash(relaid, c) == code_hash(C_PROGRAM, c)
    assert c.same_program(relaid, C_PROGRAM) and not c.same_program(other_define, C_PROGRAM)
    # Python's own normalisation strips `#` comments, which would merge the two #defines
    assert code_hash(other_define) == code_hash(C_PROGRAM)


def test_complexity_counts_branches_in_code_only():
    sample = Evaluated(C_PROGRAM, 0.0, (), language_named("c"))
    # if, &&, ?: ; the "if" in the comment and the string do not count
    assert measure_source("complexity").value(0, sample) == 4.0
    rust = Evaluated("fn f(x: i32) -> i32 { match x { 0 => 1, _ => if x > 2 { 3 } else { 4 } } }",
                     0.0, (), language_named("rust"))
    assert measure_source("complexity").value(0, rust) == 4.0  # two arms, one if
    python = Evaluated("def f(x):\n    return 1 if x else 2\n", 0.0)
    assert measure_source("complexity").value(0, python) == 2.0


def test_answers_are_read_from_the_language_fence():
    c = language_named("c")
    answer = ("Idea.\n```python\nprint('not this')\n```\n```c\n// EVOLVE-BLOCK-START\n"
              "int x;\n// EVOLVE-BLOCK-END\n```\n")
    assert extract_code(answer, c) == "// EVOLVE-BLOCK-START\nint x;\n// EVOLVE-BLOCK-END"
    assert extract_code(answer) == "print('not this')"


def test_builtin_compiled_examples_name_their_language():
    root = Path(qd.__file__).resolve().parents[1] / "problems" / "programs"
    assert qd.load_spec(root / "tsp").spec.problem.language == "c"
    assert qd.load_spec(root / "tsp_rust").spec.problem.language == "rust"


def _folder(tmp_path: Path, name: str, code: str) -> Path:
    (tmp_path / name).write_text(code)
    (tmp_path / "evaluate.py").write_text("")
    (tmp_path / "problem.toml").write_text(
        f'[problem]\nname = "program"\ninitial = "{name}"\nevaluator = "evaluate.py"\n'
        "[[problem.measures]]\nsource = \"lines\"\nrange = [0, 10]\n")
    return tmp_path


def test_markers_of_another_language_are_refused_before_the_run(tmp_path):
    folder = _folder(tmp_path, "initial.c", "# EVOLVE-BLOCK-START\nint x;\n# EVOLVE-BLOCK-END\n")
    with pytest.raises(SpecError, match=r"problem\.initial: no EVOLVE-BLOCK markers: put the "
                                        r"evolvable code between a line '// EVOLVE-BLOCK-START'"):
        qd.evolve(folder, write=False, budget=1)


def test_a_missing_toolchain_stops_the_run_with_how_to_install_it(tmp_path):
    wolfram = language_named("wolfram")
    if wolfram.toolchain.available():
        pytest.skip("wolframscript is installed here")
    folder = _folder(tmp_path, "initial.wl",
                     "(* EVOLVE-BLOCK-START *)\nx = 1\n(* EVOLVE-BLOCK-END *)\n")
    with pytest.raises(ToolchainError, match=r"wolframscript is not installed \(searched PATH\); "
                                             r"install it: https://www.wolfram.com/engine/"):
        qd.evolve(folder, write=False, budget=1)
