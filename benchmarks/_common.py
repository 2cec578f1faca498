"""Helpers shared by the benchmarks: result folder, JSON output, median timing, tables."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "runs" / "bench"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of one call and its result."""
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def median(values: list[float]) -> float:
    """Median of a non-empty list."""
    return float(statistics.median(values))


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """Write `runs/bench/<name>.json` with machine info added."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    payload = {**payload, "machine": {"python": platform.python_version(),
                                      "platform": platform.platform()}}
    path = BENCH_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Print a comparison table."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    Console().print(table)
