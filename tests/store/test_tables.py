"""Every table module of the run store against its contract (`tests.store.contract`), on a
real SQLite file: round trip, reopening, read-only refusal, and a killed writer.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from qd.store import SOLUTIONS_FILE, RunStore, StoreError
from tests.store.contract import CONTRACTS

ROOT = Path(__file__).resolve().parents[2]
TABLES = sorted(CONTRACTS)


def store_bytes(folder: Path) -> dict[str, bytes]:
    """The run store's files; a reader may leave SQLite's WAL index and an empty WAL behind."""
    wal = folder / "store.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    return {name: (folder / name).read_bytes() for name in ("store.sqlite", SOLUTIONS_FILE)}


def written(folder: Path, table: str) -> object:
    """Write the contract's rows into a new store in `folder`; returns what the table reads."""
    contract = CONTRACTS[table]
    with closing(RunStore.open(folder)) as store:
        contract.write(store)
        return contract.read(store)


@pytest.mark.parametrize("table", TABLES)
def test_write_then_read_round_trips(tmp_path, table):
    contract = CONTRACTS[table]
    with closing(RunStore.open(tmp_path)) as store:
        empty = contract.read(store)
        contract.write(store)
        data = contract.read(store)
    assert data != empty  # the contract's rows are visible...
    with closing(RunStore.open(tmp_path)) as store:
        contract.more(store)
        assert contract.read(store) != data  # ...and so are more of them


@pytest.mark.parametrize("table", TABLES)
def test_reopening_gives_the_same_data(tmp_path, table):
    data = written(tmp_path, table)
    with closing(RunStore.open(tmp_path, create=False)) as store:
        assert CONTRACTS[table].read(store) == data
    with closing(RunStore.open(tmp_path, readonly=True)) as reader:
        assert CONTRACTS[table].read(reader) == data


@pytest.mark.parametrize("table", TABLES)
def test_a_read_only_store_refuses_writes(tmp_path, table):
    data = written(tmp_path, table)
    before = store_bytes(tmp_path)
    with closing(RunStore.open(tmp_path, readonly=True)) as reader:
        assert reader.readonly
        with pytest.raises(StoreError, match="open read-only: cannot"):
            CONTRACTS[table].more(reader)
        assert CONTRACTS[table].read(reader) == data
    assert store_bytes(tmp_path) == before  # not a byte changed, no solutions tail
    with closing(RunStore.open(tmp_path)) as store:
        assert CONTRACTS[table].read(store) == data


@pytest.mark.parametrize("table", TABLES)
def test_a_killed_writers_uncommitted_rows_are_not_visible(tmp_path, table):
    data = written(tmp_path, table)
    proc = subprocess.run([sys.executable, "-m", "tests.store.contract", str(tmp_path), table],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with closing(RunStore.open(tmp_path, readonly=True)) as reader:  # while the tail is there
        assert CONTRACTS[table].read(reader) == data
    with closing(RunStore.open(tmp_path)) as store:
        assert CONTRACTS[table].read(store) == data
        CONTRACTS[table].more(store)  # the writer's work can be redone


def test_the_solutions_tail_of_a_killed_writer_is_truncated_on_open(tmp_path):
    written(tmp_path, "batches")
    solutions = tmp_path / SOLUTIONS_FILE
    committed = solutions.stat().st_size
    assert committed == (4 + 5) * 3 * 8
    proc = subprocess.run([sys.executable, "-m", "tests.store.contract", str(tmp_path),
                           "batches"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert solutions.stat().st_size == committed + 64 * 3 * 8  # appended before the commit
    with closing(RunStore.open(tmp_path, readonly=True)):
        assert solutions.stat().st_size == committed + 64 * 3 * 8  # a reader leaves it
    with closing(RunStore.open(tmp_path)) as store:
        assert solutions.stat().st_size == committed  # a writer cuts it
        store.batches.record(3, *[a[:1] for a in _one_row()])
        assert [b.iteration for b in store.batches.read()] == [1, 2, 3]
    assert solutions.stat().st_size == committed + 3 * 8


def test_a_solutions_file_shorter_than_the_store_is_refused(tmp_path):
    written(tmp_path, "batches")
    solutions = tmp_path / SOLUTIONS_FILE
    solutions.write_bytes(solutions.read_bytes()[:-8])
    with pytest.raises(StoreError, match="shorter than the store says"):
        RunStore.open(tmp_path)


def _one_row():
    import numpy as np

    return np.ones((1, 3)), np.ones(1), np.ones((1, 2))
