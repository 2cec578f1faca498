"""One session of a run (new or resumed), for every run kind: the result type, the metrics
collector, the run-kind protocol with its registry, and the session template.

A run kind (`numeric`, `program`; see `qd/kinds.py`) builds what its loop needs and hands the
template a `SessionLoop`; the template wires listeners, the run folder's log, signals and the
store's start/end events the same way for both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from qd.events import EngineListener, RunEnd
from qd.registry import Registry
from qd.run_dir import RunDir
from qd.signals import stop_on_signals
from qd.spec import SpecBase
from qd.store import RunStore
from qd.types import IterationMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoredState:
    """Where a resumed session started.

    Attributes:
        iteration: Iterations done before (program runs: evaluations done before).
        evaluations: Evaluations done before.
        elapsed_s: Run time of the earlier sessions.
        checkpoint_iteration: Iteration of the checkpoint restored (0: none).
        replayed: Iterations replayed after the checkpoint.
    """

    iteration: int
    evaluations: int
    elapsed_s: float
    checkpoint_iteration: int
    replayed: int


@dataclass
class RunResult:
    """What `evolve` and `resume` return.

    Attributes:
        spec: The effective (validated) spec.
        archive: The final archive; `archive.elites()` gives solutions, objectives, measures
            (for program runs each solution is `[program_id]`).
        end: Final counters and statistics; `end.reason` is "budget", "SIGINT", "SIGTERM", ...
        metrics: One `IterationMetrics` per iteration run in this session.
        path: The run folder, or None when nothing was written.
        restored: Where a resumed run started from (None for a new run).
        programs: Program runs only: the program engine (`counts` of outcomes by status,
            `records` by id, `s` its setup: archive, client ledger, novelty filter, evaluator);
            None for numeric runs.
    """

    spec: SpecBase
    archive: Any
    end: RunEnd
    metrics: list[IterationMetrics] = field(default_factory=list)
    path: Path | None = None
    restored: RestoredState | None = None
    programs: Any = None


class Collector(EngineListener):
    """Keeps every iteration's metrics of a session (they become `RunResult.metrics`)."""

    def __init__(self) -> None:
        self.rows: list[IterationMetrics] = []

    def on_iteration(self, metrics: IterationMetrics) -> None:
        """Keep the iteration's metrics."""
        self.rows.append(metrics)


class SessionLoop(Protocol):
    """What a run kind hands the session template: a loop that can run and be stopped."""

    #: The archive the loop fills (a `QDArchive`).
    archive: Any

    def request_stop(self, reason: str = "stopped") -> None:
        """End soon and cleanly (called from a signal handler)."""

    def run(self) -> RunEnd:
        """Run to the budget or a stop request."""

    def start_fields(self) -> dict[str, Any]:
        """What the `start` event and log line record."""

    def end_fields(self) -> dict[str, Any]:
        """Extra fields of the `end` event and log line."""

    def result_programs(self) -> Any:
        """`RunResult.programs`: None for numeric runs."""


@dataclass(frozen=True)
class SessionContext:
    """Where a session writes: its run folder and store (both None for an in-memory run)."""

    run_dir: RunDir | None
    store: RunStore | None
    listeners: list[EngineListener]


#: Builds a session's loop inside the session's exit stack (for cleanup callbacks).
OpenLoop = Callable[[ExitStack, SessionContext], SessionLoop]


def run_session(spec: SpecBase, open_loop: OpenLoop, run_dir: RunDir | None,
                store: RunStore | None, listeners: Sequence[EngineListener],
                handle_signals: bool, restored: RestoredState | None = None) -> RunResult:
    """Run one session of any run kind: listeners (run folder first, then the collector and
    the caller's), the folder's structured log, signal handling, start/end events.
    """
    collector = Collector()
    all_listeners: list[EngineListener] = [collector, *listeners]
    if run_dir is not None:
        all_listeners.insert(0, run_dir)
    with ExitStack() as stack:
        loop = open_loop(stack, SessionContext(run_dir, store, all_listeners))
        if run_dir is not None:
            run_dir.start_logging()
            stack.callback(run_dir.close)
        if handle_signals:
            stack.enter_context(stop_on_signals(loop.request_stop))
        start = {"budget": spec.run.budget, **loop.start_fields()}
        if store is not None:
            store.events.add("start", **start)
        log.info("run started", extra={"event": "start", **start})
        end = loop.run()
        done = {"reason": end.reason, "evaluations": end.evaluations, **loop.end_fields()}
        if store is not None:
            store.events.add("end", **done)
        log.info("run finished" if end.reason == "budget" else "run stopped",
                 extra={"event": "end", "qd_score": end.stats.qd_score,
                        "coverage": end.stats.coverage, **done})
    return RunResult(spec, loop.archive, end, collector.rows,
                     run_dir.path if run_dir else None, restored, loop.result_programs())


@runtime_checkable
class RunKind(Protocol):
    """How runs of one kind are built, run, resumed and read back.

    Chosen by the problem: its registered class's `run_kind` (default "numeric").
    """

    #: Registry name.
    name: str
    #: True when the archive's solutions are program ids whose code lives in the store.
    solutions_are_programs: bool

    def prepare(self, spec: SpecBase) -> Any:
        """What must exist before the run folder is written (may raise `SpecError`)."""

    def resume_from(self, spec: SpecBase, prepared: Any, run_dir: RunDir, store: RunStore,
                    changes: list[str]) -> RestoredState | None:
        """Bring `prepared` back to where the stored run stopped (record the `resume` event);
        `changes` non-empty: a forced resume under a changed spec.
        """

    def session(self, spec: SpecBase, prepared: Any, run_dir: RunDir | None,
                store: RunStore | None, listeners: Sequence[EngineListener],
                handle_signals: bool, restored: RestoredState | None) -> RunResult:
        """Run one session through `run_session`."""

    def stored_elites(self, spec: SpecBase, run: Path, store: RunStore) -> dict[str, Any]:
        """The archive's elites as of the last stored iteration, rebuilt from the store
        (read only): `index`, `objective`, `measures`, `solution` arrays.
        """

    def empty_archive(self, spec: SpecBase) -> Any:
        """The spec's empty result archive (a pyribs `ArchiveBase`: geometry for reports)."""


#: Run kinds by name; filled by `qd/kinds.py`.
run_kind_registry: Registry[RunKind] = Registry("run kind")
