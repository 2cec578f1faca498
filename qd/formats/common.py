"""Shared helpers of foreign formats: YAML, the report, the adapter cache and the import scan."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from qd.errors import SpecError
from qd.formats.peers import SHIM_PACKAGES, check_peer_imports

#: Environment variable naming the folder that generated adapters are written to.
ADAPTER_DIR_ENV = "QD_ADAPTER_DIR"
#: Names the sandbox reserves: the adapter and the candidate.
RESERVED = frozenset({"evaluate.py", "candidate.py", "result.json"})


@dataclass
class FormatReport:
    """What a foreign folder's mapping left out.

    Attributes:
        format: "openevolve" or "shinka".
        source: The folder that was loaded.
        config: The YAML file read, if any.
        unmapped: Dotted names of settings qd has no equivalent for (ignored).
        notes: Assumptions the mapping made (one sentence each).
        missing_packages: Modules the evaluator imports that are not installed here.
    """

    format: str
    source: str
    config: str | None = None
    unmapped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing_packages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for run.json and format_report.json)."""
        return {"format": self.format, "source": self.source, "config": self.config,
                "unmapped": list(self.unmapped), "notes": list(self.notes),
                "missing_packages": list(self.missing_packages)}

    def warnings(self) -> list[str]:
        """One line per thing the user should know, for the CLI."""
        lines = []
        if self.unmapped:
            lines.append(f"{self.format} settings qd ignores: {', '.join(self.unmapped)}")
        lines += self.notes
        if self.missing_packages:
            lines.append(f"the evaluator imports modules that are not installed: "
                         f"{', '.join(self.missing_packages)}; install them with: "
                         f"pip install {' '.join(self.missing_packages)}")
        return lines


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML config; malformed YAML or a non-mapping top level is a `SpecError`."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: invalid YAML: {str(exc).splitlines()[0]} "
                        f"({_yaml_where(exc)})") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the YAML config must be a mapping, got {type(data).__name__}")
    return data


def _yaml_where(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "position unknown"


def flatten(data: Any, prefix: str = "") -> list[str]:
    """Dotted names of the leaves of a YAML mapping (lists are leaves)."""
    if isinstance(data, dict) and data:
        out: list[str] = []
        for key, value in data.items():
            out += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    return [prefix] if prefix else []


def unmapped_keys(data: dict[str, Any], mapped: set[str]) -> list[str]:
    """Dotted leaf names of `data` that neither are nor lie under a name in `mapped`."""
    return [k for k in flatten(data)
            if not any(k == m or k.startswith(m + ".") for m in mapped)]


def require_evaluate(path: Path, kind: str) -> None:
    """Fail unless `path` exists, parses, and (for OpenEvolve) defines `evaluate`."""
    if not path.is_file():
        raise SpecError(f"{path.parent}: no {path.name}; a {kind} folder needs its evaluator")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except SyntaxError as exc:
        raise SpecError(f"{path}:{exc.lineno}: the evaluator is not valid Python: "
                        f"{exc.msg}") from None
    if kind == "openevolve":
        names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef,
                                                              ast.AsyncFunctionDef))}
        names |= {t.id for n in tree.body if isinstance(n, ast.Assign)
                  for t in n.targets if isinstance(t, ast.Name)}
        if "evaluate" not in names:
            raise SpecError(f"{path}: defines no function `evaluate(program_path)`; "
                            f"OpenEvolve evaluators must")


def missing_imports(paths: list[Path], local: set[str]) -> list[str]:
    """Top-level modules imported by `paths` that are neither local files nor installed."""
    found: set[str] = set()
    for path in paths:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, OSError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    missing = []
    for name in sorted(found - local - set(sys.stdlib_module_names) - set(SHIM_PACKAGES)):
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):
            missing.append(name)
    return missing


def local_modules(folder: Path) -> set[str]:
    """Return the module names importable from the folder itself (files, folders)."""
    return {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir()
                                                     if p.is_dir()}


def adapter_source(settings: dict[str, Any]) -> str:
    """Return the adapter evaluator's code with `settings` filled in."""
    template = resources.files("qd.formats").joinpath("adapter.py").read_text(encoding="utf-8")
    line = "SETTINGS: dict[str, Any] = {}"
    assert line in template, "adapter template lost its SETTINGS line"
    return template.replace(line, f"SETTINGS: dict[str, Any] = {settings!r}", 1)


def adapter_root() -> Path:
    """Where generated adapters live: $QD_ADAPTER_DIR, else the user's cache folder."""
    if os.environ.get(ADAPTER_DIR_ENV):
        return Path(os.environ[ADAPTER_DIR_ENV])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "qd" / "adapters"


def write_adapter(settings: dict[str, Any], copies: dict[str, bytes]) -> Path:
    """Write the adapter (and `copies`, name → bytes) to a content-addressed cache folder.

    The folder name is a hash of everything written, so the same inputs reuse one folder and
    a run's config keeps pointing at files that do not change under it.

    Returns:
        The path of the adapter `evaluate.py`.
    """
    source = adapter_source(settings)
    digest = hashlib.sha256(source.encode())
    for name in sorted(copies):
        digest.update(name.encode() + b"\0" + copies[name])
    folder = adapter_root() / digest.hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in {"evaluate.py": source.encode(), **copies}.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_bytes() != data:
            tmp = target.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(data)
            tmp.replace(target)
    return folder / "evaluate.py"


def carried_entries(folder: Path, skip: dict[str, str],
                    report: FormatReport) -> list[Path]:
    """The folder's top-level files and subfolders that travel into the sandbox.

    Everything travels (data files, helper modules, nested packages) except hidden entries,
    `__pycache__`, the names the sandbox reserves and the entries in `skip` (name → why, e.g.
    the peer's own output folder); what stays behind is said in a note.

    Returns:
        Absolute paths, for `problem.files` (a folder travels with everything under it).
    """
    skip = {**{n: "a name the qd sandbox reserves" for n in RESERVED}, **skip}
    entries, left = [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name == "__pycache__":
            continue
        if path.name in skip:
            left.append(f"{path.name} ({skip[path.name]})")
        elif path.is_file() or path.is_dir():
            entries.append(path.resolve())
    if left:
        report.notes.append(f"not copied into the sandbox: {', '.join(left)}")
    return entries


#: Language names the peers use where qd's registry (`qd.languages`) names them otherwise.
LANGUAGE_ALIASES = {
    "py": "python", "python3": "python", "c++": "cpp", "cxx": "cpp", "cc": "cpp",
    "golang": "go", "jl": "julia", "rs": "rust", "js": "javascript", "f90": "fortran",
    "f95": "fortran", "f03": "fortran", "f08": "fortran", "sv": "verilog",
    "sverilog": "verilog", "systemverilog": "verilog", "wl": "wolfram", "wls": "wolfram",
    "mathematica": "wolfram",
}


def program_language(folder: Path, kind: str, initial: Path, language: Any) -> str:
    """The `problem.language` of a peer's program: its config's language, else its suffix.

    Args:
        folder: The peer folder.
        kind: "OpenEvolve" or "ShinkaEvolve".
        initial: The initial program (its suffix tells the language when the config does not).
        language: The config's language setting (None when absent).

    Raises:
        SpecError: qd has no language of that name or suffix (one message, exit code 2).
    """
    from qd.languages import detect_language, language_registry

    if language is not None:
        name = str(language).strip().lower()
        name = LANGUAGE_ALIASES.get(name, name)
        if name in language_registry:
            return name
        what = f"language: {language}"
    else:
        try:
            return detect_language(initial).name
        except SpecError:
            what = f"a {initial.suffix or 'suffix-less'} file"
    raise SpecError(f"{folder}: the evolved program {initial.name} is in a language qd does "
                    f"not run ({what}); qd runs {kind} folders whose programs are in: "
                    f"{', '.join(language_registry.names())}")


def reachable_modules(evaluator: Path, folder: Path) -> list[Path]:
    """The evaluator and the folder's modules it imports, directly or through each other.

    Other scripts of the folder (a peer's `run_evo.py` launcher) are not evaluated code, so
    their imports do not matter.
    """
    found, queue = [evaluator], [evaluator]
    while queue:
        try:
            tree = ast.parse(queue.pop().read_text(encoding="utf-8"))
        except (SyntaxError, OSError, UnicodeDecodeError):
            continue
        for name in _absolute_imports(tree):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                base = folder.joinpath(*parts[:i])
                for path in (base.with_suffix(".py"), base / "__init__.py"):
                    if path.is_file() and path not in found:
                        found.append(path)
                        queue.append(path)
    return found


def _absolute_imports(tree: ast.AST) -> list[str]:
    """Dotted names a module imports (with `from a import b`, both a and a.b)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return names


def check_imports(evaluator: Path, folder: Path, report: FormatReport) -> None:
    """Check the evaluator's imports: parts of a peer package qd does not provide (refused at
    module level, noted elsewhere) and modules that are not installed (noted).

    Raises:
        SpecError: A module-level import of a peer part qd does not provide.
    """
    modules = reachable_modules(evaluator, folder)
    peer = check_peer_imports(modules)
    if peer.refused:
        raise SpecError(peer.refused[0])
    report.notes += peer.notes
    report.missing_packages = missing_imports(modules, local_modules(folder))
