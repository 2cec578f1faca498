"""Atomic writes: whole-file replacement, and the file mode follows the umask like open()."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

import qd
from qd.atomic import write_bytes_atomic, write_text_atomic
from qd.report import write_report

UMASKS = [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)]
WRITERS = {
    "bytes": lambda path: write_bytes_atomic(path, b"\x00data"),
    "text": lambda path: write_text_atomic(path, "tekst\n"),
}


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test; the previous one is restored afterwards."""
    before = os.umask(0o022)
    os.umask(before)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(before)


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize(("mask", "expected"), UMASKS)
def test_new_file_mode_follows_umask(tmp_path, umask, writer, mask, expected):
    umask(mask)
    target = tmp_path / "out.bin"
    WRITERS[writer](target)
    assert mode_of(target) == expected
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"")
    assert mode_of(target) == mode_of(plain)


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_replaced_file_gets_umask_mode_not_old_mode(tmp_path, umask, writer):
    """Documented choice: a replaced file is a new file; its old mode is not carried over."""
    umask(0o022)
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    target.chmod(0o600)
    WRITERS[writer](target)
    assert mode_of(target) == 0o644
    assert target.read_bytes() != b"old"


def test_content_replaced_whole_and_no_temp_left(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "x.txt"
    write_text_atomic(target, "one\n")
    write_text_atomic(target, "two\n")
    assert target.read_text() == "two\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "x.txt"
    target.write_text("old\n")
    with pytest.raises(TypeError):
        write_bytes_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_umask_unchanged_and_threads_safe(tmp_path, umask):
    """Writing never changes the process umask, even with writers in several threads."""
    umask(0o027)
    errors: list[BaseException] = []

    def write_many(k: int) -> None:
        try:
            for i in range(20):
                write_text_atomic(tmp_path / f"f{k}-{i}.txt", "x")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write_many, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    current = os.umask(0o027)
    assert current == 0o027
    assert {mode_of(p) for p in tmp_path.iterdir()} == {0o640}


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_run_folder_files_follow_umask(tmp_path, umask, mask, expected):
    umask(mask)
    out = tmp_path / "run"
    qd.evolve("sphere_lp", budget=200, seed=1, out=out)
    report = write_report(out)
    assert report == out / "report.html"
    for name in ("config.toml", "run.json", "archive.npz", "summary.json", "report.html"):
        assert mode_of(out / name) == expected, name
    checkpoints = sorted((out / "checkpoints").iterdir())
    assert checkpoints
    assert {mode_of(p) for p in checkpoints} == {expected}
    qd.resume(out, budget=400)  # rewrites metrics.jsonl from the store (atomically)
    for name in ("metrics.jsonl", "archive.npz", "summary.json"):
        assert mode_of(out / name) == expected, name
