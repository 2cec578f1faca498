"""Running totals of LLM usage per model (calls, failures, tokens, cost, latency), persistable."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATE_VERSION = 1


@dataclass
class ModelUsage:
    """Totals of one model.

    Attributes:
        calls: Calls made (`LLMClient.complete` invocations), successful or not.
        failures: Calls that ended in an `LLMError`.
        attempts: Requests sent, retries included.
        retries: Attempts after the first one of a call.
        prompt_tokens: Prompt tokens of every answered request (retried empty answers too).
        completion_tokens: Completion tokens of every answered request.
        cost_usd: Cost of every answered request.
        latency_s: Summed duration of the requests that answered successfully.
        errors: Failed attempts by `LLMError` kind.
    """

    calls: int = 0
    failures: int = 0
    attempts: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def successes(self) -> int:
        """Calls that returned a response."""
        return self.calls - self.failures

    @property
    def mean_latency_s(self) -> float:
        """Mean latency of the successful calls (0 when there was none)."""
        return self.latency_s / self.successes if self.successes else 0.0


class UsageLedger:
    """Per-model usage totals, filled by `LLMClient`; a run persists it with `state_dict`."""

    def __init__(self) -> None:
        self._models: dict[str, ModelUsage] = {}

    def usage(self, model: str) -> ModelUsage:
        """Return the totals of `model` (created empty on first use)."""
        if model not in self._models:
            self._models[model] = ModelUsage()
        return self._models[model]

    def models(self) -> list[str]:
        """Models with totals, sorted."""
        return sorted(self._models)

    def record_attempt(self, model: str, *, retry: bool) -> None:
        """Count one request sent to `model`."""
        usage = self.usage(model)
        usage.attempts += 1
        usage.retries += int(retry)

    def record_tokens(self, model: str, prompt_tokens: int, completion_tokens: int,
                      cost_usd: float) -> None:
        """Add the tokens and cost of one answered request."""
        usage = self.usage(model)
        usage.prompt_tokens += prompt_tokens
        usage.completion_tokens += completion_tokens
        usage.cost_usd += cost_usd

    def record_error(self, model: str, kind: str) -> None:
        """Count one failed attempt of kind `kind`."""
        errors = self.usage(model).errors
        errors[kind] = errors.get(kind, 0) + 1

    def record_call(self, model: str, *, ok: bool, latency_s: float = 0.0) -> None:
        """Count one finished call; `latency_s` is the successful request's duration."""
        usage = self.usage(model)
        usage.calls += 1
        if ok:
            usage.latency_s += latency_s
        else:
            usage.failures += 1

    def totals(self) -> ModelUsage:
        """Sum the totals over all models."""
        total = ModelUsage()
        for usage in self._models.values():
            for f in fields(ModelUsage):
                if f.name == "errors":
                    for kind, n in usage.errors.items():
                        total.errors[kind] = total.errors.get(kind, 0) + n
                else:
                    setattr(total, f.name, getattr(total, f.name) + getattr(usage, f.name))
        return total

    def state_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable snapshot of every total."""
        return {"version": STATE_VERSION,
                "models": {name: asdict(u) for name, u in sorted(self._models.items())}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace every total with those of a `state_dict` snapshot.

        Raises:
            ValueError: the snapshot has another version or malformed entries.
        """
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(f"usage ledger state must have version {STATE_VERSION}")
        models: dict[str, ModelUsage] = {}
        names = {f.name for f in fields(ModelUsage)}
        for model, values in dict(state.get("models", {})).items():
            if not isinstance(values, dict) or set(values) - names:
                raise ValueError(f"malformed usage ledger entry for {model!r}")
            usage = ModelUsage(**values)
            usage.errors = {str(k): int(n) for k, n in usage.errors.items()}
            models[str(model)] = usage
        self._models = models

    def to_json(self) -> str:
        """`state_dict` as a JSON string."""
        return json.dumps(self.state_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> UsageLedger:
        """Restore a ledger from `to_json` output."""
        ledger = cls()
        ledger.load_state_dict(json.loads(text))
        return ledger
