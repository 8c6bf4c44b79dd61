"""Errors a user can act on. Each renders as one line naming the file or operator."""

from __future__ import annotations

from pathlib import Path


class NitrateError(Exception):
    """Base of every error the CLI and UI show as a one-line message (no traceback)."""


class FileError(NitrateError):
    """A problem with one file: `path` and `problem`, shown as "path: problem"."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class MediaError(FileError):
    """A media file or image sequence that cannot be opened, read or written."""


class ProjectError(FileError):
    """A project file that is malformed, from a newer version, or points at missing media."""


class LutError(FileError):
    """A .cube LUT that cannot be read: missing, malformed, or of an unsupported size."""


class OperatorError(NitrateError):
    """An operator that does not exist, got invalid parameters, or failed on a frame."""

    def __init__(self, operator: str, problem: str) -> None:
        self.operator = operator
        self.problem = problem
        super().__init__(f"{operator}: {problem}")


class RenderCancelled(NitrateError):
    """The user cancelled an export; nothing is left under the final name, unless
    `kept`: the output was complete and only its checksum list was cancelled."""

    def __init__(self, message: str, kept: bool = False) -> None:
        self.kept = kept
        super().__init__(message)
