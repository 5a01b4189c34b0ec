"""FrameRecorder: the engine's reporter when a journal is on (small group commits, off the copy thread)."""

from __future__ import annotations

import threading
import time

from vfxcopy.core.jobs import Event, FrameResult, LogMessage, Reporter
from vfxcopy.core.journal.schema import JournalError
from vfxcopy.core.sqlite import sqlite3

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.journal.store import Journal

IDLE_EXIT_S = 1.0  # the writer thread ends after this long without a group to commit


class FrameRecorder:
    """The engine's reporter when a journal is on: records FrameResults in small group commits.

    The pipeline reports a frame only once it is fsynced and in place, so recording here keeps the order the journal promises: a
    frame is never "done" in the journal before it is in place. Frames are
    committed together, at most `max_frames` at a time and never more than
    `max_delay` seconds after they were reported (checked on every event: the
    engine reports progress many times a second), because each commit with
    synchronous=FULL costs an fsync of the journal (about 5 ms per frame here
    when committed one by one; in groups of 32, 20,000 small frames still spent a
    third of the run committing: groups are bounded by time first). A crash loses
    at most the frames in flight and these few: they are in place, and a resume compares them instead of copying
    them again.

    With `background` (the engine's recorders), a group that is due is committed by a
    writer thread of the recorder's own, in the order the groups were reported: the copy
    goes on meanwhile (the stat of each frame's
    source and destination and the commit's fsync took 0.2 s of a 2 s CLI copy of
    20,000 small frames on the copying thread). `flush()` commits everything reported
    so far before it returns: the engine calls it when the job ends, before it records
    the job's state. Events are passed on unchanged; a journal failure is reported once
    as a warning (by the job's own thread, at its next event or flush) and never stops
    the copy.
    """

    def __init__(
        self, journal: Journal, job_id: str, forward: Reporter, *, max_frames: int = 2048, max_delay: float = 0.1,
        background: bool = False,
    ) -> None:
        self.journal = journal
        self.job_id = job_id
        self.forward = forward
        self.max_frames = max(1, max_frames)
        self.max_delay = max_delay
        self.background = background
        self._buffer: list[FrameResult] = []
        self._first = 0.0
        self._lock = threading.Lock()  # the buffer and the groups handed to the writer
        self._write_lock = threading.Lock()  # one commit at a time, in order
        self._wake = threading.Condition(self._lock)
        self._groups: list[list[FrameResult]] = []  # due, waiting for the writer thread
        self._thread: threading.Thread | None = None
        self._warned = False
        self._warning: LogMessage | None = None  # said by the job's thread, not the writer's

    def __call__(self, event: Event) -> None:
        # Called for every event of the run (twice per small frame): one lock at most.
        if isinstance(event, FrameResult) and event.job_id == self.job_id:
            with self._lock:
                buffer = self._buffer
                if not buffer:
                    self._first = time.monotonic()
                buffer.append(event)
                due = len(buffer) >= self.max_frames or time.monotonic() - self._first >= self.max_delay
        else:  # a stale read of the buffer is seen at the next event
            due = bool(self._buffer) and time.monotonic() - self._first >= self.max_delay
        if due:
            if self.background:
                self._hand_over()
            else:
                self.flush()
        self.forward(event)
        if self._warning is not None:
            self._say_warning()

    def _hand_over(self) -> None:
        """The buffer as one group to the writer thread (started when none is running)."""
        with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return
            self._groups.append(batch)
            self._wake.notify()
            if self._thread is not None and self._thread.is_alive():  # it takes this group too
                return
            self._thread = threading.Thread(target=self._writer, daemon=True, name=f"vfxcopy-journal-{self.job_id}")
            self._thread.start()

    def _writer(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._groups:
                        self._wake.wait(IDLE_EXIT_S)
                    if not self._groups:
                        if self._thread is threading.current_thread():
                            self._thread = None
                        return
                self._commit_next()
        finally:
            self.journal.release_connection()  # this thread's: a window runs many jobs

    def _commit_next(self) -> None:
        """Commit the oldest waiting group (under the write lock, so groups land in order)."""
        with self._write_lock:
            with self._lock:
                if not self._groups:
                    return
                batch = self._groups.pop(0)
            self._commit(batch)

    def _commit(self, batch: list[FrameResult]) -> None:
        try:
            self.journal.record_frames(batch)
        except (sqlite3.Error, JournalError) as exc:
            with self._lock:
                if self._warned:
                    return
                self._warned = True
                self._warning = LogMessage(
                    self.job_id, "warning",
                    f"{self.journal.path}: cannot record frames ({exc}); this job may not be resumable")

    def _say_warning(self) -> None:
        with self._lock:
            warning, self._warning = self._warning, None
        if warning is not None:
            self.forward(warning)

    def flush(self) -> None:
        """Commit every frame reported so far (the groups waiting for the writer first, in order)."""
        with self._lock:
            if self._buffer:
                self._groups.append(self._buffer)
                self._buffer = []
        while True:
            with self._lock:
                if not self._groups:
                    break
            self._commit_next()
        with self._write_lock:  # a commit the writer thread has under way ends first
            pass
        if self._warning is not None:
            self._say_warning()
