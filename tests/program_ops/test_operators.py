"""The operator registry, configs, prompts and each operator end to end on real programs."""

import numpy as np
import pytest

from mutators.program import (
    LLMOperator,
    LocalOperator,
    MutationContext,
    OperatorError,
    Prompt,
    make_operator,
    operator_registry,
)
from qd.errors import RegistryError, SpecError
from qd.program.types import Program
from tests.program_ops.conftest import PROGRAMS, SOURCE

CIRCLES = (PROGRAMS / "circle_packing" / "initial.py").read_text()
PARENT = Program(1, SOURCE, score=12.5, metrics={"speed": 0.123456789, "calls": 3},
                 feedback="f(3) is slow for large inputs", measures=(0.1, 0.2))
OTHER = Program(2, SOURCE.replace("x * 2", "x * 9"), score=13.0, feedback="fast")
CTX = MutationContext(parent=PARENT, inspirations=(OTHER,), task="Make main() return more.")
SHAPES = {"diff": (True, "chat", 1), "rewrite": (True, "chat", 1), "crossover": (True, "chat", 2),
          "completion": (True, "completion", 1), "infill": (True, "completion", 1),
          "perturb_literals": (False, None, 1),
          "splice": (False, None, 2)}


def test_registry_lists_every_operator_with_its_shape():
    assert operator_registry.names() == sorted(SHAPES)
    for name, (needs_llm, mode, parents) in SHAPES.items():
        op = make_operator(name)
        assert (op.name, op.needs_llm, op.mode, op.parents) == (name, needs_llm, mode, parents)
        assert isinstance(op, LLMOperator) == needs_llm
        assert isinstance(op, LocalOperator) == (not needs_llm)
        assert operator_registry.get(name).Config().name == name


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_configs_are_strict(name):
    with pytest.raises(SpecError, match=f"operator '{name}': no_such_option"):
        make_operator({"name": name, "no_such_option": 1})


def test_unknown_operator_and_bad_values():
    with pytest.raises(RegistryError, match="unknown operator 'nope'"):
        make_operator("nope")
    with pytest.raises(SpecError, match="threshold"):
        make_operator({"name": "diff", "threshold": 1.5})
    assert make_operator({"name": "completion", "strategy": "versions"}).config.strategy == \
        "versions"


def test_prompt_requires_the_right_payload():
    with pytest.raises(ValueError, match="chat prompt needs messages"):
        Prompt("diff", "chat", text="x")
    with pytest.raises(ValueError, match="completion prompt needs text"):
        Prompt("completion", "completion", messages=({"role": "user", "content": "x"},))


def test_diff_prompt_shows_parent_inspirations_task_and_retry_reason():
    op = make_operator("diff")
    prompt = op.build_prompt(CTX, np.random.default_rng(0))
    assert prompt.mode == "chat" and prompt.text is None
    system, user = prompt.messages
    assert system["role"] == "system" and "EVOLVE-BLOCK-START" in system["content"]
    content = user["content"]
    assert "# Task\nMake main() return more." in content
    assert f"```python\n{SOURCE.rstrip()}\n```" in content  # the code exactly, blank lines kept
    assert "Score: 12.5" in content and "speed = 0.123457, calls = 3" in content
    assert "f(3) is slow for large inputs" in content
    assert "Program 1" in content and "x * 9" in content and "Score: 13" in content
    assert "<<<<<<< SEARCH" in content and ">>>>>>> REPLACE" in content
    assert "rejected" not in content
    retry = MutationContext(parent=PARENT, last_failure="search text not found in any "
                            "EVOLVE-BLOCK (closest match 0.71 at block 1 line 12)")
    content = op.build_prompt(retry, np.random.default_rng(0)).messages[1]["content"]
    assert "Reason: search text not found in any EVOLVE-BLOCK (closest match 0.71" in content
    assert "Program 1" not in content and "# Task" not in content
    assert prompt.temperature == 0.8 and prompt.max_tokens == 2048


def test_diff_apply_end_to_end():
    op = make_operator("diff")
    prompt = op.build_prompt(CTX, np.random.default_rng(0))
    good = "Triple it.\n<<<<<<< SEARCH\n    y = x * 2\n=======\n    y = x * 3\n>>>>>>> REPLACE\n"
    proposal = op.apply(CTX, prompt, good)
    assert proposal.ok and proposal.changed and proposal.operator == "diff"
    assert "y = x * 3" in proposal.code
    broken = good.replace("    y = x * 3", "    y = (x * 3")
    rejected = op.apply(CTX, prompt, broken)
    assert not rejected.ok and rejected.code is None
    assert rejected.reason.startswith("the program does not parse: '(' was never closed")
    missing = op.apply(CTX, prompt, "no edits here")
    assert missing.reason == "no SEARCH/REPLACE blocks in the response" and not missing.detail
    near = good.replace("    y = x * 2", "    y = x * 2 + offset(x)")
    not_found = op.apply(CTX, prompt, near)
    assert not_found.reason.startswith("search text not found in any EVOLVE-BLOCK (closest")
    assert not_found.detail == ("The program lines closest to that SEARCH text are:\n```\n"
                                "    y = x * 2\n```")


def test_rewrite_and_crossover_prompts_and_apply():
    rewrite = make_operator("rewrite")
    content = rewrite.build_prompt(CTX, np.random.default_rng(0)).messages[1]["content"]
    assert "complete new program in one\ncode block marked ```python." in content
    answer = f"```python\n{SOURCE.replace('total = 0', 'total = 1')}```"
    proposal = rewrite.apply(CTX, None, answer)
    assert proposal.changed and "total = 1" in proposal.code

    crossover = make_operator("crossover")
    with pytest.raises(OperatorError, match="second parent"):
        crossover.build_prompt(CTX, np.random.default_rng(0))
    pair = MutationContext(parent=PARENT, second_parent=OTHER, task="t")
    prompt = crossover.build_prompt(pair, np.random.default_rng(0))
    content = prompt.messages[1]["content"]
    assert "## Program A" in content and "## Program B" in content and "x * 9" in content
    assert prompt.state == {"parent": 1, "second_parent": 2}
    merged = crossover.apply(pair, prompt, f"```python\n{OTHER.code}```")
    assert merged.ok and merged.changed and merged.operator == "crossover"


def test_completion_operator_round_trip():
    op = make_operator({"name": "completion", "strategy": "versions"})
    ctx = MutationContext(parent=Program(3, CIRCLES, score=1.48))
    prompt = op.build_prompt(ctx, np.random.default_rng(0))
    assert prompt.mode == "completion" and not prompt.messages
    assert prompt.text.endswith('def construct_packing_v1():\n    """Improved version of '
                                '`construct_packing_v0`."""\n')
    assert prompt.stop[0] == "\ndef " and prompt.temperature == 0.6
    body = ("    centers = np.array([[0.1 + 0.2 * (k % 5), 0.1 + 0.2 * (k // 5)] "
            "for k in range(25)] + [[0.5, 0.5]])\n    return centers, compute_max_radii(centers)\n")
    proposal = op.apply(ctx, prompt, body)
    assert proposal.ok and proposal.changed, proposal.reason
    with pytest.raises(OperatorError, match="no function 'missing'"):
        make_operator({"name": "completion", "function": "missing"}).build_prompt(
            ctx, np.random.default_rng(0))


def test_local_operators_propose():
    perturb = make_operator("perturb_literals")
    ctx = MutationContext(parent=Program(3, CIRCLES))
    first = perturb.propose(ctx, np.random.default_rng(4))
    assert first.ok and first.changed and first.operator == "perturb_literals"
    assert perturb.propose(ctx, np.random.default_rng(4)) == first
    splice = make_operator("splice")
    assert splice.propose(ctx, np.random.default_rng(0)).reason == "splice needs a second parent"
    other = Program(4, CIRCLES.replace("0.25 *", "0.3 *").replace(
        "radii[i] *= scale", "radii[i] *= 0.99 * scale"))
    pair = MutationContext(parent=Program(3, CIRCLES), second_parent=other)
    child = splice.propose(pair, np.random.default_rng(0))
    assert child.ok and child.changed, child.reason
    assert child.code not in (CIRCLES, other.code)
