"""The online bin-packing evaluator: best fit scores, broken heuristics fail cleanly."""

import importlib.util

import numpy as np
import pytest

from mutators.program.completion import build_prompt_text, complete
from qd.program.types import Program
from tests.program_ops.conftest import PROGRAMS, run_evaluator

FOLDER = PROGRAMS / "bin_packing"
INITIAL = (FOLDER / "initial.py").read_text()
BEST_FIT_SCORE = -1.0523075444


def load_evaluator():
    spec = importlib.util.spec_from_file_location("bin_evaluate", FOLDER / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def candidate(tmp_path, body: str):
    path = tmp_path / "candidate.py"
    path.write_text("import numpy as np\n\n\ndef priority(item, bins):\n" + body)
    return path


def test_initial_best_fit_is_valid_and_deterministic(tmp_path):
    path = tmp_path / "initial.py"
    path.write_text(INITIAL)
    first = run_evaluator("bin_packing", path, tmp_path)
    assert first["valid"] is True
    assert first["score"] == pytest.approx(BEST_FIT_SCORE, abs=1e-9)
    metrics = first["metrics"]
    assert metrics["l1_bound"] == 1013 and metrics["bins_used"] == 1066
    assert first["measures"] == [metrics["full_bin_fraction"], 11.0]
    assert "5.23% more bins than the L1 lower bound" in first["feedback"]
    second = run_evaluator("bin_packing", path, tmp_path)
    assert second["score"] == first["score"] and second["measures"] == first["measures"]


def test_first_fit_is_valid_and_worse_than_best_fit(tmp_path):
    result = run_evaluator("bin_packing", candidate(tmp_path, "    return np.zeros(len(bins))\n"),
                           tmp_path)
    assert result["valid"] is True
    assert result["score"] < BEST_FIT_SCORE


def test_instances_follow_the_or1_recipe():
    evaluator = load_evaluator()
    items = evaluator.instances()
    assert len(items) == 5 and all(x.shape == (500,) for x in items)
    assert all(x.min() >= 20 and x.max() <= 100 for x in items)
    assert all(np.array_equal(a, b) for a, b in zip(items, evaluator.instances(), strict=True))


def test_assignment_checks():
    evaluator = load_evaluator()
    items = np.array([100.0, 60.0, 50.0])
    assert list(evaluator.bin_loads(items, [0, 1, 1])) == [100.0, 110.0]
    assert evaluator.bin_loads(items, [0, 0, 1]) == "bin 0 holds 160, more than the capacity 150."
    assert evaluator.bin_loads(items, [0, 2, 2]) == (
        "bins were not opened in order (an index was skipped).")
    assert evaluator.bin_loads(items, [0, 1]).startswith("the assignment does not give a bin")
    assert evaluator.bin_loads(items, [0, 1, 1.5]).startswith("the assignment holds bin indices")


BROKEN = {
    "scalar": ("    return 1.0\n", "priority() returned shape () for 1 bins (item 0)."),
    "short": ("    return np.zeros(1)\n", "priority() returned shape (1,) for 2 bins (item 1)."),
    "nan": ("    return np.full(len(bins), np.nan)\n",
            "priority() returned NaN or infinite scores (item 0)."),
    "exception": ("    return {}[item]\n", "packing raised KeyError: 98.0\n  File"),
    "missing": (None, "packing raised AttributeError"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_heuristics_give_invalid_results_with_reasons(tmp_path, case):
    body, expected = BROKEN[case]
    if body is None:
        path = tmp_path / "candidate.py"
        path.write_text("def other(item, bins):\n    return bins\n")
    else:
        path = candidate(tmp_path, body)
    result = run_evaluator("bin_packing", path, tmp_path)
    assert result["valid"] is False and result["score"] == 0.0
    assert expected in result["feedback"], result["feedback"]


def test_time_limit(tmp_path):
    path = candidate(tmp_path, "    import time\n    time.sleep(30)\n    return -bins\n")
    result = run_evaluator("bin_packing", path, tmp_path, EVALUATE_TIME_LIMIT_S="1")
    assert result["valid"] is False
    assert "packing did not finish within 1 s." in result["feedback"]


def test_completed_heuristic_evaluates(tmp_path):
    parent = Program(1, INITIAL, score=BEST_FIT_SCORE)
    _, state = build_prompt_text(parent, (), "", "versions", 2, np.random.default_rng(0))
    # Best fit, but an almost-full result is preferred strongly (a plausible model answer).
    response = "    free = bins - item\n    return -free + 100.0 * (free <= 2)\n\n\ndef main():\n"
    proposal = complete(INITIAL, state, response)
    assert proposal.changed, proposal.reason
    path = tmp_path / "child.py"
    path.write_text(proposal.code)
    result = run_evaluator("bin_packing", path, tmp_path)
    assert result["valid"] is True, result["feedback"]
    assert result["measures"][1] == 12.0
