"""The exception hierarchy of qd: every error a user can cause derives from `QDError`."""

from __future__ import annotations


class QDError(Exception):
    """Base class of every error qd raises on purpose.

    The CLI prints the message of a `QDError` (no traceback) and exits with `exit_code`.
    """

    exit_code: int = 1


class SpecError(QDError):
    """A problem spec, a CLI override or a spec file is invalid; the message names the field."""

    exit_code = 2


class RegistryError(QDError, KeyError):
    """A component name is unknown, or registered twice."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RunDirError(QDError):
    """A run folder cannot be used (already holds a run, not writable, ...)."""

    exit_code = 2


class ProblemOutputError(QDError):
    """A problem returned arrays of the wrong shape, or non-finite objectives / measures."""
