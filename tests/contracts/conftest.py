"""Fixtures of the contract tests: the scripted loopback LLM server for program runs."""

from tests.fixtures.scripted_llm import scripted_llm_server  # noqa: F401  (fixture)
