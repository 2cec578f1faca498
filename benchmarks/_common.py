"""Helpers shared by the benchmarks: result folder, JSON output, median timing, tables.

Every benchmark writes `runs/bench/<name>.json`; with `--save-doc` also
`docs/bench/<doc name>_quick.json` (`--quick`) or `_full.json` (the figures README cites), with
`--out PATH` also PATH. The JSON records its provenance: the exact command, date, git commit,
machine (cores, CPU model, load) and the process's wall time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "runs" / "bench"
DOC_DIR = ROOT / "docs" / "bench"
_STARTED = time.perf_counter()
_LOAD_AT_START = os.getloadavg() if hasattr(os, "getloadavg") else None


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of one call and its result."""
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def median(values: list[float]) -> float:
    """Median of a non-empty list."""
    return float(statistics.median(values))


def add_output_args(parser: argparse.ArgumentParser) -> None:
    """Add `--save-doc` and `--out PATH` (runs/bench/ is always written)."""
    parser.add_argument("--save-doc", action="store_true",
                        help="also write docs/bench/<name>_quick.json (or _full.json)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON to this path")


def command_line() -> str:
    """The command that ran this benchmark, relative to the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=30).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD") or None,
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """Cores, CPU model, load average and software versions of this machine."""
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if hasattr(os, "getloadavg"):
        info["loadavg_start"] = list(_LOAD_AT_START or ())
        info["loadavg_end"] = list(os.getloadavg())
    torch = sys.modules.get("torch")  # only when the benchmark itself uses torch
    if torch is not None:
        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    return info


def doc_path(name: str, args: argparse.Namespace) -> Path:
    """docs/bench/<name>_quick.json for `--quick`, else <name>_full.json (<name>.json without
    a quick mode)."""
    if not hasattr(args, "quick"):
        return DOC_DIR / f"{name}.json"
    return DOC_DIR / f"{name}_{'quick' if args.quick else 'full'}.json"


def write_result(name: str, payload: dict[str, Any], args: argparse.Namespace | None = None,
                 doc_name: str | None = None) -> Path:
    """Write `runs/bench/<name>.json` with its provenance added, and the copies asked for
    (`--save-doc`: docs/bench/<doc_name>_quick.json or _full.json; `--out PATH`)."""
    payload = {
        "benchmark": doc_name or name,
        "command": command_line(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git": _git(),
        "wall_s": time.perf_counter() - _STARTED,
        **payload,
        "machine": machine(),
    }
    text = json.dumps(payload, indent=2) + "\n"
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"{name}.json"
    path.write_text(text)
    extra = []
    if args is not None and getattr(args, "save_doc", False):
        extra.append(doc_path(doc_name or name, args))
    if args is not None and getattr(args, "out", None) is not None:
        extra.append(Path(args.out))
    for target in extra:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target}")
    return path


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Print a comparison table."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    Console().print(table)
