"""JobRunner: the window's thin Qt adapter over core's JobQueue (signals in the GUI thread)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from vfxcopy.core.jobs import CancelToken, JobResult, JobSpec
from vfxcopy.core.queue import JobQueue
from vfxcopy.gui.worker import EMIT_INTERVAL, QueueRelay, RunFn


class JobRunner(QObject):
    """Starts at most `max_jobs` jobs; the rest wait in core's queue, to be cancelled or reordered.

    The queue runs, orders, cancels and throttles; this class only turns its callbacks
    into signals. All methods are called from the GUI thread; every signal is emitted there.
    """

    job_submitted = Signal(object)  # JobSpec
    job_started = Signal(str)  # job_id
    job_event = Signal(str, object)  # job_id, list[Event] (batched and throttled by the queue)
    job_finished = Signal(object)  # JobResult
    job_paused = Signal(str, bool)  # job_id, paused
    counts_changed = Signal(int, int)  # running, pending

    def __init__(
        self,
        max_jobs: int = 2,
        parent: QObject | None = None,
        run: RunFn | None = None,
        emit_interval: float = EMIT_INTERVAL,
    ) -> None:
        super().__init__(parent)
        self._relay = QueueRelay(self._on_callback, self)
        # `run` records the job in the window's journal itself (history.journaled_run), so the
        # queue gets no journal: one place records.
        self._queue = JobQueue(max_jobs, run=run, listener=self._relay, progress_interval=emit_interval)

    # -- configuration --
    @property
    def max_jobs(self) -> int:
        return self._queue.max_jobs

    def set_max_jobs(self, count: int) -> None:
        self._queue.set_max_jobs(count)

    # -- queries --
    def running_ids(self) -> list[str]:
        return self._queue.running_ids()

    def pending_ids(self) -> list[str]:
        return self._queue.pending_ids()

    def is_running(self, job_id: str) -> bool:
        return self._queue.is_running(job_id)

    def is_pending(self, job_id: str) -> bool:
        return self._queue.is_pending(job_id)

    def is_active(self, job_id: str) -> bool:
        return self.is_running(job_id) or self.is_pending(job_id)

    def is_paused(self, job_id: str) -> bool:
        token = self._queue.token(job_id)
        return bool(token and token.paused and not token.cancelled)

    def token(self, job_id: str) -> CancelToken | None:
        return self._queue.token(job_id)

    @property
    def running_count(self) -> int:
        return self._queue.running_count

    @property
    def pending_count(self) -> int:
        return self._queue.pending_count

    # -- requests --
    def submit(self, spec: JobSpec) -> str:
        """Queue a job; it starts as soon as a slot is free. Returns its job id."""
        return self._queue.submit(spec)

    def submit_all(self, specs: list[JobSpec]) -> list[str]:
        """Queue jobs in one step, so that the members of a group (JobSpec.group) start together."""
        return self._queue.submit_all(specs)

    def cancel(self, job_id: str) -> bool:
        """Cancel a running job (its token) or drop a pending one; False if not active."""
        return self._queue.cancel(job_id)

    def cancel_all(self) -> int:
        """Cancel every pending and running job; returns how many were asked."""
        return self._queue.cancel_all()

    def pause(self, job_id: str) -> bool:
        if not self._queue.pause(job_id):
            return False
        self.job_paused.emit(job_id, True)
        return True

    def resume(self, job_id: str) -> bool:
        if not self._queue.resume(job_id):
            return False
        self.job_paused.emit(job_id, False)
        return True

    def stop_after_frame(self, job_id: str) -> bool:
        return self._queue.stop_after_frame(job_id)

    def move_pending(self, job_id: str, position: int) -> bool:
        """Reorder the waiting queue: `position` 0 starts next."""
        return self._queue.move(job_id, position)

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every job has returned (shutdown, tests); True if all did.

        What the jobs reported meanwhile is passed on here and now (job_finished is
        emitted), so callers see final states without spinning an event loop.
        """
        done = self._queue.wait(None if timeout_ms < 0 else timeout_ms / 1000)
        self._relay.deliver()
        return done

    # -- the queue's callbacks, in the GUI thread --
    def _on_callback(self, kind: str, first: object, second: object) -> None:
        if kind == "events":
            assert isinstance(first, str) and isinstance(second, list)
            self.job_event.emit(first, second)
            return
        assert isinstance(first, JobSpec)
        if kind == "submitted":
            self.job_submitted.emit(first)
        elif kind == "started":
            self.job_started.emit(first.job_id)
        elif kind == "finished":
            assert isinstance(second, JobResult)
            self.job_finished.emit(second)
        self.counts_changed.emit(self._queue.running_count, self._queue.pending_count)
