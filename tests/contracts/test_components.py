"""Every registered archive, emitter, problem, built-in spec, measure source and evaluator
backend goes through the same run, by name (program specs against a scripted loopback LLM)."""

import hashlib
import json
import math
import re
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

import qd
from archives import archive_registry
from archives.base import ArchiveFamily
from mutators import emitter_registry
from mutators.base import EmitterFamily
from problems import problem_registry
from problems.measure_sources import measure_source, measure_source_registry
from qd.api import resolve_spec
from qd.evaluation.backends import Evaluator, evaluator_backend, evaluator_backends
from qd.evaluation.batch import BatchEvaluator
from qd.export import export_run
from qd.kinds import run_kind_of
from qd.languages import language_named
from qd.numeric.build import build_components
from qd.report.render import write_report
from qd.sandbox import SandboxLimits
from qd.spec_loader import builtin_specs
from qd.store import RunStore
from tests.conftest import small_spec
from tests.program.conftest import TOY, Reply, improving_diff, prompt_text, toy_overrides

ARCHIVE_OPTIONS = {
    "grid": {"cells": [20, 20]},
    "cvt": {"centroids": 50, "samples": 2000},
    "sliding_boundaries": {"cells": [20, 20], "remap_frequency": 50, "buffer_capacity": 200},
    "proximity": {"k_neighbors": 5},
}


@pytest.mark.parametrize("name", archive_registry.names())
def test_every_archive_fills_and_reports(name):
    spec = small_spec(archive={"name": name, **ARCHIVE_OPTIONS[name]})
    result = qd.evolve(spec, write=False)
    stats = result.archive.stats()
    assert stats.num_elites > 0
    assert 0 < stats.coverage <= 1
    assert stats.qd_score > 0
    assert stats.best is not None and stats.best <= 100
    elites = result.archive.elites()
    assert elites["solution"].shape == (stats.num_elites, 10)
    assert np.isclose(elites["objective"].max(), stats.best)
    assert stats.norm_qd_score > 0


EMITTER_OPTIONS = {
    "gaussian": {"sigma": 0.3},
    "iso_line": {"iso_sigma": 0.05, "line_sigma": 0.2},
    "cma_me": {"sigma0": 0.5},
    "cma_mae": {"sigma0": 0.5, "learning_rate": 0.05},
    "gp_tree": {"p_crossover": 0.5, "p_mutation": 0.5},
    "alternating": {"explore_iterations": 3, "exploit_iterations": 3},
    "go_explore": {"explore_steps": 10},
    "cma_mega": {"batch_size": 16},
    "cma_maega": {"batch_size": 16, "learning_rate": 0.05},
}
# Emitters that only the torch backend runs (DQD: gradients from autograd).
TORCH_ONLY = {"cma_mega", "cma_maega"}
# Emitters that vary a problem-specific genome (or explore states) run on that problem instead
# of sphere_lp.
EMITTER_PROBLEMS = {
    "gp_tree": {"name": "symbolic_regression", "max_nodes": 15, "max_depth": 5},
    "go_explore": {"name": "maze_navigation", "steps": 50},
}


@pytest.mark.parametrize("name", emitter_registry.names())
def test_every_emitter_improves_the_archive(name):
    emitters = [{"name": name, "count": 2, "batch_size": 16, **EMITTER_OPTIONS[name]}]
    problem = EMITTER_PROBLEMS.get(name, small_spec()["problem"])
    spec = small_spec(emitters=emitters, problem=problem)
    if name in TORCH_ONLY:
        spec["run"] = {**spec["run"], "backend": "torch"}
    result = qd.evolve(spec, write=False)
    first, last = result.metrics[0], result.metrics[-1]
    assert last.evaluations == 640
    assert last.num_elites > first.num_elites
    assert last.qd_score > first.qd_score


def _has_torch(registry, base) -> list[str]:
    return [n for n, c in registry.items() if c.build_torch is not base.build_torch]


@pytest.mark.parametrize("name", _has_torch(emitter_registry, EmitterFamily))
def test_every_torch_emitter_improves_the_archive_on_the_torch_backend(name):
    emitters = [{"name": name, "count": 2, "batch_size": 16, **EMITTER_OPTIONS[name]}]
    result = qd.evolve(small_spec(emitters=emitters, run={"budget": 640, "seed": 3,
                                                          "backend": "torch"}), write=False)
    assert result.archive.on_torch
    first, last = result.metrics[0], result.metrics[-1]
    assert last.evaluations == 640 and last.qd_score > first.qd_score


@pytest.mark.parametrize("name", _has_torch(archive_registry, ArchiveFamily))
def test_every_torch_archive_fills_and_reports_on_the_torch_backend(name):
    spec = small_spec(archive={"name": name, **ARCHIVE_OPTIONS[name]},
                      run={"budget": 640, "seed": 3, "backend": "torch"})
    ribs = qd.evolve({**spec, "run": {**spec["run"], "backend": "pyribs"}}, write=False)
    result = qd.evolve(spec, write=False)
    stats = result.archive.stats()
    assert stats.num_elites == pytest.approx(ribs.archive.stats().num_elites, rel=0.25)
    assert result.archive.elites()["solution"].shape == (stats.num_elites, 10)


def test_every_registered_component_is_covered():
    assert set(ARCHIVE_OPTIONS) == set(archive_registry.names())
    assert set(EMITTER_OPTIONS) == set(emitter_registry.names())


# `python` and `program` problems are defined by spec folders (see their own tests).
@pytest.mark.parametrize("name", [n for n in problem_registry.names()
                                  if n not in ("python", "program")])
def test_every_builtin_problem_runs_from_its_spec(name):
    result = qd.evolve(name, budget=200, overrides=["run.seed=1"], write=False)
    assert result.end.evaluations >= 200
    assert result.archive.stats().num_elites > 0


def _is_program_spec(name: str) -> bool:
    return run_kind_of(qd.load_spec(name).spec).solutions_are_programs


PROGRAM_SPECS = sorted(n for n in builtin_specs() if _is_program_spec(n))


@pytest.mark.parametrize("name", sorted(builtin_specs()))
def test_every_builtin_spec_validates_and_numeric_ones_run_an_iteration(name):
    loaded = qd.load_spec(name)
    if run_kind_of(loaded.spec).solutions_are_programs:
        assert name in PROGRAM_SPECS  # run below, against the scripted LLM
        return
    result = qd.evolve(name, budget=1, write=False)  # one whole iteration
    assert result.end.iterations == 1
    assert result.archive.stats().num_elites > 0


# --- program specs ---------------------------------------------------------------------------

PROGRAM_BUDGET = 6
_FENCE = re.compile(r"```(\w*)\n(.*?)\n```", re.S)
# A new helper per answer, in the language of the prompt's code fence (a string constant, not
# a docstring: the duplicate filter ignores docstrings).
HELPERS = {
    "python": "def _scripted_variant_{n}():\n    tag = \"{tag}\"\n    return tag\n",
    "c": "static const char *scripted_variant_{n}(void) {{\n    return \"{tag}\";\n}}\n",
    "rust": ("#[allow(dead_code)]\nfn scripted_variant_{n}() -> &'static str {{\n"
             "    \"{tag}\"\n}}\n"),
}


class VariantLLM:
    """Answers any chat operator's prompt (diff, rewrite, crossover) with a valid child of the
    prompt's first program: its EVOLVE-BLOCK gains one new, distinct helper function (in the
    program's language, told by the prompt's code fence), so every answer applies, compiles,
    keeps the program's behaviour and is no near-duplicate.
    """

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request) -> Reply:  # noqa: ANN001 - RecordedRequest
        self.calls += 1
        text = prompt_text(request)
        found = _FENCE.search(text)
        assert found, "the prompt shows no program"
        language, parent = language_named(found.group(1) or "python"), found.group(2)
        start, end = language.start_marker, language.end_marker
        tag = "".join(hashlib.sha256(f"{self.calls}/{i}".encode()).hexdigest() for i in range(3))
        helper = HELPERS[language.name].format(n=self.calls, tag=tag)
        block = parent.split(start, 1)[1].split(end, 1)[0]
        lines = [line for line in block.splitlines() if line.strip()]
        if "<<<<<<< SEARCH" in text:  # the diff operator: append after the block's last lines
            k = 1
            while parent.count("\n".join(lines[-k:])) > 1:
                k += 1
            search = "\n".join(lines[-k:])
            return Reply(text=f"A helper.\n<<<<<<< SEARCH\n{search}\n=======\n{search}\n\n\n"
                              f"{helper}>>>>>>> REPLACE\n")
        head, tail = parent.rsplit(end, 1)
        child = f"{head.rstrip()}\n\n\n{helper}{end}{tail}"
        return Reply(text=f"A helper.\n```{language.fence}\n{child}\n```\n")


def scripted_model(server) -> str:  # noqa: ANN001 - ScriptedLLMServer
    return (f'llm.models=[{{model="openai/scripted", api_base="{server.api_base}", '
            'mode="chat", timeout_s=5.0, max_retries=1, backoff_s=0.01}]')


def _programs(run: Path) -> list[dict]:
    with closing(sqlite3.connect(f"file:{run / 'store.sqlite'}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM programs ORDER BY id")]


def _elites(elites: dict) -> dict[str, np.ndarray]:
    order = np.argsort(np.asarray(elites["index"]))
    return {k: np.asarray(elites[k])[order] for k in ("index", "objective", "measures",
                                                        "solution")}


def _assert_same_elites(a: dict, b: dict) -> None:
    a, b = _elites(a), _elites(b)
    assert len(a["index"]) > 0
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def stored_elites(run: Path) -> dict:
    """The run's archive rebuilt from its store alone (what report and export rely on)."""
    spec = qd.load_spec(run / "config.toml").spec
    with closing(RunStore.open(run, readonly=True)) as store:
        return run_kind_of(spec).stored_elites(spec, run, store)


def test_the_builtin_program_specs_are_run():
    assert {"circle_packing", "bin_packing", "tsp", "tsp_rust"} <= set(PROGRAM_SPECS)


@pytest.mark.parametrize("name", PROGRAM_SPECS)
def test_every_builtin_program_spec_runs_reports_exports_and_resumes(
        name, scripted_llm_server, tmp_path):
    toolchain = qd.load_spec(name).spec.problem.program_language.toolchain
    if toolchain is not None and not toolchain.available():
        pytest.skip(f"{name} needs {toolchain.programs[0]}: install it ({toolchain.install})")
    llm = VariantLLM()
    scripted_llm_server.respond_with(llm)
    out = tmp_path / "run"
    overrides = [scripted_model(scripted_llm_server), "run.seed=1",
                 "llm.proposals_in_flight=1", "llm.evaluations_in_flight=1"]
    result = qd.evolve(name, budget=PROGRAM_BUDGET, out=out, overrides=overrides)
    assert result.end.reason == "budget"
    assert result.end.evaluations >= PROGRAM_BUDGET
    stats = result.archive.stats()
    assert stats.num_elites > 0 and stats.best is not None
    assert (out / "config.toml").is_file() and (out / "store.sqlite").is_file()
    rows = _programs(out)
    evaluated = [r for r in rows if r["status"] not in ("proposed", "rejected", "duplicate",
                                                        "llm_error")]
    assert len(evaluated) == result.end.evaluations
    assert rows[0]["operator"] == "initial" and rows[0]["status"] == "ok"
    from_llm = [r for r in rows if r["model"] is not None]
    assert from_llm and llm.calls == len(scripted_llm_server.completion_requests())
    assert any(r["status"] == "ok" for r in from_llm)  # an LLM child was evaluated as valid
    best = max((r for r in rows if r["status"] == "ok"), key=lambda r: r["score"])
    assert best["score"] == stats.best
    _assert_same_elites(stored_elites(out), result.archive.elites())

    report = write_report(out)
    html = report.read_text()
    assert "<html" in html and f'data-id="{best["id"]}"' in html  # the best program is shown

    archive_csv, evals_csv = export_run(out, tmp_path / "export", "csv")
    archive_rows = archive_csv.read_text().splitlines()
    assert len(archive_rows) == 1 + stats.num_elites
    assert archive_rows[0].startswith("index,objective,measure_0,measure_1,solution_0")
    assert evals_csv.is_file()

    requests = len(scripted_llm_server.completion_requests())
    resumed = qd.resume(out)  # a finished run: nothing to do
    assert resumed.end.evaluations == result.end.evaluations
    assert len(scripted_llm_server.completion_requests()) == requests
    assert _programs(out) == rows
    assert resumed.archive.stats() == stats
    _assert_same_elites(resumed.archive.elites(), result.archive.elites())

    # every proposal is a row, internal errors included: no id without one (an operator
    # that cannot work yet, like crossover next to a single valid program, is a rejection)
    assert [r["id"] for r in rows] == list(range(1, rows[-1]["id"] + 1))
    assert result.programs.counts["internal_error"] == 0


# --- measure sources -------------------------------------------------------------------------

_RETURN = re.compile(r"return \[([^\]\n]*)\]")


def toy_values(code: str) -> list[float]:
    """The numbers the toy program's (or a prompt's last program's) solve() returns."""
    return [float(v) for v in _RETURN.findall(code)[-1].split(",")]


def _non_blank(code: str) -> list[str]:
    return [line for line in code.splitlines() if line.strip()]


# The second archive axis of a toy run for each source, and the value it must store for a
# program row (None: checked for being set, not for a value).
SOURCE_AXES = {
    "evaluator": ({"source": "evaluator", "index": 1, "range": [0.0, 10.0]},
                  lambda row: toy_values(row["code"])[1]),
    "code_length": ({"source": "code_length", "range": [0.0, 400.0]},
                    lambda row: float(sum(len(line) for line in _non_blank(row["code"])))),
    "lines": ({"source": "lines", "range": [0.0, 20.0]},
              lambda row: float(len(_non_blank(row["code"])))),
    "complexity": ({"source": "complexity", "range": [1.0, 10.0]},
                   lambda row: 1.0),  # the toy program has no branch
    "eval_time": ({"source": "eval_time", "range": [0.0, 10.0]}, lambda row: row["eval_s"]),
    "judge": ({"source": "judge", "index": 0},  # the scripted judge rates the first value
              lambda row: min(10.0, toy_values(row["code"])[0])),
    "embedding": ({"source": "embedding", "index": 0, "range": [-2.0, 2.0]}, None),
}


def _source_overrides(name: str, server) -> list[str]:  # noqa: ANN001 - ScriptedLLMServer
    axis, _ = SOURCE_AXES[name]
    measures = [{"source": "evaluator", "index": 0, "range": [0.0, 10.0]}, axis]
    toml = "[" + ", ".join("{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in m.items()) + "}"
                           for m in measures) + "]"
    extra = {"run.seed": "2"}
    if name == "judge":
        extra["judge.model"] = (f'{{model="openai/scripted", api_base="{server.api_base}", '
                                'mode="chat", timeout_s=5.0, max_retries=0, backoff_s=0.01}')
        extra["judge.axes"] = '[{name="boldness", low="timid", high="bold"}]'
    if name == "embedding":
        extra.update({"problem.embedding.embedder": "'ngram'",
                      "problem.embedding.min_programs": "3",
                      "problem.embedding.refit_every": "2"})
    return [*toy_overrides(server, **extra), f"problem.measures={toml}"]


def _toy_llm(request) -> Reply:  # noqa: ANN001 - RecordedRequest
    text = prompt_text(request)
    if text.rstrip().endswith("Rating (0-10):"):  # the judge
        return Reply(text=f" {min(10.0, toy_values(text)[0]):g}\n")
    return Reply(text=improving_diff(text))


def test_every_measure_source_is_covered():
    assert set(SOURCE_AXES) == set(measure_source_registry.names())


@pytest.mark.parametrize("name", measure_source_registry.names())
def test_every_measure_source_places_programs_from_a_run(name, scripted_llm_server, tmp_path):
    axis, expected = SOURCE_AXES[name]
    scripted_llm_server.respond_with(_toy_llm)
    out = tmp_path / "run"
    loaded = qd.load_spec(TOY, _source_overrides(name, scripted_llm_server))
    config = loaded.spec.problem.measures[1]
    assert config.source == name and config.label == measure_source(name).label(config.index)
    result = qd.evolve(loaded, out=out)
    assert result.end.reason == "budget" and result.end.evaluations == 6
    ok = [r for r in _programs(out) if r["status"] == "ok"]
    assert len(ok) == 6
    stored = [json.loads(r["measures"]) for r in ok]
    assert all(len(m) == 2 and all(math.isfinite(v) for v in m) for m in stored)
    assert [m[0] for m in stored] == [toy_values(r["code"])[0] for r in ok]
    if expected is not None:
        assert [m[1] for m in stored] == [expected(r) for r in ok]
    else:  # filled after the projection's first fit at 3 programs (0 before it)
        assert any(m[1] != 0.0 for m in stored)
    assert result.archive.stats().num_elites > 1  # the axes spread the programs
    _assert_same_elites(stored_elites(out), result.archive.elites())


# --- evaluator backends ----------------------------------------------------------------------


@contextmanager
def _no_cluster():
    yield None


@contextmanager
def _dask_cluster():
    """One local dask scheduler with one worker process, shared by both evaluators (`local:N`
    clusters, one per evaluator, are tested in tests/evaluation/test_dask.py)."""
    import distributed

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster.scheduler_address


# The cluster each backend needs, and the run options that select the backend.
BACKEND_RUN = {"local": (_no_cluster, lambda address: []),
               "dask": (_dask_cluster, lambda address: [f'run.cluster="{address}"'])}


def test_every_evaluator_backend_is_covered():
    assert set(BACKEND_RUN) == set(evaluator_backends.names())


@pytest.mark.parametrize("name", evaluator_backends.names())
def test_every_evaluator_backend_evaluates_both_run_kinds(name):
    backend = evaluator_backends.get(name)
    cluster, options = BACKEND_RUN[name]
    with cluster() as address:
        _check_backend(backend, options(address))


def _check_backend(backend: type, overrides: list[str]) -> None:
    numeric = resolve_spec(small_spec(), overrides).spec
    assert type(evaluator_backend(numeric.run)) is backend
    components = build_components(numeric)
    evaluator = components.evaluator
    assert isinstance(evaluator, Evaluator)
    x = np.random.default_rng(0).uniform(-2.0, 2.0, size=(24, 10))
    try:
        objectives, measures = evaluator(x)
    finally:
        evaluator.close()
        evaluator.close()  # idempotent
    want_obj, want_meas = BatchEvaluator(components.problem, torch.device("cpu"))(x)
    np.testing.assert_array_equal(objectives, want_obj)
    np.testing.assert_array_equal(measures, want_meas)

    program = resolve_spec(TOY, overrides).spec
    assert type(evaluator_backend(program.run)) is backend
    evaluate = backend().program(program.problem, program.sandbox or SandboxLimits(),
                                 program.run)
    assert isinstance(evaluate, Evaluator)
    initial = (TOY / "initial.py").read_text()
    try:
        good = evaluate(initial)
        bad = evaluate(initial.replace("return [1.0, 1.0, 1.0]", "return [11.0, 0.0, 0.0]"))
    finally:
        evaluate.close()
        evaluate.close()
    assert good.status == "ok" and good.score == 3.0 and tuple(good.measures) == (1.0, 1.0)
    assert bad.status == "invalid" and bad.score is None and "[0, 10]" in bad.feedback
