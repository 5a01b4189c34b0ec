"""JobQueue: the one Qt-free job queue (limit, order, cancel, throttled events, journal) of CLI, watch and window."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vfxcopy.core.errors import VfxCopyError
from vfxcopy.core.jobs import (
    CancelToken,
    Event,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Operation,
    Progress,
    Reporter,
)

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    import logging

    from vfxcopy.core.journal import Journal


def _log() -> logging.Logger:
    """The queue's logger, for its rare error paths: importing logging (with traceback, string
    and textwrap) took 4-5 ms of every command's start."""
    import logging

    return logging.getLogger(__name__)


RunFn = Callable[[JobSpec, CancelToken, Reporter], JobResult]

# About ten updates a second per job is what a person can read; more only costs the
# window's GUI thread time (benchmarks/bench_ui.py) and a terminal's redraws.
PROGRESS_INTERVAL = 0.1
CANCELLED_BEFORE_START = "Cancelled before it started"


def _journal_errors() -> tuple[type[Exception], ...]:
    """What a journal call may raise. A function, evaluated only when a journal call raised: a
    queue without a journal (--no-journal) never imports sqlite3 (2 ms of a start, with datetime)."""
    from vfxcopy.core.sqlite import sqlite3

    return (VfxCopyError, OSError, sqlite3.Error)


class QueueListener:
    """What a queue tells its owner; override what you need. Called from worker threads.

    `submitted` runs in the thread that submitted; `started`, `events` and `finished`
    of a job that ran come from that job's worker thread, in that order. A job that
    never started (cancelled while pending) gets only `finished`, in the cancelling
    thread. Callbacks must be quick and must not raise.
    """

    def submitted(self, spec: JobSpec) -> None:
        """`spec` was queued."""

    def started(self, spec: JobSpec) -> None:
        """`spec` left the pending list and its worker thread began."""

    def events(self, job_id: str, events: list[Event]) -> None:
        """A batch of the engine's events in the order they happened (progress throttled)."""

    def finished(self, spec: JobSpec, result: JobResult) -> None:
        """The job ended (or was cancelled before it started)."""


def engine_run(journal: Journal | None = None) -> RunFn:
    """The engine's run_job, recording the job in `journal` (the one place that records)."""

    def run(spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
        from vfxcopy.core.engine import run_job

        return run_job(spec, token, report, journal=journal)

    return run


class Throttle:
    """A job's Reporter that batches events: progress at most every `interval`, the rest in order.

    FrameResults and LogMessages are never dropped; of the Progress snapshots only the
    newest is kept between batches, and a change of the job's state goes out at once.
    Thread-safe (a conversion reports from several threads); batches are delivered under
    the lock so that they arrive in order.
    """

    def __init__(self, job_id: str, deliver: Callable[[str, list[Event]], None],
                 interval: float = PROGRESS_INTERVAL) -> None:
        self.job_id = job_id
        self.interval = interval
        self._deliver = deliver
        self._lock = threading.Lock()
        self._buffer: list[Event] = []
        self._latest: Progress | None = None
        self._last_state: JobState | None = None
        self._last_batch = 0.0

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, Progress):
                self._latest = event
                due = event.state is not self._last_state
            else:
                self._buffer.append(event)
                due = False
            if due or time.monotonic() - self._last_batch >= self.interval:
                self._flush_locked()

    def flush(self) -> None:
        """Deliver everything buffered (the end of a job)."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        batch, self._buffer = self._buffer, []
        if self._latest is not None:
            batch.append(self._latest)
            self._last_state = self._latest.state
            self._latest = None
        self._last_batch = time.monotonic()
        if batch:
            try:
                self._deliver(self.job_id, batch)
            except Exception:  # a listener bug must not fail the copy (logged)
                log = _log()
                log.exception("queue listener failed on events of job %s", self.job_id)


class _Entry:
    """A job in the queue: its spec and token.

    A plain class: each entry is one job, found and removed by identity (its token is its
    own), so a dataclass's field-by-field equality bought nothing but 0.4 ms of every start.
    """

    __slots__ = ("spec", "token", "announced")

    def __init__(self, spec: JobSpec, token: CancelToken, announced: bool = True) -> None:
        self.spec = spec
        self.token = token
        self.announced = announced  # False while the listener is still being told of it: it may not start yet


def release_memory() -> None:
    """Hand the heap's free pages back to the system once the queue is idle (glibc's malloc_trim).

    Measured: after 10 jobs of 2,000 frames (manifest, report, per-frame results), a process
    kept 46 MB more than it needed until the next allocation reused it; a long-lived window or
    watch process would show that as its size. Where there is no glibc, nothing happens.
    """
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


class JobQueue:
    """Runs submitted jobs, at most `max_jobs` at a time, each in its own worker thread.

    Pending jobs wait in order and can be reordered or cancelled without ever
    starting. With a `journal`, every job is recorded when submitted (so a crash
    leaves the whole queue resumable), a job cancelled before it started is recorded
    cancelled, and the default `run` passes the journal to the engine, which records
    the job's frames (its FrameRecorder is flushed at the end on every path). A custom
    `run` records the job itself, if at all (see `engine_run`). Every method may be
    called from any thread.
    """

    def __init__(
        self,
        max_jobs: int = 1,
        *,
        run: RunFn | None = None,
        journal: Journal | None = None,
        listener: QueueListener | None = None,
        progress_interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self.journal = journal
        self.listener = listener or QueueListener()
        self.progress_interval = progress_interval
        self._run = run or engine_run(journal)
        self._max_jobs = max(1, int(max_jobs))
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending: list[_Entry] = []
        self._running: dict[str, _Entry] = {}
        # Tokens of pending and running jobs; read without the lock by interrupt().
        self._tokens: dict[str, CancelToken] = {}
        self._interrupted = False

    # -- configuration --
    @property
    def max_jobs(self) -> int:
        return self._max_jobs

    def set_max_jobs(self, count: int) -> None:
        """Change the limit at run time: more starts waiting jobs now; fewer lets running ones finish."""
        with self._lock:
            self._max_jobs = max(1, int(count))
        self._start_pending()

    def recover(self) -> list[str]:
        """Mark jobs of dead processes interrupted (journal.recover()); their ids, [] without a journal."""
        if self.journal is None:
            return []
        try:
            return self.journal.recover()
        except _journal_errors() as exc:
            _log().warning("journal recovery failed: %s", exc)
            return []

    # -- queries --
    def running_ids(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def pending_ids(self) -> list[str]:
        with self._lock:
            return [e.spec.job_id for e in self._pending]

    def is_running(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._running

    def is_pending(self, job_id: str) -> bool:
        with self._lock:
            return any(e.spec.job_id == job_id for e in self._pending)

    def token(self, job_id: str) -> CancelToken | None:
        return self._tokens.get(job_id)

    @property
    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    @property
    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- requests --
    def submit(self, spec: JobSpec) -> str:
        """Queue a job (it starts as soon as a slot is free); returns its id."""
        return self.submit_all([spec])[0]

    def submit_all(self, specs: list[JobSpec]) -> list[str]:
        """Queue jobs in order, all at once: the members of a group (JobSpec.group) are pending
        together before any of them can start, so they start together. Returns their ids."""
        if self._interrupted:
            for spec in specs:
                entry = _Entry(spec, CancelToken())
                self._journal_add(spec)
                self._call(self.listener.submitted, spec)
                self._finish_unstarted(entry)
            return [spec.job_id for spec in specs]
        entries: list[_Entry] = []
        with self._lock:
            for spec in specs:
                if spec.job_id in self._tokens or any(e.spec.job_id == spec.job_id for e in entries):
                    raise ValueError(f"job {spec.job_id} is already queued")
                entries.append(_Entry(spec, CancelToken()))
            for entry in entries:
                self._tokens[entry.spec.job_id] = entry.token
        warnings = [self._journal_add(entry.spec) for entry in entries]
        # Pending (counted, cancellable) at once, but started only once announced: a job that
        # another job's end starts from that job's thread must never reach the listener's
        # `finished` before its `submitted`.
        for entry in entries:
            entry.announced = False
        with self._lock:
            self._pending.extend(entries)
        for entry, warning in zip(entries, warnings, strict=True):
            self._call(self.listener.submitted, entry.spec)
            if warning is not None:
                self._call(self.listener.events, entry.spec.job_id, [warning])
        with self._lock:
            for entry in entries:
                entry.announced = True
        self._start_pending()
        return [entry.spec.job_id for entry in entries]

    def move(self, job_id: str, position: int) -> bool:
        """Reorder the pending jobs: `position` 0 starts next. False if `job_id` is not pending."""
        with self._lock:
            for i, entry in enumerate(self._pending):
                if entry.spec.job_id == job_id:
                    del self._pending[i]
                    self._pending.insert(max(0, min(position, len(self._pending))), entry)
                    return True
        return False

    def start_next(self, job_id: str) -> bool:
        """Move a pending job to the front of the queue."""
        return self.move(job_id, 0)

    def cancel(self, job_id: str) -> bool:
        """Drop a pending job (it never starts) or cancel a running one; False if neither."""
        with self._lock:
            entry = next((e for e in self._pending if e.spec.job_id == job_id), None)
            if entry is not None:
                self._pending.remove(entry)
                self._tokens.pop(job_id, None)
            running = self._running.get(job_id)
        if entry is not None:
            self._finish_unstarted(entry)
            return True
        if running is not None:
            running.token.cancel()
            return True
        return False

    def cancel_pending(self) -> int:
        """Drop every pending job; each finishes CANCELLED without starting. Returns how many."""
        with self._lock:
            dropped, self._pending = self._pending, []
            for entry in dropped:
                self._tokens.pop(entry.spec.job_id, None)
        for entry in dropped:
            self._finish_unstarted(entry)
        return len(dropped)

    def cancel_all(self) -> int:
        """Cancel All: the pending jobs first (so none starts meanwhile), then the running ones."""
        count = self.cancel_pending()
        with self._lock:
            running = list(self._running.values())
        for entry in running:
            entry.token.cancel()
        return count + len(running)

    def interrupt(self) -> None:
        """Cancel everything and start nothing more; safe inside a signal handler.

        It takes no lock of the queue (the interrupted main thread may hold it): it
        cancels the tokens and sets a flag; waiting jobs are dropped by the next
        worker that looks (or at once if none runs).
        """
        self._interrupted = True
        for token in list(self._tokens.values()):
            token.cancel()

    def pause(self, job_id: str) -> bool:
        with self._lock:
            entry = self._running.get(job_id)
        if entry is None or entry.token.cancelled or entry.token.paused:
            return False
        entry.token.pause()
        return True

    def resume(self, job_id: str) -> bool:
        token = self._tokens.get(job_id)
        if token is None or not token.paused:
            return False
        token.resume()
        return True

    def stop_after_frame(self, job_id: str) -> bool:
        with self._lock:
            entry = self._running.get(job_id)
        if entry is None:
            return False
        entry.token.stop_after_frame()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing runs or waits (every `finished` delivered); True if so in time."""
        if self._interrupted:
            self._start_pending()  # drops what an interrupt left waiting when no worker runs
        with self._changed:
            return self._changed.wait_for(lambda: not self._running and not self._pending, timeout)

    # -- internals --
    def _start_pending(self) -> None:
        if self._interrupted:
            self.cancel_pending()
            return
        starting: list[_Entry] = []
        with self._lock:
            while self._pending and len(self._running) < self._max_jobs and self._pending[0].announced:
                entry = self._pending.pop(0)
                self._running[entry.spec.job_id] = entry
                starting.append(entry)
                group = entry.spec.group
                if group is not None:
                    # A group's members share each item's read: they start together (as one slot's
                    # worth of reading), whatever the limit; a member left waiting would read alone.
                    for other in [e for e in self._pending if e.spec.group == group and e.announced]:
                        self._pending.remove(other)
                        self._running[other.spec.job_id] = other
                        starting.append(other)
        groups = {e.spec.group for e in starting if e.spec.group is not None and e.spec.operation is Operation.COPY}
        if groups:
            from vfxcopy.core.writers import fanout

            for group in groups:
                fanout.expect(group, [e.spec.job_id for e in starting if e.spec.group == group])
        renditions = {e.spec.group for e in starting
                      if e.spec.group is not None and e.spec.operation is Operation.CONVERT}
        if renditions:
            from vfxcopy.core.writers import shared_decode

            for group in renditions:  # renditions of one source: frames decoded before a member starts wait for it
                shared_decode.expect(group, [e.spec.job_id for e in starting if e.spec.group == group])
        for entry in starting:
            thread = threading.Thread(target=self._work, args=(entry,), name=f"vfxcopy-job-{entry.spec.job_id}",
                                      daemon=True)
            thread.start()

    def _work(self, entry: _Entry) -> None:
        spec, token = entry.spec, entry.token
        job_id = spec.job_id
        throttle = Throttle(job_id, self.listener.events, self.progress_interval)
        try:
            self._call(self.listener.started, spec)
            try:
                result = self._run(spec, token, throttle)
            except VfxCopyError as exc:  # a refusal (SafetyError, JobError): the user can act on its words
                throttle(LogMessage(job_id, "error", str(exc)))
                result = JobResult(job_id, JobState.FAILED, message=str(exc))
            except Exception as exc:  # noqa: BLE001 - an engine bug ends as a failed job, not a dead thread
                import traceback

                throttle(LogMessage(job_id, "error", traceback.format_exc()))
                result = JobResult(job_id, JobState.FAILED, message=f"Internal error: {type(exc).__name__}: {exc}")
            throttle.flush()
            # Before the next job starts, so that a listener can still stop the queue.
            self._call(self.listener.finished, spec, result)
        finally:
            if spec.group is not None and spec.operation is Operation.COPY:
                from vfxcopy.core.writers import fanout

                fanout.leave(spec.group, job_id)  # also when the job ended before its pipeline began
            elif spec.group is not None and spec.operation is Operation.CONVERT:
                from vfxcopy.core.writers import shared_decode

                shared_decode.leave(spec.group, job_id)  # the same for renditions of one decode
            with self._lock:
                self._running.pop(job_id, None)
                self._tokens.pop(job_id, None)
                idle = not self._running
            if idle:
                release_memory()
            self._start_pending()
            with self._changed:
                self._changed.notify_all()

    def _finish_unstarted(self, entry: _Entry) -> None:
        spec = entry.spec
        entry.token.cancel()
        if self.journal is not None:
            try:
                self.journal.set_state(spec.job_id, JobState.CANCELLED, CANCELLED_BEFORE_START)
            except _journal_errors() as exc:
                _log().warning("cannot record job %s as cancelled: %s", spec.job_id, exc)
        result = JobResult(spec.job_id, JobState.CANCELLED, message=CANCELLED_BEFORE_START)
        self._call(self.listener.finished, spec, result)
        with self._changed:
            self._changed.notify_all()

    def _journal_add(self, spec: JobSpec) -> LogMessage | None:
        if self.journal is None:
            return None
        try:
            self.journal.add_job(spec)
        except _journal_errors() as exc:
            return LogMessage(spec.job_id, "warning",
                              f"cannot record the job in the journal ({exc}); it cannot be resumed")
        return None

    def _call(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except Exception:  # a listener bug must not stop the queue (logged)
            log = _log()
            log.exception("queue listener %s failed", getattr(fn, "__name__", fn))
