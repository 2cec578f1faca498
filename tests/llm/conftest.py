"""Fixtures of the LLM tests: the scripted OpenAI-compatible server."""

from tests.fixtures.scripted_llm import scripted_llm_server  # noqa: F401 - a pytest fixture
