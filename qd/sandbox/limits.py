"""Resource limits of one sandboxed run and the scrubbed environment its program sees."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator

from qd.components import StrictModel

#: Environment variable carrying a per-run token; used to find escaped processes.
MARKER_VAR = "QD_SANDBOX_RUN"
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FORCED = {"HOME", "TMPDIR", MARKER_VAR}
#: Names that look like credentials; they can never be passed into a sandbox.
SECRET_NAME = re.compile(
    r"(?i)(KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|CERT)"
    r"|^(AWS|OPENAI|ANTHROPIC|AZURE|GOOGLE|GEMINI|VERTEX|HF|HUGGING|GITHUB|GH|GITLAB|LITELLM"
    r"|COHERE|MISTRAL|GROQ|DEEPSEEK|TOGETHER|REPLICATE|OPENROUTER|XAI|SSH|GPG|NPM|PYPI|TWINE"
    r"|DOCKER|KUBE|WANDB|COMET|NEPTUNE|SLACK|DATABASE|PG|MYSQL|REDIS)(_|$)"
)


class SandboxLimits(StrictModel):
    """Limits and environment of a sandboxed run (unknown keys are errors).

    Attributes:
        timeout_s: Wall-clock limit; then the whole process tree is SIGKILLed.
        cpu_s: CPU seconds per process (RLIMIT_CPU; SIGXCPU at the limit). None: the
            timeout rounded up, plus one second.
        memory_mb: Address space per process (RLIMIT_AS), in MiB.
        file_size_mb: Largest file a process may write (RLIMIT_FSIZE), in MiB; also the size of
            the private /tmp and /dev/shm in bwrap mode.
        max_processes: Tasks (processes and threads) the program may have at once: a pids
            cgroup when one is writable, else RLIMIT_NPROC (see docs/sandbox.md).
        output_bytes: Bytes of stdout and of stderr kept (each); the rest is read and dropped.
        result_bytes: Bytes of the result file read back.
        env_allow: Names of parent environment variables passed through when set. HOME and
            TMPDIR always point to the run's temp dir. Secret-looking names are rejected.
        env_set: Variables set to fixed values (thread caps for numeric libraries by default).
        isolation: "bwrap" (bubblewrap namespaces), "process" (rlimits, Landlock, seccomp,
            process tracking) or "auto" (bwrap when it works on this machine, else process).
        read_only_paths: Extra absolute host paths the program may read (e.g. a data folder);
            each must exist when the limits are validated (a missing one is an error, not
            silently left out of the sandbox).
        sandbox_uid: User id the program runs as in bwrap mode when the engine runs as root.
        sandbox_gid: Group id that goes with `sandbox_uid`.
    """

    timeout_s: float = Field(10.0, gt=0, le=86_400)
    cpu_s: int | None = Field(None, ge=1)
    memory_mb: int = Field(2048, ge=64)
    file_size_mb: int = Field(64, ge=1)
    max_processes: int = Field(64, ge=1, le=100_000)
    output_bytes: int = Field(1 << 20, ge=0)
    result_bytes: int = Field(1 << 20, ge=1)
    env_allow: tuple[str, ...] = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONHASHSEED")
    env_set: dict[str, str] = Field(
        default_factory=lambda: {
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
    )
    isolation: Literal["auto", "bwrap", "process"] = "auto"
    read_only_paths: tuple[str, ...] = ()
    sandbox_uid: int = Field(65534, ge=1)
    sandbox_gid: int = Field(65534, ge=1)

    @field_validator("env_allow")
    @classmethod
    def _check_allow(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            _check_name(name)
        return names

    @field_validator("env_set")
    @classmethod
    def _check_set(cls, values: dict[str, str]) -> dict[str, str]:
        for name in values:
            _check_name(name)
        return values

    @field_validator("read_only_paths")
    @classmethod
    def _check_paths(cls, paths: tuple[str, ...]) -> tuple[str, ...]:
        for path in paths:
            if not path.startswith("/") or "\0" in path:
                raise ValueError(f"{path!r} is not an absolute path; give the full host path")
            if not os.path.exists(path):
                raise ValueError(
                    f"{path!r} does not exist; create it or remove it from read_only_paths"
                )
        return paths

    @property
    def effective_cpu_s(self) -> int:
        """RLIMIT_CPU in seconds: `cpu_s`, or the timeout rounded up plus one second."""
        return self.cpu_s if self.cpu_s is not None else math.ceil(self.timeout_s) + 1


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid environment variable name")
    if name in _FORCED:
        raise ValueError(f"{name} is set by the sandbox itself")
    if SECRET_NAME.search(name):
        raise ValueError(f"refusing to pass {name} into a sandbox: the name looks like a secret")


def build_env(
    limits: SandboxLimits, workdir: str, marker: str, parent: Mapping[str, str]
) -> dict[str, str]:
    """Build the complete environment of a sandboxed program.

    Args:
        limits: Supplies the allow-list and the fixed values.
        workdir: The run's temp dir; HOME and TMPDIR point to it.
        marker: Per-run token stored in `MARKER_VAR`.
        parent: The engine's environment (normally `os.environ`).

    Returns:
        Only allow-listed parent variables, `env_set`, HOME, TMPDIR and the marker.
    """
    env = {name: parent[name] for name in limits.env_allow if name in parent}
    env.setdefault("PATH", DEFAULT_PATH)
    env.update(limits.env_set)
    env.update({"HOME": workdir, "TMPDIR": workdir, MARKER_VAR: marker})
    return {k: v for k, v in env.items() if "\0" not in k + v}
