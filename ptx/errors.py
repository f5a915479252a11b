"""Typed errors. The library raises these; only ``ptx.cli`` turns them into a message and
an exit code. Every message is one line that says what was wrong and what to do."""

from __future__ import annotations


class PtxError(Exception):
    """Base class of every error ptx reports to a user."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class InputError(PtxError):
    """The user gave ptx something it cannot use (a bad path, a broken video, a bad name)."""

    exit_code = 2


class WorkspaceError(PtxError):
    """The workspace cannot be created, read or written."""

    exit_code = 2


class LockedError(PtxError):
    """Another ptx process holds the lock on a video or run."""

    exit_code = 3


class DiskFullError(PtxError):
    """A write failed because the disk is full; committed work is kept."""

    exit_code = 4


class DamagedError(PtxError):
    """A file ptx wrote earlier is damaged or missing (a chunk of an array, a record, a
    checkpoint, a settings file): it was changed, truncated or deleted outside ptx. The
    message names the file and the fix; nothing is read from it."""

    exit_code = 7


class QualityError(PtxError):
    """A quality gate failed (no person, too few detections with --strict, ...)."""

    exit_code = 5


class StageError(PtxError):
    """A stage could not run (a missing upstream output, an inconsistent store)."""

    exit_code = 1


class MissingWeightsError(PtxError):
    """An optional weights file is needed but absent from the weights directory."""

    exit_code = 6


class NonFiniteLoss(StageError):
    """A training loss became NaN or infinite; nothing was updated with it."""
