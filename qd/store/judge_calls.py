"""The `judge_calls` table of the run store: every judge question and answer, and the parsed
answers by (model, prompt) hash that `qd.judge.records.JudgeRecords` serves as its cache (so a
repeated question costs no HTTP call, also across resume).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from qd.store.connection import Database

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


class JudgeCallsTable:
    """Read and write the `judge_calls` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, call: JudgeCall) -> None:
        """Store a call (its parsed answer as JSON)."""
        values = asdict(call)
        values["parsed"] = None if call.parsed is None else json.dumps(call.parsed)
        values["cached"] = int(call.cached)
        with self._db.write("record a judge call") as conn:
            conn.execute(
                f"INSERT INTO judge_calls ({', '.join(_COLUMNS)}, created) "
                f"VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})",
                (*(values[c] for c in _COLUMNS), time.time()))

    def answer(self, key: str) -> Any:
        """The first parsed answer asked over HTTP under `key` (the cached answer), or None."""
        row = self._db.read(
            "SELECT parsed FROM judge_calls WHERE key = ? AND parsed IS NOT NULL AND cached = 0 "
            "ORDER BY id LIMIT 1", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def all(self) -> list[JudgeCall]:
        """Every recorded call, in order."""
        rows = self._db.read(f"SELECT {', '.join(_COLUMNS)} FROM judge_calls ORDER BY id")
        out = []
        for row in rows:
            values = dict(zip(_COLUMNS, row, strict=True))
            values["parsed"] = None if values["parsed"] is None else json.loads(values["parsed"])
            values["cached"] = bool(values["cached"])
            out.append(JudgeCall(**values))
        return out
