"""The asynchronous program-evolution loop (ShinkaEvolve-style, over a MAP-Elites archive).

K proposal workers run at once; each asks the bandit for a (model, operator) arm, draws parents
from the archive with the selector, proposes a child (LLM call or local operator), rejects
(near-)duplicates before paying for evaluation, and evaluates the child in the sandbox, with at
most M evaluations in flight. A valid child of a tuned operator that changed the program's
structure has its literals tuned before its arm is rewarded (`qd/program/tuning.py`). Every
proposal, failure and cost goes to the run store as it happens; bandit and selector state are
saved after every evaluation, so resume restores them (`qd/program/restore.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from qd.events import EngineListener, ProgramStatus, RunEnd, RunStart
from qd.llm._litellm import quiet_unclosed_sessions
from qd.program.budget import CallBudget, CallTicket
from qd.program.parents import mutation_context
from qd.program.restore import restore_program_run
from qd.program.setup import ProgramSetup
from qd.program.types import Evaluation, Program, Status
from qd.store import RunStore
from qd.types import IterationMetrics

log = logging.getLogger(__name__)


class ProgramEngine:
    """Evolve programs until the evaluation budget (or another limit) is spent.

    Args:
        setup: Built by `qd.program.setup.build_program_setup`.
        budget: Total evaluations, including earlier sessions of the run.
        listeners: Engine listeners (progress, run folder).
        store: The run store, or None to keep everything in memory.
    """

    def __init__(self, setup: ProgramSetup, budget: int,
                 listeners: Sequence[EngineListener] = (), store: RunStore | None = None) -> None:
        self.s = setup
        self.budget = budget
        self.listeners = list(listeners)
        self.store = store
        self.programs = store.programs if store is not None else None
        if store is not None:
            setup.keep_embeddings_in(store)
        self.records: dict[int, Program] = {}
        self.generations: dict[int, int] = {}
        self.evaluations = 0
        self.reserved = 0
        self.counts: Counter[Status] = Counter()
        self.failures_in_a_row = 0
        self._next_id = 1
        self._stop_reason: str | None = None
        self._t0 = time.perf_counter()
        self._elapsed_before = 0.0
        self._lock = asyncio.Lock()
        self._eval_time = 0.0
        self._eval_count = 0
        # LLM calls in flight against run.max_llm_calls / max_tokens / max_cost_usd
        self.calls = CallBudget(setup.limits, setup.client.ledger, self._status)

    # --- control -----------------------------------------------------------------------------

    def request_stop(self, reason: str = "stopped") -> None:
        """End after the work in flight (safe from a signal handler)."""
        self._stop_reason = self._stop_reason or reason

    @property
    def elapsed_s(self) -> float:
        """Run time over all sessions."""
        return self._elapsed_before + time.perf_counter() - self._t0

    def _limit_reached(self) -> str | None:
        lim = self.s.limits
        if self._stop_reason:
            return self._stop_reason
        if self.evaluations + self.reserved >= self.budget:
            return "budget"
        if lim.max_wall_s and self.elapsed_s >= lim.max_wall_s:
            return "max_wall_s"
        return self.calls.exhausted()  # no room for one more LLM call next to those in flight

    # --- run ---------------------------------------------------------------------------------

    def run(self) -> RunEnd:
        """Run the loop to completion (blocking). Where an event loop already runs in this
        thread (a Jupyter notebook, a browser driver), the run gets its own thread and loop.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._run())
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qd-program-run") as pool:
            return pool.submit(asyncio.run, self._run()).result()

    async def _run(self) -> RunEnd:
        asyncio.get_running_loop().set_exception_handler(quiet_unclosed_sessions)
        self._t0 = time.perf_counter()
        self._restore()
        if self.s.judge is not None:  # fail before spending the budget if the judge is unusable
            await self.s.judge.probe(self.s.initial_code)
        for listener in self.listeners:
            listener.on_start(RunStart(self.budget, 1, self.evaluations,
                                       {"planned_evaluations": self.budget, "device": "sandbox",
                                        "iteration": self.evaluations}))
        if not self.records:
            await self._evaluate_initial()
        await self._evaluate_leftovers()
        workers = [asyncio.create_task(self._worker(i))
                   for i in range(self.s.settings.proposals_in_flight)]
        try:
            await asyncio.gather(*workers)
        except BaseException as error:
            for listener in self.listeners:
                listener.on_abort(error)
            raise
        finally:
            for task in workers:
                task.cancel()
        reason = self._stop_reason or self._limit_reached() or "budget"
        self._status()  # the final state: nothing in flight any more
        end = RunEnd(self.evaluations, self.evaluations, self.elapsed_s, self.s.archive.stats(),
                     reason, self.s.archive.provenance(
                         lambda pid: None if self.programs is None else self.programs.get(pid)))
        self._save_state()
        for listener in self.listeners:
            listener.on_end(end)
        return end

    async def _worker(self, index: int) -> None:
        rng = np.random.default_rng([self.s.seed, 7919, index, self._next_id])
        while True:
            async with self._lock:
                limit = self._limit_reached()
                if limit is not None:
                    if limit not in ("budget",) and not self._stop_reason:
                        self.request_stop(limit)
                    return
                started = None if self.calls.waiting() else self._start()
            if started is None:  # a token/cost limit: the calls in flight are of unknown size
                await asyncio.sleep(0.02)
                continue
            pid, arm, calls = started
            try:
                await self._one(pid, arm, calls, rng)
            except Exception:  # the loop must not die with one proposal; record and go on
                log.exception("proposal %d failed unexpectedly", pid)
                self._note_failure(Status.INTERNAL_ERROR)
                self._settle(pid, None)
            finally:
                calls.close()
                async with self._lock:
                    self.reserved -= 1

    def _start(self) -> tuple[int, int, CallTicket]:
        """Reserve an evaluation, an id, an arm and, for a model's arm, its first LLM call
        (under the lock, right after `_limit_reached` found room for one).
        """
        self.reserved += 1
        pid = self._next_id
        self._next_id += 1
        arm = self.s.bandit.select()
        return pid, arm, self.calls.ticket(reserve=self.s.arm(arm)[0] is not None)

    async def _one(self, pid: int, arm: int, calls: CallTicket, rng: np.random.Generator) -> None:
        model, operator = self.s.arm(arm)
        ctx = mutation_context(self.s, self.records, operator, rng)
        result = await self.s.proposer.propose(operator, model, ctx, rng, calls)
        prop = result.proposal
        parents = (ctx.parent.id,)
        if ctx.second_parent is not None and getattr(operator, "parents", 1) > 1:
            parents += (ctx.second_parent.id,)
        row = Program(id=pid, code=prop.code, parents=parents,
                      generation=self._generation(parents), operator=prop.operator,
                      model=result.model, reason=prop.reason, reward=0.0,
                      cost_usd=result.cost_usd, prompt_tokens=result.prompt_tokens,
                      completion_tokens=result.completion_tokens,
                      llm_latency_s=result.latency_s)
        # A proposal that is never evaluated still used a slot that could have evaluated
        # something: charge it a typical evaluation, so cheap failures do not look attractive.
        cost = self.s.cost_of(result.cost_usd, result.latency_s + self._mean_eval_s())
        if not prop.ok:
            status = Status.LLM_ERROR if result.llm_error else Status.REJECTED
            self._record(replace(row, status=status))
            self._failed(arm, status, cost)
            return
        outcome = await self._submit(row, near=prop.operator not in self.s.exact_only)
        if isinstance(outcome, Status):  # a duplicate, or judged not new: never evaluated
            self._failed(arm, outcome, cost)
            return
        tuner = self.s.tuner
        tune = tuner is not None and outcome.ok and tuner.wants(prop.operator, ctx.parent.code,
                                                                prop.code)
        cost = self.s.cost_of(result.cost_usd, result.latency_s + outcome.eval_s)
        reward = self._finish(pid, prop.code, parents, outcome, arm, None if tune else cost)
        if tune:  # the arm is told once tuning is over
            await self._tune(row, ctx.parent.code, arm, reward, result, outcome.eval_s, rng)

    async def _submit(self, row: Program, near: bool) -> Evaluation | Status:
        """Store a proposal with code and evaluate it, unless it (near-)duplicates an earlier
        one or the judge finds it not new: then it is stored with that status, returned.
        """
        assert row.code is not None
        verdict = self.s.novelty.check(row.code, near=near)
        if not verdict.novel:
            self._record(replace(row, code_hash=verdict.code_hash, status=Status.DUPLICATE,
                                 reason=verdict.reason))
            return Status.DUPLICATE
        rejection = (await self.s.judge.screen(row.code, self.s.archive.ids(), self.records)
                     if self.s.judge is not None else None)
        if rejection is not None:  # the judge finds it not interestingly new: never evaluated
            self._record(replace(row, code_hash=verdict.code_hash, status=Status.REJECTED,
                                 reason=rejection))
            return Status.REJECTED
        self.s.novelty.add(row.code)
        self._record(replace(row, code_hash=verdict.code_hash, status=Status.PROPOSED,
                             reward=None))
        for parent in row.parents:
            self.s.archive.note_child(parent)
        return await self._evaluate(row.code)

    async def _tune(self, child: Program, parent_code: str, arm: int, reward: float,
                    result: Any, eval_s: float, rng: np.random.Generator) -> None:
        """Tune the literals of the evaluated `child` when its score makes it worth it
        (qd/program/tuning.py), then reward its arm once: the best reward of the child and its
        variants against the child's parents, for the model call and every evaluation.
        """
        rewards, seconds = [reward], [eval_s]

        async def evaluate(code: str, parent: Program, note: str) -> Program | None:
            pid = await self._claim()
            if pid is None:
                return None
            try:
                row = Program(id=pid, code=code, parents=(parent.id,),
                              generation=self._generation((parent.id,)),
                              operator=child.operator, reason=note, tuned_from=child.id)
                outcome = await self._submit(row, near=False)
                if isinstance(outcome, Status):
                    return replace(row, status=outcome)
                seconds.append(outcome.eval_s)
                rewards.append(self._finish(pid, code, row.parents, outcome, None, None,
                                            reward_parents=child.parents))
                return self.records.get(pid, replace(row, status=outcome.status))
            finally:
                async with self._lock:
                    self.reserved -= 1

        record, best = self.records[child.id], self.s.archive.best()
        if best is None or self.s.tuner.worth_it(record.score, best[1]):
            await self.s.tuner.tune(record, parent_code, rng, evaluate)
        if self.programs is not None and len(rewards) > 1:
            self.programs.set_reward(child.id, max(rewards))
        self.s.bandit.update(arm, max(rewards),
                             self.s.cost_of(result.cost_usd, result.latency_s + sum(seconds)))
        self._save_state()

    async def _claim(self) -> int | None:
        """Reserve an evaluation and an id outside the arm loop (a tuning variant), or None
        when a limit leaves no room.
        """
        async with self._lock:
            if self._limit_reached() is not None:
                return None
            self.reserved += 1
            self._next_id += 1
            return self._next_id - 1

    async def _evaluate(self, code: str) -> Evaluation:
        async with self.s.eval_slots:
            outcome = await asyncio.to_thread(self.s.evaluator, code)
        if self.s.judge is not None:  # judge-rated measures (source = "judge")
            outcome = await self.s.judge.judged(code, outcome)
        self._eval_time += outcome.eval_s
        self._eval_count += 1
        return outcome

    def _mean_eval_s(self) -> float:
        return self._eval_time / self._eval_count if self._eval_count else 1.0

    # --- bookkeeping -------------------------------------------------------------------------

    def _generation(self, parents: tuple[int, ...]) -> int:
        return 1 + max((self.generations.get(p, 0) for p in parents), default=-1)

    def _record(self, row: Program) -> None:
        self.generations[row.id] = row.generation
        if self.store is not None:
            with self.store.transaction():  # a stored LLM call is always in the stored usage
                self.store.programs.add(row)
                if row.model is not None:
                    self.store.component_state.put_many(self.s.usage_state(), self.evaluations)
        self.counts[row.status] += 1
        if row.status.final:
            self._settle(row.id, None)
        self._status()

    def _status(self) -> None:
        usage = self.s.client.ledger.totals()
        status = ProgramStatus(
            proposals=sum(self.counts.values()), in_flight=self.calls.in_flight,
            llm_calls=usage.calls,
            tokens=usage.prompt_tokens + usage.completion_tokens, cost_usd=usage.cost_usd,
            failures={k: v for k, v in self.counts.items() if k.failed and v},
        )
        for listener in self.listeners:
            listener.on_status(status)

    def _failed(self, arm: int, status: Status, cost: float) -> None:
        self.s.bandit.update(arm, 0.0, cost)
        self._note_failure(status)
        self._save_state()

    def _note_failure(self, status: Status) -> None:
        self.counts[status] += status is Status.INTERNAL_ERROR
        self.failures_in_a_row += 1
        limit = self.s.settings.stagnation_limit
        if limit and self.failures_in_a_row >= limit and not self._stop_reason:
            recent = ", ".join(f"{k}: {v}" for k, v in self.counts.most_common(4))
            message = (f"no valid program in the last {self.failures_in_a_row} proposals "
                       f"(so far {recent}); stopping. Try a stronger model, other operators "
                       "(e.g. perturb_literals, splice) or a longer sandbox timeout")
            log.warning(message)
            if self.store is not None:
                self.store.events.add("stagnation", message=message)
            self.request_stop("stagnation")

    def _finish(self, pid: int, code: str, parents: tuple[int, ...], outcome: Evaluation,
                arm: int | None, cost: float | None,
                reward_parents: tuple[int, ...] | None = None) -> float:
        """Record an evaluation, offer the program to the archive and return its reward: its
        gain over the best of `reward_parents` (default: its parents), plus the new-cell bonus.
        The reward is stored when an `arm` proposed it, and the bandit told when `cost` is
        given too (a tuned child's arm is told after tuning).
        """
        self.counts[Status.PROPOSED] = max(0, self.counts[Status.PROPOSED] - 1)
        self.counts[outcome.status] += 1
        self.evaluations += 1
        added = False
        reward = 0.0
        if outcome.ok and self.s.projection is not None:  # embedding measures
            outcome = replace(outcome, measures=self.s.projection.fill(pid, code,
                                                                       outcome.measures))
        if outcome.ok:
            self.records[pid] = Program(pid, code, parents, status=outcome.status,
                                        score=outcome.score, measures=outcome.measures,
                                        metrics=outcome.metrics, feedback=outcome.feedback)
            insertion = self.s.archive.add(pid, outcome.score, outcome.measures)
            added = insertion.added
            scores = [self.records[p].score for p in reward_parents or parents
                      if p in self.records]
            parent_score = max((x for x in scores if x is not None), default=self.s.worst)
            reward = self.s.reward(outcome.score, parent_score, insertion.new_cell)
            self.failures_in_a_row = 0
        else:
            self._note_failure(outcome.status)
        if self.programs is not None:
            self.programs.finish(pid, status=outcome.status, reason=outcome.reason,
                                 score=outcome.score, measures=outcome.measures,
                                 metrics=outcome.metrics, feedback=outcome.feedback,
                                 eval_s=outcome.eval_s, reward=reward if arm is not None else None)
        self._settle(pid, code if outcome.ok else None)
        if arm is not None and cost is not None:
            self.s.bandit.update(arm, reward, cost)
        if parents:
            self.s.selector.feedback(list(parents[:1]), [added], [pid])
        if self.evaluations % self.s.settings.generation_size == 0:
            self.s.selector.end_generation(self.s.archive.pool())
        self._save_state()
        metrics = IterationMetrics.from_stats(self.evaluations, self.evaluations,
                                              self.s.archive.stats(), self.elapsed_s)
        if self.store is not None:
            self.store.metrics.add(metrics)
        for listener in self.listeners:
            listener.on_iteration(metrics)
        return reward

    async def _evaluate_initial(self) -> None:
        code = self.s.initial_code
        verdict = self.s.novelty.check(code)
        self.s.novelty.add(code)
        self._record(Program(id=1, parents=(), code=code, code_hash=verdict.code_hash,
                             generation=0, island=0, operator="initial", model=None,
                             status=Status.PROPOSED))
        self._next_id = 2
        self.records[1] = Program(1, code)
        self.reserved += 1
        outcome = await self._evaluate(code)
        self.reserved -= 1
        if not outcome.ok:
            message = (f"the initial program is not valid ({outcome.status}: {outcome.reason}); "
                       "every child starts from it")
            log.warning(message)
            if self.store is not None:
                self.store.events.add("warning", message=message)
        self._finish(1, code, (), outcome, None, 0.0)

    async def _evaluate_leftovers(self) -> None:
        """Evaluate proposals stored but not evaluated when an earlier session was killed."""
        if self.programs is None:
            return
        for row in self.programs.all(Status.PROPOSED):
            if row.code is None or self.evaluations >= self.budget:
                continue
            outcome = await self._evaluate(row.code)
            self._finish(row.id, row.code, row.parents, outcome, None, 0.0)

    def _settle(self, pid: int, code: str | None) -> None:
        """Program `pid` is final (`code` when valid); embedding refits rebuild the archive."""
        p = self.s.projection
        refit = p.settle_archive(pid, code, self.s.archive, self.records) if p else None
        if refit is not None and self.store is not None:
            self.store.events.add("embedding_refit", **refit)

    # --- persistence -------------------------------------------------------------------------

    def _save_state(self) -> None:
        if self.store is None:
            return
        self.store.component_state.put_many(self.s.state_dicts(), self.evaluations)

    def _restore(self) -> None:
        state = restore_program_run(self.s, self.store) if self.store is not None else None
        if state is None:
            return
        self.records, self.generations, self.counts = (state.records, state.generations,
                                                       state.counts)
        self.evaluations, self._next_id = state.evaluations, state.next_id
        self._elapsed_before = state.elapsed_s
