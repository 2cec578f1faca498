"""Read-only access to a run folder: store, config, provenance, checkpoint geometry, lock state.

Reports and `qd show` must never change a run, and may be run while the run is still going.
A writer's `RunStore.open` truncates an uncommitted tail of `solutions.f64` and migrates the
schema, which would corrupt a live run's in-flight iteration; `open_run_store` opens the store
read-only instead (SQLite `mode=ro`, nothing truncated, every write refused).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ribs.archives import ArchiveBase

from qd.errors import QDError
from qd.numeric.checkpoint import CHECKPOINT_DIR
from qd.run_dir import CONFIG_FILE, RunDir
from qd.run_lock import LOCK_FILE
from qd.spec_loader import read_toml
from qd.store import STORE_FILE, RunStore, StoreError


class ReportError(QDError):
    """A report or `qd show` cannot be made: no readable store, bad selector, unwritable output."""

    exit_code = 2


def open_run_store(folder: Path) -> RunStore:
    """Open a run's store read-only (`RunStore.open(folder, readonly=True)`).

    Raises:
        ReportError: The folder has no store, or it cannot be read by this qd.
    """
    path = Path(folder).resolve() / STORE_FILE
    if not path.is_file():
        raise ReportError(f"{folder}: no {STORE_FILE}; this run has no stored data")
    try:
        return RunStore.open(path.parent, readonly=True)
    except StoreError as err:
        raise ReportError(str(err)) from None


@dataclass(frozen=True)
class RunFiles:
    """What a run folder holds besides the store: the effective spec and the provenance."""

    path: Path
    config: dict[str, Any]
    provenance: dict[str, Any]
    summary: dict[str, Any] | None


def read_run_files(run: Path) -> RunFiles:
    """Read `config.toml`, `run.json` and `summary.json` (the last two may be absent)."""
    run_dir = RunDir.existing(Path(run))
    return RunFiles(
        path=run_dir.path,
        config=read_toml(run_dir.path / CONFIG_FILE),
        provenance=_read_json(run_dir.path / "run.json") or {},
        summary=_read_json(run_dir.path / "summary.json"),
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def checkpoint_archive(run: Path, store: RunStore) -> tuple[int, ArchiveBase] | None:
    """Return (iteration, result archive) of the newest intact checkpoint, or None.

    The digest is verified as `qd resume` does, but nothing is recorded: a damaged file is
    skipped silently here (resume reports it).
    """
    for row in store.checkpoints.all():
        try:
            data = (Path(run) / CHECKPOINT_DIR / row.file).read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() != row.sha256:
            continue
        state = pickle.loads(data)  # noqa: S301 - the run's own file, digest checked
        scheduler = state["components"]["scheduler"]
        return row.iteration, scheduler.result_archive
    return None


def lock_holder(run: Path) -> str | None:
    """Who holds the run's lock (a live `qd` process), or None when the run is not running."""
    path = Path(run) / LOCK_FILE
    if not path.is_file():
        return None
    with path.open("r", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = handle.read().strip()
            try:
                info = json.loads(text)
                return f"pid {info.get('pid')} on {info.get('host')}"
            except json.JSONDecodeError:
                return "another qd process"
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None
