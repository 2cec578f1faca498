"""The import map of docs/architecture.md, checked: no module imports a higher layer, and no
two modules import each other (directly or around a circle).

Layers, lowest first; a module belongs to the longest prefix listed. Imports inside a layer
are fine as long as they form no circle. `if TYPE_CHECKING:` imports count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("qd", "archives", "mutators", "problems")

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("qd.errors", "qd.types", "qd.components", "qd.registry", "qd.atomic",
                    "qd.signals", "qd.seeds", "qd.device", "qd.protocols", "qd.events",
                    "qd.policies", "qd.run_lock", "qd.program.types")),
    ("services", ("qd.store", "qd.sandbox", "qd.llm", "qd.bandits", "qd.selection",
                  "qd.formats", "qd.run_dir", "qd.progress", "qd.languages")),
    ("components", ("archives", "mutators", "problems")),
    ("evaluation", ("qd.evaluation", "qd.embeddings", "qd.judge", "qd.learned")),
    ("spec", ("qd.program.config", "qd.spec", "qd.spec_loader")),
    ("run kinds", ("qd.session", "qd.numeric", "qd.program")),
    ("dispatch", ("qd.kinds",)),
    ("front ends", ("qd", "qd.api", "qd.export", "qd.report", "qd.cli", "qd.__main__")),
)


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if "programs" not in parts[:-1]:  # problems/programs/*: evaluated user code
                out[name] = path
    return out


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module `name` refers to (a submodule, or the package/module that defines it)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            submodules = [f"{source}.{a.name}" for a in node.names
                          if f"{source}.{a.name}" in MODULES]
            # `from pkg import submodule` depends on the submodule; other names on `pkg`
            targets = submodules + ([source] if len(submodules) < len(node.names) else [])
        else:
            continue
        for target in targets:
            owner = _owner(target)
            if owner is not None and owner != module:
                found.add(owner)
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def layer_of(module: str) -> int:
    best, depth = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = index, len(prefix)
    assert best is not None, f"{module} is in no layer; add it to LAYERS (and the docs)"
    return best


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_module_imports_a_higher_layer():
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
              for m, targets in GRAPH.items() for t in sorted(targets)
              if layer_of(t) > layer_of(m)]
    assert upward == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    assert _cycles(GRAPH) == []


def test_the_checks_catch_what_they_look_for():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("qd.program.types") < layer_of("mutators.program.types")
    assert layer_of("qd.program.engine") > layer_of("qd.spec") > layer_of("qd.judge.judge")
    assert layer_of("qd.api") > layer_of("qd.kinds") > layer_of("qd.numeric.engine")
