"""The shared program records: `Status` through the real programs table, the frozen
`Evaluation`, the `Program` record operators see, and every status the code writes."""

from __future__ import annotations

import ast
import dataclasses
import pickle
import sqlite3
import typing
from contextlib import closing
from pathlib import Path

import pytest

from mutators.program.prompts import program_view
from qd.program.types import Evaluation, Program, Status
from qd.sandbox import result as sandbox_result
from qd.store import RunStore
from qd.store.programs import ProgramStore

ROOT = Path(__file__).resolve().parents[2]
#: Modules that decide a proposal's status (write it, or compare against it).
WRITERS = ("qd/program/engine.py", "qd/evaluation/program.py", "qd/evaluation/dask_program.py",
           "qd/evaluation/program_result.py", "qd/store/programs.py", "qd/program/archive.py",
           "qd/embeddings/projection.py", "qd/judge/judge.py", "qd/report/sections.py")


def test_status_round_trips_through_the_programs_table(tmp_path):
    with closing(RunStore.open(tmp_path)) as store:
        programs = store.programs
        assert isinstance(programs, ProgramStore)
        for pid, status in enumerate(Status, start=1):
            programs.add(Program(pid, f"x = {pid}\n", parents=(1,) if pid > 1 else (),
                                 operator="diff", model="m", status=status, reason="r"))
        programs.add(Program(len(Status) + 1, "y = 1\n", status="proposed"))  # a plain string
        programs.finish(len(Status) + 1, status=Status.TIMEOUT, reason="slow", score=None,
                        measures=None, metrics={"n": 1}, feedback="took too long", eval_s=2.0)
        rows = programs.all()
        assert [r.status for r in rows] == [*Status, Status.TIMEOUT]
        assert all(type(r.status) is Status for r in rows)
        counts = programs.counts()
        assert all(type(k) is Status for k in counts) and counts[Status.TIMEOUT] == 2
        assert counts["timeout"] == 2  # members equal (and hash like) their strings
        assert [r.id for r in programs.all(Status.OK)] == [2]
        assert programs.get(len(Status) + 1) == Program(
            len(Status) + 1, "y = 1\n", status=Status.TIMEOUT, reason="slow",
            metrics={"n": 1}, feedback="took too long", eval_s=2.0)
        assert programs.get(1).feedback == ""  # NULL until evaluated
    with closing(sqlite3.connect(tmp_path / "store.sqlite")) as raw:  # plain strings on disk
        stored = raw.execute("SELECT status, typeof(status) FROM programs ORDER BY id").fetchall()
    assert stored == [(s.value, "text") for s in Status] + [("timeout", "text")]
    with closing(RunStore.open(tmp_path, readonly=True)) as reader:
        assert [r.status for r in reader.programs.all()] == [*Status, Status.TIMEOUT]


def test_an_unknown_status_is_refused_at_the_store():
    with pytest.raises(ValueError, match="dupe"):
        Program(1, "x = 1\n", status="dupe")
    with pytest.raises(ValueError, match="fine"):
        Evaluation("fine")


def test_unknown_status_in_a_stored_row_fails_loudly(tmp_path):
    with closing(RunStore.open(tmp_path)) as store:
        store.programs.add(Program(1, "x = 1\n"))
    with closing(sqlite3.connect(tmp_path / "store.sqlite")) as raw, raw:
        raw.execute("UPDATE programs SET status = 'exploded' WHERE id = 1")
    with closing(RunStore.open(tmp_path)) as store, pytest.raises(ValueError, match="exploded"):
        store.programs.all()


def test_evaluated_statuses_are_exactly_ok_invalid_and_the_sandbox_failures():
    sandbox = set(typing.get_args(sandbox_result.Status))
    assert sandbox <= set(Status)  # every sandbox outcome is a proposal status
    assert Status.evaluated_statuses() == {Status(s) for s in sandbox} | {Status.INVALID}
    assert [s for s in Status if s.evaluated] == sorted(Status.evaluated_statuses(),
                                                        key=list(Status).index)
    never = {Status.PROPOSED, Status.DUPLICATE, Status.REJECTED, Status.LLM_ERROR,
             Status.INTERNAL_ERROR}
    assert not any(s.evaluated for s in never)
    assert [s for s in Status if not s.final] == [Status.PROPOSED]
    assert [s for s in Status if s.final and not s.failed] == [Status.OK]


def test_evaluation_is_frozen_read_only_and_pickles():
    ev = Evaluation("ok", 1.5, (0.1, 0.2), {"n": 3}, "fine", None, 0.25)
    assert ev.status is Status.OK and ev.ok and not ev.feedback_truncated
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.score = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        ev.metrics["n"] = 4  # type: ignore[index]
    back = pickle.loads(pickle.dumps(ev))  # dask returns evaluations from its workers
    assert back == ev and back.status is Status.OK and dict(back.metrics) == {"n": 3}
    changed = dataclasses.replace(ev, measures=(0.3, 0.4))
    assert changed.measures == (0.3, 0.4) and dict(changed.metrics) == {"n": 3}
    assert not Evaluation(Status.TIMEOUT).ok


def test_program_builds_from_id_and_code_and_shows_the_same_id_text():
    program = Program(7, "def f():\n    return 1\n", score=0.5)
    assert program.status is Status.PROPOSED and program.parents == () and program.metrics == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        program.score = 1.0  # type: ignore[misc]
    view = program_view(program)
    assert view["id"] == "7" and view["score"] == "0.5"


def _strings(expr: ast.AST) -> set[str]:
    """The string literals an expression can evaluate to: "a", "a" if x else "b", x or "a"."""
    if isinstance(expr, ast.Constant):
        return {expr.value} if isinstance(expr.value, str) else set()
    if isinstance(expr, ast.IfExp):
        return _strings(expr.body) | _strings(expr.orelse)
    if isinstance(expr, ast.BoolOp):
        return set().union(*map(_strings, expr.values))
    return set()


def _status_uses(path: Path) -> tuple[set[str], set[str]]:
    """(`Status.NAME` names, string literals used as statuses) in one module."""
    names: set[str] = set()
    literals: set[str] = set()

    def is_status(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "status") or (
            isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
            and node.slice.value == "status")

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "Status"):
            names.add(node.attr)
        elif (isinstance(node, ast.keyword) and node.arg == "status") or (
                isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "status" for t in node.targets)):
            literals |= _strings(node.value)
        elif isinstance(node, ast.Compare) and any(map(is_status, [node.left, *node.comparators])):
            for side in [node.left, *node.comparators]:
                elements = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
                literals |= {e.value for e in elements
                             if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("Evaluation", "Status") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            literals.add(node.args[0].value)
    return names, literals


@pytest.mark.parametrize("module", WRITERS)
def test_every_status_the_code_writes_is_a_status_member(module):
    names, literals = _status_uses(ROOT / module)
    members = set(Status.__members__)
    assert names <= members, f"{module} uses Status.{sorted(names - members)}"
    # the sandbox's own result statuses (qd.sandbox) are compared as strings; all are members
    values = {s.value for s in Status}
    assert literals <= values, f"{module} writes unknown statuses {sorted(literals - values)}"


def test_the_engine_writes_statuses_only_as_members():
    names, literals = _status_uses(ROOT / "qd/program/engine.py")
    assert literals == set()  # no bare strings: a typo would be a new status
    assert {"PROPOSED", "DUPLICATE", "REJECTED", "LLM_ERROR", "INTERNAL_ERROR"} <= names
