"""What every table module of the run store promises, as data: per table, rows to write (and
commit), more rows a killed writer leaves uncommitted, and a read of everything the table holds.

`test_tables.py` checks each table against these: write → read round trip, reopening gives
the same data (writable and read-only), a read-only store refuses writes with `StoreError`,
and a writer killed mid-transaction leaves no trace. A killed writer runs
`python -m tests.store.contract STORE_FOLDER TABLE` (it commits nothing and dies by SIGKILL).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qd.program.types import Program, Status
from qd.store import CheckpointRow, RunStore
from qd.store.judge_calls import JudgeCall
from qd.types import IterationMetrics


@dataclass(frozen=True)
class Contract:
    """One table's contract data.

    Attributes:
        table: The RunStore attribute (and SQLite table) name.
        write: Writes the committed rows.
        more: Writes further rows (and overwrites), which a killed writer never commits.
        read: Everything the table holds, as plain comparable data.
    """

    table: str
    write: Callable[[RunStore], None]
    more: Callable[[RunStore], None]
    read: Callable[[RunStore], Any]


def _meta_write(s: RunStore) -> None:
    s.meta.set("spec", {"problem": {"name": "sphere"}, "budget": 10})
    s.meta.set("n", 3)


def _meta_more(s: RunStore) -> None:
    s.meta.set("n", 99)
    s.meta.set("other", [1])


def _meta_read(s: RunStore) -> Any:
    return s.meta.get("spec"), s.meta.get("n"), s.meta.get("other", "absent")


def _events_write(s: RunStore) -> None:
    s.events.add("start", iteration=0, where=Path("/x"))  # not JSON: stored as its str
    s.events.add("warning", message="m")


def _events_more(s: RunStore) -> None:
    s.events.add("end", reason="budget")


def _events_read(s: RunStore) -> Any:
    events = s.events.all()
    assert all(isinstance(e["t"], float) for e in events)
    return ([{k: v for k, v in e.items() if k != "t"} for e in events],
            [e["kind"] for e in s.events.all("warning")])


def _state_write(s: RunStore) -> None:
    s.component_state.put("bandit", 3, {"pulls": [1, 2], "rewards": [0.5, 1.25]})
    s.component_state.put_many({"selector": {"rng": [7]}, "llm_usage": {}}, 4)


def _state_more(s: RunStore) -> None:
    s.component_state.put("bandit", 9, {"pulls": []})
    s.component_state.put_many({"new": 1}, 9)


def _state_read(s: RunStore) -> Any:
    return s.component_state.all(), s.component_state.get("bandit"), s.component_state.get("x")


def _batch(iteration: int, size: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(iteration)
    return rng.normal(size=(size, 3)), rng.normal(size=size), rng.normal(size=(size, 2))


def _batches_write(s: RunStore) -> None:
    s.batches.record(1, *_batch(1))
    s.batches.record(2, *_batch(2, size=5))


def _batches_more(s: RunStore) -> None:
    s.batches.record(3, *_batch(3, size=64))


def _batches_read(s: RunStore) -> Any:
    rows = [(b.iteration, b.solutions.tobytes(), b.objectives.tobytes(), b.measures.tobytes())
            for b in s.batches.read()]
    late = [b.iteration for b in s.batches.read(2)]
    return (rows, late, s.batches.last_iteration(), s.batches.evaluation_count(),
            s.batches.created(1) is not None, s.batches.created(7))


def _metrics(iteration: int) -> IterationMetrics:
    return IterationMetrics(iteration, 32 * iteration, iteration, 0.01 * iteration,
                            1.5 * iteration, 0.1, None if iteration == 1 else -0.5, 0.25)


def _metrics_write(s: RunStore) -> None:
    s.metrics.add(_metrics(1))
    s.metrics.add(_metrics(2))


def _metrics_more(s: RunStore) -> None:
    s.metrics.add(_metrics(3))


def _metrics_read(s: RunStore) -> Any:
    return s.metrics.all()


def _checkpoints_write(s: RunStore) -> None:
    assert s.checkpoints.add(CheckpointRow(5, "state-5.pkl", "ab" * 32, 100), keep=2) == []
    assert s.checkpoints.add(CheckpointRow(10, "state-10.pkl", "cd" * 32, 120), keep=2) == []
    forgotten = s.checkpoints.add(CheckpointRow(15, "state-15.pkl", "ef" * 32, 130), keep=2)
    assert forgotten == ["state-5.pkl"]


def _checkpoints_more(s: RunStore) -> None:
    s.checkpoints.add(CheckpointRow(20, "state-20.pkl", "00" * 32, 1), keep=1)


def _checkpoints_read(s: RunStore) -> Any:
    return s.checkpoints.all()


def _programs_write(s: RunStore) -> None:
    s.programs.add(Program(1, "x = 1\n", operator="initial"))
    s.programs.add(Program(2, "x = 2\n", parents=(1,), operator="diff", model="m"))
    s.programs.finish(1, status=Status.OK, reason=None, score=2.5, measures=(0.5, 1.0),
                      metrics={"n": 1}, feedback="fine", eval_s=0.1, reward=1.0)


def _programs_more(s: RunStore) -> None:
    s.programs.add(Program(3, "x = 3\n", parents=(2,), operator="diff"))
    s.programs.finish(2, status=Status.TIMEOUT, reason="slow", score=None, measures=None,
                      metrics={}, feedback=None, eval_s=9.0)


def _programs_read(s: RunStore) -> Any:
    rows = [(r.id, r.code, r.parents, str(r.status), r.score, r.measures, dict(r.metrics))
            for r in s.programs.all()]
    return (rows, s.programs.next_id(), s.programs.hashes(),
            {str(k): v for k, v in s.programs.counts().items()},
            s.programs.columns(("id", "operator")))


def _call(key: str, parsed: Any, cached: bool = False) -> JudgeCall:
    return JudgeCall(key, "judge/m", "rating", f"prompt {key}", str(parsed), parsed, cached,
                     None, 10, 2, 0.001, 0.5)


def _judge_write(s: RunStore) -> None:
    s.judge_calls.add(_call("k1", 7.0))
    s.judge_calls.add(_call("k1", 7.0, cached=True))
    s.judge_calls.add(_call("k2", None))


def _judge_more(s: RunStore) -> None:
    s.judge_calls.add(_call("k2", 3.0))


def _judge_read(s: RunStore) -> Any:
    return s.judge_calls.all(), s.judge_calls.answer("k1"), s.judge_calls.answer("k2")


def _embeddings_write(s: RunStore) -> None:
    v32 = np.arange(4, dtype=np.float32) / 3
    assert s.embeddings.put_many({"a": ("minilm", v32), "b": ("ngram", np.ones(3))}) == 2
    assert s.embeddings.put_many({"a": ("minilm", v32 + 1)}) == 0  # never replaced


def _embeddings_more(s: RunStore) -> None:
    s.embeddings.put_many({"c": ("ngram", np.zeros(2))})


def _embeddings_read(s: RunStore) -> Any:
    found = s.embeddings.get_many(["a", "b", "c", "missing"])
    return {k: (v.dtype.name, v.tobytes()) for k, v in found.items()}, s.embeddings.count()


CONTRACTS: dict[str, Contract] = {c.table: c for c in (
    Contract("meta", _meta_write, _meta_more, _meta_read),
    Contract("events", _events_write, _events_more, _events_read),
    Contract("component_state", _state_write, _state_more, _state_read),
    Contract("batches", _batches_write, _batches_more, _batches_read),
    Contract("metrics", _metrics_write, _metrics_more, _metrics_read),
    Contract("checkpoints", _checkpoints_write, _checkpoints_more, _checkpoints_read),
    Contract("programs", _programs_write, _programs_more, _programs_read),
    Contract("judge_calls", _judge_write, _judge_more, _judge_read),
    Contract("embeddings", _embeddings_write, _embeddings_more, _embeddings_read),
)}


def killed_writer(folder: str, table: str) -> None:
    """Open the store, write the table's `more` rows in one transaction, and die before it
    commits (SIGKILL: no cleanup, no rollback, as when a run is killed).
    """
    store = RunStore.open(Path(folder))
    with store.transaction():
        CONTRACTS[table].more(store)
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    killed_writer(sys.argv[1], sys.argv[2])
