"""Where a language's compiler lives on this machine, and how the sandbox gets to see it.

The sandbox shows programs a read-only system (/usr, /bin, /lib, ...). A toolchain installed
there (gcc, Debian's rustc or golang-go) needs nothing more; one installed elsewhere (rustup's
`~/.rustup`, a Go SDK under `~/sdk`) has its install root bound read-only and its `bin` put
first on the sandbox's PATH. The root is asked from the toolchain itself (`rustc --print
sysroot`, `go env GOROOT`), so the sandbox runs the real compiler, not rustup's proxy.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from qd.errors import QDError
from qd.sandbox import SandboxLimits
from qd.sandbox.bwrap import SYSTEM_LINKS
from qd.sandbox.limits import DEFAULT_PATH

#: Host folders every sandbox already shows read-only.
SYSTEM_DIRS = ("/usr",) + tuple(f"/{name}" for name in SYSTEM_LINKS) + ("/sbin",)
_QUERY_TIMEOUT_S = 30.0


class ToolchainError(QDError):
    """A language's compiler or interpreter is not installed (the message says how to)."""

    exit_code = 2


@dataclass(frozen=True)
class Toolchain:
    """The programs a language needs and where to look for them.

    Attributes:
        programs: Executables that must exist (e.g. ("rustc",)); the first one names the
            toolchain in messages.
        homes: Folders searched after PATH (`~` expanded), e.g. "~/.cargo/bin".
        root_query: Arguments of the first program that print its install root (e.g.
            ("--print", "sysroot")); empty: the root is the folder above the program's `bin`.
        env: Variables set in the sandbox (e.g. GOTOOLCHAIN=local: never download a toolchain).
        install: How to install it, quoted in the error when it is missing.
    """

    programs: tuple[str, ...]
    homes: tuple[str, ...] = ()
    root_query: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    install: str = ""

    def locate(self) -> Located:
        """Find the toolchain on this machine (cached per toolchain and PATH).

        Raises:
            ToolchainError: A program is missing, or its install root cannot be asked.
        """
        return _locate(self, os.environ.get("PATH", DEFAULT_PATH))

    def available(self) -> bool:
        """True when `locate` would succeed."""
        try:
            self.locate()
        except ToolchainError:
            return False
        return True


@dataclass(frozen=True)
class Located:
    """A toolchain found on this machine.

    Attributes:
        programs: Host path of each program, by name.
        bin_dirs: Folders put first on the sandbox's PATH.
        read_only: Host folders the sandbox must show (beyond the system ones).
        env: Variables set in the sandbox.
    """

    programs: Mapping[str, str]
    bin_dirs: tuple[str, ...]
    read_only: tuple[str, ...]
    env: Mapping[str, str]

    def limits(self, limits: SandboxLimits) -> SandboxLimits:
        """`limits` with the toolchain visible: its folders read-only, its `bin` on PATH."""
        if not (self.bin_dirs or self.read_only or self.env):
            return limits
        base = os.environ.get("PATH", DEFAULT_PATH) if "PATH" in limits.env_allow else DEFAULT_PATH
        base = limits.env_set.get("PATH", base)
        path = ":".join(dict.fromkeys([*self.bin_dirs, *base.split(":")]))
        paths = tuple(dict.fromkeys([*limits.read_only_paths, *self.read_only]))
        env = {**limits.env_set, **self.env, "PATH": path}
        return limits.model_copy(update={"read_only_paths": paths, "env_set": env})


def _visible(path: str) -> bool:
    return any(path == d or path.startswith(d + "/") for d in SYSTEM_DIRS)


def _which(name: str, homes: tuple[str, ...], path: str) -> str | None:
    found = shutil.which(name, path=path)
    for home in homes:
        if found is None:
            found = shutil.which(name, path=os.path.expanduser(home))
    return found


@functools.lru_cache(maxsize=64)
def _locate(toolchain: Toolchain, path: str) -> Located:
    found: dict[str, str] = {}
    for name in toolchain.programs:
        where = _which(name, toolchain.homes, path)
        if where is None:
            searched = "PATH" + "".join(f", {h}" for h in toolchain.homes)
            raise ToolchainError(f"{name} is not installed (searched {searched}); install it: "
                                 f"{toolchain.install}")
        found[name] = where
    first = found[toolchain.programs[0]]
    if toolchain.root_query:
        root = _ask_root(first, toolchain.root_query)
        bins = (os.path.join(root, "bin"),)
    else:
        bins = (os.path.dirname(os.path.realpath(first)),)
        root = os.path.dirname(bins[0])
    bins = tuple(b for b in bins if os.path.isdir(b))
    read_only = () if _visible(root) else (root,)
    return Located(found, bins, read_only, dict(toolchain.env))


def _ask_root(program: str, query: tuple[str, ...]) -> str:
    command = [program, *query]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              timeout=_QUERY_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolchainError(f"`{' '.join(command)}` failed: {err}") from None
    root = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not os.path.isdir(root):
        detail = (done.stderr or done.stdout).strip()[:300]
        raise ToolchainError(f"`{' '.join(command)}` did not print the install folder "
                             f"(exit {done.returncode}): {detail}")
    return os.path.realpath(root)
