"""JobWorker(QRunnable) runs one job on a pool thread; WorkerSignals carries its throttled events."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, Signal

from vfxcopy.core.jobs import (
    CancelToken,
    Event,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
    Reporter,
)

RunFn = Callable[[JobSpec, CancelToken, Reporter], JobResult]

# About ten updates a second per job is what a person can read; more only costs
# the GUI thread time (see benchmarks/bench_ui.py).
EMIT_INTERVAL = 0.1


class WorkerSignals(QObject):
    """Lives in the GUI thread; emitted from the pool thread, so every connection is queued."""

    started = Signal(str)  # job_id
    events = Signal(str, object)  # job_id, list[Event] in the order they happened
    finished = Signal(object)  # JobResult


def _default_run(spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
    from vfxcopy.core.engine import run_job

    return run_job(spec, token, report)


class JobWorker(QRunnable):
    """Calls the engine with the job's token; never touches widgets or the model."""

    def __init__(
        self,
        spec: JobSpec,
        token: CancelToken,
        run: RunFn | None = None,
        interval: float = EMIT_INTERVAL,
    ) -> None:
        super().__init__()
        # The runner owns this object until `done` is set: a pool that deleted it
        # behind Python's back could free the signals while a queued emit is in flight.
        self.setAutoDelete(False)
        self.spec = spec
        self.token = token
        self.signals = WorkerSignals()
        self.done = threading.Event()
        self.result: JobResult | None = None  # set before `finished` is emitted
        self._run = run or _default_run
        self._interval = interval
        self._lock = threading.Lock()
        self._buffer: list[Event] = []
        self._latest: Progress | None = None
        self._last_emit = 0.0
        self._last_state: JobState | None = None

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    # -- worker thread --
    def report(self, event: Event) -> None:
        """The engine's callback: buffer, and emit at most every `interval` seconds."""
        now = time.monotonic()
        with self._lock:
            if isinstance(event, Progress):
                self._latest = event
                state_changed = event.state is not self._last_state
            else:
                self._buffer.append(event)
                state_changed = False
            due = state_changed or now - self._last_emit >= self._interval
        if due:
            self.flush()

    def flush(self) -> None:
        """Emit what is buffered (frame results and log lines in order, then the newest progress)."""
        with self._lock:
            batch = self._buffer
            self._buffer = []
            if self._latest is not None:
                batch.append(self._latest)
                self._last_state = self._latest.state
                self._latest = None
            self._last_emit = time.monotonic()
        if batch:
            self.signals.events.emit(self.job_id, batch)

    def run(self) -> None:
        try:
            self.signals.started.emit(self.job_id)
            try:
                result = self._run(self.spec, self.token, self.report)
            except Exception as exc:  # noqa: BLE001 - any engine bug must end as a failed row, not a dead thread
                message = f"{type(exc).__name__}: {exc}"
                self.report(LogMessage(self.job_id, "error", traceback.format_exc()))
                result = JobResult(self.job_id, JobState.FAILED, message=f"Internal error: {message}")
            self.flush()
            self.result = result
            self.signals.finished.emit(result)
        finally:
            self.done.set()

