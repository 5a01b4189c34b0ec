"""JobRunner: a queue of pending jobs in front of a QThreadPool, one CancelToken per job."""

from __future__ import annotations

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot

from vfxcopy.core.jobs import CancelToken, JobResult, JobSpec, JobState
from vfxcopy.gui.worker import EMIT_INTERVAL, JobWorker, RunFn


class JobRunner(QObject):
    """Starts at most `max_jobs` workers; the rest wait here, so they can be cancelled or reordered.

    All methods are called from the GUI thread; every signal is emitted there too.
    """

    job_submitted = Signal(object)  # JobSpec
    job_started = Signal(str)  # job_id
    job_event = Signal(str, object)  # job_id, list[Event] (batched by the worker)
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
        self._emit_interval = emit_interval
        # Batches from all workers are passed on together on one GUI-thread tick: the
        # view then repaints once per tick for every row instead of once per job batch.
        self._buffered: dict[str, list[object]] = {}
        self._tick = QTimer(self)
        self._tick.setSingleShot(True)
        self._tick.setInterval(max(1, int(emit_interval * 1000)))
        self._tick.timeout.connect(self._flush_events)
        self._max_jobs = max(1, int(max_jobs))
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(self._max_jobs)
        self._run = run
        self._pending: list[JobSpec] = []
        self._tokens: dict[str, CancelToken] = {}
        self._running: dict[str, JobWorker] = {}
        # Finished workers whose thread may still be leaving run(); freed once `done` is set.
        self._retired: list[JobWorker] = []

    # -- configuration --
    @property
    def max_jobs(self) -> int:
        return self._max_jobs

    def set_max_jobs(self, count: int) -> None:
        self._max_jobs = max(1, int(count))
        self._pool.setMaxThreadCount(max(self._max_jobs, self._pool.maxThreadCount()))
        self._start_pending()

    # -- queries --
    def running_ids(self) -> list[str]:
        return list(self._running)

    def pending_ids(self) -> list[str]:
        return [spec.job_id for spec in self._pending]

    def is_running(self, job_id: str) -> bool:
        return job_id in self._running

    def is_pending(self, job_id: str) -> bool:
        return any(spec.job_id == job_id for spec in self._pending)

    def is_active(self, job_id: str) -> bool:
        return self.is_running(job_id) or self.is_pending(job_id)

    def is_paused(self, job_id: str) -> bool:
        token = self._tokens.get(job_id)
        return bool(token and token.paused and not token.cancelled)

    def token(self, job_id: str) -> CancelToken | None:
        return self._tokens.get(job_id)

    @property
    def running_count(self) -> int:
        return len(self._running)

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    # -- requests --
    def submit(self, spec: JobSpec) -> str:
        """Queue a job; it starts as soon as a slot is free. Returns its job id."""
        if spec.job_id in self._tokens:
            raise ValueError(f"job {spec.job_id} is already queued")
        self._tokens[spec.job_id] = CancelToken()
        self._pending.append(spec)
        self.job_submitted.emit(spec)
        self._start_pending()
        self._emit_counts()
        return spec.job_id

    def cancel(self, job_id: str) -> bool:
        """Cancel a running job (its token) or drop a pending one; False if not active."""
        for i, spec in enumerate(self._pending):
            if spec.job_id == job_id:
                del self._pending[i]
                self._tokens.pop(job_id, None)
                self.job_finished.emit(
                    JobResult(job_id, JobState.CANCELLED, message="Cancelled before it started")
                )
                self._emit_counts()
                return True
        token = self._tokens.get(job_id)
        if token is None or job_id not in self._running:
            return False
        token.cancel()
        return True

    def cancel_all(self) -> int:
        """Cancel every pending and running job; returns how many were asked."""
        pending = [spec.job_id for spec in self._pending]
        running = list(self._running)
        # Pending first, so that a finishing worker cannot start one of them meanwhile.
        for job_id in pending:
            self.cancel(job_id)
        for job_id in running:
            self.cancel(job_id)
        return len(pending) + len(running)

    def pause(self, job_id: str) -> bool:
        token = self._tokens.get(job_id)
        if token is None or job_id not in self._running or token.cancelled or token.paused:
            return False
        token.pause()
        self.job_paused.emit(job_id, True)
        return True

    def resume(self, job_id: str) -> bool:
        token = self._tokens.get(job_id)
        if token is None or not token.paused:
            return False
        token.resume()
        self.job_paused.emit(job_id, False)
        return True

    def stop_after_frame(self, job_id: str) -> bool:
        token = self._tokens.get(job_id)
        if token is None or job_id not in self._running:
            return False
        token.stop_after_frame()
        return True

    def move_pending(self, job_id: str, position: int) -> bool:
        """Reorder the waiting queue: `position` 0 starts next."""
        for i, spec in enumerate(self._pending):
            if spec.job_id == job_id:
                del self._pending[i]
                self._pending.insert(max(0, min(position, len(self._pending))), spec)
                return True
        return False

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every worker has returned (shutdown, tests); True if all did.

        Workers that returned are finished here and now (job_finished is emitted), so
        callers see final states without spinning an event loop; the queued duplicates
        that arrive later are ignored.
        """
        done = self._pool.waitForDone(timeout_ms)
        for worker in list(self._running.values()):
            if worker.done.is_set() and worker.result is not None:
                self._on_finished(worker.result)
        if done:
            self._purge(force=True)
        return done

    # -- internals --
    def _start_pending(self) -> None:
        while self._pending and len(self._running) < self._max_jobs:
            spec = self._pending.pop(0)
            token = self._tokens[spec.job_id]
            worker = JobWorker(spec, token, run=self._run, interval=self._emit_interval)
            worker.signals.started.connect(self._on_started)
            worker.signals.events.connect(self._on_events)
            worker.signals.finished.connect(self._on_finished)
            self._running[spec.job_id] = worker
            self._pool.start(worker)

    def _emit_counts(self) -> None:
        self.counts_changed.emit(len(self._running), len(self._pending))

    def _purge(self, force: bool = False) -> None:
        self._retired = [w for w in self._retired if not (force or w.done.is_set())]

    @Slot(str)
    def _on_started(self, job_id: str) -> None:
        self.job_started.emit(job_id)
        self._emit_counts()

    @Slot(str, object)
    def _on_events(self, job_id: str, events: object) -> None:
        assert isinstance(events, list)
        if job_id not in self._running:
            return  # queued before wait() finished the job: its result already says it all
        if self._emit_interval <= 0:
            self.job_event.emit(job_id, events)
            return
        self._buffered.setdefault(job_id, []).extend(events)
        if not self._tick.isActive():
            self._tick.start()

    @Slot()
    def _flush_events(self, job_id: str | None = None) -> None:
        """Pass buffered events on (all jobs, or one job before its end is announced)."""
        if job_id is not None:
            events = self._buffered.pop(job_id, None)
            if events:
                self.job_event.emit(job_id, events)
            return
        buffered, self._buffered = self._buffered, {}
        for jid, events in buffered.items():
            self.job_event.emit(jid, events)

    @Slot(object)
    def _on_finished(self, result: object) -> None:
        assert isinstance(result, JobResult)
        worker = self._running.pop(result.job_id, None)
        if worker is None:
            return  # already finished by wait()
        self._flush_events(result.job_id)  # its last progress before its end
        self._retired.append(worker)
        self._tokens.pop(result.job_id, None)
        self._purge()
        self.job_finished.emit(result)
        self._start_pending()
        self._emit_counts()
