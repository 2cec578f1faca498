"""The programs table of the run store: every proposal of a program run, its cost and outcome.

One row per proposal, written when the proposal exists (with its code, or the reason it has
none) and updated once it is evaluated, so an LLM call that was paid for is never lost, and a
proposal that was written but not evaluated when a run was killed is evaluated on resume.
Rows are `qd.program.types.Program` records; their status (a `Status`) is stored as its string.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from qd.program.types import Program, Status
from qd.store.connection import Database

_COLUMNS = ("id", "parents", "code", "code_hash", "generation", "island", "operator", "model",
            "status", "reason", "score", "measures", "metrics", "feedback", "cost_usd",
            "prompt_tokens", "completion_tokens", "llm_latency_s", "eval_s", "reward",
            "tuned_from")
_ALL_COLUMNS = {*_COLUMNS, "created", "evaluated"}


class ProgramStore:
    """Read and write the `programs` table (a run store's `programs`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def next_id(self) -> int:
        """The id the next proposal gets (ids start at 1)."""
        row = self._db.read("SELECT COALESCE(MAX(id), 0) FROM programs").fetchone()
        return int(row[0]) + 1

    def add(self, row: Program) -> None:
        """Insert a proposal."""
        with self._db.write("store a proposal") as conn:
            conn.execute(
                f"INSERT INTO programs ({', '.join(_COLUMNS)}, created) "
                f"VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})",
                (*_encode(row), time.time()),
            )

    def finish(self, program_id: int, *, status: Status, reason: str | None, score: float | None,
               measures: tuple[float, ...] | None, metrics: Mapping[str, Any],
               feedback: str | None, eval_s: float | None,
               reward: float | None = None) -> None:
        """Record the evaluation of a proposal (and the bandit reward it earned)."""
        with self._db.write("record an evaluation") as conn:
            conn.execute(
                "UPDATE programs SET status=?, reason=?, score=?, measures=?, metrics=?, "
                "feedback=?, eval_s=?, evaluated=?, reward=? WHERE id=?",
                (Status(status), reason, score,
                 None if measures is None else json.dumps(list(measures)),
                 json.dumps(dict(metrics)), feedback, eval_s, time.time(), reward, program_id),
            )

    def set_reward(self, program_id: int, reward: float) -> None:
        """Replace the bandit reward of a proposal (e.g. once its literals were tuned)."""
        with self._db.write("record a reward") as conn:
            conn.execute("UPDATE programs SET reward=? WHERE id=?", (reward, program_id))

    def get(self, program_id: int) -> Program | None:
        """One program by id."""
        rows = self._select("WHERE id = ?", (program_id,))
        return rows[0] if rows else None

    def all(self, status: Status | None = None) -> list[Program]:
        """Every proposal in id order, optionally of one status."""
        if status is None:
            return self._select("", ())
        return self._select("WHERE status = ?", (Status(status),))

    def hashes(self) -> set[str]:
        """Normalised-code hashes of every proposal that had code."""
        cursor = self._db.read(
            "SELECT code_hash FROM programs WHERE code_hash IS NOT NULL")
        return {h for (h,) in cursor}

    def counts(self) -> dict[Status, int]:
        """Number of proposals per status."""
        cursor = self._db.read("SELECT status, COUNT(*) FROM programs GROUP BY status")
        return {Status(status): count for status, count in cursor}

    def totals(self) -> dict[str, float]:
        """Totals over all proposals: cost, tokens, LLM calls (proposals with a model)."""
        row = self._db.read(
            "SELECT COALESCE(SUM(cost_usd), 0),"
            " COALESCE(SUM(prompt_tokens + completion_tokens), 0),"
            " COUNT(model), COUNT(*) FROM programs"
        ).fetchone()
        return {"cost_usd": row[0], "tokens": row[1], "llm_calls": row[2], "proposals": row[3]}

    def columns(self, names: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """The stored values of the columns `names` (JSON text undecoded) of every proposal, in
        id order: for readers that need columns a `Program` leaves out, such as `created`.
        """
        unknown = set(names) - _ALL_COLUMNS
        if unknown:
            raise ValueError(f"programs table has no column(s) {sorted(unknown)}")
        return self._db.read(f"SELECT {', '.join(names)} FROM programs ORDER BY id").fetchall()

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Program]:
        cursor = self._db.read(
            f"SELECT {', '.join(_COLUMNS)} FROM programs {where} ORDER BY id", args
        )
        return [_decode(r) for r in cursor]


def _encode(row: Program) -> tuple[Any, ...]:
    values = []
    for name in _COLUMNS:
        value = getattr(row, name)
        if name == "parents":
            value = json.dumps(list(value))
        elif name == "measures" and value is not None:
            value = json.dumps(list(value))
        elif name == "metrics":
            value = json.dumps(dict(value))
        elif name == "feedback":
            value = value or None  # NULL until there is feedback
        values.append(value)
    return tuple(values)


def _decode(values: tuple[Any, ...]) -> Program:
    data = dict(zip(_COLUMNS, values, strict=True))
    data["parents"] = tuple(json.loads(data["parents"]))
    if data["measures"] is not None:
        data["measures"] = tuple(json.loads(data["measures"]))
    data["metrics"] = json.loads(data["metrics"]) if data["metrics"] else {}
    data["feedback"] = data["feedback"] or ""
    return Program(**data)  # the status string becomes a `Status`
