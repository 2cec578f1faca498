"""ModelConfig validation, keys from the environment and per-call overrides."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from qd.llm import ModelConfig


def test_defaults_and_key():
    cfg = ModelConfig(model="openai/gpt-4o-mini")
    assert cfg.mode == "chat" and cfg.max_concurrency == 4 and cfg.max_retries == 3
    assert cfg.key == "openai/gpt-4o-mini"
    assert ModelConfig(model="openai/gpt-4o-mini", name="cheap").key == "cheap"


def test_unknown_keys_are_errors():
    with pytest.raises(ValidationError, match="max_concurency"):
        ModelConfig(model="openai/gpt-4o-mini", max_concurency=2)


@pytest.mark.parametrize("fields", [
    {"mode": "edit"}, {"max_concurrency": 0}, {"timeout_s": 0}, {"max_retries": -1},
    {"cost_per_1k_input": -1}, {"api_base": "127.0.0.1:8000"}, {"model": ""},
])
def test_invalid_values_are_errors(fields):
    with pytest.raises(ValidationError):
        ModelConfig(**{"model": "openai/gpt-4o-mini", **fields})


@pytest.mark.parametrize("value", ["sk-proj-abc123", "my key", "1ABC"])
def test_api_key_env_must_be_a_variable_name(value):
    with pytest.raises(ValidationError, match="NAME of an environment variable"):
        ModelConfig(model="openai/gpt-4o-mini", api_key_env=value)


def test_api_key_comes_from_the_environment(monkeypatch):
    cfg = ModelConfig(model="openai/gpt-4o-mini", api_key_env="QD_TEST_KEY")
    monkeypatch.setenv("QD_TEST_KEY", "secret")
    assert cfg.api_key() == "secret"
    assert "secret" not in cfg.model_dump_json()
    monkeypatch.delenv("QD_TEST_KEY")
    with pytest.raises(KeyError):
        cfg.api_key()


def test_keyless_endpoints_get_a_placeholder_key():
    assert ModelConfig(model="openai/x", api_base="http://127.0.0.1:1/v1/").api_key() == "no-key"
    assert ModelConfig(model="openai/x").api_key() is None
    assert ModelConfig(model="openai/x", api_base="http://h:1/v1/").api_base == "http://h:1/v1"


def test_config_is_frozen_and_lists_become_tuples():
    cfg = ModelConfig(model="openai/x", stop=["\ndef "], operators=["mutate"])
    assert cfg.stop == ("\ndef ",) and cfg.operators == ("mutate",)
    with pytest.raises(ValidationError):
        cfg.temperature = 1.0
    hash(cfg)


def test_operators_restrict_use():
    assert ModelConfig(model="m/x").allows("anything")
    cfg = ModelConfig(model="m/x", operators=["crossover"])
    assert cfg.allows("crossover") and not cfg.allows("mutate")


def test_overrides_are_validated_and_limited():
    cfg = ModelConfig(model="m/x", temperature=0.5)
    assert cfg.with_overrides() is cfg
    changed = cfg.with_overrides(temperature=1.0, stop=["x"])
    assert (changed.temperature, changed.stop, cfg.temperature) == (1.0, ("x",), 0.5)
    with pytest.raises(ValueError, match="cannot override api_base"):
        cfg.with_overrides(api_base="http://other/v1")
    with pytest.raises(ValidationError):
        cfg.with_overrides(max_tokens=0)


def test_round_trip_through_a_dict():
    cfg = ModelConfig(model="text-completion-openai/local", mode="completion",
                      api_base="http://127.0.0.1:8080/v1", stop=["\ndef "],
                      cost_per_1k_input=0, cost_per_1k_output=0)
    assert ModelConfig.model_validate(cfg.model_dump()) == cfg


def test_importing_qd_llm_does_not_import_litellm():
    code = ("import sys, qd.llm, qd.llm.client, qd.llm.local_server; "
            "print(sorted(m for m in ('litellm', 'openai', 'aiohttp') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"
