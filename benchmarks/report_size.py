"""Report size and render time for a 10,000-elite archive.

A planar-arm repertoire (12 joints, iso+line 5 x 200) fills a 100 x 100 grid over the reachable
square [-7, 7]^2; `qd report` turns the run into one HTML file, which headless Chromium (Debian's
/usr/bin/chromium via playwright) loads from disk until every plot has been drawn. The full
version adds the same run on a 10,000-centroid CVT archive (Voronoi cells + one marker per elite).

    python benchmarks/report_size.py [--quick] [--screenshot FILE] [--save-doc] [--out PATH]

Writes runs/bench/report.json with {"elites", "bytes", "render_s"} of the grid report (render_s:
median over repeats of navigation start → all plots drawn) and every variant under "variants".
Targets: render_s < 5 and bytes < 20 MB.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_output_args, print_table, timed, write_result  # noqa: E402

import qd  # noqa: E402
from qd.report.render import write_report  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TARGET_BYTES = 20_000_000
TARGET_RENDER_S = 5.0


def spec(archive: dict, budget: int) -> dict:
    return {
        "problem": {"name": "arm_repertoire", "joints": 12},
        "archive": {**archive, "ranges": [[-7.0, 7.0], [-7.0, 7.0]]},
        "emitters": [{"name": "iso_line", "count": 5, "batch_size": 200, "iso_sigma": 0.05,
                      "line_sigma": 0.2}],
        "run": {"budget": budget, "seed": 1, "checkpoint_seconds": 0},
    }


def render_times(path: Path, repeats: int, screenshot: Path | None) -> list[float]:
    """Seconds from navigation start until every plot is drawn, one per fresh page."""
    from playwright.sync_api import sync_playwright

    times = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1300, "height": 900})
        for r in range(repeats):
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_function("window.qdReport && window.qdReport.ready", timeout=120_000)
            if errors:
                raise RuntimeError(f"the report raised errors in the browser: {errors}")
            times.append(page.evaluate("window.qdReport.renderMs") / 1000.0)
            if screenshot is not None and r == 0:
                page.screenshot(path=str(screenshot), full_page=True)
            page.close()
        context.close()
    return times


def measure(name: str, archive: dict, budget: int, root: Path, repeats: int,
            screenshot: Path | None) -> dict:
    out = root / name
    run_s, result = timed(lambda: qd.evolve(spec(archive, budget), out=out))
    build_s, path = timed(lambda: write_report(out))
    row = {"variant": name, "elites": result.archive.stats().num_elites,
           "evaluations": result.end.evaluations, "run_s": run_s, "build_s": build_s,
           "bytes": path.stat().st_size, "render_s": None, "render_runs_s": []}
    if Path(CHROMIUM).is_file():
        row["render_runs_s"] = render_times(path, repeats, screenshot)
        row["render_s"] = statistics.median(row["render_runs_s"])
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="grid only, 3 renders (< 90 s)")
    parser.add_argument("--screenshot", type=Path, help="save a screenshot of the grid report")
    add_output_args(parser)
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    variants = [("grid_100x100", {"name": "grid", "cells": [100, 100]}, 320_000)]
    if not args.quick:
        variants.append(("cvt_10000", {"name": "cvt", "centroids": 10_000, "samples": 20_000},
                         320_000))
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(name, archive, budget, Path(tmp), repeats,
                        args.screenshot if i == 0 else None)
                for i, (name, archive, budget) in enumerate(variants)]
    grid = rows[0]
    result = {"elites": grid["elites"], "bytes": grid["bytes"], "render_s": grid["render_s"],
              "repeats": repeats, "targets": {"bytes": TARGET_BYTES, "render_s": TARGET_RENDER_S},
              "variants": rows}
    table = []
    for row in rows:
        ok = row["bytes"] < TARGET_BYTES and (row["render_s"] or 0.0) < TARGET_RENDER_S
        render = "no chromium" if row["render_s"] is None else row["render_s"]
        table.append([row["variant"], row["elites"], row["bytes"] / 1e6, row["build_s"], render,
                      "ok" if ok else "MISSED"])
    print_table("qd report: size and render time (render = navigation start → plots drawn)",
                ["archive", "elites", "MB", "build s", "render s (median)", "targets <20 MB, <5 s"],
                table)
    print(f"wrote {write_result('report', result, args, doc_name='report_size')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
