"""`qd convert PATH --to qd OUT`: write an OpenEvolve / ShinkaEvolve folder as a native qd spec."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import tomli_w
import typer

from qd.errors import SpecError
from qd.formats import check_format, detect, load_foreign
from qd.spec_loader import validate_spec


def convert_command(
    path: Annotated[Path, typer.Argument(help="The OpenEvolve or ShinkaEvolve folder.")],
    out: Annotated[Path, typer.Argument(help="The qd spec folder to create (must not exist "
                                             "or be empty).")],
    to: Annotated[str, typer.Option("--to", help="Target format (only: qd).")] = "qd",
    format_: Annotated[
        str | None, typer.Option("--format", help="Source format: openevolve or shinka "
                                                   "(default: detected).")
    ] = None,
) -> int:
    """Write an equivalent qd spec folder; run it with `qd evolve OUT`.

    The folder holds problem.toml, initial.py, the adapter evaluate.py, qd's stand-in peer
    packages and the original folder's files and subfolders beside it.
    """
    if to != "qd":
        raise SpecError(f"--to {to!r}: qd converts to its own format only; use --to qd")
    fmt = check_format(format_) if format_ else detect(path)
    if fmt == "qd":
        raise SpecError(f"{path}: already a qd spec folder; nothing to convert")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SpecError(f"{out}: exists and is not an empty folder; choose a new one")
    data, report = load_foreign(path, fmt)
    out.mkdir(parents=True, exist_ok=True)
    problem = write_folder(data, out)
    validate_spec(problem, out.resolve(), str(out / "problem.toml"))
    for line in report.warnings():
        print(f"warning: {line}", file=sys.stderr)
    print(f"wrote {out}/problem.toml; run it with: qd evolve {out}")
    return 0


def write_folder(data: dict[str, Any], out: Path) -> dict[str, Any]:
    """Copy the files of mapped spec `data` into `out` and write `problem.toml`.

    Returns:
        The written spec data, its paths relative to `out`.
    """
    spec = {**data, "problem": dict(data["problem"])}
    problem = spec["problem"]
    initial = "initial" + Path(problem["initial"]).suffix  # initial.py, initial.rs, ...
    shutil.copyfile(problem["initial"], out / initial)
    shutil.copyfile(problem["evaluator"], out / "evaluate.py")
    names = []
    for item in problem.get("files", []):
        name = Path(item).name
        if Path(item).is_dir():  # a folder travels with everything under it
            shutil.copytree(item, out / name,
                            ignore=shutil.ignore_patterns(".*", "__pycache__"))
        else:
            shutil.copyfile(item, out / name)
        names.append(name)
    problem.update(initial=initial, evaluator="evaluate.py", files=names)
    header = ("# Converted by `qd convert`. evaluate.py is qd's adapter: it runs the original "
              "evaluator\n# (copied beside it) and writes qd's result.json.\n")
    (out / "problem.toml").write_text(header + tomli_w.dumps(spec), encoding="utf-8")
    return spec
