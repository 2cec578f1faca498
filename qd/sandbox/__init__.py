"""Run untrusted programs with limits, confinement and guaranteed cleanup (see docs/sandbox.md)."""

from qd.sandbox.limits import SandboxLimits
from qd.sandbox.pool import SandboxJob, SandboxPool
from qd.sandbox.result import SandboxError, SandboxResult
from qd.sandbox.runner import run_sandboxed

__all__ = [
    "SandboxError",
    "SandboxJob",
    "SandboxLimits",
    "SandboxPool",
    "SandboxResult",
    "run_sandboxed",
]
