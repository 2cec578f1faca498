"""The `infill` operator: a base model finishes one cut line; rejected answers are asked again."""

import re
from contextlib import closing

import numpy as np
import pytest

import qd
from mutators.program import make_operator
from mutators.program.completion import find_function
from mutators.program.infill import build_infill_prompt, cut_points, infill
from mutators.program.types import OperatorError
from qd.store import RunStore
from tests.program.conftest import TOY, Reply, prompt_text
from tests.program_ops.conftest import PROGRAMS

CIRCLES = (PROGRAMS / "circle_packing" / "initial.py").read_text()
TOY_CODE = (TOY / "initial.py").read_text()


def test_prompt_shows_the_parent_function_and_ends_at_the_cut():
    for seed in range(20):
        text, state = build_infill_prompt(CIRCLES, "Pack circles.", np.random.default_rng(seed))
        name = state["function"]
        assert name in ("construct_packing", "compute_max_radii")
        assert text.startswith("# Pack circles.\n")
        assert f"def {name}_v0(" in text and f"def {name}_v1(" in text
        assert text.endswith(state["prefix"]) and not text.endswith("\n")
        assert state["old"].startswith(state["prefix"]) and state["prefix"].strip()
        # the new version repeats the parent's body up to the cut line
        v1 = text[text.index(f"def {name}_v1("):]
        assert v1.splitlines()[-1] == state["prefix"]


def test_cut_points_lie_in_the_body_after_the_docstring():
    function = find_function(CIRCLES, "construct_packing")
    points = cut_points(CIRCLES, function)
    lines = CIRCLES.splitlines()
    assert points and all(function.first_line + 1 < n <= function.last_line for n, _ in points)
    assert (lines.index("    return centers, compute_max_radii(centers)") + 1, 11) in points


def test_the_line_tail_is_replaced_and_bad_answers_are_rejected():
    state = {"function": "solve", "line": 6, "prefix": "    return [1.0, ",
             "old": "    return [1.0, 1.0, 1.0]"}
    child = infill(TOY_CODE, state, "9.0, 8.0]\nmore text")
    assert child.ok and child.changed
    assert "    return [1.0, 9.0, 8.0]" in child.code
    assert child.code.replace("9.0, 8.0]", "1.0, 1.0]") == TOY_CODE
    assert infill(TOY_CODE, state, "1.0, 1.0]").reason == "the infilled line gives the parent back"
    assert not infill(TOY_CODE, state, "1.0, 1.0").ok  # unclosed bracket: does not compile
    assert infill(TOY_CODE, state, "  \n9]").reason == "the infilled line is empty"
    renamed = infill(TOY_CODE, {**state, "prefix": "    return "}, "solve_v1() if 0 else [2]")
    assert renamed.ok and "return solve() if 0 else [2]" in renamed.code


def test_no_function_in_the_blocks_is_an_operator_error():
    source = "# EVOLVE-BLOCK-START\nX = 1\n# EVOLVE-BLOCK-END\n"
    with pytest.raises(OperatorError):
        build_infill_prompt(source, "", np.random.default_rng(0))
    op = make_operator({"name": "infill", "samples": 3})
    assert op.needs_llm and op.mode == "completion" and op.samples == 3


def _tail(prompt: str, new: bool) -> str:
    """The parent's own tail of the cut line (shown in `solve_v0`), or it with each number + 1."""
    lines = prompt.splitlines()
    prefix = lines[-1]
    old = next(line for line in lines[:-1] if line.startswith(prefix))[len(prefix):]
    return re.sub(r"\d+\.\d+", lambda m: str(float(m.group()) + 1), old) if new else old


def test_a_run_asks_again_until_an_answer_is_new(scripted_llm_server, tmp_path):
    """The first two answers of each proposal give the parent back; the third is new."""
    def respond(request):
        calls.append(request)
        return Reply(text=_tail(prompt_text(request), new=len(calls) % 3 == 0))

    calls = []

    scripted_llm_server.respond_with(respond)
    model = (f'llm.models=[{{model="text-completion-openai/scripted", '
             f'api_base="{scripted_llm_server.api_base}", mode="completion", timeout_s=3.0, '
             f'max_retries=1, backoff_s=0.01}}]')
    out = tmp_path / "run"
    qd.evolve(TOY, out=out, overrides=[
        model, 'llm.operators=["infill"]', "llm.proposals_in_flight=1",
        "llm.evaluations_in_flight=1", "run.budget=3"])
    with closing(RunStore.open(out, readonly=True)) as store:
        programs = store.programs.all()
    children = [p for p in programs if p.operator == "infill"]
    assert children and all(str(p.status) == "ok" for p in children)
    # every proposal took three calls: two rejections, then the new line
    assert len(calls) == 3 * len(children)
    assert all(p.score is not None and p.score > 3.0 for p in children)


def test_infill_is_the_base_models_default_and_checked_for_exact_duplicates_only():
    from qd.program.config import LOCAL_OPERATORS, NoveltySection

    # measured: completion 0 of 12 valid new children, infill 84% (README, docs/operators.md)
    assert LOCAL_OPERATORS[0] == "infill" and "completion" not in LOCAL_OPERATORS
    assert "infill" in NoveltySection().exact_only  # one edited line is no near-duplicate
    spec = qd.load_spec("circle_packing").spec
    assert spec.llm.operators is None and spec.llm.bandit["min_share"] == 0.5


def test_operand_cuts_lie_inside_arithmetic_and_fall_back_to_any_expression():
    function = find_function(CIRCLES, "construct_packing")
    every = cut_points(CIRCLES, function)
    operands = cut_points(CIRCLES, function, operands=True)
    assert operands and set(operands) < set(every)
    lines = CIRCLES.splitlines()
    for line_no, column in operands:  # a cut right after an arithmetic operator or before one
        before = lines[line_no - 1][:column].rstrip()
        rest = lines[line_no - 1][column:]
        assert before[-1] in "+-*/%(" or re.match(r"[\w.()\[\], ]+ *[-+*/%]", rest), (before, rest)
    ret = lines.index("    return centers, compute_max_radii(centers)") + 1
    assert (ret, 11) in every and all(n != ret for n, _ in operands)
    for seed in range(10):  # the default cuts at operands
        _, state = build_infill_prompt(CIRCLES, "", np.random.default_rng(seed), cuts="operands")
        assert (state["line"], len(state["prefix"])) in operands
    toy = find_function(TOY_CODE, "solve")  # no arithmetic: any expression
    _, state = build_infill_prompt(TOY_CODE, "", np.random.default_rng(0), cuts="operands")
    assert (state["line"], len(state["prefix"])) in cut_points(TOY_CODE, toy)


def test_operators_with_options_in_the_spec():
    from qd.errors import SpecError
    from qd.program.setup import _operators_for

    spec = qd.load_spec(TOY, overrides=[
        'llm.operators=[{name = "infill", samples = 2, cuts = "expressions"}, "splice"]']).spec
    infill_op, splice_op = _operators_for(spec.llm)
    assert (infill_op.samples, infill_op.config.cuts, splice_op.name) == (2, "expressions",
                                                                          "splice")
    with pytest.raises(SpecError, match="llm.operators.*cutz"):
        qd.load_spec(TOY, overrides=['llm.operators=[{name = "infill", cutz = 1}]'])
