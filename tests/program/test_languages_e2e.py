"""Compiled programs end to end: `qd.evolve` on the C and Rust TSP problems against the scripted
loopback LLM, and hostile C candidates contained by the sandbox."""

import os
import re
import time
from pathlib import Path

import pytest

import qd
from problems.program import ProgramProblemConfig
from qd.cli.show import _program_of
from qd.evaluation.program import ProgramEvaluator
from qd.languages import language_named
from qd.program.types import Status
from qd.report.render import write_report
from qd.report.select import Selector, load_solution
from qd.sandbox import SandboxLimits
from qd.sandbox.cgroup import pids_base
from tests.conftest import stored_rows
from tests.program.conftest import Reply, prompt_text
from tests.sandbox.conftest import bwrap_usable, scan

ROOT = Path(__file__).resolve().parents[2]
TSP = ROOT / "problems" / "programs" / "tsp"
TSP_RUST = ROOT / "problems" / "programs" / "tsp_rust"
C_EXEC = ROOT / "tests" / "fixtures" / "programs" / "c_exec"


def needs(name: str) -> None:
    toolchain = language_named(name).toolchain
    if not toolchain.available():
        pytest.skip(f"{toolchain.programs[0]} is not installed: install it ({toolchain.install})")


def chat_overrides(server, **extra: str) -> list[str]:  # noqa: ANN001 - ScriptedLLMServer
    model = (f'llm.models=[{{model="openai/scripted", api_base="{server.api_base}", '
             f'mode="chat", timeout_s=5.0, max_retries=1, backoff_s=0.01}}]')
    settings = {"llm.proposals_in_flight": "1", "llm.evaluations_in_flight": "1",
                "run.seed": "1", "novelty.threshold": "1.0", **extra}
    return [model, *(f"{k}={v}" for k, v in settings.items())]


class CompilingLLM:
    """Diffs and rewrites of a TSP program (C or Rust) that change its 2-opt radius: the first
    two answers do not compile (a rejection, its retry showing the compiler's errors), then
    each answer sets a new radius, 0.5 first, then smaller ones (longer 2-opt moves: shorter
    tours). Children that change one constant are near duplicates for the n-gram filter
    (cosine > 0.995), so the runs check exact duplicates only (`novelty.threshold = 1`)."""

    def __init__(self, radius_line: str, new_line: str, broken: str) -> None:
        self.radius_line, self.new_line, self.broken = radius_line, new_line, broken
        self.calls = 0

    def __call__(self, request) -> Reply:  # noqa: ANN001 - RecordedRequest
        self.calls += 1
        text = prompt_text(request)
        current = re.search(self.radius_line, text).group(0)
        if self.calls <= 2:
            new = current + "\n" + self.broken
        else:
            new = self.new_line.format(round(0.5 - 0.03 * (self.calls - 3), 2))
        if "<<<<<<< SEARCH" in text:
            return Reply(text=f"Longer moves.\n<<<<<<< SEARCH\n{current}\n=======\n{new}\n"
                              ">>>>>>> REPLACE\n")
        fence = re.search(r"```(\w+)\n(.*?)\n```", text, re.S)
        child = fence.group(2).replace(current, new)
        return Reply(text=f"Longer moves.\n```{fence.group(1)}\n{child}\n```\n")


def test_a_c_program_evolves_to_a_better_score(scripted_llm_server, tmp_path):
    needs("c")
    llm = CompilingLLM(r"#define RADIUS [0-9.]+", "#define RADIUS {}", "int broken = ;")
    scripted_llm_server.respond_with(llm)
    out = tmp_path / "run"
    result = qd.evolve(TSP, out=out, budget=4, overrides=chat_overrides(
        scripted_llm_server, **{"llm.operators": '["diff", "rewrite"]'}))
    assert result.end.reason == "budget" and result.end.evaluations == 4
    rows = stored_rows(out)
    initial = rows[0]
    assert initial.operator == "initial" and initial.status is Status.OK
    assert 1.0 < initial.score < 1.01  # nearest neighbour + short 2-opt moves
    assert "// EVOLVE-BLOCK-START" in initial.code
    # the first answer and its retry do not compile: rejected, never evaluated
    rejected = rows[1]
    assert rejected.status is Status.REJECTED and rejected.eval_s is None
    assert rejected.reason.startswith("the program does not compile (gcc): candidate.c:")
    retry = prompt_text(scripted_llm_server.completion_requests()[1])
    assert "# Your previous answer was rejected" in retry and "does not compile (gcc)" in retry
    assert "```c\n" in retry and "```python" not in retry
    children = [r for r in rows[2:] if r.status is Status.OK]
    assert len(children) == 3 and {r.operator for r in children} <= {"diff", "rewrite"}
    first = children[0]
    assert "#define RADIUS 0.5\n" in first.code and first.parents == (1,)
    assert first.score > 1.15 > initial.score  # 2-opt with a long radius: shorter tours
    assert "Valid tours on all 4 instances" in first.feedback
    assert first.metrics["compile_s"] > 0  # compiled inside the sandbox
    best = max(children, key=lambda r: r.score)
    assert result.archive.stats().best == pytest.approx(best.score)
    complexity = [r.measures[1] for r in rows if r.status is Status.OK]
    # 1 + the C branch points of the whole file (main 5, nearest_neighbour 4, two_opt 6); the
    # edits change only a constant
    assert set(complexity) == {16.0}
    # the report and `qd show` highlight C as C (pygments' C lexer: #define is a directive)
    assert '<span class="cp">#define' in write_report(out).read_text()
    shown = _program_of(out, load_solution(out, Selector.parse(True, None, None)))
    assert shown["language"] == "c" and shown["score"] == best.score


def test_a_rust_program_evolves_to_a_better_score(scripted_llm_server, tmp_path):
    needs("rust")
    llm = CompilingLLM(r"const RADIUS: f64 = [0-9.]+;", "const RADIUS: f64 = {};",
                       "let broken: i32 = 1.0;")
    scripted_llm_server.respond_with(llm)
    out = tmp_path / "run"
    result = qd.evolve(TSP_RUST, out=out, budget=2, overrides=chat_overrides(
        scripted_llm_server, **{"llm.operators": '["diff"]'}))
    assert result.end.evaluations == 2
    rows = stored_rows(out)
    assert rows[0].status is Status.OK and 1.0 < rows[0].score < 1.01
    assert rows[1].status is Status.REJECTED
    assert rows[1].reason.startswith("the program does not compile (rustc)")
    child = rows[2]
    assert child.status is Status.OK and "const RADIUS: f64 = 0.5;" in child.code
    assert child.score > 1.15 > rows[0].score


HOSTILE = {
    "infinite loop": ("for (;;) {}", Status.TIMEOUT),
    "fork bomb": ("for (;;) fork();", Status.TIMEOUT),
    "huge malloc": ("size_t n = (size_t)1 << 36; char *p = malloc(n);\n"
                    "    if (!p) { fputs(\"no memory\", stderr); exit(3); }\n"
                    "    memset(p, 1, n);", Status.INVALID),
}


@pytest.mark.parametrize("isolation", ["bwrap", "process"])
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_c_candidates_are_contained(name, isolation):
    needs("c")
    if isolation == "bwrap" and not bwrap_usable():
        pytest.skip("bubblewrap is not usable here (apt-get install -y bubblewrap)")
    if name == "fork bomb" and isolation == "process" and pids_base() is None \
            and os.geteuid() == 0:
        pytest.skip("as root without a pids cgroup the process count is unbounded (documented)")
    body, expected = HOSTILE[name]
    tag = f"qdhostile{time.monotonic_ns()}"
    problem = qd.load_spec(C_EXEC).spec.problem
    assert isinstance(problem, ProgramProblemConfig)
    limits = SandboxLimits(timeout_s=4.0, memory_mb=512, max_processes=16, isolation=isolation,
                           env_set={"QD_TEST_TAG": tag})
    evaluator = ProgramEvaluator(problem, limits)
    code = problem.initial.read_text().replace(
        "static double value(void) { return 0.25; }",
        "#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n"
        f"static double value(void) {{\n    {body}\n    return 1.0;\n}}")
    start = time.monotonic()
    outcome = evaluator(code)
    assert outcome.status is expected, (outcome.status, outcome.reason, outcome.feedback)
    assert time.monotonic() - start < 10.0
    assert outcome.score is None
    if name == "huge malloc":
        assert "exit code 3" in outcome.feedback and "no memory" in outcome.feedback
    deadline = time.monotonic() + 2.0
    while scan(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scan(tag) == [], "processes outlived the sandbox"


def test_the_c_exec_fixture_scores_a_well_behaved_program():
    needs("c")
    problem = qd.load_spec(C_EXEC).spec.problem
    outcome = ProgramEvaluator(problem, SandboxLimits(timeout_s=10.0))(
        problem.initial.read_text())
    assert outcome.status is Status.OK and outcome.score == 0.25
