"""`qd problems`: list the built-in problems, what they need and their default settings."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from problems import problem_registry
from qd.kinds import run_kind_of
from qd.languages import detect_language, language_named
from qd.spec_loader import builtin_specs, read_toml


def _defaults(data: dict, programs: bool) -> str:
    archive = data.get("archive", {}).get("name", "grid")
    if programs:
        models = data.get("llm", {}).get("models", [{"model": "local"}])
        engine = ", ".join(m.get("model", "?") for m in models) + " LLM"
    else:
        engine = ", ".join(f"{e.get('count', 1)}×{e.get('name', 'gaussian')}"
                           for e in data.get("emitters", [{"name": "gaussian"}]))
    return f"{archive} / {engine} / {data.get('run', {}).get('budget', '-')}"


def _needs(cls: type, data: dict, programs: bool) -> str:
    """What a problem needs; for programs in a compiled language, also its compiler."""
    problem = data.get("problem", {})
    if not programs or "initial" not in problem:
        return str(cls.needs)
    name = problem.get("language")
    language = language_named(name) if name else detect_language(problem["initial"])
    if language.toolchain is None:
        return str(cls.needs)
    return f"{cls.needs}; {language.title} programs: {language.toolchain.programs[0]}"


def problems_command() -> int:
    """List built-in problems (run one with `qd evolve NAME`)."""
    table = Table(title="built-in problems: qd evolve NAME")
    table.add_column("name", no_wrap=True)
    table.add_column("problem", no_wrap=True)
    for column in ("what", "needs", "archive / variation / budget"):
        table.add_column(column)
    with_spec = set()
    for name, path in sorted(builtin_specs().items()):
        data = read_toml(path)
        problem = data.get("problem", {}).get("name", "?")
        with_spec.add(problem)
        cls = problem_registry.get(problem)
        programs = run_kind_of(data).solutions_are_programs
        what = data.get("description", cls.summary) if programs else cls.summary
        table.add_row(name, problem, what, _needs(cls, data, programs), _defaults(data, programs))
    for name, cls in problem_registry.items():
        if name not in with_spec:
            table.add_row("-", name, cls.summary, cls.needs, "your spec folder: [problem] name = "
                          f"{name!r}")
    Console().print(table)
    return 0
