import json

import numpy as np
import pytest

import qd
from qd.events import EngineListener
from qd.numeric.build import build_components
from qd.numeric.engine import Engine
from qd.spec_loader import validate_spec
from tests.conftest import small_spec


def elites_sorted(result):
    e = result.archive.elites()
    order = np.argsort(e["index"])
    return {k: v[order] for k, v in e.items()}


@pytest.mark.parametrize("emitter", [{"name": "gaussian", "sigma": 0.4},
                                     {"name": "cma_me", "count": 2, "batch_size": 16}])
def test_same_seed_same_archive(emitter):
    spec = small_spec(emitters=[emitter])
    a, b = qd.evolve(spec, write=False), qd.evolve(spec, write=False)
    ea, eb = elites_sorted(a), elites_sorted(b)
    for key in ("solution", "objective", "measures", "index"):
        np.testing.assert_array_equal(ea[key], eb[key])
    assert [m.qd_score for m in a.metrics] == [m.qd_score for m in b.metrics]


def test_different_seed_different_archive():
    a = qd.evolve(small_spec(), write=False)
    b = qd.evolve(small_spec(), seed=4, write=False)
    assert not np.array_equal(elites_sorted(a)["index"], elites_sorted(b)["index"]) or not (
        np.array_equal(elites_sorted(a)["objective"], elites_sorted(b)["objective"])
    )


def test_budget_is_rounded_up_to_whole_iterations():
    result = qd.evolve(small_spec(), budget=100, write=False)  # batch 32
    assert result.end.evaluations == 128
    assert result.end.iterations == 4
    assert [m.evaluations for m in result.metrics] == [32, 64, 96, 128]


def test_metrics_are_monotone_and_consistent():
    result = qd.evolve(small_spec(), write=False)
    qd_scores = [m.qd_score for m in result.metrics]
    assert qd_scores == sorted(qd_scores)  # elitist archive never loses QD score
    final = result.archive.stats()
    assert result.metrics[-1].qd_score == final.qd_score
    assert result.metrics[-1].coverage == final.coverage == final.num_elites / 400


def test_request_stop_ends_after_current_iteration(tmp_path):
    spec = validate_spec(small_spec(), tmp_path, "t")
    seen = []

    class StopAtThree(EngineListener):
        def on_iteration(self, metrics):
            seen.append(metrics.iteration)
            if metrics.iteration == 3:
                engine.request_stop()

    engine = Engine(build_components(spec), spec.run.budget, [StopAtThree()])
    end = engine.run()
    assert seen == [1, 2, 3]
    assert end.reason == "stopped" and end.evaluations == 96


def test_run_folder_contents(tmp_path):
    out = tmp_path / "run"
    result = qd.evolve(small_spec(), out=out)
    assert result.path == out
    names = {p.name for p in out.iterdir()}
    assert {"config.toml", "run.json", "metrics.jsonl", "run.log", "archive.npz",
            "summary.json", "store.sqlite", "checkpoints", "run.lock"} <= names
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == result.end.iterations == 20
    summary = json.loads((out / "summary.json").read_text())
    assert summary["qd_score"] == rows[-1]["qd_score"]
    archive = np.load(out / "archive.npz")
    assert archive["solution"].shape[0] == summary["num_elites"]
    log = [json.loads(line) for line in (out / "run.log").read_text().splitlines()]
    assert [r["event"] for r in log] == ["start", "checkpoint", "end"]
    # the effective config reruns to the same archive
    again = qd.evolve(out / "config.toml", write=False)
    assert again.archive.stats() == result.archive.stats()


def test_existing_run_folder_is_refused(tmp_path):
    qd.evolve(small_spec(), out=tmp_path / "r")
    with pytest.raises(qd.QDError, match="already holds a run"):
        qd.evolve(small_spec(), out=tmp_path / "r")


def test_chunked_evaluation_gives_the_same_archive():
    a = qd.evolve(small_spec(), write=False)
    b = qd.evolve(small_spec(), overrides=["run.chunk_size=5"], write=False)
    assert a.archive.stats() == b.archive.stats()


def test_nan_objectives_are_a_clear_error(tmp_path):
    (tmp_path / "p.py").write_text(
        "import numpy as np\n"
        "def evaluate(x):\n    return np.full(len(x), np.nan), x[:, :1]\n"
    )
    spec = {"problem": {"name": "python", "file": str(tmp_path / "p.py"), "solution_dim": 2,
                        "measure_bounds": [[-1, 1]]}, "run": {"budget": 10}}
    with pytest.raises(qd.QDError, match="NaN or infinite values for 36 solution"):
        qd.evolve(spec, write=False)
