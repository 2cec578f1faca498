"""`qd evolve SPEC`: run a problem spec (folder, .toml file or built-in name) to its budget;
`qd evolve RUN --resume` / `qd resume RUN`: continue a run where it stopped.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from qd.api import RunResult, evolve, resume, run_settings
from qd.events import EngineListener
from qd.progress import LineProgress, RichProgress
from qd.signals import EXIT_CODES
from qd.spec_loader import load_spec

BudgetOpt = Annotated[int | None, typer.Option(min=1, help="Evaluations to spend in total.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a spec value: KEY=VALUE, e.g. archive.cells=[50,50]."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Resume under a changed spec (archive rebuilt from the store)."),
]
DeviceOpt = Annotated[str | None, typer.Option(help="Torch device: cpu, cuda or auto.")]
BackendOpt = Annotated[
    str | None,
    typer.Option(help="Numeric runs: pyribs (host numpy) or torch (archive and emitters on the "
                      "device)."),
]
ClusterOpt = Annotated[
    str | None,
    typer.Option(help="Evaluate on dask: local:N (start N workers) or tcp://HOST:PORT."),
]


def evolve_command(
    spec: Annotated[str, typer.Argument(help="Spec folder, .toml file, or built-in problem name "
                                             "(with --resume: the run folder).")],
    budget: BudgetOpt = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Run folder to create (default: runs/<date>-<problem>-<time>)."),
    ] = None,
    device: DeviceOpt = None,
    backend: BackendOpt = None,
    set_: SetOpt = None,
    quiet: QuietOpt = False,
    resume_: Annotated[
        bool, typer.Option("--resume", help="Continue the run folder SPEC where it stopped.")
    ] = False,
    force: ForceOpt = False,
    cluster: ClusterOpt = None,
    format_: Annotated[
        str | None, typer.Option("--format", help="Folder format: qd, openevolve or shinka "
                                                   "(default: detected).")
    ] = None,
) -> int:
    """Illuminate a problem: run the spec and write a run folder (config, store, archive)."""
    _check_device(device)
    if backend is not None and backend not in ("pyribs", "torch"):
        raise typer.BadParameter(f"{backend!r} is not one of pyribs, torch",
                                 param_hint="--backend")
    if resume_:
        if backend is not None:
            raise typer.BadParameter("a run keeps its backend; --backend cannot be used with "
                                     "--resume", param_hint="--backend")
        if out is not None:
            raise typer.BadParameter("--out cannot be used with --resume", param_hint="--out")
        return _resume(Path(spec), budget, set_ or [], run_settings(None, seed, device, cluster),
                       force, quiet)
    if force:
        raise typer.BadParameter("--force only applies with --resume", param_hint="--force")
    settings = run_settings(budget, seed, device, cluster, backend)
    loaded = load_spec(spec, set_ or [], settings=settings, fmt=format_)
    _warn_foreign(loaded.foreign)
    result = evolve(loaded, out=out, listeners=_listeners(quiet, loaded.spec.run.log_every),
                    handle_signals=True)
    return _report(result, f"qd evolve {spec}")


def resume_command(
    run: Annotated[Path, typer.Argument(help="The run folder to continue.")],
    budget: BudgetOpt = None,
    device: DeviceOpt = None,
    set_: SetOpt = None,
    quiet: QuietOpt = False,
    force: ForceOpt = False,
    cluster: ClusterOpt = None,
) -> int:
    """Continue a killed, interrupted or finished run exactly where it stopped."""
    _check_device(device)
    return _resume(run, budget, set_ or [], run_settings(device=device, cluster=cluster), force,
                   quiet)


def _resume(run: Path, budget: int | None, overrides: list[str], settings: dict,
            force: bool, quiet: bool) -> int:
    from qd.run_dir import CONFIG_FILE
    from qd.spec_loader import read_toml

    log_every = read_toml(run / CONFIG_FILE).get("run", {}).get("log_every", 10) if (
        run / CONFIG_FILE).is_file() else 10
    result = resume(run, budget=budget, overrides=overrides, settings=settings, force=force,
                    listeners=_listeners(quiet, log_every), handle_signals=True)
    restored = result.restored
    if restored is not None and not result.metrics and result.end.reason == "budget":
        print(f"run is already complete: {result.end.evaluations:,} evaluations of a budget of "
              f"{result.spec.run.budget:,}; pass --budget N to extend it", file=sys.stderr)
    return _report(result, f"qd resume {run}")


def _warn_foreign(report: dict | None) -> None:
    """Print what an OpenEvolve / ShinkaEvolve folder's mapping ignored or assumed."""
    if report is not None:
        from qd.formats import FormatReport

        for line in FormatReport(**report).warnings():
            print(f"warning: {line}", file=sys.stderr)


def _check_device(device: str | None) -> None:
    if device is not None and device not in ("cpu", "cuda", "auto"):
        raise typer.BadParameter(f"{device!r} is not one of cpu, cuda, auto", param_hint="--device")


def _listeners(quiet: bool, log_every: int) -> list[EngineListener]:
    if quiet:
        return []
    if sys.stderr.isatty():
        return [RichProgress(Console(stderr=True))]
    return [LineProgress(sys.stderr, log_every)]


def _report(result: RunResult, title: str) -> int:
    stats = result.end.stats
    table = Table(title=title, show_header=False)
    rows = [
        ("run folder", str(result.path)),
        ("evaluations", f"{result.end.evaluations:,}"),
        ("iterations", f"{result.end.iterations:,}"),
        ("elites", f"{stats.num_elites:,}"),
        ("coverage", f"{stats.coverage:.2%}"),
        ("QD score", f"{stats.qd_score:,.6g}"),
        ("best objective", "-" if stats.best is None else f"{stats.best:.6g}"),
        ("time", f"{result.end.elapsed_s:.1f} s"),
        ("ended by", result.end.reason),
    ]
    if result.restored is not None:
        r = result.restored
        rows.append(("resumed from", f"iteration {r.iteration} (checkpoint {r.checkpoint_iteration}"
                                     f", {r.replayed} replayed)"))
    for key, value in rows:
        table.add_row(key, value)
    Console().print(table)
    code = EXIT_CODES.get(result.end.reason, 0)
    if code:
        print(f"stopped by {result.end.reason} after {result.end.evaluations:,} evaluations; "
              f"everything is saved. Resume with: qd evolve {result.path} --resume",
              file=sys.stderr)
    return code
