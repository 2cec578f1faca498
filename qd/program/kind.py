"""The `program` run kind: LLM-proposed programs, sandboxed evaluation, a bandit over arms."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from qd.embeddings.cache import EmbeddingCache
from qd.events import EngineListener, RunEnd
from qd.judge.build import make_judge, resolved_judge_model
from qd.program.archive import program_archive, rebuild_program_archive
from qd.program.engine import ProgramEngine
from qd.program.setup import build_program_setup, resolved_models
from qd.run_dir import RunDir
from qd.session import RestoredState, RunResult, SessionContext, run_kind_registry, run_session
from qd.spec import SpecBase
from qd.store import RunStore


class _ProgramLoop:
    """The program engine seen through the session template's `SessionLoop`."""

    def __init__(self, engine: ProgramEngine, models: list[Any], evaluated_before: int) -> None:
        self.engine = engine
        self.models = models
        self.archive = engine.s.archive.archive
        self.evaluated_before = evaluated_before

    def request_stop(self, reason: str = "stopped") -> None:
        self.engine.request_stop(reason)

    def run(self) -> RunEnd:
        return self.engine.run()

    def start_fields(self) -> dict[str, Any]:
        return {"models": [m.key for m in self.models], "arms": len(self.engine.s.arms),
                "iteration": self.evaluated_before}  # a program run's iterations: evaluations

    def end_fields(self) -> dict[str, Any]:
        return {"counts": dict(self.engine.counts)}

    def result_programs(self) -> ProgramEngine:
        return self.engine


@run_kind_registry.register("program")
class ProgramRunKind:
    """Asynchronous propose → deduplicate → evaluate; resumed from the programs table."""

    name = "program"
    solutions_are_programs = True

    def prepare(self, spec: SpecBase) -> None:
        """What must exist before the run folder is written."""
        return None  # models may start a server: built inside the session

    def resume_from(self, spec: SpecBase, prepared: None, run_dir: RunDir, store: RunStore,
                    changes: list[str]) -> None:
        """Bring the run back to where its store says it stopped."""
        store.events.add("resume", forced_changes=changes)  # the engine restores from the store
        return None

    def session(self, spec: SpecBase, prepared: None, run_dir: RunDir | None,
                store: RunStore | None, listeners: Sequence[EngineListener],
                handle_signals: bool, restored: RestoredState | None) -> RunResult:
        """Run one session through the session template."""
        def open_loop(stack: ExitStack, ctx: SessionContext) -> _ProgramLoop:
            models = stack.enter_context(resolved_models(spec.llm,
                                                         spec.problem.program_language))
            setup = build_program_setup(spec, models)
            judge_model = stack.enter_context(resolved_judge_model(spec.judge, models))
            setup.judge = make_judge(spec, judge_model, setup.client, ctx.store)
            stack.callback(setup.evaluator.close)
            engine = ProgramEngine(setup, spec.run.budget, ctx.listeners, ctx.store)
            if setup.judge is not None:
                setup.judge.on_give_up = engine.request_stop
            before = 0 if ctx.store is None else sum(
                n for status, n in ctx.store.programs.counts().items() if status.evaluated)
            return _ProgramLoop(engine, models, before)

        return run_session(spec, open_loop, run_dir, store, listeners, handle_signals, restored)

    def stored_elites(self, spec: SpecBase, run: Path, store: RunStore) -> dict[str, Any]:
        """The elites as of the last stored iteration, rebuilt from the store."""
        rebuilt = rebuild_program_archive(spec, store.programs.all("ok"),
                                          cache=EmbeddingCache.of_store(store))  # read only
        return rebuilt.archive.elites()

    def empty_archive(self, spec: SpecBase) -> Any:
        """The spec's empty result archive."""
        return program_archive(spec).archive.result
