"""Summary statistics of a physics probe, shared by both sides (numpy only, so that the repo's
venv and the QDax venv can both import it).

A probe plays the same kinds of policies on each side's engine: row 0 is the zero policy (all
parameters 0: zero actions), rows 1.. are LeCun-uniform MLPs (QDax's initialisation, the first
batch of its MAP-Elites), and reports how long the robots stay up (counted steps), what they
score and where their descriptors land.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def probe_stats(objective: Any, steps: Any, measures: Any, episode_length: int) -> dict:
    """Zero-policy row and the random rows' distribution of steps, objective and measures."""
    objective = np.asarray(objective, dtype=np.float64)
    steps = np.asarray(steps, dtype=np.float64)
    measures = np.asarray(measures, dtype=np.float64)
    rand_obj, rand_steps, rand_meas = objective[1:], steps[1:], measures[1:]
    return {
        "zero_policy": {"objective": float(objective[0]), "steps": int(steps[0]),
                        "measures": measures[0].round(4).tolist()},
        "random_policies": {
            "n": len(rand_obj),
            "steps_mean": float(rand_steps.mean()),
            "steps_median": float(np.median(rand_steps)),
            "full_length_fraction": float((rand_steps >= episode_length).mean()),
            "objective_mean": float(rand_obj.mean()),
            "objective_median": float(np.median(rand_obj)),
            "objective_max": float(rand_obj.max()),
            "measures_mean": rand_meas.mean(axis=0).round(4).tolist(),
            "measures_std": rand_meas.std(axis=0).round(4).tolist(),
            "measures_norm_mean": float(np.linalg.norm(rand_meas, axis=1).mean()),
        },
    }
