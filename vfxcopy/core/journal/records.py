"""Rows of the journal as records: jobs and per-frame results (paths stored as bytes)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from vfxcopy.core.jobs import (
    FrameResult,
    FrameStatus,
    JobSpec,
    JobState,
)

# -- records ---------------------------------------------------------------


def _fs(path: str) -> bytes:
    return os.fsencode(path)


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
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass
class JournalFrame:
    """One frame's last recorded result."""

    job_id: str
    index: int
    frame: int
    source: str
    dest: str
    status: FrameStatus
    size: int = 0
    hash: str | None = None
    hash_algo: str | None = None
    error: str | None = None
    dest_mtime_ns: int | None = None
    dest_size: int | None = None
    src_size: int | None = None
    src_mtime_ns: int | None = None
    updated: float = 0.0

    def to_result(self) -> FrameResult:
        return FrameResult(
            job_id=self.job_id,
            index=self.index,
            frame=self.frame,
            source=self.source,
            dest=self.dest,
            status=self.status,
            size=self.size,
            hash=self.hash,
            hash_algo=self.hash_algo,
            error=self.error,
        )


@dataclass
class JournalJob:
    """A job as the journal knows it (spec, state, owner, counts)."""

    spec: JobSpec
    state: JobState
    created: float
    started: float | None = None
    finished: float | None = None
    message: str = ""
    pid: int | None = None
    pid_start: int | None = None
    host: str = ""
    frames_total: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # FrameStatus value -> frames
    bytes_done: int = 0

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    @property
    def frames_done(self) -> int:
        return self.counts.get("done", 0) + self.counts.get("skipped", 0)

    @property
    def frames_failed(self) -> int:
        return self.counts.get("failed", 0)

    @property
    def resumable(self) -> bool:
        return self.state in (JobState.INTERRUPTED, JobState.CANCELLED, JobState.FAILED)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {
            "job_id": self.job_id,
            "name": self.spec.display_name(),
            "state": self.state.value,
            "operation": self.spec.operation.value,
            "source": self.spec.source.pattern(),
            "dest_dir": self.spec.dest_dir,
            "origin": self.spec.origin,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "message": self.message,
            "pid": self.pid,
            "frames_total": self.frames_total,
            "frames_done": self.frames_done,
            "frames_failed": self.frames_failed,
            "frames_skipped": self.counts.get("skipped", 0),
            "bytes_done": self.bytes_done,
            "resumable": self.resumable,
        }


def _frames_total(spec: JobSpec) -> int:
    frames = spec.selected_frames()
    return len(frames) if frames else 1


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


_SETTLED = (FrameStatus.DONE, FrameStatus.SKIPPED)


def _frame_row(r: FrameResult, now: float | None = None) -> tuple[Any, ...]:
    """One row of the frames table; `now` is the group's time (one clock read per group commit)."""
    settled = r.status in _SETTLED
    dst = _stat(r.dest) if settled and r.dest else None
    src = _stat(r.source) if settled and r.source else None
    return (
        r.job_id,
        r.index,
        r.frame,
        os.fsencode(r.source),
        os.fsencode(r.dest),
        r.status.value,
        r.size,
        r.hash,
        r.hash_algo,
        _safe_text(r.error) if r.error is not None else None,
        dst.st_mtime_ns if dst else None,
        dst.st_size if dst else None,
        src.st_size if src else None,
        src.st_mtime_ns if src else None,
        time.time() if now is None else now,
    )
