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


# -- the one vocabulary for per-item errors ----------------------------------------------------

DISK_FULL_ERRNOS = frozenset({28, 122})  # ENOSPC, EDQUOT
PATH_MAX = 4096  # bytes of a path the system opens by name (Linux; macOS allows 1,024)


def explain(exc: OSError, path: str, side: str) -> str:
    """'path: what went wrong (what to do)' for an OSError on the `side` ('source' or 'destination')."""
    import errno

    code = exc.errno
    if code in (errno.EACCES, errno.EPERM):
        what = "permission denied"
        hint = (
            "check that you can read the source file"
            if side == "source"
            else "check that you can write to the destination folder, or choose another one"
        )
    elif code in DISK_FULL_ERRNOS:
        what, hint = "no space left on the destination", "free some space or choose another destination"
    elif code == errno.EIO:
        what, hint = "input/output error", f"the {side} disk or share may be failing; check it and retry"
    elif code == errno.ENAMETOOLONG and len(path.encode("utf-8", "surrogateescape")) >= PATH_MAX:
        from vfxcopy.core.textsafe import shortened

        what, hint = f"the path is too long ({PATH_MAX:,} bytes at most)", "shorten its folder names"
        path = shortened(path)
    elif code == errno.ENAMETOOLONG:
        what, hint = "file name too long (255 bytes at most)", "choose a shorter name with a new head"
    elif code == errno.ENOENT and side == "source":
        what, hint = "the source file is missing", "it was moved or deleted; scan the sequence again"
    elif code == errno.ENOENT:
        what, hint = "the destination folder disappeared", "check the destination and run the job again"
    elif code == errno.EROFS:
        what, hint = "the destination is read-only", "choose a writable destination"
    elif code == errno.EISDIR:
        what, hint = "a folder has this name", "remove or rename that folder, or choose another destination"
    elif code == errno.ELOOP:
        what, hint = "is a symbolic link where a file was expected", "replace the link with the file itself"
    else:
        what, hint = exc.strerror or str(exc), "check the path and try again"
    return FrameError(path, what, hint).message


def disk_full_message(dest_dir: str, item: str, needs: int | None) -> str:
    """The one message for a full destination (said once per job): space or inodes, and what to do."""
    import os

    from vfxcopy.core.units import format_size

    free_text = "free space unknown"
    inodes_out = False
    try:
        st = os.statvfs(dest_dir)
        free_text = f"{format_size(st.f_bavail * st.f_frsize)} free"
        inodes_out = st.f_files > 0 and st.f_favail == 0
    except OSError:
        pass
    if inodes_out:
        what = f"the destination has no free inodes left (no new file can be made; {free_text})"
    elif needs:
        what = f"the destination is full ({free_text}; {item} needs {format_size(needs)})"
    else:
        what = f"the destination is full ({free_text})"
    return (
        f"{dest_dir}: {what}. Free some space or choose another destination, then run the job again: "
        "what was finished is kept and nothing partial was left."
    )
