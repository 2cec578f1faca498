"""Rollout sections of a report: the views the run's problem offers, drawn by their renderers.

No problem class is checked: the problem names its views (`rollout_views`), the renderers
registered in `qd.report.views` draw them (`paths`: `qd.report.trajectories`, `gait`:
`qd.report.gait`).
"""

from __future__ import annotations

from qd.report import gait, trajectories  # noqa: F401  (registration of the renderers)
from qd.report.sections import ExtraSection
from qd.report.source import RunFiles
from qd.report.views import view_context, view_registry
from qd.store import RunStore


def rollout_sections(store: RunStore, files: RunFiles) -> tuple[ExtraSection, ...]:
    """The sections of the views the run's problem offers, for the elites of its archive."""
    context = view_context(files, store)
    if context is None:
        return ()
    found = (view_registry.get(view)(context) for view in context.views)
    return tuple(section for section in found if section is not None)
