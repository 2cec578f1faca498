"""Lazy, offline import of litellm: no remote cost map, no telemetry, no callbacks."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from types import ModuleType
from typing import Any

_lock = threading.Lock()
_module: ModuleType | None = None


def load_litellm() -> ModuleType:
    """Import and configure litellm once per process; later calls return the same module.

    litellm takes seconds to import, so qd imports it only when the first LLM call is made.
    Before the import, `LITELLM_LOCAL_MODEL_COST_MAP=True` makes it read its bundled price
    table instead of downloading one; after it, telemetry, logging callbacks and debug banners
    are switched off, so a call sends nothing anywhere but to the model's endpoint. Finally a
    mocked call warms up litellm's own lazy imports (see `_warm_up`).

    Returns:
        The configured `litellm` module.
    """
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            if "litellm" not in sys.modules:
                os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
            os.environ.setdefault("LITELLM_TELEMETRY", "False")
            import litellm

            litellm.telemetry = False
            litellm.suppress_debug_info = True
            litellm.set_verbose = False
            litellm.success_callback = []
            litellm.failure_callback = []
            litellm.callbacks = []
            for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
            _warm_up(litellm)
            _module = litellm
    return _module


def _warm_up(litellm: ModuleType) -> None:
    """Run litellm's request path once offline (mock responses), so its lazy imports happen now.

    Without this the first real request spends seconds importing provider modules while its
    timeout runs, and can time out against a server that answers at once.
    """
    import openai.resources.completions  # noqa: F401 - imported by the first text completion

    message = [{"role": "user", "content": "warm-up"}]
    litellm.completion(model="openai/qd-warm-up", messages=message, mock_response="ok")
    litellm.text_completion(model="text-completion-openai/qd-warm-up", prompt="warm-up",
                            mock_response="ok")


def is_loaded() -> bool:
    """Whether `load_litellm` has run in this process."""
    return _module is not None


def quiet_unclosed_sessions(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Drop aiohttp's "Unclosed client session/connector" notices (litellm keeps one HTTP
    session per event loop and never closes it); report everything else as usual.
    """
    if str(context.get("message", "")).startswith("Unclosed"):
        return
    loop.default_exception_handler(context)
