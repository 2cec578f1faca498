"""Whole program-evolution runs against a real OpenAI-compatible server on loopback."""

import json
import sqlite3

import pytest

import qd
from qd.store import RunStore
from qd.store.programs import ProgramStore
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
        rows = ProgramStore(store).all()
        statuses = [r.status for r in rows]
        assert statuses[0] == "ok" and rows[0].operator == "initial" and rows[0].score == 3.0
        assert statuses.count("ok") == 6
        rejected = [r for r in rows if r.status == "rejected"]
        assert rejected and "no SEARCH/REPLACE" in rejected[0].reason
        llm_errors = [r for r in rows if r.status == "llm_error"]
        assert llm_errors and "timeout" in llm_errors[0].reason
        assert all(r.reason for r in rows if r.status != "ok")
        assert max(r.score for r in rows if r.score is not None) >= 7.0  # 1 → 5 over 4 diffs
        state = store.get_state("llm_usage")[1]
        assert json.dumps(state)  # persisted as JSON
        assert store.metrics()[-1].evaluations == 6
    finally:
        store.close()
    assert result.archive.stats().best >= 7.0
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


def test_kill_and_resume_restores_bandit_and_islands(scripted_llm_server, toy, tmp_path):
    from qd.program.engine import ProgramEngine
    from qd.program.setup import build_program_setup
    from qd.spec_loader import load_spec

    scripted_llm_server.respond_with(lambda r: Reply(text=improving_diff(prompt_text(r))))
    out = tmp_path / "run"
    extra = {"llm.selector": '{name="islands", islands=2, migration_interval=1}',
             "llm.generation_size": "2", "llm.operators": '["diff", "perturb_literals"]'}
    overrides = toy_overrides(scripted_llm_server, **extra)
    qd.evolve(toy, out=out, overrides=[*overrides, "run.budget=5"])
    with sqlite3.connect(out / "store.sqlite") as conn:
        stored = {k: json.loads(v) for k, v in conn.execute(
            "SELECT key, value FROM component_state")}
    assert stored["selector"]["name"] == "islands"
    spec = load_spec(out / "config.toml").spec
    store = RunStore.open(out, create=False)
    try:
        setup = build_program_setup(spec, list(spec.llm.models))
        engine = ProgramEngine(setup, 8, [], store)
        engine._restore()
        assert setup.bandit.state_dict() == stored["bandit"]
        assert setup.selector.state_dict() == stored["selector"]
        assert setup.client.ledger.state_dict() == stored["llm_usage"]
        assert engine.evaluations == 5
    finally:
        store.close()
    resumed = qd.resume(out, budget=8)
    assert resumed.end.evaluations == 8


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
