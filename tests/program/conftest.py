"""Fixtures for program runs: the scripted loopback LLM server and the toy problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fixtures.scripted_llm import Reply, scripted_llm_server  # noqa: F401  (fixture)

TOY = Path(__file__).resolve().parent.parent / "fixtures" / "programs" / "toy"
_RETURN = re.compile(r"return \[([^\]\n]*)\]")


def improving_diff(prompt: str) -> str:
    """A SEARCH/REPLACE diff on the parent (the first program in the prompt) that sets its
    first number one above the best first number shown anywhere in the prompt."""
    found = _RETURN.findall(prompt)
    assert found, "the prompt shows no parent code"
    old = found[0]
    values = [float(v) for v in old.split(",")]
    best = max(float(f.split(",")[0]) for f in found)
    values[0] = min(10.0, best + 1.0)
    new = ", ".join(repr(v) for v in values)
    return (f"Here is an improvement.\n<<<<<<< SEARCH\n    return [{old}]\n=======\n"
            f"    return [{new}]\n>>>>>>> REPLACE\n")


def prompt_text(request) -> str:  # noqa: ANN001 - RecordedRequest
    body = request.body or {}
    if "messages" in body:
        return "\n".join(m.get("content", "") for m in body["messages"])
    return body.get("prompt", "")


def toy_overrides(server, **extra: str) -> list[str]:  # noqa: ANN001
    model = (f'llm.models=[{{model="openai/scripted", api_base="{server.api_base}", '
             f'mode="chat", timeout_s=3.0, max_retries=1, backoff_s=0.01}}]')
    settings = {"llm.operators": '["diff"]', "llm.proposals_in_flight": "1",
                "llm.evaluations_in_flight": "1", "run.budget": "6", **extra}
    return [model, *(f"{k}={v}" for k, v in settings.items())]


@pytest.fixture
def toy() -> Path:
    """The toy program problem folder."""
    return TOY


__all__ = ["Reply", "improving_diff", "prompt_text", "toy_overrides"]
