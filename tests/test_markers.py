"""Markers: every `pytest.mark.X` used in the tests is declared, and `slow` is really used.

The default run (`make test`, pyproject's addopts `-m 'not slow'`) leaves out the tests marked
slow; `make test-all` (`-m ""`) runs them. These checks keep that claim from going stale.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"


def _mark_uses() -> list[tuple[str, Path, int, ast.AST]]:
    """(marker name, file, line, node) for every `pytest.mark.NAME` in the test files."""
    uses = []
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "mark" and isinstance(node.value.value, ast.Name)
                    and node.value.value.id == "pytest"):
                uses.append((node.attr, path, node.lineno, node))
    return uses


def _slow_tests() -> dict[Path, set[str]]:
    """Test functions carrying `@pytest.mark.slow` (directly or via `pytestmark`), per file."""
    found: dict[Path, set[str]] = {}

    def is_slow(expr: ast.AST) -> bool:
        return any(isinstance(n, ast.Attribute) and n.attr == "slow"
                   and isinstance(n.value, ast.Attribute) and n.value.attr == "mark"
                   for n in ast.walk(expr))

    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_slow = any(
            isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "pytestmark"
                                              for t in n.targets) and is_slow(n.value)
            for n in tree.body
        )
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    node.name.startswith("test") and \
                    (module_slow or any(is_slow(d) for d in node.decorator_list)):
                found.setdefault(path, set()).add(node.name)
    return found


def test_every_marker_used_is_declared(pytestconfig):
    declared = {line.split(":")[0].split("(")[0].strip()
                for line in pytestconfig.getini("markers")}
    assert "slow" in declared
    undeclared = [f"{path.relative_to(ROOT)}:{line}: pytest.mark.{name}"
                  for name, path, line, _ in _mark_uses() if name not in declared]
    assert not undeclared, "declare these markers in pyproject.toml: " + ", ".join(undeclared)


def test_some_tests_are_slow_and_only_make_test_all_runs_them():
    slow = _slow_tests()
    assert sum(len(names) for names in slow.values()) >= 1, "no test is marked slow"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r"""addopts\s*=\s*".*-m 'not slow'""", pyproject)
    makefile = (ROOT / "Makefile").read_text()
    test_all = re.search(r"^test-all:.*\n\t(.+)$", makefile, re.M)
    assert test_all and '-m ""' in test_all.group(1), "make test-all must include slow tests"
    test = re.search(r"^test:.*\n\t(.+)$", makefile, re.M)
    assert test and not re.search(r"-m\s+[\"']", test.group(1)), "make test must keep `not slow`"


def test_pytest_selects_exactly_the_marked_tests():
    """`pytest -m slow` collects exactly the tests marked slow (in the files that have some)."""
    slow = _slow_tests()
    assert slow, "no test is marked slow"
    files = [str(path.relative_to(ROOT)) for path in slow]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-m", "slow", *files],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    names = {(ROOT / i.split("::")[0], i.split("::")[-1].split("[")[0]) for i in ids}
    assert names == {(path, name) for path, found in slow.items() for name in found}
