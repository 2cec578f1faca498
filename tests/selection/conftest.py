"""Pools shared by the selector tests."""

from __future__ import annotations

import numpy as np

from qd.selection import ElitePool


def full_pool(n=40, seed=0, id0=100):
    """A pool with every optional field: novelty, children and island ids."""
    rng = np.random.default_rng(seed)
    return ElitePool(ids=np.arange(id0, id0 + n), objectives=rng.normal(size=n),
                     novelty=rng.random(n), children=rng.integers(0, 4, n),
                     islands=rng.integers(0, 3, n))


def exercise(selector, pool, rounds=4, n=8, seed=0):
    """Select, report random feedback (with child ids) and close generations; returns picks."""
    rng = np.random.default_rng(seed)
    picks = []
    next_id = int(pool.ids.max()) + 1
    for _ in range(rounds):
        idx = selector.select(pool, n)
        picks.append(idx.tolist())
        added = rng.random(n) < 0.4
        child_ids = [next_id + i if ok else None for i, ok in enumerate(added)]
        next_id += n
        selector.feedback(pool.ids[idx], added, child_ids)
        selector.end_generation(pool)
    return picks
