"""Code embeddings stored in the run store: round trip, read-only use, migration, and a run
whose report and resume do not embed a stored program again.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import torch

import qd
from problems.program import MeasureConfig, ProgramProblemConfig
from qd.embeddings.cache import EmbeddingCache, embedding_key
from qd.embeddings.embedders import BlockEmbedder, NgramEmbedder, embedded_text
from qd.embeddings.minilm import MiniLMEmbedder
from qd.embeddings.projection import EmbeddingProjection
from qd.export import archive_table
from qd.program.archive import rebuild_program_archive
from qd.store import RunStore, StoreError
from qd.store.migrations import MIGRATIONS, SCHEMA_VERSION
from tests.program.conftest import TOY, Reply, improving_diff, prompt_text, toy_overrides
from tests.program.test_embedding_measures import _assert_same, _elites, _embedding_overrides

torch.set_num_threads(1)


class Counting:
    """An embedder that counts the texts it embeds."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self.inner = inner
        self.texts = 0

    def embed(self, texts):  # noqa: ANN001, ANN201
        self.texts += len(texts)
        return self.inner.embed(texts)


def _rows(store: RunStore) -> int:
    return store.embeddings.count()


def _reader(run: Path) -> RunStore:
    return RunStore.open(run, readonly=True)


def test_vectors_round_trip_bit_exactly_and_by_embedder(tmp_path):
    rng = np.random.default_rng(0)
    v32 = rng.normal(size=384).astype(np.float32)
    v64 = rng.normal(size=7)
    with closing(RunStore.open(tmp_path)) as store:
        cache = EmbeddingCache.of_store(store, writable=True)
        cache.put_many("minilm", {"a": v32, "b": v64})
        cache.put_many("minilm", {"a": v32 + 1})  # a stored vector is never replaced
        cache.put_many("ngram", {"a": v64})
        assert _rows(store) == 3 and cache.writes == 3
        got = EmbeddingCache.of_store(store).get_many("minilm", ["a", "b", "c"])
    assert set(got) == {"a", "b"}
    assert got["a"].dtype == np.float32 and got["a"].tobytes() == v32.tobytes()
    assert got["b"].dtype == np.float64 and got["b"].tobytes() == v64.tobytes()
    assert embedding_key("minilm", "a") != embedding_key("ngram", "a")


def test_a_read_only_store_is_read_and_never_written(tmp_path):
    with closing(RunStore.open(tmp_path)) as store:
        EmbeddingCache.of_store(store, writable=True).put_many("ngram", {"x": np.ones(3)})
    with closing(_reader(tmp_path)) as reader:
        assert EmbeddingCache.of_store(reader).get_many("ngram", ["x"])["x"].tolist() == [1] * 3
        EmbeddingCache.of_store(reader).put_many("ngram", {"y": np.ones(3)})  # ignored
        forced = EmbeddingCache(reader.embeddings, writable=True)  # even when told to write
        forced.put_many("ngram", {"z": np.ones(3)})  # logs once, does not raise
        assert not forced.writable
        assert forced.get_many("ngram", ["x", "z"]).keys() == {"x"}
        assert _rows(reader) == 1


def test_projection_uses_stored_vectors_and_dedups_identical_blocks(tmp_path):
    code = (TOY / "initial.py").read_text()
    codes = {i: code.replace("1.0, 1.0]", f"{i}.0, {i * 0.5}]") for i in range(1, 8)}
    codes[8] = "# another preamble\n" + codes[7]  # same EVOLVE-BLOCK as program 7
    assert embedded_text(codes[8]) == embedded_text(codes[7]) and codes[8] != codes[7]
    measures = [MeasureConfig(source="evaluator", index=0, range=(0, 10)),
                MeasureConfig(source="embedding", index=0)]
    problem = ProgramProblemConfig(initial=TOY / "initial.py", evaluator=TOY / "evaluate.py",
                                   measures=measures,
                                   embedding={"embedder": "ngram", "min_programs": 4,
                                              "refit_every": 4})

    def measured(cache: EmbeddingCache | None) -> tuple[Counting, list[tuple[float, ...]]]:
        inner = Counting(NgramEmbedder())
        projection = EmbeddingProjection(problem.measures, problem.embedding,
                                         BlockEmbedder(inner), cache)
        for pid, c in codes.items():
            projection.settle(pid, c)
        assert projection.fits == 2
        return inner, [projection.fill(p, c, (0.0, 0.0)) for p, c in codes.items()]

    with closing(RunStore.open(tmp_path)) as store:
        first, fresh = measured(EmbeddingCache.of_store(store, writable=True))
        assert first.texts == 7 and _rows(store) == 7  # 8 programs, 7 distinct blocks
        again, cached = measured(EmbeddingCache.of_store(store))
        assert again.texts == 0
        assert np.array(cached).tobytes() == np.array(fresh).tobytes()
        uncached, plain = measured(None)
        assert uncached.texts == 7 and np.array(plain).tobytes() == np.array(fresh).tobytes()


def test_a_schema_4_store_migrates(tmp_path):
    path = tmp_path / "store.sqlite"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for script in MIGRATIONS[:4]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version=4")
        conn.execute("INSERT INTO meta VALUES ('kept', '1')")
    with pytest.raises(StoreError, match="schema version 4"):
        RunStore.open(tmp_path, readonly=True)  # readers ask for a resume first
    assert SCHEMA_VERSION >= 5  # the embeddings table came with schema 5
    with closing(RunStore.open(tmp_path)) as store:
        assert store.meta.get("kept") == 1 and _rows(store) == 0
        EmbeddingCache.of_store(store, writable=True).put_many("minilm", {"t": np.zeros(2)})
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    with closing(_reader(tmp_path)) as reader:
        assert _rows(reader) == 1


def count_minilm_texts(monkeypatch) -> dict[str, int]:  # noqa: ANN001
    """Count the texts MiniLM embeds from now on: `counter["texts"]`."""
    counter = {"texts": 0}
    real = MiniLMEmbedder.embed

    def counting(self, texts):  # noqa: ANN001, ANN202
        counter["texts"] += len(texts)
        return real(self, texts)

    monkeypatch.setattr(MiniLMEmbedder, "embed", counting)
    return counter


def test_report_and_resume_do_not_embed_stored_programs(scripted_llm_server, tmp_path,
                                                        monkeypatch):
    scripted_llm_server.respond_with(lambda r: Reply(text=improving_diff(prompt_text(r))))
    whole = qd.evolve(TOY, out=tmp_path / "whole",
                      overrides=_embedding_overrides(scripted_llm_server, 8))
    part = tmp_path / "part"
    first = qd.evolve(TOY, out=part, overrides=_embedding_overrides(scripted_llm_server, 5))
    spec = qd.load_spec(part / "config.toml").spec
    embedded = count_minilm_texts(monkeypatch)
    with closing(_reader(part)) as reader:
        ok = reader.programs.all("ok")
        assert len(ok) == 5
        assert _rows(reader) == len({embedded_text(r.code) for r in ok})  # one per text
        # report / export / show: the archive from stored vectors, no forward pass
        table = archive_table(part, reader)
        assert embedded["texts"] == 0
        assert sorted(table["solution_0"].tolist()) == sorted(first.programs.s.archive.ids())
        rebuilt = rebuild_program_archive(spec, ok, cache=EmbeddingCache.of_store(reader))
        assert embedded["texts"] == 0
        _assert_same(_elites(rebuilt), _elites(first.programs.s.archive))
        # without the cache every valid program is embedded again: same archive
        _assert_same(_elites(rebuild_program_archive(spec, ok)), _elites(rebuilt))
        assert embedded["texts"] == 5
    embedded["texts"] = 0
    resumed = qd.resume(part, budget=8)
    assert embedded["texts"] == resumed.programs.counts["ok"] - 5  # only the new programs
    _assert_same(_elites(resumed.programs.s.archive), _elites(whole.programs.s.archive))
    # a store without vectors: a reader computes them and writes nothing
    with closing(sqlite3.connect(part / "store.sqlite")) as conn, conn:
        conn.execute("DELETE FROM embeddings")
    embedded["texts"] = 0
    with closing(_reader(part)) as reader:
        again = archive_table(part, reader)
        assert embedded["texts"] > 0 and _rows(reader) == 0
    np.testing.assert_array_equal(np.sort(again["solution_0"]),
                                  np.sort(resumed.programs.s.archive.ids()))


def test_minilm_duplicate_filter_keeps_its_vectors_in_the_store(scripted_llm_server, tmp_path,
                                                                monkeypatch):
    scripted_llm_server.respond_with(lambda r: Reply(text=improving_diff(prompt_text(r))))
    run = tmp_path / "run"
    overrides = toy_overrides(scripted_llm_server, **{"novelty.embedder": '"minilm"'})
    first = qd.evolve(TOY, out=run, overrides=overrides)
    seen = len(first.programs.s.novelty)
    assert first.programs.s.novelty.threshold == 0.9999  # the minilm default
    with closing(_reader(run)) as reader:
        assert _rows(reader) >= 2  # the filter's vectors, one per distinct block text
    embedded = count_minilm_texts(monkeypatch)
    resumed = qd.resume(run, budget=6)  # nothing left to evaluate: only the restore runs
    assert len(resumed.programs.s.novelty) == seen
    assert embedded["texts"] == 0  # every earlier program's vector came from the store
