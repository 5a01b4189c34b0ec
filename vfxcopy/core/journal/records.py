"""Rows of the journal as records: jobs and per-frame results (paths stored as bytes)."""

from __future__ import annotations

import os
import time

from vfxcopy.core.jobs import (
    FrameResult,
    FrameStatus,
    JobSpec,
)
from vfxcopy.core.textsafe import FS_ENCODING, FS_ERRORS, undecodable_escaped

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import Any

    from vfxcopy.core.journal.rows import JournalFrame as JournalFrame
    from vfxcopy.core.journal.rows import JournalJob as JournalJob


def __getattr__(name: str) -> object:
    """JournalFrame and JournalJob, from rows.py on first use (a copy only writes rows)."""
    if name in ("JournalFrame", "JournalJob"):
        from vfxcopy.core.journal import rows

        return getattr(rows, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- records ---------------------------------------------------------------


def _fs(path: str) -> bytes:
    """A path as the journal stores it: os.fsencode's bytes, without its two calls per path (a frame
    row holds two paths, written 20,000 times for as many small frames on the journal's thread)."""
    return path.encode(FS_ENCODING, FS_ERRORS)


def _unfs(blob: bytes | str | None) -> str:
    if blob is None:
        return ""
    if isinstance(blob, str):
        return blob
    return os.fsdecode(blob)


def _safe_text(text: str | None) -> str | None:
    """Text that sqlite can store: lone surrogates (undecodable names) become \\x escapes."""
    if text is None:
        return None
    return undecodable_escaped(text)


def _frames_total(spec: JobSpec) -> int:
    frames = spec.selected_frames()
    return len(frames) if frames else 1


def _size_mtime(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_size, st.st_mtime_ns


_SETTLED = (FrameStatus.DONE, FrameStatus.SKIPPED)


def _frame_row(r: FrameResult, now: float | None = None) -> tuple[Any, ...]:
    """One row of the frames table; `now` is the group's time (one clock read per group commit).

    The size and mtime of the destination and the source are what the pipeline measured
    when it has them (FrameResult.dest_stat, src_stat), else a stat of each path now.
    """
    dst = src = None
    if r.status in _SETTLED:
        dst = r.dest_stat if r.dest_stat is not None else _size_mtime(r.dest) if r.dest else None
        src = r.src_stat if r.src_stat is not None else _size_mtime(r.source) if r.source else None
    return (
        r.job_id,
        r.index,
        r.frame,
        _fs(r.source),
        _fs(r.dest),
        r.status._value_,  # the member's value without the property's descriptor call
        r.size,
        r.hash,
        r.hash_algo,
        _safe_text(r.error) if r.error is not None else None,
        dst[1] if dst else None,
        dst[0] if dst else None,
        src[0] if src else None,
        src[1] if src else None,
        time.time() if now is None else now,
    )
