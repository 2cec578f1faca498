"""Run one session of a program run (new or resumed), with its folder, log and signals."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import ExitStack

from qd.events import EngineListener
from qd.judge.build import make_judge, resolved_judge_model
from qd.program.engine import ProgramEngine
from qd.program.setup import build_program_setup, resolved_models
from qd.run_dir import RunDir
from qd.signals import stop_on_signals
from qd.spec import SpecBase
from qd.store import RunStore

log = logging.getLogger(__name__)


def program_session(spec: SpecBase, run_dir: RunDir | None, store: RunStore | None,
                    listeners: Sequence[EngineListener], handle_signals: bool):  # noqa: ANN201
    """Evolve programs until the budget; returns a `qd.api.RunResult`."""
    from qd.api import RunResult, _Collector

    collector = _Collector()
    all_listeners: list[EngineListener] = [collector, *listeners]
    if run_dir is not None:
        all_listeners.insert(0, run_dir)
    with ExitStack() as stack:
        models = stack.enter_context(resolved_models(spec.llm))
        setup = build_program_setup(spec, models)
        judge_model = stack.enter_context(resolved_judge_model(spec.judge, models))
        setup.judge = make_judge(spec, judge_model, setup.client, store)
        if hasattr(setup.evaluator, "close"):
            stack.callback(setup.evaluator.close)
        engine = ProgramEngine(setup, spec.run.budget, all_listeners, store)
        if setup.judge is not None:
            setup.judge.on_give_up = engine.request_stop
        if run_dir is not None:
            run_dir.start_logging()
            stack.callback(run_dir.close)
        if handle_signals:
            stack.enter_context(stop_on_signals(engine.request_stop))
        if store is not None:
            store.event("start", budget=spec.run.budget, models=[m.key for m in models])
        log.info("program run started", extra={"event": "start", "budget": spec.run.budget,
                                               "models": [m.key for m in models],
                                               "arms": len(setup.arms)})
        end = engine.run()
        if store is not None:
            store.event("end", reason=end.reason, evaluations=end.evaluations,
                        counts=dict(engine.counts))
        log.info("program run ended", extra={"event": "end", "reason": end.reason,
                                             "evaluations": end.evaluations,
                                             "counts": dict(engine.counts)})
    result = RunResult(spec, setup.archive.archive, end, collector.rows,
                       run_dir.path if run_dir else None, None)
    result.programs = engine  # type: ignore[attr-defined]
    return result
