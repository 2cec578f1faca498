"""`qd show RUN --best | --cell i,j | --id N`: print one stored solution of a run's archive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

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
    if as_json:
        typer.echo(json.dumps(shown.as_dict()))
    else:
        print_solution(shown, Console())
    return 0


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
