"""`qd export RUN`: the archive and every evaluated solution as CSV / JSON lines / Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from qd.export import export_run


def export_command(
    run: Annotated[Path, typer.Argument(help="The run folder.")],
    format_: Annotated[
        Literal["csv", "jsonl", "parquet"], typer.Option("--format", help="Table format.")
    ] = "csv",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: RUN/export).")] = None,
    table: Annotated[
        Literal["all", "archive", "evaluations"], typer.Option(help="Which table(s) to write.")
    ] = "all",
) -> int:
    """Export a run's archive and all evaluated solutions (pandas-friendly tables)."""
    tables = ("archive", "evaluations") if table == "all" else (table,)
    for path in export_run(run, out, format_, tables):
        typer.echo(str(path))
    return 0
