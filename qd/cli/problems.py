"""`qd problems`: list the built-in problems, what they need and their default settings."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from problems import problem_registry
from qd.spec_loader import builtin_specs, read_toml


def problems_command() -> int:
    """List built-in problems (run one with `qd evolve NAME`)."""
    specs = builtin_specs()
    table = Table(title="built-in problems: qd evolve NAME")
    for column in ("name", "what", "needs", "default archive / emitters / budget"):
        table.add_column(column)
    for name, cls in problem_registry.items():
        if name in specs:
            data = read_toml(specs[name])
            archive = data.get("archive", {}).get("name", "grid")
            emitters = ", ".join(
                f"{e.get('count', 1)}×{e.get('name', 'gaussian')}" for e in data.get("emitters", [])
            )
            defaults = f"{archive} / {emitters} / {data.get('run', {}).get('budget', '-')}"
        else:
            defaults = "(spec folder with [problem] name = " + repr(name) + ")"
        table.add_row(name, cls.summary, cls.needs, defaults)
    Console().print(table)
    return 0
