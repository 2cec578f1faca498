"""Logprob (QDAIF-style) judge scoring: the expected rating / P(yes) from top logprobs, the
1-vs-10 split, the fallback to the sampled answer, and the cache, against the scripted
OpenAI-compatible loopback server."""

import asyncio
import math

import pytest

from qd.judge import Judge, JudgeError, JudgeRecords, JudgeSection
from qd.judge.logprobs import rating_distribution, yes_probability
from qd.llm import LLMClient, ModelConfig
from tests.fixtures.scripted_llm import Reply

AXIS = {"name": "boldness", "low": "timid", "high": "bold"}
CODE = "def solve():\n    return [4.0, 1.0, 1.0]\n"
ln = math.log


def model(server, mode="completion"):
    name = "text-completion-openai/scripted" if mode == "completion" else "openai/scripted"
    return ModelConfig(model=name, api_base=server.api_base, mode=mode, max_retries=0,
                       timeout_s=3.0, backoff_s=0.01)


def judge(server, mode="completion", **section):
    cfg = JudgeSection.model_validate({"axes": [AXIS], "model": "x", "retries": 0, **section})
    return Judge(cfg, model(server, mode), LLMClient(), JudgeRecords())


def test_expected_rating_from_top_logprobs():
    # "▁7" and "7" are the same answer; "\n" and "good" are not ratings; renormalised
    top = [{"7": ln(0.3), "\u25817": ln(0.1), "3": ln(0.2), "\n": ln(0.3), "good": ln(0.1)}]
    dist = rating_distribution(top)
    assert dist.mass == pytest.approx(0.6)
    assert dist.probs == pytest.approx({7: 2 / 3, 3: 1 / 3})
    assert dist.expected == pytest.approx(7 * 2 / 3 + 3 / 3)
    assert rating_distribution([{"\n": 0.0, "good": ln(0.1)}]) is None
    # the first token was "1": the second position splits it into 1 and 10
    split = rating_distribution([{"1": ln(0.5), "9": ln(0.5)}, {"0": ln(0.6), "\n": ln(0.2)}])
    assert split.ten_split == pytest.approx(0.75)
    assert split.probs == pytest.approx({10: 0.375, 1: 0.125, 9: 0.5})
    assert rating_distribution([{"10": ln(0.5), "0": ln(0.5)}]).expected == pytest.approx(5.0)
    assert yes_probability([{" Yes": ln(0.2), "yes": ln(0.1), " no": ln(0.6)}]) \
        == pytest.approx(1 / 3)
    assert yes_probability([{"maybe": 0.0}]) is None
    # answer tokens with under 5% of the probability are noise, not an answer
    assert yes_probability([{"<b>": ln(0.9), "yes": ln(0.02), "no": ln(0.02)}]) is None
    assert rating_distribution([{"<b>": ln(0.9), "7": ln(0.04)}]) is None


def test_completion_rating_is_the_expected_value(scripted_llm_server):
    scripted_llm_server.push(Reply(text="8", logprobs=({"8": ln(0.5), "2": ln(0.3),
                                                         "\n": ln(0.2)},)))
    j = judge(scripted_llm_server, scoring="logprobs")
    assert asyncio.run(j.rate(CODE, 0)) == pytest.approx(8 * 0.625 + 2 * 0.375)
    (request,) = scripted_llm_server.completion_requests()
    assert request.path.endswith("/completions") and request.body["logprobs"] == 20
    assert request.body["prompt"].endswith("Rating (0-10): ")  # the next token is the digit
    assert request.body["temperature"] == 0
    (call,) = j.records.calls()
    assert call.answer == "8:0.500 2:0.300" and call.prompt_tokens == 10
    assert j.client.ledger.totals().calls == 1


def test_one_is_split_into_one_and_ten_by_a_second_request(scripted_llm_server):
    scripted_llm_server.push(Reply(text="9", logprobs=({"9": ln(0.6), "1": ln(0.4)},)),
                             Reply(text="0", logprobs=({"0": ln(0.9), "\n": ln(0.1)},)))
    j = judge(scripted_llm_server)
    assert asyncio.run(j.rate(CODE, 0)) == pytest.approx(0.6 * 9 + 0.4 * (0.9 * 10 + 0.1))
    first, second = scripted_llm_server.completion_requests()
    assert second.body["prompt"] == first.body["prompt"] + "1"
    assert second.body["max_tokens"] == 1
    assert [c.kind for c in j.records.calls()] == ["rate:boldness/10", "rate:boldness"]
    assert j.client.ledger.totals().calls == 2


def test_chat_logprobs_and_the_novelty_threshold(scripted_llm_server):
    for p_yes in (0.3, 0.7):
        scripted_llm_server.push(Reply(text="yes" if p_yes > 0.5 else "no", logprobs=(
            {"yes": ln(p_yes), "no": ln(1 - p_yes)},)))
    j = judge(scripted_llm_server, mode="chat", scoring="logprobs")
    assert asyncio.run(j.interesting("return [2]", ["return [1]"])) is False
    assert asyncio.run(j.interesting("return [3]", ["return [1]"])) is True
    request = scripted_llm_server.completion_requests()[0]
    assert request.body["logprobs"] is True and request.body["top_logprobs"] == 20
    assert [c.parsed for c in j.records.calls()] == [0.3, 0.7]


def test_auto_falls_back_to_the_sampled_answer(scripted_llm_server):
    scripted_llm_server.respond_with(lambda r: Reply(text=" 6\n"))  # no logprobs
    j = judge(scripted_llm_server)  # scoring = "auto" by default
    assert asyncio.run(j.rate(CODE, 0)) == 6.0
    assert asyncio.run(j.rate(CODE.replace("4.0", "5.0"), 0)) == 6.0
    assert j.logprobs_ok is False
    first, second = scripted_llm_server.completion_requests()
    assert "logprobs" in first.body and "logprobs" not in second.body  # asked once only
    assert all(c.error is None and c.parsed == 6.0 for c in j.records.calls())
    assert asyncio.run(j.rate(CODE, 0)) == 6.0  # the first answer was cached as a sample
    assert len(scripted_llm_server.completion_requests()) == 2


def test_auto_falls_back_when_the_server_refuses_logprobs(scripted_llm_server):
    scripted_llm_server.push(Reply(status=400), Reply(text=" 3"))
    j = judge(scripted_llm_server)
    assert asyncio.run(j.rate(CODE, 0)) == 3.0
    assert j.logprobs_ok is False and j.failures == 0


def test_little_mass_on_answer_tokens_takes_the_sampled_text(scripted_llm_server):
    scripted_llm_server.push(Reply(text="7 of 10", logprobs=({"<b>": ln(0.9), "7": ln(0.02)},)))
    j = judge(scripted_llm_server, scoring="logprobs")
    assert asyncio.run(j.rate(CODE, 0)) == 7.0
    assert [c.answer for c in j.records.calls()] == ["7 of 10"]


def test_strict_logprobs_without_logprobs_is_a_clear_probe_error(scripted_llm_server):
    scripted_llm_server.respond_with(lambda r: Reply(text=" 6"))
    j = judge(scripted_llm_server, scoring="logprobs")
    with pytest.raises(JudgeError, match='judge.scoring = "auto"'):
        asyncio.run(j.probe(CODE))


def test_logprob_scores_are_cached(scripted_llm_server):
    scripted_llm_server.push(Reply(text="4", logprobs=({"4": ln(0.5), "6": ln(0.5)},)))
    j = judge(scripted_llm_server)
    assert asyncio.run(j.rate(CODE, 0)) == pytest.approx(5.0)
    assert asyncio.run(j.rate(CODE, 0)) == pytest.approx(5.0)  # no reply queued: no HTTP
    assert len(scripted_llm_server.completion_requests()) == 1
    assert [c.cached for c in j.records.calls()] == [False, True]
    # a sampling judge does not take the logprob score from the cache (other key)
    scripted_llm_server.push(Reply(text=" 9"))
    sampler = Judge(j.section.model_copy(update={"scoring": "sample"}), j.model, LLMClient(),
                    j.records)
    assert asyncio.run(sampler.rate(CODE, 0)) == 9.0
