"""`LLMClient`: async completions through litellm with retries, timeouts, limits and accounting."""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from qd.llm._litellm import is_loaded, load_litellm
from qd.llm.errors import LLMError, classify
from qd.llm.ledger import UsageLedger
from qd.llm.models import ModelConfig

Prompt = str | list[dict[str, Any]]


@dataclass(frozen=True)
class LLMResponse:
    """The answer of one successful call.

    Attributes:
        text: The generated text (chat message content, or completion text).
        prompt_tokens: Prompt tokens of the successful request.
        completion_tokens: Completion tokens of the successful request.
        cost_usd: Cost of the successful request (retried empty answers are in the ledger).
        latency_s: Duration of the successful request, in seconds.
        model: The ledger key of the model (`ModelConfig.key`).
        finish_reason: Why generation stopped ("stop", "length", ...), when reported.
        attempts: Requests sent for this call, the successful one included.
        top_logprobs: Per generated token, the top tokens and their log-probabilities, when
            the call asked for `logprobs` and the server returned them; else None.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    model: str
    finish_reason: str | None
    attempts: int = 1
    top_logprobs: tuple[dict[str, float], ...] | None = None


class LLMClient:
    """Sends prompts to the models of `ModelConfig`s; safe to share across asyncio tasks.

    Each model (its ledger key and endpoint) gets its own semaphore of `max_concurrency`
    slots; a request holds a slot while in flight, not while backing off. Usage is added to
    `ledger` as it happens.

    Args:
        ledger: Where to keep running totals; a new one by default.
        seed: Seed of the backoff jitter.
    """

    def __init__(self, ledger: UsageLedger | None = None, *, seed: int | None = None) -> None:
        self.ledger = ledger if ledger is not None else UsageLedger()
        self._rng = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphores: dict[tuple[str, str | None], asyncio.Semaphore] = {}

    async def warm_up(self) -> None:
        """Import and warm up litellm now (in a worker thread) instead of on the first call."""
        if not is_loaded():
            await asyncio.to_thread(load_litellm)

    async def complete(self, model_cfg: ModelConfig, prompt: Prompt, *,
                       logprobs: int | None = None, grammar: str | None = None,
                       **overrides: Any) -> LLMResponse:
        """Complete `prompt` with the model of `model_cfg`, retrying transient failures.

        Args:
            model_cfg: The model and its limits.
            prompt: Text (chat mode sends it as one user message), or chat messages.
            logprobs: Ask for the top-`logprobs` tokens of each generated position
                (`LLMResponse.top_logprobs`; servers that do not give them answer without).
            grammar: A GBNF grammar the answer must follow, sent as `grammar` in the request
                body (llama.cpp's server); only for models with `grammar = true`.
            **overrides: Per-call values of request fields (`temperature`, `max_tokens`,
                `stop`, `timeout_s`, `max_retries`, `backoff_s`).

        Returns:
            The response of the first successful attempt.

        Raises:
            LLMError: The call failed: at once for auth / bad-request errors, after
                `max_retries` retries for timeouts, rate limits, 5xx, connection errors and
                empty answers.
            ValueError: Invalid overrides, chat messages given to a completion-mode model,
                or a grammar for a model without `grammar = true`.
        """
        cfg = model_cfg.with_overrides(**overrides)
        kwargs = self._request_kwargs(cfg, prompt)
        if grammar is not None:
            if not cfg.grammar:
                raise ValueError(f"model {cfg.key!r} does not take grammars; set grammar = "
                                 "true for a llama.cpp server")
            kwargs["extra_body"] = {"grammar": grammar}
        if logprobs is not None:
            if cfg.mode == "chat":
                kwargs.update(logprobs=True, top_logprobs=logprobs)
            else:
                kwargs["logprobs"] = logprobs
        await self.warm_up()
        litellm = load_litellm()
        key = cfg.key
        attempt = 0
        while True:
            try:
                response = await self._attempt(litellm, cfg, kwargs, attempt)
            except LLMError as err:
                self.ledger.record_error(key, err.kind)
                if not err.retryable or attempt >= cfg.max_retries:
                    self.ledger.record_call(key, ok=False)
                    raise LLMError(err.kind, f"{key}: {err} (after {attempt + 1} attempt(s))",
                                   model=key, attempts=attempt + 1,
                                   status_code=err.status_code) from err.__cause__
                await asyncio.sleep(self._backoff(cfg, attempt, err))
                attempt += 1
                continue
            self.ledger.record_call(key, ok=True, latency_s=response.latency_s)
            return response

    def _request_kwargs(self, cfg: ModelConfig, prompt: Prompt) -> dict[str, Any]:
        """Build the litellm keyword arguments of a request (no retries there: qd does them)."""
        kwargs: dict[str, Any] = {"model": cfg.model, "timeout": cfg.timeout_s,
                                  "max_retries": 0, "num_retries": 0}
        if cfg.mode == "chat":
            kwargs["messages"] = ([{"role": "user", "content": prompt}]
                                  if isinstance(prompt, str) else list(prompt))
        elif isinstance(prompt, str):
            kwargs["prompt"] = prompt
        else:
            raise ValueError(f"model {cfg.key!r} is in completion mode: the prompt must be text")
        if cfg.api_base:
            kwargs["api_base"] = cfg.api_base
        try:
            api_key = cfg.api_key()
        except KeyError as missing:
            raise LLMError("auth", f"{cfg.key}: environment variable {missing} is not set",
                           model=cfg.key) from None
        if api_key is not None:
            kwargs["api_key"] = api_key
        if cfg.temperature is not None:
            kwargs["temperature"] = cfg.temperature
        if cfg.max_tokens is not None:
            kwargs["max_tokens"] = cfg.max_tokens
        if cfg.stop:
            kwargs["stop"] = list(cfg.stop)
        return kwargs

    def _semaphore(self, cfg: ModelConfig) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # semaphores belong to one event loop
            self._loop, self._semaphores = loop, {}
        slot = (cfg.key, cfg.api_base)
        if slot not in self._semaphores:
            self._semaphores[slot] = asyncio.Semaphore(cfg.max_concurrency)
        return self._semaphores[slot]

    async def _attempt(self, litellm: ModuleType, cfg: ModelConfig, kwargs: dict[str, Any],
                       attempt: int) -> LLMResponse:
        """Send one request; raises a per-attempt `LLMError` on any failure."""
        call = litellm.acompletion if cfg.mode == "chat" else litellm.atext_completion
        async with self._semaphore(cfg):
            self.ledger.record_attempt(cfg.key, retry=attempt > 0)
            start = time.monotonic()
            try:
                raw = await asyncio.wait_for(call(**kwargs), timeout=cfg.timeout_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every provider failure is classified
                kind, status = classify(exc)
                raise LLMError(kind, _describe(exc, cfg.timeout_s), model=cfg.key,
                               status_code=status) from exc
            latency = time.monotonic() - start
        try:
            text, finish_reason, p_tok, c_tok = _unpack(raw, cfg.mode)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            raise LLMError("server", f"malformed response: {exc!r}", model=cfg.key) from exc
        cost = _cost(litellm, cfg, raw, p_tok, c_tok)
        self.ledger.record_tokens(cfg.key, p_tok, c_tok, cost)
        top = _top_logprobs(raw) if "logprobs" in kwargs else None
        if not text.strip() and not top:
            raise LLMError("empty", f"empty completion (finish_reason={finish_reason})",
                           model=cfg.key)
        return LLMResponse(text=text, prompt_tokens=p_tok, completion_tokens=c_tok,
                           cost_usd=cost, latency_s=latency, model=cfg.key,
                           finish_reason=finish_reason, attempts=attempt + 1,
                           top_logprobs=top)

    def _backoff(self, cfg: ModelConfig, attempt: int, err: LLMError) -> float:
        """Seconds to wait before retry `attempt + 1`: exponential, jittered, capped."""
        delay = min(cfg.backoff_max_s, cfg.backoff_s * 2**attempt)
        delay *= 0.5 + 0.5 * self._rng.random()
        retry_after = _retry_after(err.__cause__)
        if retry_after is not None:
            delay = max(delay, min(retry_after, cfg.backoff_max_s))
        return delay


def _unpack(raw: Any, mode: str) -> tuple[str, str | None, int, int]:
    """(text, finish_reason, prompt_tokens, completion_tokens) of a litellm response."""
    choice = raw.choices[0]
    if mode == "chat":
        text = choice.message.content
    else:
        text = choice["text"] if isinstance(choice, dict) else choice.text
    finish = choice.get("finish_reason") if isinstance(choice, dict) else choice.finish_reason
    usage = getattr(raw, "usage", None)
    p_tok = int(getattr(usage, "prompt_tokens", 0) or 0) if usage is not None else 0
    c_tok = int(getattr(usage, "completion_tokens", 0) or 0) if usage is not None else 0
    return text or "", finish, p_tok, c_tok


def _top_logprobs(raw: Any) -> tuple[dict[str, float], ...] | None:
    """Top log-probabilities per generated token: a completion's `logprobs.top_logprobs`
    or a chat message's `logprobs.content[i].top_logprobs`; None when the answer has none.
    """
    try:
        choice = raw.choices[0]
        data = choice.get("logprobs") if isinstance(choice, dict) else choice.logprobs
        if data is None:
            return None
        if not isinstance(data, dict):
            data = data.model_dump() if hasattr(data, "model_dump") else vars(data)
        if data.get("top_logprobs"):
            out = tuple({str(t): float(v) for t, v in (p or {}).items()}
                        for p in data["top_logprobs"])
        else:
            out = tuple({str(e["token"]): float(e["logprob"]) for e in item.get("top_logprobs")
                         or ()} for item in data.get("content") or ())
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None
    return out if any(out) else None


def _cost(litellm: ModuleType, cfg: ModelConfig, raw: Any, p_tok: int, c_tok: int) -> float:
    """USD cost: the config's prices when set, else litellm's price table, else 0."""
    if cfg.cost_per_1k_input is not None or cfg.cost_per_1k_output is not None:
        return (p_tok * (cfg.cost_per_1k_input or 0.0)
                + c_tok * (cfg.cost_per_1k_output or 0.0)) / 1000.0
    try:
        return float(litellm.completion_cost(completion_response=raw, model=cfg.model) or 0.0)
    except Exception:  # noqa: BLE001 - a model litellm has no price for costs 0
        return 0.0


def prices_per_1k(cfg: ModelConfig) -> tuple[float, float]:
    """USD per 1000 (prompt, completion) tokens of `cfg` as `_cost` charges them: the config's
    prices when either is set, else litellm's bundled price table (imported on demand), else
    (0, 0) for a model the table does not know.
    """
    if cfg.cost_per_1k_input is not None or cfg.cost_per_1k_output is not None:
        return cfg.cost_per_1k_input or 0.0, cfg.cost_per_1k_output or 0.0
    try:
        prompt, completion = load_litellm().cost_per_token(
            model=cfg.model, prompt_tokens=1000, completion_tokens=1000)
        return float(prompt or 0.0), float(completion or 0.0)
    except Exception:  # noqa: BLE001 - not in the table: it costs 0, as in `_cost`
        return 0.0, 0.0


def _retry_after(exc: BaseException | None) -> float | None:
    """Return the Retry-After header (seconds) of the HTTP response behind `exc`, if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        value = float(headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


_PREFIX = re.compile(r"^(?:litellm\.)?[A-Za-z]*(?:Error|Exception)(?::| -)\s*")


def _describe(exc: BaseException, timeout_s: float) -> str:
    """Describe a provider exception in one line: its type and the gist of its message."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    while (stripped := _PREFIX.sub("", text, count=1)) != text:
        text = stripped
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
