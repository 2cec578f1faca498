"""Every benchmark figure README states comes from a committed JSON under docs/bench/.

The "Benchmarks" table: each row cites at least one `docs/bench/*.json` that exists; a JSON that
records its command (every one written by `benchmarks/_common.write_result`) has that command
cited in the row; and every number the row's result states outside backticks is a value of a
cited JSON (or a numeric key, or a value in its command), up to the rounding it is written
with. The exploration table is checked the same way, column by column, against its quick and
full JSON. No benchmark runs here.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
JSON_REF = re.compile(r"docs/bench/[\w.-]+\.json")
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
# A figure: optional minus, digits (thousands commas allowed), decimals, then an optional
# "·10ⁿ", "/b" (a fraction, e.g. seeds reaching the goal) or unit. Not inside a word ("H200").
FIGURE = re.compile(
    r"(?<![\w.])(?P<num>[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-−]?\d+(?:\.\d+)?)"
    r"(?:·10(?P<exp>[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)"
    r"|/(?P<den>\d+)"
    r"|\s?(?P<unit>MB|ms|min|s|k|M|×|%)(?![\w]))?"
)
#: scales tried per unit (JSON value x scale ~ the figure)
SCALES = {None: (1.0,), "×": (1.0,), "MB": (1e-6, 1.0), "k": (1e-3,), "M": (1e-6,),
          "ms": (1.0, 1e3), "s": (1.0,), "min": (1 / 60,), "%": (100.0, 1.0)}


def _numbers(node: object, out: set[float]) -> set[float]:
    """Every number in a JSON document: values, numeric keys, numbers inside strings."""
    if isinstance(node, bool):
        out.add(float(node))
    elif isinstance(node, int | float):
        out.add(float(node))
    elif isinstance(node, str):
        out.update(float(m) for m in re.findall(r"(?<![\w.])\d+(?:\.\d+)?", node))
    elif isinstance(node, dict):
        for key, value in node.items():
            _numbers(key, out)
            _numbers(value, out)
    elif isinstance(node, list):
        for value in node:
            _numbers(value, out)
    return out


def _derivable(match: re.Match[str], values: set[float]) -> bool:
    """Whether one written figure is a JSON value rounded as written."""
    text = match["num"].replace(",", "").replace("−", "-")
    figure = float(text)
    decimals = len(text.split(".")[1]) if "." in text else 0
    if match["den"]:
        target = figure / float(match["den"])
        return any(math.isclose(v, target, rel_tol=1e-9, abs_tol=1e-12) for v in values)
    if match["exp"]:
        scales: tuple[float, ...] = (10.0 ** -int(match["exp"].translate(SUPERSCRIPT)),)
    else:
        scales = SCALES[match["unit"]]
    half = 0.5 * 10.0**-decimals + 1e-9
    return any(abs(v * s - figure) <= half for v in values for s in scales)


def _figures(cell: str) -> list[re.Match[str]]:
    """The figures of a table cell, outside backticks (commands, paths, spec names)."""
    return list(FIGURE.finditer(re.sub(r"`[^`]*`", " ", cell)))


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(title)
    end = text.find("\n#", start + len(title))
    return text[start:] if end < 0 else text[start:end]


def _rows(section: str) -> list[list[str]]:
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[c.strip() for c in row.strip("|").split(" | ")] for row in rows[2:]]


def _load(ref: str) -> dict:
    path = ROOT / ref
    assert path.is_file(), f"README cites {ref}, which is not committed"
    return json.loads(path.read_text())


BENCH_ROWS = _rows(_section("### Benchmarks"))


def test_the_benchmark_table_is_found() -> None:
    assert len(BENCH_ROWS) >= 8
    assert all(len(row) == 3 for row in BENCH_ROWS), "rows of benchmark | measures | result"


@pytest.mark.parametrize("row", BENCH_ROWS, ids=[r[0].strip("`") for r in BENCH_ROWS])
def test_each_benchmark_row_cites_its_json_and_states_only_its_figures(row: list[str]) -> None:
    benchmark, _, result = row
    refs = JSON_REF.findall(result)
    assert refs, f"{benchmark}: the result cites no docs/bench/*.json"
    docs = [_load(ref) for ref in refs]
    for ref, doc in zip(refs, docs, strict=True):
        if "command" in doc:
            assert f"`{doc['command']}`" in result, f"{benchmark}: cite {ref}'s command"
            assert doc["command"].split()[1] == benchmark.strip("`"), f"{ref} is another's"
    values: set[float] = set()
    for doc in docs:
        _numbers(doc, values)
    missing = [m[0] for m in _figures(result) if not _derivable(m, values)]
    assert not missing, f"{benchmark}: figures not in {refs}: {missing}"


def test_the_exploration_table_matches_its_json() -> None:
    section = _section("`benchmarks/exploration.py` gives every method")
    refs = JSON_REF.findall(section)
    quick = [r for r in refs if r.endswith("_quick.json")]
    full = [r for r in refs if r.endswith("_full.json")]
    assert quick and full, "the exploration section cites its quick and full JSON"
    values = {"quick": _numbers(_load(quick[0]), set()), "full": _numbers(_load(full[0]), set())}
    rows = _rows(section)
    assert len(rows) == 6
    for row in rows:
        assert len(row) == 8, row
        for mode, cells in (("quick", row[2:5]), ("full", row[5:8])):
            for cell in cells:
                missing = [m[0] for m in _figures(cell) if not _derivable(m, values[mode])]
                assert not missing, f"{row[0]}: {mode} figures not in its JSON: {missing}"


def test_the_small_local_models_figures_match_their_json() -> None:
    """The circle-packing sentences of "Small local models": each sentence that cites a JSON
    cites its command too and states only that JSON's figures; the others state none."""
    text = README.read_text()
    start = text.index("**Small local models.**")
    paragraph = text[start:text.index("\n\n", start)]
    span = paragraph[paragraph.index("Measured in one invocation"):
                     paragraph.index("Operators, tuning and prompts")]
    sentences = re.split(r"(?<=\.)\s+(?=[A-Z])", " ".join(span.split()))
    cited = [s for s in sentences if JSON_REF.search(s)]
    assert {r for s in cited for r in JSON_REF.findall(s)} == {
        "docs/bench/circle_packing_issue17_full.json"}
    for sentence in sentences:
        refs = JSON_REF.findall(sentence)
        values: set[float] = set()
        for ref in refs:
            doc = _load(ref)
            assert f"`{doc['command']}`" in sentence, f"cite {ref}'s command: {sentence}"
            _numbers(doc, values)
        missing = [m[0] for m in _figures(sentence) if not _derivable(m, values)]
        assert not missing, f"figures not in {refs or 'any cited JSON'}: {missing} in {sentence}"


def test_figures_are_checked_by_rounding() -> None:
    values = {0.9209, 87_163_000.0, 100_424_770.3, 0.2, 81.54, 0.0301}
    ok = ["0.92", "87 MB", "1.0·10⁸", "1/5", "82×", "30 ms"]
    bad = ["0.93", "88 MB", "1.1·10⁸", "2/5", "215×", "6 ms"]
    assert all(_derivable(FIGURE.search(t), values) for t in ok)
    assert not any(_derivable(FIGURE.search(t), values) for t in bad)
