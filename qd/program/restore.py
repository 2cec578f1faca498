"""Resume of a program run: the setup's state and the loop's counters rebuilt from the store.

Evaluated programs are re-inserted in id order, which rebuilds the same archive; bandit,
selector and LLM usage come back from `component_state`; the novelty filter sees every stored
program with code again (rejected ones excepted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from qd.program.setup import ProgramSetup
from qd.program.types import Program, Status
from qd.store import RunStore


@dataclass
class LoopState:
    """The program loop's counters as of the stored programs.

    Attributes:
        records: Valid programs by id (and the initial program, valid or not).
        generations: Generation of every stored proposal.
        counts: Proposals by status.
        evaluations: Proposals the sandbox ran.
        next_id: The id the next proposal gets.
        elapsed_s: Run time of the earlier sessions.
    """

    records: dict[int, Program] = field(default_factory=dict)
    generations: dict[int, int] = field(default_factory=dict)
    counts: Counter[Status] = field(default_factory=Counter)
    evaluations: int = 0
    next_id: int = 1
    elapsed_s: float = 0.0


def restore_program_run(setup: ProgramSetup, store: RunStore) -> LoopState | None:
    """Load the component states into `setup`, replay the stored programs into its archive,
    novelty filter and embedding projection, and return the loop's counters; None when the
    store holds no program (a new run).
    """
    rows = store.programs.all()
    if not rows:
        return None
    for key in setup.state_dicts():
        stored = store.component_state.get(key)
        if stored is not None:
            setup.load_state(key, stored[1])
    state = LoopState(next_id=rows[-1].id + 1)
    for row in rows:
        if row.code is not None and row.status is not Status.REJECTED:
            setup.novelty.add(row.code)
        for parent in row.parents:
            setup.archive.note_child(parent)
        state.generations[row.id] = row.generation
        state.counts[row.status] += 1
        state.evaluations += row.status.evaluated
        if row.status is Status.OK and row.code is not None:
            state.records[row.id] = row
            setup.archive.add(row.id, row.score, row.measures)
        elif row.id == 1 and row.code is not None:
            state.records[1] = Program(1, row.code)
    if setup.projection is not None:  # the embedding fits as of the stored programs
        setup.projection.replay(rows)
        state.records.update(setup.projection.rebuild(setup.archive, state.records))
    metrics = store.metrics.all()
    state.elapsed_s = metrics[-1].elapsed_s if metrics else 0.0
    return state
