"""Bulk checkpoints of a numeric run's full state (archives, emitters incl. CMA-ES, RNGs).

A checkpoint is a pickle written atomically (temp file + fsync + rename) under
`checkpoints/`, then recorded in the run store with its SHA-256; loading verifies the digest
and falls back to the previous checkpoint, with a warning, when the newest one is damaged.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qd.atomic import write_bytes_atomic
from qd.store import CheckpointRow, RunStore

CHECKPOINT_DIR = "checkpoints"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the iteration it was taken after, and the state."""

    iteration: int
    state: dict[str, Any]


def save_checkpoint(
    folder: Path, store: RunStore, iteration: int, state: dict[str, Any], keep: int = 2
) -> Path:
    """Write the state of `iteration`, record it, delete checkpoints beyond the newest `keep`."""
    data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    directory = Path(folder) / CHECKPOINT_DIR
    directory.mkdir(exist_ok=True)
    name = f"state-{iteration:09d}.pkl"
    write_bytes_atomic(directory / name, data)
    row = CheckpointRow(iteration, name, hashlib.sha256(data).hexdigest(), len(data))
    for old in store.checkpoints.add(row, keep):
        if old != name:
            (directory / old).unlink(missing_ok=True)
    return directory / name


def load_latest_checkpoint(folder: Path, store: RunStore) -> Checkpoint | None:
    """The newest intact checkpoint, or None; damaged ones are skipped with a warning."""
    directory = Path(folder) / CHECKPOINT_DIR
    for row in store.checkpoints.all():
        path = directory / row.file
        try:
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != row.sha256:
                raise ValueError(f"SHA-256 mismatch ({len(data)} of {row.bytes} bytes)")
            state = pickle.loads(data)  # noqa: S301 - the run's own file, digest checked
        except (OSError, ValueError, pickle.UnpicklingError, EOFError) as exc:
            message = f"checkpoint {path.name} is damaged ({exc}); falling back to an older one"
            log.warning(message, extra={"event": "checkpoint_damaged", "file": row.file})
            if not store.readonly:  # a reader (report, export) only logs
                store.events.add("warning", message=message)
            continue
        return Checkpoint(row.iteration, state)
    return None
