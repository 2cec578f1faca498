"""The bubblewrap command line of a run: namespaces, a read-only system view, one writable dir."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Sequence

from qd.sandbox.limits import SandboxLimits

#: Where the launcher script is mounted inside the sandbox.
INNER_LAUNCHER = "/.qd-sandbox/launch.py"
#: /etc entries a program may need (dynamic linker, time zone, user names, localhost).
ETC_ENTRIES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd",
    "group", "hosts", "host.conf", "alternatives", "os-release", "mime.types",
)  # fmt: skip
SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def bwrap_binary() -> str | None:
    """Path of the `bwrap` executable, or None when it is not installed."""
    return shutil.which("bwrap")


def python_paths() -> list[str]:
    """Host paths holding the running Python installation and its virtual environment."""
    paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    paths.append(os.path.dirname(sys.executable))
    return list(dict.fromkeys(os.path.abspath(p) for p in paths if p))


def read_paths(limits: SandboxLimits) -> list[str]:
    """Host paths a program may read: system dirs, minimal /etc, Python, `read_only_paths`."""
    paths = ["/usr"] + [f"/{name}" for name in SYSTEM_LINKS]
    paths += [f"/etc/{name}" for name in ETC_ENTRIES]
    return paths + python_paths() + list(limits.read_only_paths)


class _Builder:
    """Accumulates bwrap arguments; creates mount-point parents world-traversable (0755)."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self.identity: list[str] = []  # host trees bound read-only at their own path
        self.made: set[str] = {"/", "/proc", "/dev", "/dev/shm", "/tmp"}

    def add(self, *args: str) -> None:
        self.args.extend(args)

    def _in_identity(self, path: str) -> bool:
        return any(path == t or path.startswith(t.rstrip("/") + "/") for t in self.identity)

    def mount(self, option: str, source: str, dest: str) -> None:
        """Mount `source` on `dest` unless the same host path is already visible there."""
        if source == dest and self._in_identity(dest):
            return
        parts = dest.strip("/").split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            parent = "/" + "/".join(parts[:depth])
            if parent not in self.made and not self._in_identity(parent):
                self.add("--perms", "0755", "--dir", parent)
                self.made.add(parent)
        self.add(option, source, dest)
        self.made.add(dest)
        if option == "--ro-bind" and source == dest:
            self.identity.append(dest)


def bwrap_argv(
    binary: str,
    limits: SandboxLimits,
    workdir: str,
    info_fd: int,
    seccomp_fd: int | None,
    launcher: str,
    inner: Sequence[str],
    program: Sequence[str],
    as_root: bool,
) -> list[str]:
    """Build the complete bwrap command.

    Args:
        binary: The bwrap executable.
        limits: Supplies tmpfs sizes and extra read-only paths.
        workdir: Host path of the run's work dir, bound read-write at the same path.
        info_fd: Inherited fd bwrap writes `{"child-pid": N}` to once the sandbox is set up.
        seccomp_fd: Inherited fd holding the seccomp program, or None.
        launcher: Host path of the launcher script, mounted at `INNER_LAUNCHER`.
        inner: Launcher command run inside before the program (switches user when root).
        program: The program and its arguments.
        as_root: The engine is root: bwrap runs privileged without a user namespace and the
            inner launcher keeps the capabilities it needs to switch to the sandbox user.

    Returns:
        The argv to exec.
    """
    build = _Builder()
    build.add(binary, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts")
    build.add("--unshare-cgroup-try", "--die-with-parent", "--new-session")
    build.add("--hostname", "qd-sandbox", "--info-fd", str(info_fd))
    if seccomp_fd is not None:
        build.add("--seccomp", str(seccomp_fd))
    if as_root:  # the inner launcher needs these to switch user, then drops everything
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
            build.add("--cap-add", cap)
    else:
        build.add("--unshare-user", "--disable-userns")
    _system(build)
    size = str(limits.file_size_mb << 20)
    build.add("--proc", "/proc", "--dev", "/dev")
    build.add("--perms", "1777", "--size", size, "--tmpfs", "/dev/shm")
    build.add("--perms", "1777", "--size", size, "--tmpfs", "/tmp")
    for path in _extra_read_paths(limits):
        real = os.path.realpath(path)
        if os.path.exists(real):
            build.mount("--ro-bind", real, real)
            build.mount("--ro-bind", real, path)
    build.mount("--bind", workdir, workdir)
    build.mount("--ro-bind", launcher, INNER_LAUNCHER)
    build.add("--remount-ro", "/dev", "--remount-ro", "/", "--chdir", workdir, "--")
    return build.args + list(inner) + list(program)


def _system(build: _Builder) -> None:
    build.mount("--ro-bind", "/usr", "/usr")
    for name in SYSTEM_LINKS:
        host = f"/{name}"
        if os.path.islink(host):
            build.add("--symlink", os.readlink(host), host)
            build.made.add(host)
        elif os.path.isdir(host):
            build.mount("--ro-bind", host, host)
    build.add("--perms", "0755", "--dir", "/etc")
    build.made.add("/etc")
    for name in ETC_ENTRIES:
        build.add("--ro-bind-try", f"/etc/{name}", f"/etc/{name}")


def _extra_read_paths(limits: SandboxLimits) -> Iterable[str]:
    return python_paths() + list(limits.read_only_paths)
