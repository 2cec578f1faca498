"""Validated configuration of one LLM endpoint: model, endpoint, limits, retries, prices."""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import Field, field_validator

from qd.components import StrictModel

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: Fields that `LLMClient.complete(..., **overrides)` may change for one call.
REQUEST_FIELDS = frozenset(
    {"temperature", "max_tokens", "stop", "timeout_s", "max_retries", "backoff_s"}
)


class ModelConfig(StrictModel):
    """One model behind an OpenAI-compatible (or any litellm-supported) endpoint.

    Unknown keys are errors and the config is frozen. API keys are never stored: `api_key_env`
    names the environment variable that holds the key.

    Attributes:
        model: litellm model string, e.g. "openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest",
            "openrouter/meta-llama/llama-3.1-8b-instruct", "text-completion-openai/local".
        name: Label of the model in the usage ledger and logs; defaults to `model`.
        api_base: Endpoint base URL (e.g. "http://127.0.0.1:8000/v1"); None: the provider's.
        api_key_env: Name of the environment variable that holds the API key; None: the
            provider's usual variable, or a placeholder key when `api_base` is set.
        mode: "chat" (chat completions, messages) or "completion" (plain text completion).
        max_concurrency: Requests to this model in flight at once, per client.
        timeout_s: Hard limit on one request, in seconds.
        max_retries: Retries after the first attempt on rate limits, 5xx, timeouts, connection
            errors and empty answers; 4xx errors are never retried.
        backoff_s: Delay before the first retry; it doubles with each further retry.
        backoff_max_s: Upper bound of one backoff delay.
        temperature: Sampling temperature; None: the provider's default (not sent).
        max_tokens: Most tokens to generate; None: the provider's default (not sent).
        stop: Stop sequences.
        cost_per_1k_input: USD per 1000 prompt tokens; when set it is used instead of litellm's
            price table (set 0 for a local model).
        cost_per_1k_output: USD per 1000 completion tokens; same rule.
        operators: Names of the variation operators that may use this model; None: all.
        grammar: Send the grammars operators have for their answers (llama.cpp GBNF, a
            `grammar` field in the request body): only for endpoints that take them, such as
            llama.cpp's server, the embedded model's (OpenAI's API refuses unknown fields).
    """

    model: str = Field(min_length=1)
    name: str | None = None
    api_base: str | None = None
    api_key_env: str | None = None
    mode: Literal["chat", "completion"] = "chat"
    max_concurrency: int = Field(default=4, ge=1)
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    backoff_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=512, ge=1)
    stop: tuple[str, ...] = ()
    cost_per_1k_input: float | None = Field(default=None, ge=0)
    cost_per_1k_output: float | None = Field(default=None, ge=0)
    operators: tuple[str, ...] | None = None
    grammar: bool = False

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(
                "must be the NAME of an environment variable (letters, digits, _), not a key"
            )
        return value

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @property
    def key(self) -> str:
        """The label of this model in the usage ledger: `name`, else `model`."""
        return self.name or self.model

    def allows(self, operator: str) -> bool:
        """Whether the variation operator `operator` may use this model."""
        return self.operators is None or operator in self.operators

    def api_key(self) -> str | None:
        """Return the API key from the environment, a placeholder for keyless endpoints, or None.

        Returns:
            The value of `api_key_env` when set; "no-key" when `api_base` is set without
            `api_key_env` (local servers take any key); None otherwise (litellm then reads the
            provider's usual variable, e.g. OPENAI_API_KEY).

        Raises:
            KeyError: `api_key_env` names a variable that is not set.
        """
        if self.api_key_env is not None:
            value = os.environ.get(self.api_key_env)
            if not value:
                raise KeyError(self.api_key_env)
            return value
        return "no-key" if self.api_base else None

    def with_overrides(self, **overrides: object) -> ModelConfig:
        """Return a validated copy with request-level fields replaced (see `REQUEST_FIELDS`).

        Raises:
            ValueError: an override names a field that cannot change per call, or a value is
                invalid.
        """
        if not overrides:
            return self
        unknown = sorted(set(overrides) - REQUEST_FIELDS)
        if unknown:
            raise ValueError(
                f"cannot override {', '.join(unknown)} per call; "
                f"allowed: {', '.join(sorted(REQUEST_FIELDS))}"
            )
        return type(self).model_validate({**self.model_dump(), **overrides})
