"""Fixtures for sandbox tests: isolation variants, per-test tokens, a process-table check."""

from __future__ import annotations

import os
import secrets
import sys
import textwrap
from dataclasses import dataclass

import pytest

from qd.sandbox import SandboxError, SandboxLimits, SandboxResult, modes, run_sandboxed
from qd.sandbox.cgroup import pids_base
from qd.sandbox.runner import _probe_bwrap


@dataclass(frozen=True)
class Variant:
    """An isolation mode plus whether a pids cgroup may be used."""

    isolation: str
    use_cgroup: bool

    @property
    def id(self) -> str:
        return self.isolation + ("" if self.use_cgroup else "-nocgroup")


VARIANTS = [
    Variant("bwrap", True),
    Variant("bwrap", False),
    Variant("process", True),
    Variant("process", False),
]


def scan(token: str) -> list[tuple[int, str]]:
    """Live processes whose command line or environment contains `token` (zombies excluded)."""
    needle = token.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        blobs = []
        for name in ("cmdline", "environ"):
            try:
                with open(f"/proc/{entry}/{name}", "rb") as handle:
                    blobs.append(handle.read())
            except OSError:
                blobs.append(b"")
        if any(needle in blob for blob in blobs):
            found.append((int(entry), blobs[0].replace(b"\0", b" ").decode(errors="replace")))
    return found


class Sandbox:
    """Runs Python snippets under one variant, tagged with a unique token."""

    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self.token = f"qdtest{secrets.token_hex(8)}"

    def limits(self, **overrides: object) -> SandboxLimits:
        values: dict[str, object] = {
            "isolation": self.variant.isolation,
            "timeout_s": 5.0,
            "memory_mb": 256,
            "max_processes": 16,
            "env_set": {"QD_TEST_TAG": self.token, "PYTHONDONTWRITEBYTECODE": "1"},
        }
        values.update(overrides)
        return SandboxLimits(**values)

    def run(self, code: str, result_file: str | None = "result.json", **limits: object):
        argv = [sys.executable, "-c", textwrap.dedent(code), self.token]
        return run_sandboxed(
            argv,
            limits=self.limits(**limits),
            result_file=result_file,
            use_cgroup=self.variant.use_cgroup,
        )

    def survivors(self) -> list[tuple[int, str]]:
        return scan(self.token)


def bwrap_usable() -> bool:
    try:
        return modes.resolve("bwrap", _probe_bwrap) == "bwrap"
    except SandboxError:
        return False


@pytest.fixture(params=VARIANTS, ids=lambda v: v.id)
def sandbox(request: pytest.FixtureRequest):
    """A `Sandbox` per variant; fails the test if any tagged process outlives it."""
    variant: Variant = request.param
    if variant.isolation == "bwrap" and not bwrap_usable():
        pytest.skip("bubblewrap is not usable here (apt-get install -y bubblewrap)")
    if variant.use_cgroup and pids_base() is None:
        pytest.skip("no writable pids cgroup on this machine")
    box = Sandbox(variant)
    yield box
    assert box.survivors() == [], "processes outlived the sandbox"


def describe(result: SandboxResult) -> str:
    """Compact dump for assertion messages."""
    return (
        f"status={result.status} reason={result.reason!r} rc={result.returncode} "
        f"sig={result.signal} stdout={result.stdout[-500:]!r} stderr={result.stderr[-800:]!r}"
    )
