"""Shared programs and helpers of the program-operator tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures.scripted_llm import scripted_llm_server  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = ROOT / "problems" / "programs"

# A small program with fixed code on both sides of one EVOLVE-BLOCK.
SOURCE = '''import math


def helper(x):
    return x + 1


# EVOLVE-BLOCK-START
def f(x):
    y = x * 2
    if y > 10:
        y = y - 1
    return helper(y)


def g(values):
    total = 0
    for v in values:
        total += v
    return total
# EVOLVE-BLOCK-END


def main():
    return f(3) + g([1, 2])
'''

# Two blocks, the second one indented inside a function.
TWO_BLOCKS = '''import math

# EVOLVE-BLOCK-START
SCALE = 2.5
OFFSET = 3
# EVOLVE-BLOCK-END


def solve(x):
    base = x * SCALE
    # EVOLVE-BLOCK-START
    base = base + OFFSET
    base = math.sqrt(abs(base))
    # EVOLVE-BLOCK-END
    return base
'''


def line_of(source: str, text: str) -> int:
    """1-based number of the first line of `source` equal to `text`."""
    return source.splitlines().index(text) + 1


def run_evaluator(problem: str, candidate: Path, tmp_path: Path, timeout: float = 120,
                  **env: str) -> dict:
    """Run `python evaluate.py CANDIDATE RESULT` in `tmp_path`; return the parsed JSON."""
    result = tmp_path / "result.json"
    completed = subprocess.run(
        [sys.executable, str(PROGRAMS / problem / "evaluate.py"), str(candidate), str(result)],
        cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **env},
    )
    assert completed.returncode == 0, completed.stderr
    data = json.loads(result.read_text())
    assert set(data) == {"score", "valid", "measures", "metrics", "feedback"}
    assert isinstance(data["valid"], bool) and isinstance(data["feedback"], str)
    assert len(data["measures"]) == 2
    assert all(isinstance(m, float) for m in data["measures"])
    return data
