"""The extra files of a program problem (`problem.files`): files and whole folders, size-checked.

Every entry travels into each evaluation's sandbox beside `evaluate.py`: a file under its own
name, a folder with everything under it (its subfolders too) under the folder's name. Hidden
entries (names starting with ".") and `__pycache__` folders inside a folder stay behind. The
total is checked against `problem.files_limit_mb`, since it is copied for every evaluation.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Folder entries that never travel: caches and hidden files (.git, .venv, ...).
SKIPPED_DIRS = frozenset({"__pycache__"})


def _walk(folder: Path) -> list[tuple[str, Path]]:
    """(sandbox name, path) of every file under `folder`, named `folder.name/...`."""
    out: list[tuple[str, Path]] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for name in sorted(files):
            if not name.startswith("."):
                path = Path(root) / name
                out.append((str(Path(folder.name) / path.relative_to(folder)), path))
    return out


def file_entries(entries: list[Path]) -> list[tuple[str, Path]]:
    """(sandbox name, path) of every file the entries stand for, in order."""
    out: list[tuple[str, Path]] = []
    for entry in entries:
        path = Path(entry)
        out += _walk(path) if path.is_dir() else [(path.name, path)]
    return out


def check_size(entries: list[Path], limit_mb: float) -> None:
    """Raise ValueError when the files of `entries` are more than `limit_mb` together.

    The message gives the total, the largest file and both ways out.
    """
    sized = [(name, path.stat().st_size) for name, path in file_entries(entries)]
    total = sum(size for _, size in sized)
    if total <= limit_mb * 1e6:
        return
    name, size = max(sized, key=lambda item: item[1])
    raise ValueError(
        f"{total / 1e6:.1f} MB in {len(sized)} files are copied into every evaluation's "
        f"sandbox (largest: {name}, {size / 1e6:.1f} MB); the limit is "
        f"problem.files_limit_mb = {limit_mb:g}: leave out what the evaluator does not read, "
        f"or raise problem.files_limit_mb")


def read_files(entries: list[Path]) -> dict[str, bytes]:
    """Sandbox name → bytes of every file of `entries` (a later name replaces an earlier)."""
    return {name: path.read_bytes() for name, path in file_entries(entries)}
