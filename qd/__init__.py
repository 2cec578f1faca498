"""qd: quality-diversity and evolutionary program search.

Public API (pyribs / Optuna style)::

    import qd
    result = qd.evolve("sphere_lp", budget=2000, seed=1)
    result.archive.stats()          # QD score, coverage, best
    result.archive.elites()         # solutions, objectives, measures
"""

from importlib.metadata import PackageNotFoundError, version

from qd.api import RunResult, evolve, resume
from qd.errors import QDError, SpecError
from qd.spec_loader import LoadedSpec, load_spec

try:
    __version__ = version("qd")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["LoadedSpec", "QDError", "RunResult", "SpecError", "__version__", "evolve", "load_spec", "resume"]
