"""The journal's rows as records for readers (`vfxcopy jobs`, resume, the window): JournalFrame, JournalJob.

Apart from records.py so that a run that only writes to the journal (every copy) never
creates these two dataclasses (about 1 ms of every start); records.py and the package
still export them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vfxcopy.core.jobs import (
    FrameResult,
    FrameStatus,
    JobSpec,
    JobState,
)


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
