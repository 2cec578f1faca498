"""`JudgeRecords`: where a judge records its questions and finds cached answers.

With a run store, every call goes to its `judge_calls` table and the answer cache is read
from it (so it survives resume); without one, records stay in memory.
"""

from __future__ import annotations

from typing import Any

from qd.store import RunStore
from qd.store.judge_calls import JudgeCall


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
        value = self.store.judge_calls.answer(key)
        if value is not None:
            self._cache[key] = value
        return value

    def record(self, call: JudgeCall) -> None:
        """Store a call; a parsed answer becomes the cached answer of its key."""
        if call.parsed is not None and not call.cached:
            self._cache.setdefault(call.key, call.parsed)
        if self.store is None:
            self._memory.append(call)
            return
        self.store.judge_calls.add(call)

    def calls(self) -> list[JudgeCall]:
        """Every recorded call, in order."""
        if self.store is None:
            return list(self._memory)
        return self.store.judge_calls.all()

    def event(self, kind: str, **payload: Any) -> None:
        """An event in the run store (nothing without a store)."""
        if self.store is not None:
            self.store.events.add(kind, **payload)
