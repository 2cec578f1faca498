"""Every judge question and answer, recorded in the run store's `judge_calls` table, and the
cache of parsed answers by (model, prompt) hash that spares repeated questions an HTTP call
(also across resume, since the cache is read from the store).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from qd.store import RunStore

_COLUMNS = ("key", "model", "kind", "prompt", "answer", "parsed", "cached", "error",
            "prompt_tokens", "completion_tokens", "cost_usd", "latency_s")


def cache_key(model: str, prompt: str) -> str:
    """SHA-256 of the litellm model string and the prompt (the endpoint URL is not part of it,
    so a restarted local server on another port still hits the cache).
    """
    return hashlib.sha256(f"{model}\0{prompt}".encode()).hexdigest()


@dataclass(frozen=True)
class JudgeCall:
    """One judge question: asked over HTTP (`cached` False) or answered from the cache."""

    key: str
    model: str
    kind: str
    prompt: str
    answer: str | None
    parsed: Any = None
    cached: bool = False
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0


class JudgeRecords:
    """Judge calls and the answer cache, in a `RunStore` or (without one) in memory.

    Args:
        store: The run store; None keeps records in memory only.
    """

    def __init__(self, store: RunStore | None = None) -> None:
        self.store = store
        self._memory: list[JudgeCall] = []
        self._cache: dict[str, Any] = {}

    def lookup(self, key: str) -> Any:
        """The parsed answer cached under `key`, or None."""
        if key in self._cache:
            return self._cache[key]
        if self.store is None:
            return None
        row = self.store.conn.execute(
            "SELECT parsed FROM judge_calls WHERE key = ? AND parsed IS NOT NULL AND cached = 0 "
            "ORDER BY id LIMIT 1", (key,)).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        self._cache[key] = value
        return value

    def record(self, call: JudgeCall) -> None:
        """Store a call; a parsed answer becomes the cached answer of its key."""
        if call.parsed is not None and not call.cached:
            self._cache.setdefault(call.key, call.parsed)
        if self.store is None:
            self._memory.append(call)
            return
        values = asdict(call)
        values["parsed"] = None if call.parsed is None else json.dumps(call.parsed)
        values["cached"] = int(call.cached)
        with self.store.transaction() as conn:
            conn.execute(
                f"INSERT INTO judge_calls ({', '.join(_COLUMNS)}, created) "
                f"VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})",
                (*(values[c] for c in _COLUMNS), time.time()))

    def calls(self) -> list[JudgeCall]:
        """Every recorded call, in order."""
        if self.store is None:
            return list(self._memory)
        return judge_calls(self.store)

    def event(self, kind: str, **payload: Any) -> None:
        """An event in the run store (nothing without a store)."""
        if self.store is not None:
            self.store.event(kind, **payload)


def judge_calls(store: RunStore) -> list[JudgeCall]:
    """The judge calls recorded in a run store, in order."""
    rows = store.conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM judge_calls ORDER BY id").fetchall()
    out = []
    for row in rows:
        values = dict(zip(_COLUMNS, row, strict=True))
        values["parsed"] = None if values["parsed"] is None else json.loads(values["parsed"])
        values["cached"] = bool(values["cached"])
        out.append(JudgeCall(**values))
    return out
