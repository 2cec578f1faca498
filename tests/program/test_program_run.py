"""Whole program-evolution runs against a real OpenAI-compatible server on loopback."""

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

import qd
from qd.kinds import run_kind_of
from qd.program.types import Status
from qd.report.data import load_report_data
from qd.store import RunStore
from tests.conftest import CLI_ENV
from tests.program.conftest import Reply, improving_diff, prompt_text, toy_overrides


def scripted(server):
    """Good diffs, a diff that does not apply, garbage, 429, 500 and too-slow answers."""
    calls = {"n": 0}

    def respond(request):
        calls["n"] += 1
        n = calls["n"]
        if n == 2:
            return Reply(text="<<<<<<< SEARCH\n    return [42]\n=======\n    return [43]\n"
                              ">>>>>>> REPLACE\n")
        if n == 3:
            return Reply(text="I am sorry, I cannot help with that.")
        if n == 4:
            return Reply(status=429)
        if n == 6:
            return Reply(status=500)
        if n in (8, 9):
            return Reply(text="too late", delay_s=6.0)
        return Reply(text=improving_diff(prompt_text(request)))

    server.respond_with(respond)
    return calls


def test_scripted_run_stores_every_outcome_and_improves(scripted_llm_server, toy, tmp_path):
    scripted(scripted_llm_server)
    out = tmp_path / "run"
    result = qd.evolve(toy, out=out, overrides=toy_overrides(scripted_llm_server))
    assert result.end.reason == "budget"
    assert result.end.evaluations == 6
    store = RunStore.open(out, create=False)
    try:
        rows = store.programs.all()
        statuses = [r.status for r in rows]
        assert statuses[0] == "ok" and rows[0].operator == "initial" and rows[0].score == 3.0
        assert statuses.count("ok") == 6
        rejected = [r for r in rows if r.status == "rejected"]
        assert rejected and "no SEARCH/REPLACE" in rejected[0].reason
        llm_errors = [r for r in rows if r.status == "llm_error"]
        assert llm_errors and "timeout" in llm_errors[0].reason
        assert all(r.reason for r in rows if r.status != "ok")
        assert max(r.score for r in rows if r.score is not None) >= 7.0  # 1 → 5 over 4 diffs
        state = store.component_state.get("llm_usage")[1]
        assert json.dumps(state)  # persisted as JSON
        assert store.metrics.all()[-1].evaluations == 6
        # summary.json says which operators made the final elites
        elite_ops = Counter(store.programs.get(int(i)).operator
                            for i in result.archive.elites()["solution"][:, 0])
    finally:
        store.close()
    assert result.archive.stats().best >= 7.0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["elites_by_operator"] == dict(sorted(elite_ops.items()))
    assert sum(summary["elites_by_operator"].values()) == result.archive.stats().num_elites
    # every request the engine made went to loopback and carried the parent's code
    assert all("return [" in prompt_text(r) for r in scripted_llm_server.requests
               if r.path.endswith("/chat/completions"))


def test_no_progress_stops_with_a_reason(scripted_llm_server, toy, tmp_path):
    scripted_llm_server.respond_with(lambda request: Reply(text="no code here"))
    result = qd.evolve(toy, write=False, overrides=toy_overrides(
        scripted_llm_server, **{"llm.stagnation_limit": "5", "llm.retries": "0"}))
    assert result.end.reason == "stagnation"
    assert result.end.evaluations == 1  # only the initial program


def test_llm_budget_limits(scripted_llm_server, toy):
    scripted_llm_server.respond_with(lambda r: Reply(text=improving_diff(prompt_text(r))))
    result = qd.evolve(toy, write=False, overrides=toy_overrides(
        scripted_llm_server, **{"run.budget": "50", "run.max_llm_calls": "3"}))
    assert result.end.reason == "max_llm_calls"
    assert result.end.evaluations == 4


# --- SIGKILL and resume -----------------------------------------------------------------------

KILL_BUDGET = 6
EVAL_SLEEP_S = 0.3  # each evaluation sleeps: the kill lands while one is in flight


class GatedLLM:
    """Improving diffs for the toy problem (the third number differs from call to call, so
    children are rarely duplicates), counted, behind a gate the test can close: while it is
    closed, requests wait unanswered (they are in flight when the run is killed)."""

    def __init__(self) -> None:
        self.answered = 0
        self._lock = threading.Lock()
        self._open = threading.Event()
        self._open.set()
        self._killed = False

    def __call__(self, request) -> Reply:  # noqa: ANN001 - RecordedRequest
        while True:
            with self._lock:
                if self._open.is_set():
                    self.answered += 1
                    return Reply(text=self._diff(prompt_text(request), self.answered))
            self._open.wait()
            if self._killed:  # the request of a killed process: nobody reads the answer
                return Reply(text="the client is gone")

    @staticmethod
    def _diff(prompt: str, n: int) -> str:
        diff = improving_diff(prompt)
        head, new = diff.split("=======\n    return [", 1)
        values = new.split("]", 1)[0].split(", ")
        values[2] = repr(round(n * 0.37 % 10.0, 2))
        return f"{head}=======\n    return [{', '.join(values)}]\n>>>>>>> REPLACE\n"

    def close(self) -> int:
        """Answer nothing more; returns how many requests were answered."""
        with self._lock:
            self._open.clear()
            return self.answered

    def reopen(self, killed: bool = False) -> None:
        """Answer again; requests waiting since `close` are dropped when their run was
        `killed`, else answered."""
        self._killed = killed
        self._open.set()


def slow_toy(folder: Path, toy: Path) -> Path:
    """The toy problem with an evaluator that sleeps `EVAL_SLEEP_S` before scoring."""
    folder.mkdir()
    for name in ("initial.py", "problem.toml"):
        shutil.copy(toy / name, folder / name)
    evaluator = (toy / "evaluate.py").read_text()
    marker = "def main(candidate: str, result: str) -> None:\n"
    assert marker in evaluator
    (folder / "evaluate.py").write_text("import time\n" + evaluator.replace(
        marker, f"{marker}    time.sleep({EVAL_SLEEP_S})\n"))
    return folder


def programs_table(run: Path) -> list[dict]:
    """The run's programs table, read only (safe while the run writes); [] before it exists."""
    try:
        with closing(sqlite3.connect(f"file:{run / 'store.sqlite'}?mode=ro", uri=True,
                                     timeout=5)) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM programs ORDER BY id")]
    except sqlite3.Error:
        return []


def _query(run: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(f"file:{run / 'store.sqlite'}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def _statuses(rows: list[dict]) -> tuple[int, int]:
    """(evaluated programs, proposals written but not evaluated)."""
    return (sum(Status(r["status"]).evaluated for r in rows),
            sum(r["status"] == "proposed" for r in rows))


def _cli(*args: str, log: Path, **popen) -> subprocess.Popen:  # noqa: ANN003
    with log.open("w") as handle:
        return subprocess.Popen([sys.executable, "-m", "qd", *args, "-q"],
                                env={**os.environ, **CLI_ENV}, stdout=handle,
                                stderr=subprocess.STDOUT, text=True, **popen)


def kill_when_evaluations_are_in_flight(proc: subprocess.Popen, run: Path, llm: GatedLLM,
                                        timeout: float = 120) -> tuple[list[dict], int]:
    """SIGKILL the run's process group once it has evaluated 2 programs and both proposal
    workers hold a written proposal (one evaluating, one waiting for the evaluation slot), with
    no answered LLM call unstored. Returns the programs table after the kill and the number of
    LLM calls answered before it."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the run made no progress"
        evaluated, proposed = _statuses(programs_table(run))
        if evaluated >= 2 and proposed == 2:
            answered = llm.close()  # from here no LLM call is answered
            rows = programs_table(run)
            if _statuses(rows)[1] == 2 and sum(r["model"] is not None for r in rows) == answered:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return programs_table(run), answered
            llm.reopen()  # an answer was on its way: try again
        time.sleep(0.005)


FIXED = ("id", "parents", "code", "code_hash", "generation", "operator", "model", "cost_usd",
         "prompt_tokens", "completion_tokens", "llm_latency_s", "created")


def test_sigkill_with_evaluations_in_flight_then_resume_loses_nothing(scripted_llm_server, toy,
                                                                      tmp_path):
    llm = GatedLLM()
    scripted_llm_server.respond_with(llm)
    folder, run = slow_toy(tmp_path / "slow_toy", toy), tmp_path / "run"
    extra = {"llm.proposals_in_flight": "2", "llm.evaluations_in_flight": "1",
             "llm.selector": '{name="islands", islands=2, migration_interval=1}',
             "llm.generation_size": "2", "llm.operators": '["diff"]',
             "run.budget": str(KILL_BUDGET), "run.seed": "4"}
    sets = [arg for value in toy_overrides(scripted_llm_server, **extra)
            for arg in ("--set", value)]
    proc = _cli("evolve", str(folder), "--out", str(run), *sets, log=tmp_path / "first.log",
                start_new_session=True)  # its own process group, sandboxes included
    from qd.program.engine import ProgramEngine  # (imported while the run starts up)
    from qd.program.setup import build_program_setup

    try:
        killed, answered = kill_when_evaluations_are_in_flight(proc, run, llm)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        llm.reopen(killed=True)
    assert proc.returncode == -signal.SIGKILL
    evaluated, pending = _statuses(killed)
    assert evaluated >= 2 and pending == 2 and evaluated + pending < KILL_BUDGET
    # every LLM answer the run received before the kill is a row of the programs table
    assert sum(r["model"] is not None for r in killed) == answered
    assert sum(r["completion_tokens"] for r in killed) == 5 * answered  # 5 tokens per answer

    # the killed run's bandit, selector and LLM usage come back as stored
    stored = {k: json.loads(v) for k, v in _query(run, "SELECT key, value FROM component_state")}
    assert stored["selector"]["name"] == "islands"
    spec = qd.load_spec(run / "config.toml").spec
    store = RunStore.open(run, create=False)
    try:
        setup = build_program_setup(spec, list(spec.llm.models))
        engine = ProgramEngine(setup, KILL_BUDGET, [], store)
        engine._restore()
        assert setup.bandit.state_dict() == stored["bandit"]
        assert setup.selector.state_dict() == stored["selector"]
        assert setup.client.ledger.state_dict() == stored["llm_usage"]
        assert engine.evaluations == evaluated
    finally:
        store.close()

    resumed = qd.resume(run)  # as `qd evolve RUN --resume`, in this process
    assert resumed.end.reason == "budget" and resumed.end.evaluations == KILL_BUDGET
    final = programs_table(run)
    ids = [r["id"] for r in final]
    assert ids == list(range(1, len(final) + 1))  # none duplicated, none skipped
    by_id = {r["id"]: r for r in final}
    for before in killed:  # nothing written before the kill changed or went missing ...
        after = by_id[before["id"]]
        if before["status"] == "proposed":  # ... except that pending proposals were evaluated
            assert Status(after["status"]).evaluated
            assert {k: after[k] for k in FIXED} == {k: before[k] for k in FIXED}
            if after["status"] == "ok":
                assert after["score"] == sum(toy_values(after["code"]))
        else:
            assert after == before
    assert not [r for r in final if r["status"] == "proposed"]
    assert _statuses(final)[0] == KILL_BUDGET  # the budget, exactly
    new_llm_rows = [r for r in final if r["id"] > killed[-1]["id"] and r["model"] is not None]
    assert len(new_llm_rows) == llm.answered - answered  # pending ones were not re-asked
    assert _query(run, "SELECT iteration, evaluations FROM metrics ORDER BY iteration") == [
        (i, i) for i in range(1, KILL_BUDGET + 1)]
    assert _query(run, "SELECT COUNT(*) FROM events WHERE kind = 'resume'") == [(1,)]
    assert _query(run, "SELECT COUNT(*) FROM events WHERE kind = 'stale_lock'") == [(1,)]
    # the report's sessions: killed after `evaluated` evaluations, resumed from there
    sessions = load_report_data(run).sessions
    assert [(x.first_iteration, x.last_iteration, x.outcome) for x in sessions] == [
        (0, evaluated, "killed"), (evaluated, KILL_BUDGET, "budget")]

    # the resumed run's archive equals the one rebuilt from the store alone
    with closing(RunStore.open(run, readonly=True)) as store:
        rebuilt = run_kind_of(spec).stored_elites(spec, run, store)
    live = resumed.archive.elites()
    assert len(live["index"]) == resumed.archive.stats().num_elites > 1
    order, rebuilt_order = np.argsort(live["index"]), np.argsort(rebuilt["index"])
    for key in ("index", "objective", "measures", "solution"):
        np.testing.assert_array_equal(np.asarray(live[key])[order],
                                      np.asarray(rebuilt[key])[rebuilt_order], err_msg=key)
    ok = {r["id"]: r["score"] for r in final if r["status"] == "ok"}
    assert set(np.asarray(live["solution"])[:, 0].astype(int)) <= set(ok)
    assert max(ok.values()) == resumed.archive.stats().best

    # LLM usage (calls, tokens, cost: what run.max_llm_calls / max_cost_usd count) is saved
    # when a proposal is written, so the calls of the proposals pending at the kill are in it
    usage = json.loads(_query(run, "SELECT value FROM component_state "
                                   "WHERE key = 'llm_usage'")[0][0])
    assert sum(m["calls"] for m in usage["models"].values()) == llm.answered


def toy_values(code: str) -> list[float]:
    """The numbers a toy program's solve() returns."""
    return [float(v) for v in re.findall(r"return \[([^\]\n]*)\]", code)[-1].split(",")]


@pytest.mark.parametrize("status", ["proposed"])
def test_unevaluated_proposals_are_evaluated_on_resume(scripted_llm_server, toy, tmp_path, status):
    scripted_llm_server.respond_with(lambda r: Reply(text=improving_diff(prompt_text(r))))
    out = tmp_path / "run"
    qd.evolve(toy, out=out, overrides=toy_overrides(scripted_llm_server, **{"run.budget": "3"}))
    with sqlite3.connect(out / "store.sqlite") as conn:  # as if killed before evaluating it
        conn.execute("UPDATE programs SET status='proposed', score=NULL WHERE id = 3")
    requests_before = len(scripted_llm_server.requests)
    qd.resume(out, budget=3, overrides=[f"llm.models.0.api_base={scripted_llm_server.api_base!r}"])
    with sqlite3.connect(out / "store.sqlite") as conn:
        assert conn.execute("SELECT status FROM programs WHERE id = 3").fetchone()[0] == "ok"
    assert len(scripted_llm_server.requests) == requests_before  # no new LLM call needed


def test_full_rewrites_are_applied(scripted_llm_server, toy, tmp_path):
    initial = (toy / "initial.py").read_text()

    def respond(request):
        values = 2.0 + len(scripted_llm_server.requests)
        code = initial.replace("return [1.0, 1.0, 1.0]", f"return [{values}, 2.0, 2.0]")
        return Reply(text=f"A better constant.\n```python\n{code}```\n")

    scripted_llm_server.respond_with(respond)
    result = qd.evolve(toy, write=False, overrides=toy_overrides(
        scripted_llm_server, **{"llm.operators": '["rewrite"]', "run.budget": "4"}))
    assert result.end.evaluations == 4
    assert result.archive.stats().best >= 9.0  # 3.0 initially; rewrites reach >= 5 + 2 + 2


def test_runs_inside_a_running_event_loop(scripted_llm_server, toy):
    """As in a Jupyter notebook: qd.evolve is called while an asyncio loop runs."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    scripted_llm_server.respond_with(lambda r: Reply(text=improving_diff(prompt_text(r))))

    async def notebook_cell():
        return qd.evolve(toy, write=False, overrides=toy_overrides(
            scripted_llm_server, **{"run.budget": "3"}))

    # a thread of its own, so that no loop left running by other tests is in the way
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(asyncio.run, notebook_cell()).result()
    assert result.end.evaluations == 3
