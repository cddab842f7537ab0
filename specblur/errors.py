"""The errors a user of specblur can meet.

Every class carries the exit code the CLI returns for it, following sox: 1 for a command-line
error, 2 for a file or processing error. Messages are one line, name the file where there is one
and say what to do.
"""

from __future__ import annotations


class SpecblurError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 2


class UsageError(SpecblurError):
    """A bad option or argument (exit 1)."""

    exit_code = 1


class AudioError(SpecblurError):
    """An audio file cannot be read or written."""


class DataError(SpecblurError):
    """A training data folder is missing, empty or malformed."""


class ModelNotFoundError(SpecblurError):
    """No model of that name or path exists."""


class CheckpointError(SpecblurError):
    """A checkpoint is corrupt, truncated, of another format version, or fails its hash."""


class ChecksumError(CheckpointError):
    """A bundled model's file does not match the sha256 in ``models/MANIFEST``."""


class CodesError(SpecblurError):
    """A code file is malformed, of another version, or belongs to another model."""


def first_line(exc: BaseException) -> str:
    """An exception's message as one line for a user (its first line, at most 200 characters; its
    type where it has no message): what a library below says, quoted inside specblur's own."""
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
