import json
import webbrowser

import numpy as np
import pytest

from qd.cli.main import run as cli
from qd.report.data import load_report_data
from qd.report.select import Selector, parse_cell, select
from qd.report.source import ReportError


def show_json(capsys, *args):
    assert cli(["show", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_best_cell_and_id_select_the_same_elite_exactly(grid_run, capsys):
    archive = load_report_data(grid_run).archive
    best = int(np.argmax(archive.objective))
    shown = show_json(capsys, str(grid_run), "--best")
    assert shown["index"] == archive.index[best] and shown["rank"] == 1
    assert shown["objective"] == archive.objective[best]  # full precision through JSON
    assert shown["measures"] == archive.measures[best].tolist()
    assert shown["solution"] == archive.solutions[best].tolist()
    assert shown["elites"] == archive.size and shown["iteration"] == 20
    i, j = shown["cell"]
    assert show_json(capsys, str(grid_run), "--cell", f"{i},{j}") == shown
    assert show_json(capsys, str(grid_run), "--id", str(shown["index"])) == shown


def test_rank_of_a_worse_elite(grid_run, capsys):
    archive = load_report_data(grid_run).archive
    worst = int(np.argmin(archive.objective))
    shown = show_json(capsys, str(grid_run), "--id", str(archive.index[worst]))
    assert shown["rank"] == archive.size and shown["objective"] == archive.objective[worst]


def test_rich_output_shows_objective_measures_and_solution(grid_run, capsys):
    archive = load_report_data(grid_run).archive
    best = int(np.argmax(archive.objective))
    assert cli(["show", str(grid_run), "--best"]) == 0
    out = capsys.readouterr().out
    assert f"elite {archive.index[best]}" in out and "rank 1 of" in out
    assert repr(float(archive.objective[best])) in out
    for value in [*archive.measures[best], *archive.solutions[best]]:
        assert repr(float(value)) in out
    assert "solution (10 values)" in out


@pytest.mark.parametrize(("args", "message"), [
    ([], "give exactly one of --best, --cell i,j or --id N"),
    (["--best", "--id", "3"], "(got --best and --id)"),
    (["--cell", "a,b"], "expected integers separated by commas"),
    (["--cell", "1,2,3"], "the grid has 2 measures (20 × 20 cells); give 2 coordinates"),
    (["--cell", "20,0"], "coordinate 0 is 20, but measure 0 has cells 0–19"),
    (["--cell", "0,0"], "cell (0, 0) is empty"),
    (["--id", "400"], "--id 400: no such archive index (valid: 0–399)"),
    (["--id", "-1"], "no such archive index"),
])
def test_bad_selectors_exit_2_with_one_message(grid_run, capsys, args, message):
    assert cli(["show", str(grid_run), *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("error:") == 1
    assert "Traceback" not in captured.err and captured.out == ""


def test_empty_cell_by_id_and_cvt_cell(grid_run, cvt_run, capsys):
    archive = load_report_data(grid_run).archive
    empty = next(i for i in range(400) if i not in set(archive.index.tolist()))
    assert cli(["show", str(grid_run), "--id", str(empty)]) == 2
    assert f"index {empty} is empty" in capsys.readouterr().err
    assert cli(["show", str(cvt_run), "--cell", "1,2"]) == 2
    assert "archive is 'cvt'" in capsys.readouterr().err
    cvt = load_report_data(cvt_run).archive
    shown = show_json(capsys, str(cvt_run), "--id", str(cvt.index[0]))
    assert shown["cell"] is None and shown["objective"] == cvt.objective[0]


def test_one_measure_cell_and_empty_archive(line_run, grid_run):
    archive = load_report_data(line_run).archive
    shown = select(archive, Selector(cell=(int(archive.index[0]),)))
    assert shown.cell == (int(archive.index[0]),) and shown.index == archive.index[0]
    assert parse_cell(" (3, 14) ") == (3, 14)
    assert Selector.parse(False, None, 0) == Selector(index=0)  # index 0 is a selector too
    grid = load_report_data(grid_run).archive
    empty = type(grid)(**{**grid.__dict__, "index": grid.index[:0],
                          "objective": grid.objective[:0], "measures": grid.measures[:0],
                          "solutions": grid.solutions[:0]})
    with pytest.raises(ReportError, match="the archive is empty") as info:
        select(empty, Selector(best=True), "run")
    assert info.value.exit_code == 2


def test_not_a_run_folder_exits_2(tmp_path, capsys):
    assert cli(["show", str(tmp_path), "--best"]) == 2
    assert "not a qd run folder" in capsys.readouterr().err
    assert cli(["report", str(tmp_path)]) == 2
    assert "not a qd run folder" in capsys.readouterr().err


def test_report_command_writes_and_opens(grid_run, tmp_path, capsys, monkeypatch):
    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url))
    target = tmp_path / "out" / "my.html"
    assert cli(["report", str(grid_run), "--out", str(target), "--open"]) == 0
    assert capsys.readouterr().out.strip() == str(target)
    assert target.is_file() and opened == [target.resolve().as_uri()]
    assert cli(["report", str(grid_run), "--out", str(tmp_path / "x.html")]) == 0
    assert len(opened) == 1


def test_unwritable_output_exits_2(grid_run, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cli(["report", str(grid_run), "--out", str(blocker / "r.html")]) == 2
    assert "cannot write report" in capsys.readouterr().err
