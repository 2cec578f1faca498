"""The operators on a C program: prompts in C, answers from C fences, the compile check before
evaluation, local operators through the lexer, and Python-only operators refused clearly."""

from pathlib import Path

import numpy as np
import pytest

import qd
from mutators.program import MutationContext, make_operator
from mutators.program.operators import language_refusal
from qd.errors import SpecError
from qd.languages import language_named
from qd.program.config import LLMSection
from qd.program.setup import _operators_for
from qd.program.types import Program
from qd.sandbox import SandboxLimits

C = language_named("c").in_sandbox(SandboxLimits(timeout_s=20))
ROOT = Path(__file__).resolve().parents[2]
TSP = ROOT / "problems" / "programs" / "tsp"
SOURCE = (TSP / "initial.c").read_text()
PARENT = Program(1, SOURCE, score=1.0009, feedback="Valid tours on all 4 instances")
CTX = MutationContext(parent=PARENT, task="Shorter tours.", language=C)
RADIUS = "#define RADIUS 0.02"

pytestmark = pytest.mark.skipif(not C.toolchain.available(), reason="gcc is not installed "
                                "(apt-get install -y gcc)")


def test_chat_prompts_speak_c():
    for name in ("diff", "rewrite"):
        system, user = make_operator(name).build_prompt(CTX, np.random.default_rng(0)).messages
        assert "improving a C program" in system["content"]
        assert "`// EVOLVE-BLOCK-START` and `// EVOLVE-BLOCK-END`" in system["content"]
        assert f"```c\n{SOURCE.rstrip()}\n```" in user["content"]
        assert "```python" not in user["content"] + system["content"]
    rewrite = make_operator("rewrite").build_prompt(CTX, np.random.default_rng(0))
    assert "code block marked ```c. Keep the `// EVOLVE-BLOCK-START`" in \
        rewrite.messages[1]["content"]


def test_a_diff_that_does_not_compile_is_rejected_before_evaluation():
    op = make_operator("diff")
    prompt = op.build_prompt(CTX, np.random.default_rng(0))
    broken = (f"<<<<<<< SEARCH\n{RADIUS}\n=======\n#define RADIUS 0.5\nint oops = ;\n"
              ">>>>>>> REPLACE\n")
    rejected = op.apply(CTX, prompt, broken)
    assert not rejected.ok
    assert rejected.reason.startswith("the program does not compile (gcc): candidate.c:")
    assert "error: expected expression" in rejected.reason
    good = broken.replace("int oops = ;\n", "")
    proposal = op.apply(CTX, prompt, good)
    assert proposal.ok and proposal.changed and "#define RADIUS 0.5" in proposal.code


def test_a_rewrite_is_taken_from_the_c_fence():
    op = make_operator("rewrite")
    child = SOURCE.replace(RADIUS, "#define RADIUS 0.3")
    answer = f"Longer moves.\n```python\nprint(1)\n```\n```c\n{child}```\n"
    proposal = op.apply(CTX, None, answer)
    assert proposal.ok and proposal.changed and proposal.code == child
    only_block = "Just the block:\n```c\n#define RADIUS 0.3\n```\n"  # solve() is gone
    rejected = op.apply(CTX, None, only_block)
    assert not rejected.ok
    assert "implicit declaration of function" in rejected.reason and "solve" in rejected.reason


def test_local_operators_vary_c_programs():
    rng = np.random.default_rng(1)
    perturbed = make_operator({"name": "perturb_literals", "max_count": 1}).propose(CTX, rng)
    assert perturbed.ok and perturbed.changed, perturbed.reason
    assert (f"{RADIUS}\n" in perturbed.code) != ("1e-12" in perturbed.code)  # one float
    other = Program(2, SOURCE.replace(RADIUS, "#define RADIUS 0.2").replace(
        "nearest_neighbour(n, x, y, tour);", "nearest_neighbour(n, x, y, tour);\n    "
        "two_opt(n, x, y, tour);"), score=1.18)
    pair = MutationContext(parent=PARENT, second_parent=other, language=C)
    spliced = make_operator("splice").propose(pair, rng)
    assert spliced.ok and spliced.changed, spliced.reason
    assert spliced.code not in (SOURCE, other.code)
    statements = make_operator({"name": "splice", "level": "statements"}).propose(pair, rng)
    assert not statements.ok and "Python's syntax tree; for C use level" in statements.reason


def test_python_only_operators_are_refused_for_c(caplog):
    for name in ("completion", "infill"):
        refusal = language_refusal(make_operator(name), C)
        assert refusal.startswith(f"operator '{name}' works on python programs only, not C: ")
    assert language_refusal(make_operator("diff"), C) is None
    spec = qd.load_spec(TSP).spec
    names = [op.name for op in _operators_for(spec.llm or LLMSection(), C)]
    assert names == ["perturb_literals", "splice"]  # the local model's default without completion
    assert "left out of this run's default operators" in caplog.text
    with pytest.raises(SpecError, match="llm.operators: operator 'completion' works on python"):
        qd.evolve(TSP, write=False, overrides=['llm.operators=["completion"]'])

