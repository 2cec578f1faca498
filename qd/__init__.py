"""qd: quality-diversity and evolutionary program search.

Public API (pyribs / Optuna style)::

    import qd
    result = qd.evolve("sphere_lp", budget=2000, seed=1)
    result.archive.stats()          # QD score, coverage, best
    result.archive.elites()         # solutions, objectives, measures
    qd.resume("runs/<run folder>")  # continue a killed or finished run

The API is imported lazily, so `import qd.components` (used by every plugin) stays light and
free of import cycles.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("qd")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

_EXPORTS = {
    "evolve": "qd.api",
    "resume": "qd.api",
    "RunResult": "qd.session",
    "QDError": "qd.errors",
    "SpecError": "qd.errors",
    "LoadedSpec": "qd.spec_loader",
    "load_spec": "qd.spec_loader",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qd' has no attribute {name!r}")
