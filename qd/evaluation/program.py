"""Evaluate one candidate program: run the user's evaluator on it in the sandbox, validate the
JSON it writes, and compute the archive measures.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from problems.measure_sources import Evaluated, measure_source
from problems.program import ProgramProblemConfig
from problems.program_files import read_files
from qd.evaluation.program_result import validate_program_result
from qd.program.types import Evaluation, Status
from qd.sandbox import SandboxLimits, run_sandboxed

RESULT = "result.json"


class ProgramEvaluator:
    """Runs `python evaluate.py candidate.EXT result.json` in a fresh sandbox per candidate.

    The candidate file has the language's extension (`candidate.c`); a compiled language's
    toolchain is visible in the sandbox (read-only, on PATH), so `evaluate.py` compiles the
    candidate inside it, within the same time, memory and process limits.

    Args:
        problem: The program problem's config (evaluator, extra files, measures, language).
        limits: Sandbox limits.

    Raises:
        ToolchainError: The language's compiler is not installed here.
    """

    def __init__(self, problem: ProgramProblemConfig, limits: SandboxLimits) -> None:
        self.problem = problem
        self.language = problem.program_language
        toolchain = self.language.toolchain
        self.limits = toolchain.locate().limits(limits) if toolchain else limits
        self.candidate = self.language.candidate_name
        self._files: dict[str, bytes] = {**read_files(problem.files),
                                         "evaluate.py": Path(problem.evaluator).read_bytes()}
        self._evaluator_measures = max(
            (m.index + 1 for m in problem.measures if m.source == "evaluator"), default=0
        )

    def __call__(self, code: str) -> Evaluation:
        """Evaluate `code` (blocking; run it in a worker thread).

        Returns:
            OK with the archive measures, INVALID (bad or missing result, valid=false), or
            the sandbox's failure status (TIMEOUT, CRASHED, OOM, KILLED, ERROR), with the
            evaluator's metrics and feedback (or what went wrong) and the seconds it took.
        """
        result = run_sandboxed(
            [sys.executable, "evaluate.py", self.candidate, RESULT],
            {**self._files, self.candidate: code},
            self.limits,
            result_file=RESULT,
        )
        tail = (result.stderr or result.stdout)[-1500:]
        if result.status != "ok":
            feedback = f"{result.reason}\n{tail}".strip()
            return Evaluation(Status(result.status), None, None, {}, feedback, result.reason,
                              result.duration_s)
        checked = validate_program_result(result.result)
        needed = self._evaluator_measures
        if checked.ok and needed and len(checked.measures or ()) < needed:
            reason = (f"the evaluator returned {len(checked.measures or ())} measures; the spec "
                      f"uses measures[{needed - 1}]")
            return Evaluation(Status.INVALID, None, None, checked.metrics, checked.feedback,
                              reason, result.duration_s)
        if not checked.ok:
            feedback = "\n".join(x for x in (checked.feedback, checked.reason, tail) if x)
            first = checked.feedback.strip().splitlines()[0][:200] if checked.feedback else ""
            reason = f"{checked.reason}: {first}" if first else checked.reason
            return Evaluation(Status.INVALID, None, None, checked.metrics, feedback,
                              reason, result.duration_s)
        measures = self._measures(code, checked.measures, result.duration_s)
        return Evaluation(Status.OK, float(checked.score), measures, checked.metrics,
                          checked.feedback, None, result.duration_s, checked.feedback_truncated)

    def close(self) -> None:
        """Nothing to release: each evaluation's sandbox is gone when it returns."""

    def _measures(self, code: str, evaluator_measures: Any, eval_s: float) -> tuple[float, ...]:
        """Every axis its source computes now; axes filled later (judge, embedding) are NaN."""
        sample = Evaluated(code, eval_s, tuple(evaluator_measures or ()), self.language)
        return tuple(measure_source(m.source).value(m.index, sample)
                     for m in self.problem.measures)
