"""Bandit costs of priced, free and mixed arms; the in-flight display; hard LLM budgets.

Every run here is the real program engine against the scripted loopback server.
"""

from __future__ import annotations

import io
import json
import sqlite3
from types import SimpleNamespace

import pytest

import qd
from qd.events import EngineListener
from qd.program.engine import ProgramEngine
from qd.program.setup import build_program_setup
from qd.progress import LineProgress
from qd.spec_loader import load_spec
from tests.program.conftest import Reply, improving_diff, prompt_text, toy_overrides

CHAT = "/v1/chat/completions"


def model_override(server, model: str = "openai/scripted", **fields: object) -> str:
    extra = "".join(f", {k}={v!r}" for k, v in fields.items())
    return (f'llm.models=[{{model="{model}", api_base="{server.api_base}", mode="chat", '
            f'timeout_s=5.0, max_retries=1, backoff_s=0.01{extra}}}]')


def overrides(server, model: str = "openai/scripted", prices: dict | None = None,
              **settings: str) -> list[str]:
    base = toy_overrides(server, **settings)
    return [model_override(server, model, **(prices or {})), *base[1:]]


def chat_calls(server) -> int:
    return sum(r.path == CHAT for r in server.requests)


def setup_of(toy, args: list[str]):
    spec = load_spec(toy, args).spec
    return build_program_setup(spec, list(spec.llm.models))


# --- 1. bandit cost ------------------------------------------------------------------------


def test_cost_of_free_arms_is_their_time_in_the_run_unit(scripted_llm_server, toy):
    priced = setup_of(toy, overrides(scripted_llm_server, prices={"cost_per_1k_input": 0.5,
                                                                  "cost_per_1k_output": 1.0}))
    assert priced.priced
    # a free arm (local operator, $0 model, failed call) costs its seconds at the stated rate
    assert priced.cost_of(0.0, 2.0) == pytest.approx(2 * priced.cost_of(0.0, 1.0))
    rate = priced.settings.usd_per_second
    assert priced.cost_of(0.0, 2.0) == pytest.approx(2.0 * rate)
    assert priced.cost_of(0.0, 0.0) == pytest.approx(1e-3 * rate)  # never next to nothing
    # a priced call costs its dollars plus its time, in the same unit
    assert priced.cost_of(0.01, 2.0) == pytest.approx(0.01 + 2.0 * rate)

    free = setup_of(toy, overrides(scripted_llm_server))  # litellm has no price for it
    assert not free.priced
    assert free.cost_of(0.0, 2.0) == pytest.approx(2.0)  # seconds
    assert free.cost_of(0.0, 0.0) == pytest.approx(1e-3)
    # money that turns up anyway (a price found only at run time) still counts, in seconds
    assert free.cost_of(0.01, 2.0) == pytest.approx(2.0 + 0.01 / free.settings.usd_per_second)

    zero = setup_of(toy, overrides(scripted_llm_server, prices={"cost_per_1k_input": 0.0,
                                                                "cost_per_1k_output": 0.0}))
    assert not zero.priced


def test_models_priced_by_litellms_table_are_costed_in_dollars(scripted_llm_server, toy):
    setup = setup_of(toy, overrides(scripted_llm_server, model="openai/gpt-4o-mini"))
    assert setup.priced  # no price in the spec, but litellm's bundled table has one
    assert setup.cost_of(0.0, 1.0) == pytest.approx(setup.settings.usd_per_second)


def _arm_costs(out, setup_arms):
    """Per arm: (bandit's summed cost, its pulls, the rows it proposed) from a run folder."""
    with sqlite3.connect(out / "store.sqlite") as conn:
        bandit = json.loads(conn.execute(
            "SELECT value FROM component_state WHERE key = 'bandit'").fetchone()[0])
        rows = [SimpleNamespace(operator=o, model=m, cost_usd=c, llm_latency_s=lat, eval_s=e)
                for o, m, c, lat, e in conn.execute(
                    "SELECT operator, model, cost_usd, llm_latency_s, eval_s FROM programs "
                    "WHERE operator != 'initial' ORDER BY id")]
    return [(bandit["stats"]["cost"][arm], bandit["stats"]["pulls"][arm],
             [r for r in rows if r.operator == op.name])
            for arm, (_, op) in enumerate(setup_arms)]


@pytest.mark.parametrize("case", ["priced", "litellm_table", "free", "mixed"])
def test_engine_costs_every_arm_in_one_unit(scripted_llm_server, toy, tmp_path, case):
    """The bandit sees dollars + time × rate when a model is priced, else seconds; a free arm
    next to a priced one costs its time, never ~0."""
    usage = {"prompt_tokens": 20_000, "completion_tokens": 5_000}
    scripted_llm_server.respond_with(
        lambda r: Reply(text=improving_diff(prompt_text(r)), **usage))
    model, prices, ops = {
        "priced": ("openai/scripted", {"cost_per_1k_input": 0.5, "cost_per_1k_output": 1.0},
                   '["diff"]'),
        "litellm_table": ("openai/gpt-4o-mini", None, '["diff"]'),
        "free": ("openai/scripted", None, '["diff", "perturb_literals"]'),
        "mixed": ("openai/scripted", {"cost_per_1k_input": 0.5, "cost_per_1k_output": 1.0},
                  '["diff", "perturb_literals"]'),
    }[case]
    args = overrides(scripted_llm_server, model=model, prices=prices,
                     **{"llm.operators": ops, "run.budget": "7",
                        "llm.bandit": '{name="uniform", cost_mode="per_cost"}'})
    out = tmp_path / "run"
    qd.evolve(toy, out=out, overrides=args)
    setup = setup_of(toy, args)
    rate = setup.settings.usd_per_second
    dollars = case != "free"
    assert setup.priced is dollars
    for cost, pulls, rows in reversed(_arm_costs(out, setup.arms)):  # a free arm first
        if not pulls:
            continue
        assert len(rows) == pulls
        usd = sum(r.cost_usd for r in rows)
        seconds = sum(max(r.llm_latency_s + (r.eval_s or 0.0), 1e-3) for r in rows)
        unevaluated = sum(r.eval_s is None for r in rows)  # charged a typical evaluation
        if rows[0].model is not None and dollars:
            assert usd > 0.005 * pulls  # 25k tokens a call: $15 by the spec, $0.006 by litellm
        else:
            assert usd == 0.0  # a local operator, or a model without a price
        if dollars:
            assert cost / pulls >= rate * 1e-3  # not the 1e-9 of "free"
            low = usd + rate * seconds
            assert low * (1 - 1e-9) <= cost <= (low + rate * 30.0 * unevaluated) * (1 + 1e-9)
        else:
            assert seconds * (1 - 1e-9) <= cost <= (seconds + 30.0 * unevaluated) * (1 + 1e-9)


# --- 2. LLM calls in flight ----------------------------------------------------------------


class _LLMFirst:
    """A bandit stub: the LLM arm (0) for the first `llm_pulls` choices, then arm 1 only."""

    def __init__(self, n_arms: int, llm_pulls: int) -> None:
        self.n_arms, self.left = n_arms, llm_pulls

    def select(self) -> int:
        self.left -= 1
        return 0 if self.left >= 0 else 1

    def update(self, arm: int, reward: float, cost: float = 1.0) -> None:
        pass

    def state_dict(self) -> dict:
        return {}


class _Statuses(EngineListener):
    def __init__(self) -> None:
        self.seen = []

    def on_status(self, status) -> None:  # noqa: ANN001
        self.seen.append(status)


def test_in_flight_counts_llm_calls_and_ends_at_zero(scripted_llm_server, toy):
    scripted_llm_server.latency_s = 0.3  # the four calls overlap
    scripted_llm_server.respond_with(lambda r: Reply(text=improving_diff(prompt_text(r))))
    args = overrides(scripted_llm_server, **{
        "llm.operators": '["diff", "perturb_literals"]', "llm.proposals_in_flight": "4",
        "llm.evaluations_in_flight": "2", "llm.retries": "0", "run.budget": "14",
        "llm.stagnation_limit": "0"})
    spec = load_spec(toy, args).spec
    setup = build_program_setup(spec, list(spec.llm.models))
    assert [op.name for _, op in setup.arms] == ["diff", "perturb_literals"]
    setup.bandit = _LLMFirst(len(setup.arms), llm_pulls=4)
    lines, statuses = io.StringIO(), _Statuses()
    engine = ProgramEngine(setup, spec.run.budget, [LineProgress(lines, every=1), statuses])
    end = engine.run()
    assert end.evaluations == 14
    assert chat_calls(scripted_llm_server) == 4
    assert scripted_llm_server.max_in_flight == 4
    assert max(s.in_flight for s in statuses.seen) >= 2  # live while calls run
    # once the four calls have returned, nothing is in flight any more
    after = [s for s in statuses.seen if s.llm_calls == 4]
    assert after and all(s.in_flight == 0 for s in after), [s.in_flight for s in after]
    assert statuses.seen[-1].in_flight == 0
    last = lines.getvalue().strip().splitlines()[-1]
    assert "llm calls 4 (0 in flight)" in last, last


# --- 3. hard LLM budgets -------------------------------------------------------------------


def test_max_llm_calls_is_hard_with_proposals_in_flight(scripted_llm_server, toy):
    scripted_llm_server.latency_s = 0.2
    scripted_llm_server.respond_with(lambda r: Reply(text=improving_diff(prompt_text(r))))
    result = qd.evolve(toy, write=False, overrides=overrides(scripted_llm_server, **{
        "run.budget": "50", "run.max_llm_calls": "5", "llm.proposals_in_flight": "4",
        "llm.evaluations_in_flight": "2"}))
    assert result.end.reason == "max_llm_calls"
    assert chat_calls(scripted_llm_server) == 5  # counted at the server
    assert scripted_llm_server.max_in_flight >= 2  # the calls did run concurrently


@pytest.mark.parametrize("limit", ["max_tokens", "max_cost_usd"])
def test_token_and_cost_limits_hold_with_proposals_in_flight(scripted_llm_server, toy, limit):
    """150 tokens ($0.10) a call; the limit allows 4.67 calls: 4 are made, not 8."""
    scripted_llm_server.latency_s = 0.2
    scripted_llm_server.respond_with(lambda r: Reply(text=improving_diff(prompt_text(r)),
                                                     prompt_tokens=100, completion_tokens=50))
    value = {"max_tokens": "700", "max_cost_usd": "0.4667"}[limit]
    prices = {"cost_per_1k_input": 0.5, "cost_per_1k_output": 1.0}  # 0.05 + 0.05 a call
    result = qd.evolve(toy, write=False, overrides=overrides(
        scripted_llm_server, prices=prices, **{
            "run.budget": "50", f"run.{limit}": value, "llm.proposals_in_flight": "4",
            "llm.evaluations_in_flight": "2"}))
    assert result.end.reason == limit
    calls = chat_calls(scripted_llm_server)
    assert calls * 150 <= 700, calls
    assert calls == 4


def test_call_budget_reserves_calls_and_sizes_them_by_the_largest():
    from qd.llm import LLMResponse, UsageLedger
    from qd.program.budget import CallBudget
    from qd.spec import RunOptions

    def answer(ledger, tokens):
        ledger.record_tokens("m", tokens, 0, 0.0)
        ledger.record_call("m", ok=True)
        return LLMResponse("x", tokens, 0, 0.0, 0.1, "m", "stop")

    ledger = UsageLedger()
    calls = CallBudget(RunOptions(max_llm_calls=3), ledger)
    first, second = calls.ticket(reserve=True), calls.ticket(reserve=True)
    assert calls.in_flight == 2 and calls.exhausted() is None
    assert first.acquire() and calls.reserve()  # its reserved call; a third one
    assert calls.exhausted() == "max_llm_calls" and not first.acquire()  # no fourth
    first.release(answer(ledger, 10))
    second.close()  # its reserved call was never made: given back
    assert calls.in_flight == 1 and calls.exhausted() is None

    ledger = UsageLedger()
    tokens = CallBudget(RunOptions(max_tokens=100), ledger)
    ticket = tokens.ticket(reserve=True)
    assert tokens.waiting()  # a call of unknown size is running
    assert ticket.acquire()
    ticket.release(answer(ledger, 30))
    assert not tokens.waiting() and tokens.largest_tokens == 30
    assert tokens.reserve() and tokens.exhausted() is None  # spent 30 + (1 + 1) x 30 <= 100
    assert tokens.reserve()
    assert tokens.exhausted() == "max_tokens"  # 30 + (2 + 1) x 30 = 120 > 100
    assert not tokens.reserve()
