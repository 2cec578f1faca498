"""What an operator sees of the archive: the parent(s) the selector draws, and inspirations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mutators.program.types import MutationContext
from qd.program.setup import ProgramSetup
from qd.program.types import Program


def mutation_context(setup: ProgramSetup, records: Mapping[int, Program], operator: Any,
                     rng: np.random.Generator) -> MutationContext:
    """Draw the parent (and a second parent) with the run's selector from the archive's elites,
    and the best other elites as inspirations; before any elite exists, the initial program.

    Args:
        setup: The run's parts (archive, selector, settings, task).
        records: The valid programs by id (program 1, the initial one, always).
        operator: The operator the context is for (`parents` = 2 asks for a second parent).
        rng: Draws a second parent when the archive holds a single elite.
    """
    pool = setup.archive.pool()
    if len(pool) == 0:
        return MutationContext(parent=records[1], task=setup.task, language=setup.language)
    positions = setup.selector.select(pool, 2 if len(pool) > 1 else 1)
    ids = [int(pool.ids[p]) for p in positions]
    parent = records[ids[0]]
    second = records[ids[1]] if len(ids) > 1 else None
    if second is None and getattr(operator, "parents", 1) > 1:
        # one elite so far: any other valid program can be the second parent
        others = [pid for pid in records if pid != ids[0] and records[pid].score is not None]
        if others:
            second = records[others[int(rng.integers(len(others)))]]
    order = np.argsort(-pool.objectives)
    inspirations = tuple(records[int(pool.ids[i])] for i in order
                         if int(pool.ids[i]) != ids[0])[: setup.settings.inspirations]
    return MutationContext(parent=parent, second_parent=second, inspirations=inspirations,
                           task=setup.task, language=setup.language)
