"""The syntax check of a compiled language, run in the sandbox before a child is evaluated.

A child that does not compile is rejected with the compiler's first errors (the LLM's retry
prompt shows them) instead of paying for an evaluation. The check runs the language's cheap
front-end command (`gcc -fsyntax-only`, `rustc --emit=metadata`, `gofmt -e`) on the candidate
in the sandbox, with the run's isolation and limits, because a compiler reads whatever files
the code names (`#include "/etc/shadow"`, `include_str!`) and may run long on hostile input.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict

from qd.languages.toolchain import Toolchain
from qd.sandbox import SandboxLimits, run_sandboxed

log = logging.getLogger(__name__)
#: Longest a syntax check may run (the run's `timeout_s` when shorter).
CHECK_TIMEOUT_S = 30.0
MAX_ERROR_CHARS = 800
_CACHED = 512


class SyntaxCheck:
    """Runs a language's check command on sources in the sandbox; remembers recent verdicts.

    Args:
        title: The language's name in messages ("C").
        command: The check's argv, "{file}" standing for the candidate.
        file_name: Name of the candidate file ("candidate.c").
        toolchain: What the command needs installed (None: nothing).
        limits: The run's sandbox limits (the check gets at most `CHECK_TIMEOUT_S`).

    Raises:
        ToolchainError: The toolchain is not installed.
    """

    def __init__(self, title: str, command: tuple[str, ...], file_name: str,
                 toolchain: Toolchain | None, limits: SandboxLimits) -> None:
        self.title, self.command, self.file_name = title, command, file_name
        located = toolchain.locate() if toolchain else None
        timeout = min(limits.timeout_s, CHECK_TIMEOUT_S)
        limits = limits.model_copy(update={"timeout_s": timeout, "cpu_s": None})
        self.limits = located.limits(limits) if located else limits
        self._verdicts: OrderedDict[str, str | None] = OrderedDict()
        self._lock = threading.Lock()
        self._usable = True

    def __call__(self, source: str) -> str | None:
        """Why `source` does not compile (the compiler's first errors), or None when it does
        (or when the check itself cannot run here: a warning says so once).
        """
        key = hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            if key in self._verdicts:
                self._verdicts.move_to_end(key)
                return self._verdicts[key]
        if not self._usable:
            return None
        verdict = self._run(source)
        with self._lock:
            self._verdicts[key] = verdict
            while len(self._verdicts) > _CACHED:
                self._verdicts.popitem(last=False)
        return verdict

    def _run(self, source: str) -> str | None:
        name = self.file_name
        argv = [part.replace("{file}", name) for part in self.command]
        result = run_sandboxed(argv, {name: source}, self.limits, result_file=None)
        if result.status == "ok":
            return None
        if result.status == "error":  # the checker could not start: do not reject for that
            self._usable = False
            log.warning("the %s syntax check (%s) cannot run here (%s); children are evaluated "
                        "without it", self.title, argv[0], result.reason)
            return None
        if result.status != "crashed":  # timeout, memory, CPU
            return f"the {self.title} syntax check ({argv[0]}) failed: {result.reason}"
        errors = first_errors(result.stderr or result.stdout)
        return f"the program does not compile ({argv[0]}): {errors}"


def first_errors(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """The compiler's messages from the first error on, cut to `limit` characters."""
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "error" in line.lower()), 0)
    shown = "\n".join(lines[start:])
    return shown if len(shown) <= limit else shown[:limit].rstrip() + " [...]"
