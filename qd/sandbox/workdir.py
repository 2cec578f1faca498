"""The per-run temp dir: created private, filled with the program's files, read back, removed."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import PurePosixPath

from qd.sandbox.result import SandboxError


class Workdir:
    """A fresh directory `<tmp>/qd-sandbox-XXXX/work`, the only place a program may write.

    The outer directory is private to the engine (mode 0700), so nothing but the engine and the
    program can reach `work`. With `owner` the work dir and its files belong to that uid/gid
    (the unprivileged user a root engine runs bwrap programs as).

    Args:
        root: Parent of the temp dir (None: the system temp dir).
        owner: (uid, gid) to give the work dir to, or None to keep the engine's.
    """

    def __init__(self, root: str | os.PathLike[str] | None, owner: tuple[int, int] | None) -> None:
        try:
            self.top = tempfile.mkdtemp(prefix="qd-sandbox-", dir=root)
        except OSError as err:
            raise SandboxError(f"cannot create a sandbox temp dir: {err}") from err
        self.path = os.path.join(self.top, "work")
        self.owner = owner
        try:
            os.mkdir(self.path, 0o700)
            self._chown(self.path)
        except OSError as err:
            shutil.rmtree(self.top, ignore_errors=True)
            raise SandboxError(f"cannot prepare the sandbox work dir: {err}") from err

    def write_files(self, files: Mapping[str, bytes | str]) -> None:
        """Write the program's files; names are relative paths that stay inside the dir.

        Raises:
            SandboxError: A name is absolute, empty, contains `..`, or is given twice.
        """
        for name, content in files.items():
            parts = _split(name)
            folder = self.path
            for part in parts[:-1]:
                folder = os.path.join(folder, part)
                if not os.path.isdir(folder):
                    os.mkdir(folder, 0o755)
                    self._chown(folder)
            target = os.path.join(folder, parts[-1])
            data = content.encode() if isinstance(content, str) else bytes(content)
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            except FileExistsError:
                raise SandboxError(f"file {name!r} is given twice") from None
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            self._chown(target)

    def read_result(self, name: str, limit: int) -> tuple[str | None, bool]:
        """Read the result file the program wrote, refusing links and special files.

        Args:
            name: File name inside the work dir.
            limit: Bytes to read at most.

        Returns:
            (text or None when absent / not a regular file, truncated flag).
        """
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            dir_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return None, False
        try:
            fd = os.open(name, flags, dir_fd=dir_fd)
        except OSError:
            return None, False
        finally:
            os.close(dir_fd)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None, False
            data = handle.read(limit + 1)
        return data[:limit].decode("utf-8", "replace"), len(data) > limit

    def remove(self) -> None:
        """Delete the temp dir and everything the program left in it."""

        def fix(func: object, path: str, _exc: object) -> None:
            try:  # a program may have made its own dirs unreadable or unwritable
                os.chmod(os.path.dirname(path), 0o700)
                os.chmod(path, 0o700, follow_symlinks=False)
            except OSError:
                pass
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                _unlink(path)

        shutil.rmtree(self.top, onerror=fix)
        if os.path.exists(self.top):
            shutil.rmtree(self.top, ignore_errors=True)

    def _chown(self, path: str) -> None:
        if self.owner is not None:
            os.chown(path, *self.owner, follow_symlinks=False)


def _split(name: str) -> list[str]:
    if not isinstance(name, str) or not name or "\0" in name:
        raise SandboxError(f"invalid file name {name!r}")
    path = PurePosixPath(name)
    if not path.parts or path.is_absolute() or ".." in path.parts:
        raise SandboxError(f"file name {name!r} must be a relative path inside the sandbox")
    return list(path.parts)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
