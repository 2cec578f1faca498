"""LLMClient against a real HTTP server that speaks the OpenAI API from a script."""

from __future__ import annotations

import asyncio
import time

import pytest

from qd.llm import LLMClient, LLMError, ModelConfig, UsageLedger
from qd.llm._litellm import load_litellm
from qd.llm.local_server import free_port
from tests.fixtures.scripted_llm import CHAT_PATH, COMPLETION_PATH, Reply


def chat_cfg(server, **fields) -> ModelConfig:
    base = {"model": "openai/gpt-4o-mini", "api_base": server.api_base, "timeout_s": 5.0,
            "max_retries": 2, "backoff_s": 0.01, "backoff_max_s": 0.05}
    return ModelConfig(**{**base, **fields})


def completion_cfg(server, **fields) -> ModelConfig:
    base = {"model": "text-completion-openai/local", "api_base": server.api_base,
            "mode": "completion", "timeout_s": 5.0, "max_retries": 2, "backoff_s": 0.01,
            "cost_per_1k_input": 0.5, "cost_per_1k_output": 2.0}
    return ModelConfig(**{**base, **fields})


def run(coro):
    return asyncio.run(coro)


def test_chat_success_tokens_cost_and_request(scripted_llm_server, monkeypatch):
    monkeypatch.setenv("QD_TEST_KEY", "sk-test-123")
    server = scripted_llm_server
    server.push(Reply(text="def f():\n    return 1", prompt_tokens=100, completion_tokens=20))
    client = LLMClient()
    cfg = chat_cfg(server, api_key_env="QD_TEST_KEY", temperature=0.7, max_tokens=64,
                   stop=["\ndef "])
    response = run(client.complete(cfg, "write f"))

    assert response.text == "def f():\n    return 1"
    assert (response.prompt_tokens, response.completion_tokens) == (100, 20)
    assert response.finish_reason == "stop" and response.attempts == 1
    price = load_litellm().model_cost["gpt-4o-mini"]
    expected = 100 * price["input_cost_per_token"] + 20 * price["output_cost_per_token"]
    assert response.cost_usd == pytest.approx(expected) and response.cost_usd > 0
    assert 0 < response.latency_s < 5

    [request] = server.completion_requests()
    assert request.path == CHAT_PATH
    assert request.headers["authorization"] == "Bearer sk-test-123"
    body = request.body
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [{"role": "user", "content": "write f"}]
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.7, 64, ["\ndef "])

    usage = client.ledger.usage("openai/gpt-4o-mini")
    assert (usage.calls, usage.failures, usage.attempts) == (1, 0, 1)
    assert (usage.prompt_tokens, usage.completion_tokens) == (100, 20)
    assert usage.cost_usd == pytest.approx(expected)


def test_completion_mode_uses_completions_endpoint_and_config_prices(scripted_llm_server):
    server = scripted_llm_server
    server.push(Reply(text="    return x * 2\n", prompt_tokens=300, completion_tokens=40,
                      finish_reason="length"))
    client = LLMClient()
    cfg = completion_cfg(server, stop=["\ndef ", "\nclass "], max_tokens=128)
    response = run(client.complete(cfg, "def double_v1(x):\n"))

    assert response.text == "    return x * 2\n"
    assert response.finish_reason == "length"
    assert response.cost_usd == pytest.approx((300 * 0.5 + 40 * 2.0) / 1000)
    [request] = server.completion_requests()
    assert request.path == COMPLETION_PATH
    assert request.body["prompt"] == "def double_v1(x):\n"
    assert request.body["stop"] == ["\ndef ", "\nclass "]
    assert request.body["max_tokens"] == 128


def test_chat_messages_are_sent_as_given(scripted_llm_server):
    server = scripted_llm_server
    server.push(Reply(text="fine"))
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    run(LLMClient().complete(chat_cfg(server), messages))
    assert server.completion_requests()[0].body["messages"] == messages


def test_unknown_model_without_prices_costs_zero(scripted_llm_server):
    server = scripted_llm_server
    server.push(Reply(text="x", prompt_tokens=1000, completion_tokens=1000))
    cfg = completion_cfg(server, cost_per_1k_input=None, cost_per_1k_output=None)
    assert run(LLMClient().complete(cfg, "p")).cost_usd == 0.0


@pytest.mark.parametrize("status,kind", [(429, "rate_limit"), (500, "server"), (503, "server")])
def test_transient_errors_are_retried_then_succeed(scripted_llm_server, status, kind):
    server = scripted_llm_server
    server.push(Reply(status=status), Reply(status=status), Reply(text="ok at last"))
    client = LLMClient()
    response = run(client.complete(chat_cfg(server), "x"))
    assert response.text == "ok at last" and response.attempts == 3
    assert len(server.completion_requests()) == 3
    usage = client.ledger.usage("openai/gpt-4o-mini")
    assert (usage.calls, usage.failures, usage.attempts, usage.retries) == (1, 0, 3, 2)
    assert usage.errors == {kind: 2}


def test_retries_exhausted_raise_with_kind_and_attempts(scripted_llm_server):
    server = scripted_llm_server
    server.push(*[Reply(status=500)] * 5)
    client = LLMClient()
    with pytest.raises(LLMError) as info:
        run(client.complete(chat_cfg(server, max_retries=3), "x"))
    err = info.value
    assert (err.kind, err.status_code, err.attempts) == ("server", 500, 4)
    assert "openai/gpt-4o-mini" in str(err) and "4 attempt" in str(err)
    assert len(server.completion_requests()) == 4
    usage = client.ledger.usage("openai/gpt-4o-mini")
    assert (usage.calls, usage.failures, usage.attempts) == (1, 1, 4)


@pytest.mark.parametrize("status,kind", [(400, "bad_request"), (404, "bad_request"),
                                         (401, "auth"), (403, "auth")])
def test_client_errors_are_not_retried(scripted_llm_server, status, kind):
    server = scripted_llm_server
    server.push(Reply(status=status), Reply(text="must not be reached"))
    with pytest.raises(LLMError) as info:
        run(LLMClient().complete(chat_cfg(server, max_retries=3), "x"))
    assert (info.value.kind, info.value.status_code, info.value.attempts) == (kind, status, 1)
    assert len(server.completion_requests()) == 1


def test_timeout_is_enforced_per_attempt(scripted_llm_server):
    server = scripted_llm_server
    server.push(Reply(text="late", delay_s=3.0), Reply(text="late", delay_s=3.0))
    cfg = chat_cfg(server, timeout_s=0.4, max_retries=1, backoff_s=0.01)
    start = time.monotonic()
    with pytest.raises(LLMError) as info:
        run(LLMClient().complete(cfg, "x"))
    elapsed = time.monotonic() - start
    assert info.value.kind == "timeout" and info.value.attempts == 2
    assert "0.4 s" in str(info.value)
    assert 0.8 <= elapsed < 2.9, elapsed  # without the limit: >= 6 s
    assert len(server.completion_requests()) == 2


def test_slow_answer_then_fast_one_succeeds(scripted_llm_server):
    server = scripted_llm_server
    server.push(Reply(text="late", delay_s=3.0), Reply(text="fast"))
    response = run(LLMClient().complete(chat_cfg(server, timeout_s=0.4), "x"))
    assert response.text == "fast" and response.attempts == 2


@pytest.mark.parametrize("reply", [
    Reply(raw=b"<html><body>Bad gateway</body></html>", content_type="text/html"),
    Reply(raw=b"{not json"),
    Reply(raw=b'{"object": "chat.completion", "choices": []}'),
], ids=["html", "broken-json", "no-choices"])
def test_garbage_bodies_raise_llm_error(scripted_llm_server, reply):
    server = scripted_llm_server
    server.push(reply, reply)
    with pytest.raises(LLMError) as info:
        run(LLMClient().complete(chat_cfg(server, max_retries=1), "x"))
    assert info.value.kind == "server"
    assert len(server.completion_requests()) == 2


def test_empty_completion_is_retried_then_reported(scripted_llm_server):
    server = scripted_llm_server
    server.push(Reply(text="", completion_tokens=0), Reply(text="  \n"), Reply(text="body"))
    client = LLMClient()
    assert run(client.complete(chat_cfg(server), "x")).text == "body"
    assert client.ledger.usage("openai/gpt-4o-mini").errors == {"empty": 2}

    server.push(*[Reply(text="")] * 3)
    with pytest.raises(LLMError) as info:
        run(client.complete(chat_cfg(server), "x"))
    assert info.value.kind == "empty" and info.value.attempts == 3


def test_connection_refused_is_a_connection_error():
    cfg = ModelConfig(model="openai/gpt-4o-mini", api_base=f"http://127.0.0.1:{free_port()}/v1",
                      max_retries=1, backoff_s=0.01, timeout_s=5)
    with pytest.raises(LLMError) as info:
        run(LLMClient().complete(cfg, "x"))
    assert info.value.kind == "connection" and info.value.attempts == 2


def test_missing_key_variable_fails_before_any_request(scripted_llm_server, monkeypatch):
    monkeypatch.delenv("QD_TEST_MISSING_KEY", raising=False)
    with pytest.raises(LLMError) as info:
        run(LLMClient().complete(chat_cfg(scripted_llm_server,
                                          api_key_env="QD_TEST_MISSING_KEY"), "x"))
    assert info.value.kind == "auth" and "QD_TEST_MISSING_KEY" in str(info.value)
    assert scripted_llm_server.completion_requests() == []


def test_retry_after_header_delays_the_retry(scripted_llm_server):
    server = scripted_llm_server
    server.push(Reply(status=429, headers=(("Retry-After", "1"),)), Reply(text="ok"))
    run(LLMClient().complete(chat_cfg(server, backoff_max_s=5), "x"))
    first, second = server.completion_requests()
    assert second.started - first.started >= 0.95


def test_overrides_change_one_call_only(scripted_llm_server):
    server = scripted_llm_server
    server.push(Reply(text="a"), Reply(text="b"))
    client = LLMClient()
    cfg = chat_cfg(server, temperature=0.2)
    run(client.complete(cfg, "x", temperature=1.3, max_tokens=7))
    run(client.complete(cfg, "x"))
    first, second = (r.body for r in server.completion_requests())
    assert (first["temperature"], first["max_tokens"]) == (1.3, 7)
    assert (second["temperature"], second["max_tokens"]) == (0.2, 512)
    with pytest.raises(ValueError, match="cannot override model"):
        run(client.complete(cfg, "x", model="openai/other"))


def test_completion_mode_refuses_chat_messages(scripted_llm_server):
    with pytest.raises(ValueError, match="completion mode"):
        run(LLMClient().complete(completion_cfg(scripted_llm_server),
                                 [{"role": "user", "content": "x"}]))


@pytest.mark.parametrize("limit", [1, 3])
def test_concurrency_limit_is_honoured(scripted_llm_server, limit):
    server = scripted_llm_server
    server.latency_s = 0.4
    server.respond_with(lambda request: Reply(text="ok"))
    client = LLMClient()
    cfg = completion_cfg(server, max_concurrency=limit)

    async def many():
        return await asyncio.gather(*(client.complete(cfg, f"p{i}") for i in range(6)))

    start = time.monotonic()
    responses = run(many())
    elapsed = time.monotonic() - start
    assert [r.text for r in responses] == ["ok"] * 6
    assert server.max_in_flight == limit
    assert elapsed >= (6 // limit) * 0.4 * 0.95


def test_models_have_separate_limits(scripted_llm_server):
    server = scripted_llm_server
    server.latency_s = 0.4
    server.respond_with(lambda request: Reply(text="ok"))
    client = LLMClient()
    a = completion_cfg(server, name="a", max_concurrency=1)
    b = completion_cfg(server, name="b", max_concurrency=1)

    async def both():
        return await asyncio.gather(*(client.complete(c, "p") for c in (a, b, a, b)))

    run(both())
    assert server.max_in_flight == 2
    assert client.ledger.models() == ["a", "b"]


def test_ledger_round_trip_after_real_calls(scripted_llm_server):
    server = scripted_llm_server
    server.push(Reply(text="a", prompt_tokens=7, completion_tokens=3), Reply(status=429),
                Reply(text="b", prompt_tokens=11, completion_tokens=2), Reply(status=400))
    client = LLMClient()
    cfg = completion_cfg(server)
    run(client.complete(cfg, "x"))
    run(client.complete(cfg, "y"))
    with pytest.raises(LLMError):
        run(client.complete(cfg, "z"))

    restored = UsageLedger.from_json(client.ledger.to_json())
    assert restored.state_dict() == client.ledger.state_dict()
    usage = restored.usage(cfg.key)
    assert (usage.calls, usage.failures, usage.attempts, usage.retries) == (3, 1, 4, 1)
    assert (usage.prompt_tokens, usage.completion_tokens) == (18, 5)
    assert usage.errors == {"rate_limit": 1, "bad_request": 1}
    assert usage.cost_usd == pytest.approx((18 * 0.5 + 5 * 2.0) / 1000)
