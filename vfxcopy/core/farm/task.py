"""What one farm task runs: the engine on a frame chunk, with results on shared storage.

A task is `run_job` on the job's spec restricted to the frames A..B. Its results go
to `DEST/.vfxcopy-farm/<job_id>/chunk-A-B.json` (temp + fsync + rename), so a
job's state is readable from the shared storage alone, without the scheduler.

Temporary names: every attempt of every chunk runs under its own engine job id
`<job_id>-c<A>-<nonce>`, so `is_temp_name(name, job_id)` still matches all of the
farm job's temporaries (the merge step sweeps them) while two tasks of a job never
share a temporary name. That matters twice: chunks run at the same time in one
folder, and a stale attempt that is still running (a node lost, then requeued) can
never rename a newer attempt's half-written file into place. A starting attempt
removes the leftovers of its own chunk's earlier attempts only; an attempt that
is still writing then fails its rename (its file is gone) and places nothing. A
finished frame is never replaced: the engine places with a no-clobber rename and
the default conflict policy skips what is already there.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfxcopy.core.errors import Cancelled
from vfxcopy.core.jobs import (
    CancelToken,
    Event,
    FrameResult,
    FrameStatus,
    JobSpec,
    JobState,
    LogMessage,
    Operation,
    Progress,
)
from vfxcopy.core.readfile import read_regular_file

RESULTS_FOLDER = ".vfxcopy-farm"
SPEC_FILE = "spec.json"
# A converted frame's results carry the hash of the file written (the engine has the
# source's hash only for copies): the merge step then never reads a frame again.
DEST_HASH_ALGO = "xxh3"
_GOOD = (FrameStatus.DONE, FrameStatus.SKIPPED)


def results_dir(dest_dir: str | os.PathLike[str], job_id: str) -> Path:
    return Path(dest_dir) / RESULTS_FOLDER / job_id


def chunk_file_name(first: int, last: int) -> str:
    return f"chunk-{first}-{last}.json"


def chunk_job_id(job_id: str, first: int) -> str:
    """The prefix of every engine job id of one chunk's attempts (see the module docstring)."""
    return f"{job_id}-c{first}"


def attempt_job_id(job_id: str, first: int) -> str:
    return f"{chunk_job_id(job_id, first)}-{uuid.uuid4().hex[:6]}"


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """JSON written whole or not at all (core/outfile.py), its folder made if needed."""
    from vfxcopy.core.outfile import replace_file

    replace_file(path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"), make_folder=True)


def frame_to_dict(fr: FrameResult) -> dict[str, Any]:
    data = dataclasses.asdict(fr)
    data["status"] = fr.status.value
    # Measured by this task's process for its own journal; a chunk's record keeps its old form.
    data.pop("src_stat", None)
    data.pop("dest_stat", None)
    return data


def frame_from_dict(data: dict[str, Any]) -> FrameResult:
    known = {f.name for f in dataclasses.fields(FrameResult)}
    values = {k: v for k, v in data.items() if k in known}
    values["status"] = FrameStatus(values["status"])
    return FrameResult(**values)


@dataclass
class ChunkResult:
    """One chunk's record on shared storage: the latest attempt's state and every frame's result."""

    job_id: str
    step: str
    first: int
    last: int
    state: JobState = JobState.RUNNING
    exit_code: int | None = None
    attempt: str = ""
    host: str = ""
    pid: int = 0
    pid_start: int | None = None  # the process's start time (journal.process_start_time): pid reuse
    started: float = 0.0
    finished: float | None = None
    message: str = ""
    frames: list[FrameResult] = field(default_factory=list)
    dest_sizes: dict[str, int] = field(default_factory=dict)  # dest path -> bytes in place

    @property
    def file_name(self) -> str:
        return chunk_file_name(self.first, self.last)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for fr in self.frames:
            out[fr.status.value] = out.get(fr.status.value, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "step": self.step, "first": self.first, "last": self.last,
            "state": self.state.value, "exit_code": self.exit_code, "attempt": self.attempt,
            "host": self.host, "pid": self.pid, "pid_start": self.pid_start, "started": self.started, "finished": self.finished,
            "message": self.message, "frames": [frame_to_dict(f) for f in self.frames],
            "dest_sizes": self.dest_sizes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkResult:
        return cls(
            job_id=data["job_id"], step=data.get("step", "main"), first=int(data["first"]), last=int(data["last"]),
            state=JobState(data["state"]), exit_code=data.get("exit_code"), attempt=data.get("attempt", ""),
            host=data.get("host", ""), pid=int(data.get("pid", 0)), pid_start=data.get("pid_start"), started=float(data.get("started", 0.0)),
            finished=data.get("finished"), message=data.get("message", ""),
            frames=[frame_from_dict(f) for f in data.get("frames", [])],
            dest_sizes={str(k): int(v) for k, v in (data.get("dest_sizes") or {}).items()},
        )


def read_chunk_results(folder: str | os.PathLike[str]) -> list[ChunkResult]:
    """Every chunk result in a job's results folder (unreadable files are left out), in frame order."""
    out: list[ChunkResult] = []
    base = Path(folder)
    try:
        names = sorted(p.name for p in base.iterdir())
    except OSError:
        return out
    for name in names:
        if not (name.startswith("chunk-") and name.endswith(".json")):
            continue
        try:
            out.append(ChunkResult.from_dict(json.loads(read_regular_file(base / name).decode("utf-8"))))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a torn write cannot happen (rename), but a foreign file can
    return sorted(out, key=lambda c: (c.step, c.first))


def _keep_better(new: ChunkResult, path: Path) -> ChunkResult:
    """A late stale attempt must not undo a good one: frames recorded done stay done if still in place."""
    try:
        old = ChunkResult.from_dict(json.loads(read_regular_file(path).decode("utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return new
    by_frame = {f.frame: f for f in new.frames}
    for fr in old.frames:
        mine = by_frame.get(fr.frame)
        if fr.status in _GOOD and (mine is None or mine.status not in _GOOD) and os.path.exists(fr.dest):
            by_frame[fr.frame] = fr
            if fr.dest in old.dest_sizes:
                new.dest_sizes[fr.dest] = old.dest_sizes[fr.dest]
    new.frames = [by_frame[k] for k in sorted(by_frame)]
    return new


class ProgressLines:
    """A Reporter that prints the scheduler's progress lines: `openjd_progress: N` only ever rising.

    OpenJD's runtime parses `openjd_progress:` and `openjd_status:` from stdout; SLURM and
    Deadline 10 keep them in the task log. Lines are throttled to one per `interval` s.
    """

    def __init__(self, emit: Callable[[str], None], interval: float = 0.5, label: str = "") -> None:
        self.emit = emit
        self.interval = interval
        self.label = label
        self.percent = 0.0
        self._last = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            pct = round(100.0 * event.fraction, 1)
            now = time.monotonic()
            if pct > self.percent and (now - self._last >= self.interval or pct >= 100.0):
                self.percent = pct
                self._last = now
                self.emit(f"openjd_progress: {pct}")
                done = event.frames_done + event.frames_failed
                self.emit(f"openjd_status: {self.label}{done}/{event.frames_total} frames")
        elif isinstance(event, LogMessage) and event.level != "info":
            self.emit(f"vfxcopy {event.level}: {event.text}")
        elif isinstance(event, FrameResult) and event.status is FrameStatus.FAILED:
            self.emit(f"vfxcopy frame failed: {event.error}")


def chunk_frames(spec: JobSpec, first: int, last: int) -> list[int]:
    return [f for f in spec.selected_frames() if first <= f <= last]


def _dest_hash(fr: FrameResult, token: CancelToken) -> FrameResult:
    """A done conversion's frame gets the hash of the file it wrote (copies have it already)."""
    if fr.hash or fr.status not in _GOOD or not fr.dest:
        return fr
    from vfxcopy.core.verify import MHL_FORMAT, hash_path

    try:
        digest = hash_path(fr.dest, MHL_FORMAT[DEST_HASH_ALGO], token)
    except (OSError, Cancelled):
        return fr
    return dataclasses.replace(fr, hash=digest, hash_algo=DEST_HASH_ALGO)


def run_task(
    spec: JobSpec,
    first: int,
    last: int,
    token: CancelToken | None = None,
    *,
    step: str = "main",
    folder: str | os.PathLike[str] | None = None,
    emit: Callable[[str], None] = print,
    write_every: float = 2.0,
) -> ChunkResult:
    """Run frames first..last of `spec` (a farm job's spec; its job_id is the farm job's) as one task.

    Returns the chunk's record, also written to `folder` (default: the job's results
    folder next to the destination) when the task starts, every `write_every` s while
    frames land, and at the end. Never raises for per-frame problems.
    """
    from vfxcopy.core.engine import run_job
    from vfxcopy.core.journal import process_start_time, remove_temps

    token = token or CancelToken()
    job_id = spec.job_id
    out_dir = Path(folder) if folder is not None else results_dir(spec.dest_dir, job_id)
    path = out_dir / chunk_file_name(first, last)
    attempt = attempt_job_id(job_id, first)
    record = ChunkResult(job_id, step, first, last, attempt=attempt, host=socket.gethostname(), pid=os.getpid(),
                         pid_start=process_start_time(os.getpid()), started=time.time())
    frames = chunk_frames(spec, first, last)
    # Earlier attempts of this chunk only: other chunks may be running next to us.
    remove_temps(spec.dest_dir, chunk_job_id(job_id, first))
    if not frames and not spec.source.is_single:
        record.state, record.exit_code, record.finished = JobState.COMPLETED, 0, time.time()
        record.message = "no frames of the job in this range"
        write_json_atomic(path, record.to_dict())
        return record
    os.makedirs(spec.dest_dir, exist_ok=True)
    write_json_atomic(path, _keep_better(dataclasses.replace(record), path).to_dict())
    sub = dataclasses.replace(spec, job_id=attempt, frames=None if spec.source.is_single else frames, names=None)
    lines = ProgressLines(emit, label=f"frames {first}-{last}: ")
    landed: list[FrameResult] = []
    last_write = time.monotonic()

    def report(event: Event) -> None:
        nonlocal last_write
        lines(event)
        if isinstance(event, FrameResult):
            landed.append(event)
            if time.monotonic() - last_write >= write_every:
                last_write = time.monotonic()
                snapshot = dataclasses.replace(record, frames=[_as_job(f, job_id) for f in landed])
                try:
                    write_json_atomic(path, _keep_better(snapshot, path).to_dict())
                except OSError:
                    pass  # the final write reports it

    result = run_job(sub, token, report, outputs=False)  # the merge step writes the job's generation and report
    # After a cancel, no extra reading: the merge step hashes whatever has no hash yet.
    rehash = spec.operation is Operation.CONVERT and result.state is not JobState.CANCELLED
    frames_out = [_as_job(_dest_hash(f, token) if rehash else f, job_id) for f in result.frames]
    record.frames = frames_out
    record.dest_sizes = {f.dest: _size(f.dest) for f in frames_out if f.status in _GOOD and f.dest}
    record.state = result.state
    record.exit_code = result.exit_code
    record.message = result.message
    record.finished = time.time()
    # The engine removed its own temporary on every exit path; this catches any it could not.
    remove_temps(spec.dest_dir, attempt)
    write_json_atomic(path, _keep_better(record, path).to_dict())
    if result.state is JobState.COMPLETED and lines.percent < 100.0:
        emit("openjd_progress: 100.0")  # e.g. every frame skipped: no Progress reached 100
    emit(f"openjd_status: {result.state.value} ({_summary(record)})")
    if result.state is not JobState.CANCELLED and record.exit_code:
        # The scheduler shows this as the task's failure reason.
        emit(f"openjd_fail: {result.message or _summary(record)}")
    return record


def _as_job(fr: FrameResult, job_id: str) -> FrameResult:
    return dataclasses.replace(fr, job_id=job_id)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _summary(record: ChunkResult) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(record.counts().items())) or "no frames"
