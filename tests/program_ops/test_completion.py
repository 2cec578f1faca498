"""Completion prompts for base models and the splicing of their continuations."""

import numpy as np
import pytest

from mutators.program.blocks import outside_unchanged
from mutators.program.completion import (
    STOP_SEQUENCES,
    build_prompt_text,
    complete,
    find_function,
)
from mutators.program.types import OperatorError
from qd.program.types import Program
from tests.program_ops.conftest import PROGRAMS

BIN = (PROGRAMS / "bin_packing" / "initial.py").read_text()
CIRCLES = (PROGRAMS / "circle_packing" / "initial.py").read_text()
BEST_FIT = "    return -(bins - item)"
FIRST_FIT = BIN.replace(BEST_FIT, "    return np.zeros(len(bins))")
WORST_FIT = BIN.replace(BEST_FIT, "    return bins - item")


def records():
    parent = Program(1, BIN, score=-1.052)
    others = (Program(2, FIRST_FIT, score=-1.057),
              Program(3, WORST_FIT, score=-1.2),
              Program(4, BIN, score=-1.052))
    return parent, others


def test_versions_prompt_lists_versions_best_last_then_the_next_header():
    parent, others = records()
    text, state = build_prompt_text(parent, others, "Pack items.", "versions", 3,
                                    np.random.default_rng(0))
    assert text.startswith("# Pack items.\n")
    assert "import numpy as np" in text and "EVOLVE-BLOCK" not in text
    v0, v1, v2 = (text.index(f"def priority_v{i}(item, bins):") for i in range(3))
    assert v0 < v1 < v2
    assert text.index("    return bins - item") < v1 < text.index("np.zeros(len(bins))") < v2
    assert text.index(BEST_FIT) > v2  # the parent, best of the three, comes last
    assert text.count("def priority_v") == 4  # the duplicate of the parent is shown once
    # v0 keeps the original docstring; later versions point to their predecessor.
    assert "Score the bins for `item`" in text[v0:v1]
    assert '    """Improved version of `priority_v0`."""\n' in text[v1:v2]
    assert text.endswith('def priority_v3(item, bins):\n'
                         '    """Improved version of `priority_v2`."""\n')
    assert state["version"] == 3 and state["function"] == "priority" and state["cut"] == 0


def test_cut_prompt_ends_with_the_first_k_body_lines():
    parent = Program(5, CIRCLES, score=1.48)
    function = find_function(CIRCLES)
    assert function.name == "construct_packing"
    seen = set()
    for seed in range(12):
        text, state = build_prompt_text(parent, (), "", "cut", 3, np.random.default_rng(seed))
        k = state["cut"]
        assert k in function.cuts
        tail = "".join(line + "\n" for line in function.body[:k])
        assert text.endswith('def construct_packing_v0():\n    """Place one circle in the centre, '
                             '8 on an inner ring and 17 on an outer ring."""\n' + tail)
        assert "compute_max_radii(centers):" in text  # the rest of the block is context
        seen.add(k)
    again, _ = build_prompt_text(parent, (), "", "cut", 3, np.random.default_rng(5))
    first, _ = build_prompt_text(parent, (), "", "cut", 3, np.random.default_rng(5))
    assert again == first
    assert len(seen) >= 3
    assert "\ndef " in STOP_SEQUENCES and "\n# EVOLVE-BLOCK-END" in STOP_SEQUENCES


def cut_state(k: int):
    parent = Program(5, CIRCLES, score=1.48)
    for seed in range(100):
        text, state = build_prompt_text(parent, (), "", "cut", 3, np.random.default_rng(seed))
        if state["cut"] == k:
            return state
    raise AssertionError(f"no seed cuts at {k}")


def test_realistic_continuation_is_spliced_back_under_the_original_name():
    function = find_function(CIRCLES)
    state = cut_state(4)  # after the inner ring's loop
    rest = "\n".join(function.body[4:]).replace("0.4 *", "0.42 *") + "\n"
    continuation = rest + "\n\ndef helper_v0():\n    return 1\n"
    proposal = complete(CIRCLES, state, continuation)
    assert proposal.ok and proposal.changed, proposal.reason
    assert proposal.code == CIRCLES.replace("0.4 *", "0.42 *")
    assert outside_unchanged(CIRCLES, proposal.code)
    assert proposal.reason == "continued construct_packing after 4 lines of the parent's body"
    copy = complete(CIRCLES, state, "\n".join(function.body[4:]) + "\n")
    assert copy.ok and not copy.changed


def test_new_version_for_the_versions_strategy_gets_name_and_docstring_back():
    parent, others = records()
    _, state = build_prompt_text(parent, others, "", "versions", 3, np.random.default_rng(0))
    response = ("    free = bins - item\n    return -free + 5.0 * (free == 0)\n\n\n"
                "if __name__ == '__main__':\n    print(priority_v3(1, np.ones(2)))\n")
    proposal = complete(BIN, state, response)
    assert proposal.ok and proposal.changed, proposal.reason
    assert "def priority(item, bins):\n    \"\"\"Score the bins for `item`" in proposal.code
    assert "    free = bins - item\n    return -free + 5.0 * (free == 0)\n# EVOLVE-BLOCK-END\n" \
        in proposal.code
    assert "priority_v" not in proposal.code and "__main__" not in proposal.code
    assert proposal.reason == "wrote a new version of priority"


def test_broken_continuations_are_rejected_with_reasons():
    parent, others = records()
    _, state = build_prompt_text(parent, others, "", "versions", 3, np.random.default_rng(0))
    stopped = complete(BIN, state, "    free = bins - item\n    return -(free + np.maximum(0,")
    assert not stopped.ok
    assert stopped.reason.startswith("the completed function does not parse: ")
    assert stopped.reason.endswith("(the continuation stops mid-function)")
    bad = complete(BIN, state, "    return bins -* item\n    x = 1\n    return x\n")
    assert bad.reason.startswith("the completed function does not parse: invalid syntax at "
                                 "line 3 of priority_v3")
    calls = complete(BIN, state, "    return priority_v2(item, bins) * 2\n")
    assert calls.reason == "the new version uses priority_v2, which the program lacks"
    assert complete(BIN, state, "  \n").reason == "the completion is empty"
    no_body = complete(BIN, state, "\ndef other():\n    pass\n")
    assert no_body.reason == "the completion adds no line to priority_v3"
    cut = cut_state(4)
    stops_at_once = complete(CIRCLES, cut, "\n\ndef construct_packing_v1():\n    pass\n")
    assert stops_at_once.reason == "the completion adds no line to construct_packing_v0"


def test_find_function_errors_and_one_line_functions():
    with pytest.raises(OperatorError, match="no function 'nope'"):
        find_function(BIN, "nope")
    with pytest.raises(OperatorError, match="cannot find the evolvable function"):
        find_function("def f():\n    return 1\n")
    one_liner = "import math\n# EVOLVE-BLOCK-START\ndef f(x): return x + 1\n# EVOLVE-BLOCK-END\n"
    function = find_function(one_liner)
    assert function.signature == ("def f(x):",) and function.body == ("    return x + 1",)
    assert (function.first_line, function.last_line) == (3, 3)
