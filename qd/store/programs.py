"""The programs table of the run store: every proposal of a program run, its cost and outcome.

One row per proposal, written when the proposal exists (with its code, or the reason it has
none) and updated once it is evaluated, so an LLM call that was paid for is never lost, and a
proposal that was written but not evaluated when a run was killed is evaluated on resume.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from qd.store import RunStore

#: Outcomes a proposal can end with; "proposed" means written but not yet evaluated.
STATUSES = ("proposed", "ok", "invalid", "timeout", "crashed", "oom", "error", "duplicate",
            "rejected", "llm_error")


@dataclass(frozen=True)
class ProgramRow:
    """One proposal (and, once evaluated, its evaluation)."""

    id: int
    parents: tuple[int, ...]
    code: str | None
    code_hash: str | None
    generation: int
    island: int
    operator: str
    model: str | None
    status: str
    reason: str | None = None
    score: float | None = None
    measures: tuple[float, ...] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    feedback: str | None = None
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_latency_s: float = 0.0
    eval_s: float | None = None
    reward: float | None = None


_COLUMNS = ("id", "parents", "code", "code_hash", "generation", "island", "operator", "model",
            "status", "reason", "score", "measures", "metrics", "feedback", "cost_usd",
            "prompt_tokens", "completion_tokens", "llm_latency_s", "eval_s", "reward")


class ProgramStore:
    """Read and write the `programs` table of a `RunStore`."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def next_id(self) -> int:
        """The id the next proposal gets (ids start at 1)."""
        row = self.store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM programs").fetchone()
        return int(row[0]) + 1

    def add(self, row: ProgramRow) -> None:
        """Insert a proposal."""
        with self.store.transaction() as conn:
            conn.execute(
                f"INSERT INTO programs ({', '.join(_COLUMNS)}, created) "
                f"VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})",
                (*_encode(row), time.time()),
            )

    def finish(self, program_id: int, *, status: str, reason: str | None, score: float | None,
               measures: tuple[float, ...] | None, metrics: dict[str, Any],
               feedback: str | None, eval_s: float | None,
               reward: float | None = None) -> None:
        """Record the evaluation of a proposal (and the bandit reward it earned)."""
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE programs SET status=?, reason=?, score=?, measures=?, metrics=?, "
                "feedback=?, eval_s=?, evaluated=?, reward=? WHERE id=?",
                (status, reason, score, None if measures is None else json.dumps(list(measures)),
                 json.dumps(metrics), feedback, eval_s, time.time(), reward, program_id),
            )

    def get(self, program_id: int) -> ProgramRow | None:
        """One program by id."""
        rows = self._select("WHERE id = ?", (program_id,))
        return rows[0] if rows else None

    def all(self, status: str | None = None) -> list[ProgramRow]:
        """Every proposal in id order, optionally of one status."""
        if status is None:
            return self._select("", ())
        return self._select("WHERE status = ?", (status,))

    def hashes(self) -> set[str]:
        """Normalised-code hashes of every proposal that had code."""
        cursor = self.store.conn.execute(
            "SELECT code_hash FROM programs WHERE code_hash IS NOT NULL")
        return {h for (h,) in cursor}

    def counts(self) -> dict[str, int]:
        """Number of proposals per status."""
        cursor = self.store.conn.execute("SELECT status, COUNT(*) FROM programs GROUP BY status")
        return dict(cursor.fetchall())

    def totals(self) -> dict[str, float]:
        """Totals over all proposals: cost, tokens, LLM calls (proposals with a model)."""
        row = self.store.conn.execute(
            "SELECT COALESCE(SUM(cost_usd), 0),"
            " COALESCE(SUM(prompt_tokens + completion_tokens), 0),"
            " COUNT(model), COUNT(*) FROM programs"
        ).fetchone()
        return {"cost_usd": row[0], "tokens": row[1], "llm_calls": row[2], "proposals": row[3]}

    def _select(self, where: str, args: tuple[Any, ...]) -> list[ProgramRow]:
        cursor = self.store.conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM programs {where} ORDER BY id", args
        )
        return [_decode(r) for r in cursor]


def _encode(row: ProgramRow) -> tuple[Any, ...]:
    values = []
    for name in _COLUMNS:
        value = getattr(row, name)
        if name == "parents":
            value = json.dumps(list(value))
        elif name == "measures" and value is not None:
            value = json.dumps(list(value))
        elif name == "metrics":
            value = json.dumps(value)
        values.append(value)
    return tuple(values)


def _decode(values: tuple[Any, ...]) -> ProgramRow:
    data = dict(zip(_COLUMNS, values, strict=True))
    data["parents"] = tuple(json.loads(data["parents"]))
    if data["measures"] is not None:
        data["measures"] = tuple(json.loads(data["measures"]))
    data["metrics"] = json.loads(data["metrics"]) if data["metrics"] else {}
    return ProgramRow(**data)
