"""LLM plumbing: model configs, an async litellm client with retries and accounting, local model."""

from qd.llm.client import LLMClient, LLMResponse
from qd.llm.errors import KINDS, LLMError
from qd.llm.ledger import ModelUsage, UsageLedger
from qd.llm.models import ModelConfig

__all__ = ["KINDS", "LLMClient", "LLMError", "LLMResponse", "ModelConfig", "ModelUsage",
           "UsageLedger"]
