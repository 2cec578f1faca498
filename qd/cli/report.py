"""`qd report RUN`: one self-contained HTML page with the archive, curves and run history."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from qd.report.render import write_report


def report_command(
    run: Annotated[Path, typer.Argument(help="The run folder.")],
    out: Annotated[
        Path | None, typer.Option(help="Output file (default: RUN/report.html).")
    ] = None,
    open_: Annotated[
        bool, typer.Option("--open", help="Open the report in the default web browser.")
    ] = False,
) -> int:
    """Write a run's HTML report: archive heatmap, QD curves, spec, sessions and events."""
    path = write_report(run, out)
    typer.echo(str(path))
    if open_:
        webbrowser.open(path.resolve().as_uri())
    return 0
