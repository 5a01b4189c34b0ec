"""JobRecord: the plain data one table row shows, fed by engine events; live flags come from the job's token."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from vfxcopy.core.jobs import (
    CancelToken,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
)


@dataclass(frozen=True)
class FrameCounts:
    """One count of a job's frames, used by the table, the details pane and the status bar alike."""

    total: int
    written: int
    skipped: int
    failed: int
    cancelled: int
    running: int

    @property
    def handled(self) -> int:
        """Frames that need no more work: written or skipped (the 'n' of 'n/total')."""
        return self.written + self.skipped


# Chunk states of the farm (core.farm.backends.results_status) that need no more work, or can be retried.
FARM_ACTIVE = frozenset({"running", "pending"})
FARM_RETRYABLE = frozenset({"failed", "cancelled", "interrupted", "not run"})


@dataclass
class FarmInfo:
    """A farm job's row: what the scheduler and the results folder said last, as plain data."""

    backend: str
    folder: str  # the results folder on shared storage (DEST/.vfxcopy-farm/JOB)
    state: str = "submitting"  # results_status()'s overall state, or submitting / submitted
    chunks: list[dict[str, Any]] = field(default_factory=list)  # step, index, frames, state, counts
    partials: int = 0  # the job's temporaries still in its destination (0 once swept)
    message: str = ""  # the scheduler's or the submission's last word (an error)

    @property
    def tasks_running(self) -> int:
        return sum(1 for c in self.chunks if c["state"] == "running")

    @property
    def tasks_done(self) -> int:
        return sum(1 for c in self.chunks if c["state"] == "completed")

    @property
    def active(self) -> bool:
        return any(c["state"] in FARM_ACTIVE for c in self.chunks)

    @property
    def retryable(self) -> bool:
        return not self.active and any(c["state"] in FARM_RETRYABLE for c in self.chunks)


def keeps(result: FrameResult) -> bool:
    """Whether a row keeps this frame's result in memory: a failure or a frame with an error text."""
    return result.status is FrameStatus.FAILED or bool(result.error)


@dataclass
class JobRecord:
    spec: JobSpec
    # The last state the engine (or the runner's start/finish) reported; what the user
    # sees while the job is live also depends on the token (`shown_state`).
    state: JobState = JobState.PENDING
    progress: Progress | None = None
    # One status per selected frame (index = position in spec.selected_frames()),
    # painted as segments by the progress delegate.
    frame_states: list[FrameStatus] = field(default_factory=list)
    # Only the frames the user must read about (failed, or with an error text): a row of
    # 2,000 copied frames keeps counts, not 2,000 FrameResults. Every frame's result is in
    # the journal; the details pane reads it from there while it shows the job (keeps()).
    frame_results: dict[int, FrameResult] = field(default_factory=dict)
    log: list[LogMessage] = field(default_factory=list)
    # The job's end; its `frames` trimmed the same way as frame_results.
    result: JobResult | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    # True for rows of earlier sessions (from the journal): listed below this session's jobs.
    from_history: bool = False
    # The job's CancelToken while it is queued or running: the one home of pause, cancel and stop.
    token: CancelToken | None = field(default=None, compare=False, repr=False)
    # Set for a job that runs on a render farm (gui/farm_jobs.py keeps it up to date).
    farm: FarmInfo | None = None
    # Frame number -> index, for the frame in flight of a live job's progress; made at its first
    # progress event (a row of an earlier session never needs it: 20,000 frames, 1.3 MB a row).
    _index: dict[int, int] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        frames = self.spec.selected_frames()
        if not self.frame_states:
            # A single file (no frame number) is one item, reported as index 0.
            self.frame_states = [FrameStatus.PENDING] * (len(frames) or 1)

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    @property
    def frames_total(self) -> int:
        return len(self.frame_states)

    # -- live flags, read from the token (never stored twice) --
    @property
    def cancelling(self) -> bool:
        """Cancel asked, the worker has not returned yet: shown as "Cancelling…"."""
        return not self.state.finished and self.token is not None and self.token.cancelled

    @property
    def stopping(self) -> bool:
        """"Stop after current frame" asked: shown as "Stopping after frame…"."""
        return (not self.state.finished and self.token is not None and self.token.stop_requested
                and not self.token.cancelled)

    @property
    def paused(self) -> bool:
        return (self.state in (JobState.RUNNING, JobState.PAUSED) and self.token is not None
                and self.token.paused and not self.token.cancelled)

    @property
    def shown_state(self) -> JobState:
        """The state to show: the engine's, with a pause asked on the token shown at once."""
        if self.state.finished:
            return self.state
        if self.paused:
            return JobState.PAUSED
        if self.state is JobState.PAUSED:
            # The engine's last word was "paused" but the token was resumed since.
            return JobState.RUNNING
        return self.state

    def count(self, status: FrameStatus) -> int:
        return sum(1 for s in self.frame_states if s is status)

    def counts(self) -> FrameCounts:
        tally = {status: 0 for status in FrameStatus}
        for status in self.frame_states:
            tally[status] += 1
        return FrameCounts(total=len(self.frame_states), written=tally[FrameStatus.DONE],
                           skipped=tally[FrameStatus.SKIPPED], failed=tally[FrameStatus.FAILED],
                           cancelled=tally[FrameStatus.CANCELLED], running=tally[FrameStatus.RUNNING])

    @property
    def failed_frames(self) -> list[FrameResult]:
        return [r for r in self.frame_results.values() if r.status is FrameStatus.FAILED]

    def apply(self, event: Progress | FrameResult | LogMessage) -> None:
        """Fold one engine event into the record (GUI thread)."""
        if isinstance(event, Progress):
            self.progress = event
            # A job ends in finish(), with its result: a finished state in its last progress event is
            # not taken before that, so that a row said to be completed has its result (and the
            # window has handled its end: notices, hooks).
            if not self.state.finished and not event.state.finished:
                self.state = event.state
            if event.current_frame is not None:
                # Mark the frame in flight as running unless it already has a final state.
                index = self._index
                if index is None:
                    index = self._index = {frame: i for i, frame in enumerate(self.spec.selected_frames())}
                idx = index.get(event.current_frame, -1)
                if 0 <= idx < len(self.frame_states) and self.frame_states[idx] is FrameStatus.PENDING:
                    self.frame_states[idx] = FrameStatus.RUNNING
        elif isinstance(event, FrameResult):
            if keeps(event):
                self.frame_results[event.index] = event
            else:
                # A frame retried and now written: its old failure is over.
                self.frame_results.pop(event.index, None)
            if 0 <= event.index < len(self.frame_states):
                self.frame_states[event.index] = event.status
        else:
            self.log.append(event)

    def finish(self, result: JobResult) -> None:
        """The job's end: its frame results, its final state; a frame left running was interrupted.

        The events brought every frame already; what is kept of the result is its counts and
        the frames that keeps() (a 2,000-frame job would otherwise hold its whole list twice).
        """
        states = self.frame_states
        for frame in result.frames:
            if keeps(frame) or not 0 <= frame.index < len(states) or states[frame.index] is not frame.status:
                self.apply(frame)
        leftover = FrameStatus.CANCELLED if result.state is JobState.CANCELLED else FrameStatus.PENDING
        self.frame_states = [leftover if s is FrameStatus.RUNNING else s for s in self.frame_states]
        self.result = dataclasses.replace(result, frames=[f for f in result.frames if keeps(f)])
        self._index = {}  # frames in flight are over
        self.state = result.state
        self.finished = time.time()
        self.token = None
        if self.progress is not None:
            self.progress = self.progress.copy(state=result.state, bytes_per_s=0.0, eta_s=None)
