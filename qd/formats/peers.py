"""qd's stand-ins for the peers' helper packages: their files, and the imports they cannot serve.

Evaluators written for OpenEvolve import `openevolve.evaluation_result.EvaluationResult`;
ShinkaEvolve evaluators import `shinka.core.run_shinka_eval`. qd provides small stand-ins for
those (`qd/formats/shims/`), copied into the sandbox as the folder `SHIM_DIR`. This module lists
what they provide (read from their sources, so the list cannot drift) and checks an evaluator's
imports against it before a run starts.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from qd.formats.shims.qd_peer_guard import missing_message

#: The folder (in the adapter cache and in the sandbox) holding the stand-in packages.
SHIM_DIR = "_qd_shims"
#: Top-level packages qd stands in for.
SHIM_PACKAGES = ("openevolve", "shinka")
_SOURCES = Path(__file__).resolve().parent / "shims"


def shim_files() -> dict[str, bytes]:
    """Sandbox name → bytes of every stand-in file (`SHIM_DIR/openevolve/__init__.py`, ...)."""
    files = {f"{SHIM_DIR}/qd_peer_guard.py": (_SOURCES / "qd_peer_guard.py").read_bytes()}
    for package in SHIM_PACKAGES:
        for path in sorted((_SOURCES / package).rglob("*.py")):
            files[f"{SHIM_DIR}/{path.relative_to(_SOURCES).as_posix()}"] = path.read_bytes()
    return files


@lru_cache(maxsize=1)
def provided() -> dict[str, frozenset[str]]:
    """Module name → the public names it defines, for every module of the stand-ins."""
    out: dict[str, frozenset[str]] = {}
    for package in SHIM_PACKAGES:
        for path in sorted((_SOURCES / package).rglob("*.py")):
            parts = path.relative_to(_SOURCES).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if not module.rsplit(".", 1)[-1].startswith("_"):
                out[module] = frozenset(_defined_names(path))
    return out


def _defined_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
    return {n for n in names if not n.startswith("_")}


@dataclass
class PeerImports:
    """An evaluator's imports of peer packages that the stand-ins do not provide.

    Attributes:
        refused: Messages for imports at module level: every evaluation would fail.
        notes: Messages for imports inside functions or `try`: evaluations reaching them fail.
    """

    refused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_peer_imports(paths: list[Path]) -> PeerImports:
    """Find imports of `openevolve.*` / `shinka.*` parts that qd's stand-ins lack."""
    found = PeerImports()
    for path in paths:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, OSError, UnicodeDecodeError):
            continue
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            for missing in _unprovided(node):
                package = missing.split(".")[0]
                modules = [m for m in sorted(provided()) if m.split(".")[0] == package]
                text = f"{path.name}:{getattr(node, 'lineno', 0)}: " \
                       f"{missing_message(missing, modules)}"
                (found.refused if id(node) in top else found.notes).append(text)
    return found


def _unprovided(node: ast.AST) -> list[str]:
    """Dotted names a peer-package import asks for that the stand-ins do not have."""
    have = provided()
    if isinstance(node, ast.Import):
        return [a.name for a in node.names
                if a.name.split(".")[0] in SHIM_PACKAGES and a.name not in have]
    if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
        return []
    if node.module.split(".")[0] not in SHIM_PACKAGES:
        return []
    if node.module not in have:
        return [node.module]
    return [f"{node.module}.{a.name}" for a in node.names
            if a.name != "*" and a.name not in have[node.module]
            and f"{node.module}.{a.name}" not in have]
