"""The registry of rollout-view renderers and the `ViewContext` they read.

A problem offers views by name (`rollout_views`, see `problems.rollouts`) and provides their
plain records (`rollouts(solutions)`); each name is a renderer registered here with
`@register_view(name)`: a function of a `ViewContext` that picks the elites to show, asks the
problem for their records and returns an `ExtraSection` (or None when there is nothing to
draw). `qd.report.rollouts.rollout_sections` runs them. A new view is one renderer module
(imported by `qd.report.rollouts`) plus the name in a problem's `rollout_views`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from mutators import emitter_registry
from problems import problem_registry
from qd.export import archive_table
from qd.registry import Registry
from qd.report.sections import ExtraSection
from qd.report.source import RunFiles
from qd.store import RunStore


@dataclass
class ViewContext:
    """What a view renderer may read: the run, its archive and its problem, built once.

    Attributes:
        files: The run folder's files.
        store: Its read-only store.
        problem: The run's problem (the registered class built from the stored config).
        space: What the archive's solutions are: "problem" (the problem's solutions) or the
            space its emitters searched instead (e.g. "states" for Go-Explore).
        views: The views the problem offers, in its order.
    """

    files: RunFiles
    store: RunStore
    problem: Any
    space: str
    views: tuple[str, ...]

    @cached_property
    def table(self) -> dict[str, np.ndarray]:
        """The archive as columns (`qd.export.archive_table`), in index order."""
        return archive_table(self.files.path, self.store)

    def solutions(self, rows: np.ndarray) -> np.ndarray:
        """The stored solutions of table rows `rows`: shape (len(rows), solution_dim)."""
        table = self.table
        dims = sorted(int(key.split("_")[1]) for key in table if key.startswith("solution_"))
        return np.stack([table[f"solution_{j}"][rows] for j in dims], axis=1)

    def measures(self, rows: np.ndarray) -> np.ndarray:
        """The stored measures of table rows `rows`: shape (len(rows), measure_dim)."""
        table = self.table
        dims = sorted(int(key.split("_")[1]) for key in table if key.startswith("measure_"))
        return np.stack([table[f"measure_{j}"][rows] for j in dims], axis=1)

    def best(self, k: int) -> np.ndarray:
        """Table rows of the k best elites, best first (ties: lower archive index first)."""
        return np.argsort(-self.table["objective"], kind="stable")[:k]


ViewRenderer = Callable[[ViewContext], ExtraSection | None]
view_registry: Registry[ViewRenderer] = Registry("report view")
register_view = view_registry.register


def solution_space(config: dict[str, Any]) -> str:
    """The space a run's emitters searched (they all search one, checked when it was built)."""
    emitters = config.get("emitters") or [{"name": "gaussian"}]
    return str(emitter_registry.get(str(emitters[0].get("name"))).solution_space)


def offered_views(config: dict[str, Any]) -> tuple[str, ...]:
    """The views the run's problem offers ((): none, or a problem this qd does not know)."""
    name = str(config.get("problem", {}).get("name"))
    if name not in problem_registry:
        return ()
    return tuple(getattr(problem_registry.get(name), "rollout_views", ()))


def view_context(files: RunFiles, store: RunStore) -> ViewContext | None:
    """The context of a run whose problem offers views and whose archive has elites, else None.

    The problem is built from the stored config on the CPU.
    """
    views = offered_views(files.config)
    if not views:
        return None
    config = files.config["problem"]
    problem_class = problem_registry.get(str(config["name"]))
    problem = problem_class(problem_class.Config.model_validate(config))
    context = ViewContext(files, store, problem, solution_space(files.config), views)
    return context if len(context.table["objective"]) else None
