"""`qd evolve SPEC`: run a problem spec (folder, .toml file or built-in name) to its budget."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from qd.api import evolve, flag_overrides
from qd.events import EngineListener
from qd.progress import LineProgress, RichProgress
from qd.spec_loader import load_spec


def evolve_command(
    spec: Annotated[str, typer.Argument(help="Spec folder, .toml file, or built-in problem name.")],
    budget: Annotated[int | None, typer.Option(min=1, help="Evaluations to spend.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run folder to create (default: runs/<date>-<problem>-<time>).")
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(help="Torch device: cpu, cuda or auto."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a spec value: KEY=VALUE, e.g. archive.cells=[50,50]."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> int:
    """Illuminate a problem: run the spec and write a run folder (config, metrics, archive)."""
    if device is not None and device not in ("cpu", "cuda", "auto"):
        raise typer.BadParameter(f"{device!r} is not one of cpu, cuda, auto", param_hint="--device")
    loaded = load_spec(spec, [*(set_ or []), *flag_overrides(budget, seed, device)])
    console = Console(stderr=True)
    listeners: list[EngineListener] = []
    if not quiet:
        if sys.stderr.isatty():
            listeners.append(RichProgress(console))
        else:
            listeners.append(LineProgress(sys.stderr, loaded.spec.run.log_every))
    result = evolve(loaded, out=out, listeners=listeners)
    stats = result.end.stats
    table = Table(title=f"qd evolve {spec}", show_header=False)
    rows = [
        ("run folder", str(result.path)),
        ("evaluations", f"{result.end.evaluations:,}"),
        ("iterations", f"{result.end.iterations:,}"),
        ("elites", f"{stats.num_elites:,}"),
        ("coverage", f"{stats.coverage:.2%}"),
        ("QD score", f"{stats.qd_score:,.6g}"),
        ("best objective", "-" if stats.best is None else f"{stats.best:.6g}"),
        ("time", f"{result.end.elapsed_s:.1f} s"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)
    return 0
