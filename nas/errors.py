"""One exception hierarchy for the whole platform.

The CLI catches :class:`NasError`, prints its message on one line and exits
non-zero; anything else is a bug and shows a traceback. Keep messages
self-contained: name the bad field and, where there is a finite set, the
allowed values.
"""

from __future__ import annotations

__all__ = [
    "NasError",
    "ConfigError",
    "UnknownNameError",
    "InvalidArchitecture",
    "StorageError",
    "DataError",
    "CheckpointError",
    "ExportError",
    "NotApplicable",
    "first_line",
]


class NasError(Exception):
    """Base of every error the user can cause and fix."""


class ConfigError(NasError):
    """A study file, CLI option or override is malformed."""


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup failed; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class InvalidArchitecture(NasError, ValueError):
    """An architecture is outside its search space."""


class StorageError(NasError):
    """The study database is unreachable, read-only, or lacks a study."""


class DataError(NasError):
    """A data set file is missing or unreadable."""


class CheckpointError(NasError):
    """A checkpoint is corrupt or belongs to another space, task or shape."""


class ExportError(NasError):
    """An export failed (parity check, unsupported op, bad folder)."""


class NotApplicable(NasError):
    """A component cannot apply to this model family; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of an exception's message (at most ``limit`` characters), else its type.

    Errors shown to users are one line; a library's multi-line message is cut here.
    """
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
