"""Optional report sections: each loader reads its own tables and returns None when absent.

Program-search runs will add loaders here (lineage with diffs, top-k programs with code, bandit
arms, cost per model, failure reasons), each with a template `templates/sections/<key>.html.j2`;
a report renders exactly the sections whose loaders found data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qd.report.source import ReadOnlyStore, RunFiles

#: Longest JSON text shown per component state before it is cut.
MAX_STATE_CHARS = 4000


@dataclass(frozen=True)
class ExtraSection:
    """A report section beyond the numeric core.

    Attributes:
        key: Identifier; the template is `sections/<key>.html.j2` and the element id is `key`.
        title: Heading shown in the report.
        payload: Plain data for the template.
    """

    key: str
    title: str
    payload: dict[str, Any]


SectionLoader = Callable[[ReadOnlyStore, RunFiles], ExtraSection | None]


def component_state_section(store: ReadOnlyStore, files: RunFiles) -> ExtraSection | None:
    """Load stored component state (bandits, selectors, RNGs), one row per key; None when empty."""
    rows = store.query("SELECT key, iteration, value FROM component_state ORDER BY key")
    if not rows:
        return None
    states = []
    for key, iteration, value in rows:
        text = json.dumps(json.loads(value), indent=1, sort_keys=True)
        cut = len(text) > MAX_STATE_CHARS
        states.append({"key": key, "iteration": int(iteration),
                       "json": text[:MAX_STATE_CHARS] + ("\n…" if cut else ""),
                       "chars": len(text)})
    return ExtraSection("component-state", "Component state", {"states": states})


#: Loaders run in this order; their sections appear in this order after the core sections.
SECTION_LOADERS: list[SectionLoader] = [component_state_section]


def load_sections(store: ReadOnlyStore, files: RunFiles) -> tuple[ExtraSection, ...]:
    """Run every registered loader; keep the sections that found data."""
    found = (loader(store, files) for loader in SECTION_LOADERS)
    return tuple(section for section in found if section is not None)
