"""The run store's connection: schema migrations, version checks, transactions across tables,
read-only mode, and RunStore's (small) public surface.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from qd.store import RunStore, StoreError
from qd.store.migrations import MIGRATIONS, SCHEMA_VERSION
from qd.types import IterationMetrics


def _old_store(folder, version: int) -> None:
    """A store file at schema `version` holding one meta row, as an older qd wrote it."""
    with closing(sqlite3.connect(folder / "store.sqlite", isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        for script in MIGRATIONS[:version]:
            conn.executescript(script)
        conn.execute(f"PRAGMA user_version={version}")
        if version:
            conn.execute("INSERT INTO meta VALUES ('kept', '1')")


def _version(folder) -> int:
    with closing(sqlite3.connect(folder / "store.sqlite")) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_an_older_store_is_migrated_by_a_writer_and_refused_by_a_reader(tmp_path, version):
    _old_store(tmp_path, version)
    with pytest.raises(StoreError, match=f"schema version {version}, .*resume the run once"):
        RunStore.open(tmp_path, readonly=True)
    assert _version(tmp_path) == version  # the reader migrated nothing
    with closing(RunStore.open(tmp_path, create=False)) as store:
        assert store.meta.get("kept") == 1
        store.programs.next_id()  # every table of this schema exists
        assert store.embeddings.count() == 0
    assert _version(tmp_path) == SCHEMA_VERSION
    with closing(RunStore.open(tmp_path, readonly=True)) as reader:
        assert reader.meta.get("kept") == 1


def test_a_newer_store_is_refused(tmp_path):
    _old_store(tmp_path, SCHEMA_VERSION)
    with closing(sqlite3.connect(tmp_path / "store.sqlite")) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this qd's"):
        RunStore.open(tmp_path)
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}"):
        RunStore.open(tmp_path, readonly=True)


def test_missing_or_corrupt_stores_are_refused(tmp_path):
    with pytest.raises(StoreError, match="no store.sqlite"):
        RunStore.open(tmp_path, readonly=True)
    with pytest.raises(StoreError, match="no store.sqlite"):
        RunStore.open(tmp_path, create=False)
    assert not (tmp_path / "store.sqlite").exists()
    (tmp_path / "store.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="cannot open run store"):
        RunStore.open(tmp_path)
    with pytest.raises(StoreError, match="cannot read run store"):
        RunStore.open(tmp_path, readonly=True)


def _metrics(iteration: int) -> IterationMetrics:
    return IterationMetrics(iteration, iteration, 1, 0.1, 1.0, 0.1, 1.0, 0.5)


def test_a_transaction_commits_every_tables_writes_or_none(tmp_path):
    with closing(RunStore.open(tmp_path)) as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.events.add("start")
            store.metrics.add(_metrics(1))
            store.component_state.put_many({"a": 1}, 1)
            raise RuntimeError("crash before the commit")
        assert store.events.all() == [] and store.metrics.all() == []
        assert store.component_state.all() == {}
        with store.transaction():
            store.events.add("start")
            with store.transaction():  # an inner transaction joins the outer one
                store.metrics.add(_metrics(1))
        assert len(store.events.all()) == 1 and len(store.metrics.all()) == 1


def test_a_read_transaction_sees_one_state_while_a_writer_commits(tmp_path):
    with closing(RunStore.open(tmp_path)) as writer, \
            closing(RunStore.open(tmp_path, readonly=True)) as reader:
        writer.metrics.add(_metrics(1))
        with reader.transaction():
            assert len(reader.metrics.all()) == 1
            writer.metrics.add(_metrics(2))
            assert len(reader.metrics.all()) == 1
        assert len(reader.metrics.all()) == 2


def test_run_store_public_surface():
    """Methods and properties: opening, closing, transactions, read-only; the rest is tables."""
    public = {name for name in vars(RunStore) if not name.startswith("_")}
    assert public == {"open", "close", "transaction", "readonly"}


def test_every_table_of_the_schema_has_a_module(tmp_path):
    with closing(RunStore.open(tmp_path)) as store:
        attributes = {name for name in vars(store) if not name.startswith("_")}
    with closing(sqlite3.connect(tmp_path / "store.sqlite")) as conn:
        tables = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    assert attributes == tables | {"path"}
