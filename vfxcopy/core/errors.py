"""Exceptions shared by the engine, the command line and the window."""

from __future__ import annotations


class VfxCopyError(Exception):
    """Base class of every error vfxcopy raises on purpose."""


class Cancelled(VfxCopyError):
    """The job's CancelToken was set; work stopped and partial files were removed."""


class StopRequested(VfxCopyError):
    """'Stop after the current frame' was asked: the job ends cleanly between frames."""


class SafetyError(VfxCopyError):
    """A request that would damage data (dest inside source, traversal, same file)."""


class JobError(VfxCopyError):
    """A whole job cannot run (bad spec, destination unusable, disk full)."""


class FrameError(VfxCopyError):
    """One frame failed; the message says the path, what went wrong and what to do."""

    def __init__(self, path: str, reason: str, hint: str = "") -> None:
        self.path = path
        self.reason = reason
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"{self.path}: {self.reason}"
        return f"{text} ({self.hint})" if self.hint else text


class DiskFullError(JobError):
    """The destination ran out of space; the job stops once with this message."""


class VerificationError(FrameError):
    """What was written does not hash the same as what was read."""


class SourceChangedError(FrameError):
    """The source frame changed (size or mtime) while it was being copied."""


class ManifestError(JobError):
    """The ASC MHL manifest or the job report could not be read or written (nothing partial is left)."""
