"""`Judge`: asks a model to rate programs on the spec's axes and whether a candidate is
interestingly new; caches, records and retries its questions, and degrades loudly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from qd.errors import QDError
from qd.judge.config import JudgeAxis, JudgeSection
from qd.judge.logprobs import (
    needs_ten_split,
    rating_distribution,
    summary,
    yes_probability,
    zero_after_one,
)
from qd.judge.prompts import novelty_prompt, parse_rating, parse_yes_no, rating_prompt
from qd.judge.records import JudgeRecords
from qd.llm.client import LLMClient
from qd.llm.errors import LLMError
from qd.llm.models import ModelConfig
from qd.program.types import Evaluation
from qd.store.judge_calls import JudgeCall, cache_key

log = logging.getLogger(__name__)

#: Rating given to an axis whose answer could not be obtained (the middle of 0-10).
FALLBACK_RATING = 5.0
#: Reason recorded for candidates the filter rejects.
REJECT_REASON = "judge: not interestingly new"
#: Stop sequences of completion-mode judges (the answer is one short line).
COMPLETION_STOPS = ("\n\n", "\nProgram", "\nEarlier")
#: Temperature of re-asks after an unparseable answer (a deterministic model would repeat it).
RETRY_TEMPERATURE = 0.7


class JudgeError(QDError):
    """The judge cannot be used: unreachable, or no parseable answers (exit code 2)."""

    exit_code = 2


@dataclasses.dataclass
class _Answer:
    value: Any
    text: str | None = None
    error: LLMError | None = None
    tries: int = 0
    no_logprobs: bool = False


class Judge:
    """Rates programs on `section.axes` and screens candidates for interesting novelty.

    Args:
        section: The `[judge]` spec section.
        model: The judge model, resolved (the local server's config for `model = "local"`).
        client: The run's `LLMClient` (its ledger counts the judge's tokens and cost).
        records: Where calls are recorded and cached answers are found.
        task: The problem's task description, shown in prompts.
        measure_axes: (position in the problem's measures, axis index) of each judge measure.
    """

    def __init__(self, section: JudgeSection, model: ModelConfig, client: LLMClient,
                 records: JudgeRecords | None = None, task: str = "",
                 measure_axes: Sequence[tuple[int, int]] = ()) -> None:
        self.section = section
        self.model = model
        self.client = client
        self.records = records or JudgeRecords()
        self.task = task
        self.measure_axes = tuple(measure_axes)
        self.failures = 0
        self.failures_in_a_row = 0
        self.on_give_up: Callable[[str], None] | None = None
        self._vectors: dict[int, np.ndarray] = {}
        #: Whether the model returned usable logprobs (None: not known yet).
        self.logprobs_ok: bool | None = None

    # --- questions ---------------------------------------------------------------------------

    def _wants_logprobs(self) -> bool:
        scoring = self.section.scoring
        return scoring == "logprobs" or (scoring == "auto" and self.logprobs_ok is not False)

    async def _ask(self, kind: str, prompt: str, parse: Callable[[str], Any],
                   digits: bool | None = None, asked: _Answer | None = None) -> _Answer:
        """Ask `prompt`; `digits` (True: a rating, False: yes/no) allows logprob scoring;
        `asked`: an unparseable answer already counted as the first try.
        """
        if digits is not None and asked is None and self._wants_logprobs():
            return await self._ask_logprobs(kind, prompt, parse, digits)
        key = cache_key(self.model.model, prompt)
        cached = self.records.lookup(key)
        if cached is not None:
            self.records.record(JudgeCall(key, self.model.key, kind, prompt, None, cached,
                                          cached=True))
            return _Answer(cached)
        answer = asked or _Answer(None)
        for attempt in range(answer.tries, 1 + self.section.retries):
            answer.tries = attempt + 1
            try:
                response = await self.client.complete(self.model, prompt,
                                                      **self._overrides(attempt))
            except LLMError as err:
                self.records.record(JudgeCall(key, self.model.key, kind, prompt, None,
                                              error=f"{err.kind}: {err}"))
                answer.error = err
                return answer  # the client already retried transient failures
            value = parse(response.text)
            answer.text = response.text
            self.records.record(JudgeCall(
                key, self.model.key, kind, prompt, response.text, value,
                error=None if value is not None else "unparseable",
                prompt_tokens=response.prompt_tokens,
                completion_tokens=response.completion_tokens, cost_usd=response.cost_usd,
                latency_s=response.latency_s))
            if value is not None:
                answer.value = value
                return answer
        return answer

    async def _ask_logprobs(self, kind: str, prompt: str, parse: Callable[[str], Any],
                            digits: bool) -> _Answer:
        """Score from the answer's next-token probabilities (falls back to the sampled text
        under `scoring = "auto"` when the model gives no logprobs).
        """
        if digits and self.model.mode == "completion":
            prompt += " "  # digits are tokens of their own: the next token is then the digit
        auto = self.section.scoring == "auto"
        key = cache_key(f"{self.model.model}\0logprobs", prompt)
        cached = self.records.lookup(key)
        if cached is None and auto and self.logprobs_ok is None:  # e.g. resumed: as sampled
            key = cache_key(self.model.model, prompt.rstrip(" "))
            cached = self.records.lookup(key)
        if cached is not None:
            self.records.record(JudgeCall(key, self.model.key, kind, prompt, None, cached,
                                          cached=True))
            return _Answer(cached)
        key = cache_key(f"{self.model.model}\0logprobs", prompt)
        overrides = {**self._overrides(0), "temperature": 0.0,
                     "max_tokens": max(2, self.section.max_tokens)}
        try:
            response = await self.client.complete(self.model, prompt,
                                                  logprobs=self.section.top_logprobs,
                                                  **overrides)
        except LLMError as err:
            self.records.record(JudgeCall(key, self.model.key, kind, prompt, None,
                                          error=f"{err.kind}: {err}"))
            if auto and self.logprobs_ok is None:
                log.info("judge: the model refused logprobs (%s); scoring by sampling", err)
                self.logprobs_ok = False
                return await self._ask(kind, prompt.rstrip(" "), parse, digits)
            return _Answer(None, error=err, tries=1)
        top = response.top_logprobs
        if top is None:
            # under "auto" the answer's text is the sampled answer (cached as one)
            value = parse(response.text) if auto else None
            self.records.record(JudgeCall(
                cache_key(self.model.model, prompt.rstrip(" ")), self.model.key, kind, prompt,
                response.text, value,
                error=None if value is not None else "unparseable" if auto else "no logprobs",
                prompt_tokens=response.prompt_tokens,
                completion_tokens=response.completion_tokens, cost_usd=response.cost_usd,
                latency_s=response.latency_s))
            if not auto:
                return _Answer(None, text=response.text, tries=1, no_logprobs=True)
            log.info("judge: the model returns no logprobs; scoring by sampling")
            self.logprobs_ok = False
            if value is not None:
                return _Answer(value, text=response.text, tries=1)
            return await self._ask(kind, prompt.rstrip(" "), parse, digits,
                                   _Answer(None, text=response.text, tries=1))
        self.logprobs_ok = True
        value: float | None
        if digits:
            dist = rating_distribution(top)
            if dist is not None and needs_ten_split(dist) and self.model.mode == "completion":
                dist = rating_distribution(top, await self._ten_split(kind, prompt))
            value = None if dist is None else round(dist.expected, 4)
        else:
            value = yes_probability(top)
            value = None if value is None else round(value, 4)
        answer = summary(top, digits)
        if value is None:  # too little probability on the answer tokens: take its words
            value, answer = parse(response.text), response.text
        self.records.record(JudgeCall(
            key, self.model.key, kind, prompt, answer, value,
            error=None if value is not None else "unparseable",
            prompt_tokens=response.prompt_tokens, completion_tokens=response.completion_tokens,
            cost_usd=response.cost_usd, latency_s=response.latency_s))
        if value is None:
            return await self._ask(kind, prompt.rstrip(" "), parse, None,
                                   _Answer(None, text=response.text, tries=1))
        return _Answer(value, text=response.text, tries=1)

    async def _ten_split(self, kind: str, prompt: str) -> float | None:
        """P("0" | "1") after the rating prompt: splits the "1" token into 1 and 10."""
        try:
            response = await self.client.complete(
                self.model, prompt + "1", logprobs=self.section.top_logprobs,
                **{**self._overrides(0), "temperature": 0.0, "max_tokens": 1})
        except LLMError as err:
            log.info("judge: no 1-vs-10 split (%s); the token 1 counts as 1", err)
            return None
        split = zero_after_one(response.top_logprobs[0]) if response.top_logprobs else None
        self.records.record(JudgeCall(
            cache_key(f"{self.model.model}\0logprobs", prompt + "1"), self.model.key,
            f"{kind}/10", prompt + "1", summary(response.top_logprobs or (), True), None,
            prompt_tokens=response.prompt_tokens, completion_tokens=response.completion_tokens,
            cost_usd=response.cost_usd, latency_s=response.latency_s))
        return split

    def _overrides(self, attempt: int) -> dict[str, Any]:
        temperature = self.section.temperature
        if attempt > 0:
            temperature = max(temperature, RETRY_TEMPERATURE)
        out: dict[str, Any] = {"max_tokens": self.section.max_tokens, "temperature": temperature}
        if self.model.mode == "completion":
            out["stop"] = COMPLETION_STOPS
        return out

    def _rating_prompt(self, axis: JudgeAxis, code: str) -> str:
        return rating_prompt(axis, code, self.task, self.section.max_code_chars)

    # --- measures ----------------------------------------------------------------------------

    async def rate(self, code: str, axis_index: int) -> float:
        """The rating of `code` on axis `axis_index`, or the fallback (with a warning)."""
        axis = self.section.axes[axis_index]
        answer = await self._ask(f"rate:{axis.name}", self._rating_prompt(axis, code),
                                 parse_rating, digits=True)
        if answer.value is not None:
            self.failures_in_a_row = 0
            return float(answer.value)
        self._failed(f"no rating on axis {axis.name!r}; it gets the fallback "
                     f"{FALLBACK_RATING:g}", answer)
        return FALLBACK_RATING

    async def measures(self, code: str, measures: tuple[float, ...]) -> tuple[float, ...]:
        """`measures` with the judge positions replaced by the judge's ratings of `code`."""
        if not self.measure_axes:
            return measures
        ratings = await asyncio.gather(*(self.rate(code, a) for _, a in self.measure_axes))
        out = list(measures)
        for (position, _), rating in zip(self.measure_axes, ratings, strict=True):
            out[position] = rating
        return tuple(out)

    async def judged(self, code: str, outcome: Evaluation) -> Evaluation:
        """A valid `Evaluation` with its judge measures rated; others unchanged."""
        if not outcome.ok or outcome.measures is None or not self.measure_axes:
            return outcome
        return dataclasses.replace(outcome, measures=await self.measures(code, outcome.measures))

    # --- interestingness filter --------------------------------------------------------------

    async def interesting(self, code: str, neighbours: Sequence[str]) -> bool:
        """Whether `code` is interestingly new next to `neighbours` (yes on failure, warned)."""
        if not neighbours:
            return True
        prompt = novelty_prompt(code, neighbours, self.task, self.section.max_code_chars)
        answer = await self._ask("novel", prompt, parse_yes_no, digits=False)
        if answer.value is not None:
            self.failures_in_a_row = 0
            if isinstance(answer.value, bool):
                return answer.value
            return float(answer.value) >= self.section.novelty_threshold
        self._failed("no yes/no on novelty; the candidate is let through", answer)
        return True

    async def screen(self, code: str, archive_ids: Sequence[int],
                     programs: Mapping[int, Any]) -> str | None:
        """The rejection reason of a candidate, or None to evaluate it (filter off: None)."""
        if not self.section.filter:
            return None
        ids = [int(i) for i in archive_ids if int(i) in programs]
        neighbours = self.nearest(code, ids, programs)
        return None if await self.interesting(code, neighbours) else REJECT_REASON

    def nearest(self, code: str, ids: Sequence[int], programs: Mapping[int, Any]) -> list[str]:
        """Code of the `section.k` archive programs most similar to `code` (n-gram cosine)."""
        from qd.embeddings.embedders import NgramEmbedder

        if not ids:
            return []
        embedder = NgramEmbedder()
        for pid in ids:
            if pid not in self._vectors:
                self._vectors[pid] = embedder.embed([programs[pid].code])[0]
        vector = embedder.embed([code])[0]
        sims = np.array([float(self._vectors[pid] @ vector) for pid in ids])
        order = np.argsort(-sims, kind="stable")[: self.section.k]
        return [programs[ids[i]].code for i in order]

    # --- health ------------------------------------------------------------------------------

    async def probe(self, code: str) -> None:
        """Ask every question kind once about `code`; raise `JudgeError` if one is unusable."""
        for index, axis in enumerate(self.section.axes):
            answer = await self._ask(f"rate:{axis.name}", self._rating_prompt(axis, code),
                                     parse_rating, digits=True)
            self._check_probe(answer, f"a rating on axis {axis.name!r}")
            log.debug("judge probe: axis %d rated %s", index, answer.value)
        if self.section.filter:
            prompt = novelty_prompt(code, [code], self.task, self.section.max_code_chars)
            self._check_probe(await self._ask("novel", prompt, parse_yes_no, digits=False),
                              "a yes/no answer")

    def _check_probe(self, answer: _Answer, what: str) -> None:
        if answer.value is not None:
            return
        who = f"the judge (judge.model = {self.model.model!r})"
        if answer.error is not None:
            raise JudgeError(
                f"{who} did not answer: {answer.error}. Check that its server runs and "
                "judge.model's api_base / api_key_env, or remove [judge] from the spec")
        if answer.no_logprobs:
            raise JudgeError(
                f"{who} returned no token logprobs, which judge.scoring = \"logprobs\" needs; "
                "set judge.scoring = \"auto\" (falls back to the sampled answer) or \"sample\"")
        raise JudgeError(
            f"{who} gave no parseable {what} in {answer.tries} tries (last answer: "
            f"{(answer.text or '')[:80]!r}). Try a stronger judge.model (mode = \"chat\" for "
            "instruction-tuned models), more judge.retries or a larger judge.max_tokens")

    def _failed(self, what: str, answer: _Answer) -> None:
        self.failures += 1
        self.failures_in_a_row += 1
        cause = (f"{answer.error.kind} error" if answer.error is not None
                 else f"last answer {(answer.text or '')[:60]!r}")
        message = (f"judge: {what} ({cause}); {self.failures} judge failure(s) so far, "
                   f"{self.failures_in_a_row} in a row")
        log.warning(message)
        self.records.event("warning", message=message, judge_failures=self.failures)
        if self.failures_in_a_row >= self.section.max_failures and self.on_give_up is not None:
            stop = (f"the judge (judge.model = {self.model.model!r}) failed "
                    f"{self.failures_in_a_row} questions in a row; stopping. Check its server, "
                    "or try a stronger judge.model")
            log.error(stop)
            self.records.event("judge_failed", message=stop)
            self.on_give_up("judge_failed")
