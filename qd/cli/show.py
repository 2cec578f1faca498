"""`qd show RUN --best | --cell i,j | --id N`: print one stored solution of a run's archive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from qd.languages import language_registry
from qd.report.select import Selector, ShownSolution, load_solution

#: Printed width of one solution value (`repr` of a float64 is at most 24 characters).
VALUE_WIDTH = 24


def show_command(
    run: Annotated[Path, typer.Argument(help="The run folder.")],
    best: Annotated[
        bool, typer.Option("--best", help="The elite with the best objective.")
    ] = False,
    cell: Annotated[
        str | None, typer.Option("--cell", help="Grid cell coordinates, e.g. 3,14.")
    ] = None,
    index: Annotated[int | None, typer.Option("--id", help="Archive index of the elite.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (full precision) instead of tables.")
    ] = False,
) -> int:
    """Print a stored solution with its objective, measures and place in the archive."""
    shown = load_solution(run, Selector.parse(best, cell, index))
    program = _program_of(run, shown)
    if as_json:
        payload = shown.as_dict()
        if program is not None:
            payload["program"] = program
        typer.echo(json.dumps(payload))
        return 0
    console = Console()
    if program is None:
        print_solution(shown, console)
        return 0
    print_program(shown, program, console)
    return 0


def _program_of(run: Path, shown: ShownSolution) -> dict | None:
    """The stored program behind an elite of a program run (its id is the solution), or None."""
    from contextlib import closing

    from qd.kinds import run_kind_of
    from qd.run_dir import CONFIG_FILE
    from qd.spec_loader import read_toml
    from qd.store import RunStore

    config = read_toml(Path(run) / CONFIG_FILE)
    if not run_kind_of(config).solutions_are_programs:
        return None
    with closing(RunStore.open(Path(run), readonly=True)) as store:
        row = store.programs.get(int(shown.solution[0]))
    if row is None:
        return None
    return {"id": row.id, "parents": list(row.parents), "operator": row.operator,
            "model": row.model, "score": row.score, "metrics": dict(row.metrics),
            "feedback": row.feedback, "code": row.code,
            "language": config.get("problem", {}).get("language", "python")}


def print_program(shown: ShownSolution, program: dict, console: Console) -> None:
    """Print an elite of a program run: where it sits, its metrics, feedback and code."""
    from rich.syntax import Syntax

    where = f"cell ({', '.join(map(str, shown.cell))}) · " if shown.cell is not None else ""
    console.print(f"[bold]program {program['id']}[/bold] · {where}rank {shown.rank} of "
                  f"{shown.elites} · score {program['score']!r} · {program['operator']}"
                  f"{' by ' + program['model'] if program['model'] else ''} · parents "
                  f"{program['parents'] or '-'}")
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="dim")
    summary.add_column()
    for j, m in enumerate(shown.measures.tolist()):
        summary.add_row(f"measure {j}", repr(m))
    for key, value in sorted(program["metrics"].items()):
        summary.add_row(str(key), repr(value))
    if program["feedback"]:
        summary.add_row("feedback", program["feedback"])
    console.print(summary)
    lexer = language_registry.get(program["language"]).fence \
        if program["language"] in language_registry else "text"
    console.print(Syntax(program["code"] or "", lexer, line_numbers=True))


def print_solution(shown: ShownSolution, console: Console) -> None:
    """Print an elite as a header line, a summary table and its solution vector."""
    where = f"cell ({', '.join(map(str, shown.cell))}) · " if shown.cell is not None else ""
    console.print(f"[bold]elite {shown.index}[/bold] · {where}rank {shown.rank} of "
                  f"{shown.elites} · {shown.run} (iteration {shown.iteration})")
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="dim")
    summary.add_column()
    summary.add_row("objective", repr(shown.objective))
    for j, m in enumerate(shown.measures.tolist()):
        summary.add_row(f"measure {j}", repr(m))
    console.print(summary)
    values = shown.solution.tolist()
    per_row = max(1, (console.width - 8) // (VALUE_WIDTH + 1))
    table = Table(title=f"solution ({len(values)} values)", title_justify="left",
                  show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim", justify="right", no_wrap=True)
    for _ in range(min(per_row, len(values))):
        table.add_column(justify="right", overflow="fold")
    for start in range(0, len(values), per_row):
        row = [repr(v) for v in values[start:start + per_row]]
        table.add_row(f"[{start}]", *row)
    console.print(table)
