"""`qd` entry point: builds the typer app and maps errors to exit codes.

Exit codes: 0 success, 1 runtime failure, 2 bad usage / spec / input, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

try:  # typer >= 0.25 vendors click under typer._click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer with click as a dependency
    from click import ClickException

from qd.cli import convert, evolve, export, problems, report, show
from qd.errors import QDError

app = typer.Typer(
    name="qd",
    help="Quality-diversity and evolutionary program search.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from qd import __version__

        typer.echo(f"qd {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Quality-diversity and evolutionary program search."""


app.command("evolve")(evolve.evolve_command)
app.command("convert")(convert.convert_command)
app.command("resume")(evolve.resume_command)
app.command("problems")(problems.problems_command)
app.command("export")(export.export_command)
app.command("report")(report.report_command)
app.command("show")(show.show_command)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises for expected errors)."""
    try:
        result = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        return 130
    except ClickException as exc:
        exc.show()
        return exc.exit_code
    except QDError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry: exit with `run()`'s code."""
    sys.exit(run())
