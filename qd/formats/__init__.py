"""Run OpenEvolve and ShinkaEvolve problem folders unchanged: detection and spec mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qd.errors import SpecError
from qd.formats import openevolve, shinka
from qd.formats.common import FormatReport

FORMATS = ("qd", "openevolve", "shinka")
SPEC_FILE = "problem.toml"


def detect(path: str | Path) -> str:
    """Which format a problem folder is in.

    Args:
        path: A folder (or a `problem.toml` file, which is always "qd").

    Returns:
        "qd" (problem.toml), "openevolve" (initial_program.py + evaluator.py) or "shinka"
        (initial.py + an evaluate.py taking --program_path/--results_dir).

    Raises:
        SpecError: the folder matches no format; the message says what each one needs.
    """
    folder = Path(path)
    if folder.is_file() or (folder / SPEC_FILE).is_file():
        return "qd"
    if not folder.is_dir():
        raise SpecError(f"{folder}: no such file or folder")
    oe_initial = sorted(folder.glob("initial_program.*"))
    if oe_initial:
        if not (folder / openevolve.EVALUATOR).is_file():
            raise SpecError(f"{folder}: has {oe_initial[0].name} but no "
                            f"{openevolve.EVALUATOR}; an OpenEvolve folder needs its evaluator")
        return "openevolve"
    evaluate = folder / shinka.EVALUATOR
    sk_initial = sorted(folder.glob("initial.*"))
    if sk_initial and evaluate.is_file():
        if shinka.is_shinka_evaluator(evaluate):
            return "shinka"
        raise SpecError(f"{folder}: evaluate.py does not take --program_path/--results_dir "
                        f"(ShinkaEvolve) and there is no {SPEC_FILE} (qd)")
    if sk_initial:
        raise SpecError(f"{folder}: has {sk_initial[0].name} but no evaluate.py; a "
                        f"ShinkaEvolve folder needs its evaluator")
    raise SpecError(
        f"{folder}: folder has no {SPEC_FILE}; a spec folder needs one (or, to run it as it "
        f"is: OpenEvolve's {openevolve.INITIAL} and {openevolve.EVALUATOR}, or ShinkaEvolve's "
        f"{shinka.INITIAL} and evaluate.py)"
    )


def check_format(fmt: str) -> str:
    """Return `fmt` if it is a known format name, else raise `SpecError`."""
    if fmt not in FORMATS:
        raise SpecError(f"--format {fmt!r}: unknown format; choose one of: {', '.join(FORMATS)}")
    return fmt


def load_foreign(path: str | Path, fmt: str) -> tuple[dict[str, Any], FormatReport]:
    """Map a foreign folder to qd spec data, and the report of what was not mapped.

    The user's files are never changed: the adapter evaluator is written to a qd-owned cache
    folder (`$QD_ADAPTER_DIR`, else `~/.cache/qd/adapters`).

    Args:
        path: The OpenEvolve or ShinkaEvolve folder.
        fmt: "openevolve" or "shinka".

    Raises:
        SpecError: missing evaluator, evaluator without `evaluate`, malformed YAML, bad format.
    """
    folder = Path(path).resolve()
    if not folder.is_dir():
        raise SpecError(f"{path}: a {fmt} problem is a folder; no such folder")
    loaders = {"openevolve": openevolve.load, "shinka": shinka.load}
    if fmt not in loaders:
        raise SpecError(f"format {fmt!r} is not foreign; choose one of: {', '.join(loaders)}")
    data, report = loaders[fmt](folder)
    if not Path(data["problem"]["initial"]).is_file():
        raise SpecError(f"{folder}: no {Path(data['problem']['initial']).name}; a {fmt} folder "
                        f"needs its initial program")
    return data, report


__all__ = ["FORMATS", "FormatReport", "check_format", "detect", "load_foreign"]
