"""UsageLedger totals and persistence; LLMError kinds and the exception classification."""

from __future__ import annotations

import json
import pickle

import pytest

from qd.errors import QDError
from qd.llm import KINDS, LLMError, UsageLedger
from qd.llm.errors import RETRYABLE, classify


def filled_ledger() -> UsageLedger:
    ledger = UsageLedger()
    ledger.record_attempt("a", retry=False)
    ledger.record_error("a", "rate_limit")
    ledger.record_attempt("a", retry=True)
    ledger.record_tokens("a", 100, 20, 0.5)
    ledger.record_call("a", ok=True, latency_s=1.5)
    ledger.record_attempt("b", retry=False)
    ledger.record_error("b", "auth")
    ledger.record_call("b", ok=False)
    return ledger


def test_totals_per_model_and_overall():
    ledger = filled_ledger()
    a, b = ledger.usage("a"), ledger.usage("b")
    assert (a.calls, a.failures, a.attempts, a.retries, a.successes) == (1, 0, 2, 1, 1)
    assert (a.prompt_tokens, a.completion_tokens, a.cost_usd) == (100, 20, 0.5)
    assert a.mean_latency_s == 1.5 and a.errors == {"rate_limit": 1}
    assert (b.calls, b.failures, b.mean_latency_s) == (1, 1, 0.0)
    total = ledger.totals()
    assert (total.calls, total.failures, total.attempts, total.prompt_tokens) == (2, 1, 3, 100)
    assert total.errors == {"rate_limit": 1, "auth": 1}


def test_state_dict_is_json_and_round_trips():
    ledger = filled_ledger()
    state = json.loads(json.dumps(ledger.state_dict()))
    restored = UsageLedger()
    restored.load_state_dict(state)
    assert restored.state_dict() == ledger.state_dict()
    assert restored.models() == ["a", "b"]
    restored.record_tokens("a", 1, 1, 0.25)
    assert restored.usage("a").cost_usd == 0.75 and ledger.usage("a").cost_usd == 0.5


@pytest.mark.parametrize("state", [
    {"version": 99, "models": {}}, {"models": {}}, [],
    {"version": 1, "models": {"a": {"calls": 1, "bogus": 2}}},
])
def test_bad_state_is_refused(state):
    with pytest.raises(ValueError):
        UsageLedger().load_state_dict(state)


def test_llm_error_is_a_qd_error_with_a_kind():
    err = LLMError("rate_limit", "slow down", model="m", attempts=3, status_code=429)
    assert isinstance(err, QDError) and err.retryable
    assert not LLMError("auth", "no").retryable
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.kind, copy.model, copy.attempts, copy.status_code, str(copy)) == (
        "rate_limit", "m", 3, 429, "slow down")
    with pytest.raises(ValueError):
        LLMError("weird", "x")
    assert RETRYABLE < set(KINDS)


class _Status(Exception):
    def __init__(self, status_code):
        super().__init__(f"status {status_code}")
        self.status_code = status_code


class RateLimitError(Exception):
    pass


class APIConnectionError(Exception):
    pass


@pytest.mark.parametrize("status,kind", [(429, "rate_limit"), (401, "auth"), (403, "auth"),
                                         (408, "timeout"), (400, "bad_request"),
                                         (422, "bad_request"), (500, "server"),
                                         (503, "server")])
def test_classify_by_status(status, kind):
    assert classify(_Status(status)) == (kind, status)


def test_classify_by_class_and_chain():
    assert classify(TimeoutError()) == ("timeout", None)
    assert classify(RateLimitError()) == ("rate_limit", None)
    assert classify(ValueError("Expecting value")) == ("server", None)
    try:  # a refused connection wrapped in an "HTTP 500" error, as litellm does
        try:
            raise ConnectionRefusedError(111, "refused")
        except ConnectionRefusedError as exc:
            raise APIConnectionError("Connection error.") from exc
    except APIConnectionError as inner:
        wrapped = _Status(500)
        wrapped.__cause__ = inner
    assert classify(wrapped) == ("connection", None)
