"""Seeds derived from a run's seed (archive, emitters, selectors, encoders) for both run kinds."""

from __future__ import annotations

import numpy as np


def derive_seeds(seed: int, n: int) -> list[int]:
    """`n` independent 32-bit seeds derived from the run seed."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n)]
