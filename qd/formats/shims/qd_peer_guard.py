"""Import guard of qd's stand-in peer packages: a clear error for the parts they lack.

A stand-in package calls `install(__name__, __path__)` from its `__init__`. Importing a
submodule the stand-in does not have (e.g. `openevolve.llm`) then fails with a message that
names the module, what the stand-in does provide, and what to do, instead of Python's bare
"No module named ...".
"""

from __future__ import annotations

import importlib.abc
import pkgutil
import sys
from collections.abc import Iterable

PEERS = {"openevolve": "OpenEvolve", "shinka": "ShinkaEvolve"}


def provided_modules(package: str, path: Iterable[str]) -> list[str]:
    """Return the dotted names of every module of the stand-in `package`."""
    names = [package]
    for info in pkgutil.walk_packages(list(path), prefix=package + "."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            names.append(info.name)
    return sorted(names)


def missing_message(fullname: str, provided: list[str]) -> str:
    """The message a user sees when an evaluator imports a part the stand-in lacks."""
    package = fullname.split(".")[0]
    peer = PEERS.get(package, package)
    return (f"{fullname} is not available under qd: qd runs {peer} evaluators with a small "
            f"stand-in for the `{package}` package that provides only "
            f"{', '.join(provided)} (docs/formats.md); change the evaluator so that it does not "
            f"need {fullname}")


class _MissingPart(importlib.abc.MetaPathFinder):
    """Consulted after the normal finders: any other module of `package` is an error."""

    def __init__(self, package: str, provided: list[str]) -> None:
        self.package = package
        self.provided = provided

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001, ANN201
        """Raise for modules of the stand-in package that the normal finders did not find."""
        if fullname.split(".")[0] == self.package:
            raise ModuleNotFoundError(missing_message(fullname, self.provided))
        return None


def install(package: str, path: Iterable[str]) -> None:
    """Add the guard of stand-in `package` (found at `path`) to the end of `sys.meta_path`."""
    if any(isinstance(f, _MissingPart) and f.package == package for f in sys.meta_path):
        return
    sys.meta_path.append(_MissingPart(package, provided_modules(package, path)))
