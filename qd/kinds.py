"""Which run kind a spec or a stored run belongs to.

The problem chooses: its registered class names its `run_kind` ("numeric" unless it says
otherwise; program problems say "program"). Importing this module registers both kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import qd.numeric.kind  # noqa: F401  (registers "numeric")
import qd.program.kind  # noqa: F401  (registers "program")
from problems import problem_registry
from qd.session import RunKind, run_kind_registry

DEFAULT_RUN_KIND = "numeric"


def run_kind_of(spec: Any) -> RunKind:
    """The run kind of a validated spec, or of a run's stored config (a plain dict)."""
    problem = spec.get("problem", {}) if isinstance(spec, Mapping) else spec.problem
    name = problem.get("name") if isinstance(problem, Mapping) else problem.name
    problem_class = problem_registry.get(str(name))
    return run_kind_registry.get(getattr(problem_class, "run_kind", DEFAULT_RUN_KIND))()
