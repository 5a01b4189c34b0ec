"""JobRecord: the plain data one table row shows (owned by the model, filled from worker signals)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from vfxcopy.core.jobs import (
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
)


@dataclass
class JobRecord:
    spec: JobSpec
    state: JobState = JobState.PENDING
    progress: Progress | None = None
    # One status per selected frame (index = position in spec.selected_frames()),
    # painted as segments by the progress delegate.
    frame_states: list[FrameStatus] = field(default_factory=list)
    frame_results: dict[int, FrameResult] = field(default_factory=dict)
    log: list[LogMessage] = field(default_factory=list)
    result: JobResult | None = None
    cancelling: bool = False  # Cancel asked, worker not finished yet: shows "Cancelling…"
    stopping: bool = False  # "Stop after current frame" asked: shows "Stopping after frame…"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    _index: dict[int, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        frames = self.spec.selected_frames()
        self._index = {frame: i for i, frame in enumerate(frames)}
        if not self.frame_states:
            self.frame_states = [FrameStatus.PENDING] * len(frames)

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    @property
    def frames_total(self) -> int:
        return len(self.frame_states)

    def count(self, status: FrameStatus) -> int:
        return sum(1 for s in self.frame_states if s is status)

    @property
    def failed_frames(self) -> list[FrameResult]:
        return [r for r in self.frame_results.values() if r.status is FrameStatus.FAILED]

    def apply(self, event: Progress | FrameResult | LogMessage) -> None:
        """Fold one engine event into the record (GUI thread)."""
        if isinstance(event, Progress):
            self.progress = event
            if not self.state.finished:
                self.state = event.state
            if event.current_frame is not None:
                # Mark the frame in flight as running unless it already has a final state.
                idx = self._index.get(event.current_frame, -1)
                if 0 <= idx < len(self.frame_states) and self.frame_states[idx] is FrameStatus.PENDING:
                    self.frame_states[idx] = FrameStatus.RUNNING
        elif isinstance(event, FrameResult):
            self.frame_results[event.index] = event
            if 0 <= event.index < len(self.frame_states):
                self.frame_states[event.index] = event.status
        else:
            self.log.append(event)
