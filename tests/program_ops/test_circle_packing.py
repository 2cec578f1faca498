"""The circle-packing evaluator: the initial program scores, broken candidates fail cleanly."""

import importlib.util

import numpy as np
import pytest

from mutators.program.blocks import ProgramTemplate
from mutators.program.local_ops import perturb_literals
from tests.program_ops.conftest import PROGRAMS, run_evaluator

FOLDER = PROGRAMS / "circle_packing"
INITIAL = (FOLDER / "initial.py").read_text()


def load_evaluator():
    spec = importlib.util.spec_from_file_location("circle_evaluate", FOLDER / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def grid(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """25 circles on a 5 x 5 grid plus a point-sized one in a gap."""
    centers = [[0.1 + 0.2 * i, 0.1 + 0.2 * j] for i in range(5) for j in range(5)]
    centers.append([0.2, 0.2])
    return np.array(centers), np.array([radius] * 25 + [0.0])


def candidate(tmp_path, body: str):
    path = tmp_path / "candidate.py"
    path.write_text("import numpy as np\n\n\ndef run_packing():\n" + body)
    return path


def test_initial_program_is_valid_and_improvable(tmp_path):
    path = tmp_path / "initial.py"
    path.write_text(INITIAL)
    result = run_evaluator("circle_packing", path, tmp_path)
    assert result["valid"] is True
    assert result["score"] == pytest.approx(1.4791676462, abs=1e-9)
    assert 0 < result["score"] < 2.635
    metrics = result["metrics"]
    assert result["measures"] == [metrics["radius_std"], metrics["boundary_fraction"]]
    assert metrics["sum_radii"] == result["score"]
    assert result["feedback"].startswith("Valid packing of 26 circles: sum of radii 1.479168")
    assert len(ProgramTemplate.parse(INITIAL).blocks) == 1


def test_checks_accept_touching_circles_and_reject_tiny_overlaps():
    evaluator = load_evaluator()
    centers, radii = grid(0.1)
    assert evaluator.check_packing(centers, radii) is None
    scored = evaluator.score_packing(centers, radii, 0.0)
    assert scored["score"] == pytest.approx(2.5)
    assert scored["measures"][1] == pytest.approx(16 / 26)  # the ring of the grid
    assert "1 circles have radius below 0.001" in scored["feedback"]
    assert evaluator.check_packing(*grid(0.1 + 1e-8)) == (
        "16 circles stick out of the unit square; worst: circle 0 (center (0.1, 0.1), radius "
        "0.1) by 1e-08.")
    inner = grid(0.1)
    inner[1][12] += 2e-9  # the middle circle only overlaps its neighbours
    assert evaluator.check_packing(*inner).startswith("4 pairs of circles overlap; worst:")
    assert evaluator.check_packing(*grid(-0.1)) == "circle 0 has a negative radius (-0.1)."


BROKEN = {
    "overlap": ("    return np.full((26, 2), 0.5), np.full(26, 0.1)\n",
                "325 pairs of circles overlap; worst: circles"),
    "outside": ("    c = np.array([[0.1 + 0.2 * (k % 5), 0.1 + 0.2 * (k // 5)]\n"
                "                  for k in range(26)])\n    c[25] = [0.02, 0.5]\n"
                "    r = np.full(26, 0.01)\n    r[25] = 0.05\n    return c, r\n",
                "1 circles stick out of the unit square; worst: circle 25 (center (0.02, 0.5), "
                "radius 0.05) by 0.03."),
    "exception": ("    raise ValueError('no packing today')\n",
                  "run_packing() raised ValueError: no packing today"),
    "shape": ("    return np.zeros((25, 2)), np.zeros(25)\n",
              "centers has shape (25, 2), expected (26, 2)."),
    "single": ("    return np.zeros(26)\n",
               "run_packing() raised TypeError: run_packing() returned a ndarray, expected a pair"),
    "nan": ("    return np.full((26, 2), 0.5), np.full(26, np.nan)\n",
            "centers or radii contain NaN or infinite values."),
    "exit": ("    raise SystemExit(0)\n", "run_packing() raised SystemExit: 0"),
    "hard_exit": ("    import os\n    os._exit(3)\n",
                  "the candidate's process exited with code 3 before returning a result."),
    "syntax": ("    return (\n", "run_packing() raised SyntaxError"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_candidates_give_invalid_results_with_reasons(tmp_path, case):
    body, expected = BROKEN[case]
    result = run_evaluator("circle_packing", candidate(tmp_path, body), tmp_path)
    assert result["valid"] is False and result["score"] == 0.0
    assert result["feedback"].startswith("Invalid: ")
    assert expected in result["feedback"]
    assert result["feedback"].endswith("The program scores 0.")


def test_time_limit(tmp_path):
    path = candidate(tmp_path, "    while True:\n        pass\n")
    result = run_evaluator("circle_packing", path, tmp_path, EVALUATE_TIME_LIMIT_S="1")
    assert result["valid"] is False
    assert "run_packing() did not finish within 1 s." in result["feedback"]


def test_perturbed_initial_program_is_a_new_valid_packing(tmp_path):
    child, note = perturb_literals(INITIAL, np.random.default_rng(2))
    path = tmp_path / "child.py"
    path.write_text(child)
    result = run_evaluator("circle_packing", path, tmp_path)
    assert result["valid"], (note, result["feedback"])
    assert result["score"] > 0 and result["score"] != pytest.approx(1.4791676462, abs=1e-6)
