"""Report, show and export work on program runs (the archive holds program ids)."""

import csv
import json

import qd
from qd.export import export_run
from tests.program.conftest import Reply, improving_diff, prompt_text, toy_overrides


def test_report_show_export_of_a_program_run(scripted_llm_server, toy, tmp_path, run_cli):
    scripted_llm_server.respond_with(lambda r: Reply(text=improving_diff(prompt_text(r))))
    out = tmp_path / "run"
    result = qd.evolve(toy, out=out, overrides=toy_overrides(scripted_llm_server))
    elites = result.archive.stats().num_elites

    archive_csv, evals_csv = export_run(out, tmp_path / "export", "csv")
    with archive_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == elites
    assert max(float(r["objective"]) for r in rows) == result.archive.stats().best

    proc = run_cli("show", str(out), "--best", "--json")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["program"]["score"] == result.archive.stats().best
    assert "# EVOLVE-BLOCK-START" in shown["program"]["code"]

    proc = run_cli("report", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.html").stat().st_size > 100_000
