"""Atomic file writes: temp file in the same folder, fsync, rename, fsync the folder.

File mode: the written file gets the mode any newly created file gets, `0o666 & ~umask`
(0644 under the usual umask 022, 0600 under 077), and a directory's default ACL applies as it
would to `open(path, "w")`. The temp file is created with `os.open(..., 0o666)` so the kernel
applies the umask itself: the process umask is never read or changed (no race with other
threads). A replaced file is a new file: its old mode is not carried over.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_CREATE_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_ATTEMPTS = 100


def _create_temp(path: Path) -> tuple[int, Path]:
    """Create a new, uniquely named temp file next to `path`, mode `0o666 & ~umask`."""
    for _ in range(_ATTEMPTS):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, _CREATE_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temp file name for {path.name}")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see either the old or the new file, whole.

    The file's mode follows the umask like a plain `open(path, "w")` (module docstring).
    """
    path = Path(path)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_text_atomic(path: Path, text: str) -> None:
    """`write_bytes_atomic` for UTF-8 text."""
    write_bytes_atomic(path, text.encode("utf-8"))
