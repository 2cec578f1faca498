"""The `numeric` run kind: batched solutions (vectors, policies, trees) through pyribs or the
torch backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from qd.events import EngineListener, RunEnd
from qd.numeric.build import Components, build_components
from qd.numeric.engine import Engine
from qd.numeric.recorder import RunRecorder
from qd.numeric.restore import rebuild, restore
from qd.numeric.storage import store_mode
from qd.run_dir import RunDir
from qd.session import (
    RestoredState,
    RunResult,
    SessionContext,
    run_kind_registry,
    run_session,
)
from qd.spec import SpecBase
from qd.store import RunStore


class _NumericLoop:
    """The numeric engine seen through the session template's `SessionLoop`."""

    def __init__(self, engine: Engine, components: Components) -> None:
        self.engine = engine
        self.components = components
        self.archive = components.archive

    def request_stop(self, reason: str = "stopped") -> None:
        self.engine.request_stop(reason)

    def run(self) -> RunEnd:
        return self.engine.run()

    def start_fields(self) -> dict[str, Any]:
        c = self.components
        return {"iteration": self.engine.iteration, "batch_size": c.batch_size,
                "device": str(c.device)}

    def end_fields(self) -> dict[str, Any]:
        return {}

    def result_programs(self) -> None:
        return None


@run_kind_registry.register("numeric")
class NumericRunKind:
    """Ask → evaluate → tell over batches; resumed from checkpoints plus verified replay."""

    name = "numeric"
    solutions_are_programs = False

    def prepare(self, spec: SpecBase) -> Components:
        """What must exist before the run folder is written."""
        return build_components(spec)

    def resume_from(self, spec: SpecBase, prepared: Components, run_dir: RunDir,
                    store: RunStore, changes: list[str]) -> RestoredState:
        """Bring the run back to where its store says it stopped."""
        restored = (rebuild(prepared, store) if changes
                    else restore(prepared, run_dir.path, store))
        store.events.add("resume", iteration=restored.iteration, evaluations=restored.evaluations,
                         checkpoint=restored.checkpoint_iteration, replayed=restored.replayed,
                         forced_changes=changes)
        return restored

    def session(self, spec: SpecBase, prepared: Components, run_dir: RunDir | None,
                store: RunStore | None, listeners: Sequence[EngineListener],
                handle_signals: bool, restored: RestoredState | None) -> RunResult:
        """Run one session through the session template."""
        def open_loop(stack: ExitStack, ctx: SessionContext) -> _NumericLoop:
            stack.callback(prepared.evaluator.close)
            recorder = None
            if ctx.run_dir is not None and ctx.store is not None:
                r, folder, problem = spec.run, ctx.run_dir, prepared.problem
                recorder = RunRecorder(
                    folder.path, ctx.store, r.checkpoint_every, r.checkpoint_seconds,
                    r.keep_checkpoints,
                    on_checkpoint=lambda it: folder.write_archive(prepared.archive.elites(), it),
                    mode=store_mode(ctx.store, spec, problem.solution_dim, problem.measure_dim),
                )
            start = restored or RestoredState(0, 0, 0.0, 0, 0)
            engine = Engine(prepared, spec.run.budget, ctx.listeners, recorder,
                            iteration=start.iteration, evaluations=start.evaluations,
                            elapsed_s=start.elapsed_s)
            return _NumericLoop(engine, prepared)

        return run_session(spec, open_loop, run_dir, store, listeners, handle_signals, restored)

    def stored_elites(self, spec: SpecBase, run: Path, store: RunStore) -> dict[str, Any]:
        """The elites as of the last stored iteration, rebuilt from the store."""
        components = build_components(spec)
        restore(components, run, store)
        return components.archive.elites()

    def empty_archive(self, spec: SpecBase) -> Any:
        """The spec's empty result archive."""
        return build_components(spec).archive.result
