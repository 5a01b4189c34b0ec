"""Farm jobs as rows of the window's table: submit, follow (scheduler + results folder), cancel, retry failed chunks.

A farm job is planned with core.farm (chunks of frames, specs and results on shared
storage) and handed to a backend. Everything that may wait on storage or on a
scheduler (planning, sbatch, squeue, reading chunk results) runs on a worker
thread; the GUI thread only copies the plain answer into the row. "This computer
(OpenJD)" runs the job bundle here with openjd-sessions in a child process
(`vfxcopy farm retry`, which runs every chunk not completed yet), so that its
SIGTERM-then-kill cancel never reaches the window itself.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from vfxcopy.core.jobs import CancelToken, FrameStatus, JobSpec, JobState, LogMessage
from vfxcopy.gui.job_model import JobTableModel
from vfxcopy.gui.records import FarmInfo, JobRecord

LOCAL_OPENJD = "openjd-local"
POLL_MS = 1500
# Backends that only write submission files: nothing runs the tasks until someone submits them.
FILES_ONLY = frozenset({"openjd", "deadline10", "opencue"})

BackendFactory = Callable[[str, dict[str, Any]], Any]


def make_backend(name: str, options: dict[str, Any]) -> Any:
    """The core.farm backend for a Run on choice (the local OpenJD run uses the OpenJD backend)."""
    from vfxcopy.core.farm.backends import get_backend

    if name == LOCAL_OPENJD:
        return get_backend("openjd")
    return get_backend(name, partition=options.get("partition"), max_running=options.get("max_running"),
                       farm_id=options.get("farm_id"), queue_id=options.get("queue_id"))


def read_state(job: Any, backend: Any, frames: list[int]) -> dict[str, Any]:
    """The job's state (worker thread): backend.status(), partial files, and one FrameStatus per frame."""
    from vfxcopy.core.farm.plan import latest_results
    from vfxcopy.gui.farm_panel import _partials

    status = dict(backend.status(job))
    status["partials"] = len(_partials(job))
    by_frame: dict[int, FrameStatus] = {}
    for result in latest_results(job).values():
        for frame_result in result.frames:
            by_frame[frame_result.frame] = frame_result.status
    running: list[tuple[int, int]] = []
    for chunk in status["chunks"]:
        if chunk["state"] == "running":
            c = job.step(chunk["step"]).chunks[chunk["index"]]
            running.append((c.first, c.last))
    states = []
    for frame in frames:
        state = by_frame.get(frame)
        if state is None:
            state = FrameStatus.RUNNING if any(a <= frame <= b for a, b in running) else FrameStatus.PENDING
        states.append(state)
    status["frame_states"] = states
    return status


def _bind(fn: Callable[..., tuple[str, object]], *args: Any) -> Callable[[], tuple[str, object]]:
    return lambda: fn(*args)


def _status(entry: _Entry, frames: list[int]) -> tuple[str, object]:
    return "status", read_state(entry.job, entry.backend, frames)


@dataclass
class _Entry:
    choice: str  # the Run on key (a backend name, or LOCAL_OPENJD)
    options: dict[str, Any]
    backend: Any = None
    job: Any = None  # core.farm.plan.FarmJob once planned
    proc: subprocess.Popen[bytes] | None = None
    busy: bool = False  # a status read is under way
    watching: bool = True
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def local_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class _Carrier(QObject):
    done = Signal(str, str, object)  # job_id, what (planned | status | error | note), payload


class FarmJobs(QObject):
    """The window's farm jobs: one `_Entry` per row whose JobRecord has `farm` set."""

    def __init__(self, model: JobTableModel, parent: QObject | None = None, *,
                 backend_factory: BackendFactory = make_backend, interval_ms: int = POLL_MS,
                 command: list[str] | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.backend_factory = backend_factory
        # How tasks (and the local run) start vfxcopy: this interpreter, so a venv needs no PATH.
        self.command = command or [sys.executable, "-m", "vfxcopy"]
        self.entries: dict[str, _Entry] = {}
        self._carrier = _Carrier(self)
        self._carrier.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self._closed = False
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.poll)

    # -- work on a thread, answers in the GUI thread --
    def _spawn(self, job_id: str, entry: _Entry, work: Callable[[], tuple[str, object]]) -> None:
        carrier = self._carrier

        def run() -> None:
            try:
                what, payload = work()
            except Exception as exc:  # noqa: BLE001 - a scheduler or storage error: shown on the row
                what, payload = "error", str(exc) or type(exc).__name__
            try:
                carrier.done.emit(job_id, what, payload)
            except RuntimeError:
                pass  # the window went away meanwhile

        thread = threading.Thread(target=run, name=f"farm-{job_id}", daemon=True)
        entry.threads = [t for t in entry.threads if t.is_alive()] + [thread]
        thread.start()

    # -- submit --
    def submit(self, specs: list[JobSpec], options: dict[str, Any]) -> list[str]:
        """One farm job (one row) per spec; planning and submission run on a worker thread."""
        ids = []
        for spec in specs:
            choice = str(options["backend"])
            frames = spec.selected_frames()
            record = JobRecord(spec, token=CancelToken(),
                               farm=FarmInfo(backend=choice, folder="", state="submitting"))
            self.model.add_record(record)
            entry = _Entry(choice, dict(options))
            self.entries[spec.job_id] = entry
            self._spawn(spec.job_id, entry, _bind(self._plan_and_submit, spec, entry, frames))
            ids.append(spec.job_id)
        if ids and not self.timer.isActive():
            self.timer.start()
        return ids

    def _plan_and_submit(self, spec: JobSpec, entry: _Entry, frames: list[int]) -> tuple[str, object]:
        from vfxcopy.core.farm.plan import plan_job

        chunk = int(entry.options.get("chunk") or 0) or None
        backend_name = "openjd" if entry.choice == LOCAL_OPENJD else entry.choice
        job = plan_job([("main", spec, [])], chunk=chunk, command=self.command, backend=backend_name,
                       path_rules=list(entry.options.get("path_map") or []))
        backend = self.backend_factory(entry.choice, entry.options)
        if entry.choice == LOCAL_OPENJD:
            backend.submit(job)  # writes the bundle; the child process runs it
            entry.proc = self._start_local(job)
        else:
            backend.submit(job)
        entry.backend, entry.job = backend, job
        return "planned", read_state(job, backend, frames)

    def _start_local(self, job: Any) -> subprocess.Popen[bytes]:
        log = open(job.folder / "window-run.log", "ab")
        try:
            return subprocess.Popen([*self.command, "farm", "retry", str(job.folder)], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()

    # -- follow --
    def poll(self) -> None:
        """Read every followed job's state (one thread each; a job still being read is skipped)."""
        for job_id, entry in list(self.entries.items()):
            if self.model.record_for(job_id) is None:
                del self.entries[job_id]  # its row was removed
                continue
            if not entry.watching or entry.busy or entry.job is None:
                continue
            entry.busy = True
            record = self.model.record_for(job_id)
            assert record is not None
            frames = record.spec.selected_frames()
            self._spawn(job_id, entry, _bind(_status, entry, frames))
        if not any(e.watching for e in self.entries.values()):
            self.timer.stop()

    def _on_done(self, job_id: str, what: str, payload: object) -> None:
        entry = self.entries.get(job_id)
        record = self.model.record_for(job_id)
        if entry is None or record is None or record.farm is None:
            return
        if what == "note":
            record.log.append(LogMessage(job_id, "info", str(payload)))
            self.model.refresh_record(job_id)
            return
        if what == "error":
            entry.busy = False
            self._error(record, entry, str(payload))
            return
        assert isinstance(payload, dict)
        entry.busy = False
        if what == "planned":
            record.farm.folder = str(entry.job.folder)
            record.log.append(LogMessage(job_id, "info", f"Submitted to {entry.choice}: "
                                         f"{len(payload['chunks'])} tasks; results in {entry.job.folder}"))
            if record.token is not None and record.token.cancelled:
                self._send_cancel(job_id, entry)  # cancelled while it was being submitted
        self._apply(record, entry, payload)

    def _error(self, record: JobRecord, entry: _Entry, message: str) -> None:
        assert record.farm is not None
        record.farm.message = message
        record.log.append(LogMessage(record.job_id, "error", message))
        if entry.job is None or record.farm.state == "submitting":
            # Nothing reached the farm: the row ends here.
            entry.watching = False
            self._finish(record, JobState.FAILED)
        self.model.refresh_record(record.job_id)

    def _apply(self, record: JobRecord, entry: _Entry, status: dict[str, Any]) -> None:
        farm = record.farm
        assert farm is not None
        farm.state = str(status["state"])
        farm.chunks = list(status["chunks"])
        farm.partials = int(status["partials"])
        farm.message = str(status.get("scheduler_error") or "")
        states = status["frame_states"]
        if len(states) == len(record.frame_states):
            record.frame_states = states
        if record.state.finished:
            self.model.refresh_record(record.job_id)
            return
        if record.started is None and (farm.active or farm.tasks_done):
            record.started = time.time()
        cancelled = record.token is not None and record.token.cancelled
        if cancelled:
            # "Cancelling… (farm)" until no task runs and the sweep has removed every partial file.
            if not farm.active and not farm.partials and not entry.local_running:
                self._finish(record, JobState.CANCELLED)
        elif farm.state == "completed":
            self._finish(record, JobState.COMPLETED)
        elif farm.state in ("failed", "cancelled") and not entry.local_running:
            self._finish(record, JobState.FAILED if farm.state == "failed" else JobState.CANCELLED)
        elif farm.state in ("running", "merging") or farm.tasks_done:
            record.state = JobState.RUNNING
            if farm.state == "merging" and entry.choice == LOCAL_OPENJD and not entry.local_running:
                self._finish(record, JobState.FAILED)  # the run ended before its merge step
        elif entry.proc is not None and not entry.local_running:
            self._finish(record, JobState.FAILED)  # the local run ended with tasks never run
        else:
            record.state = JobState.PENDING
        self.model.refresh_record(record.job_id)

    def _finish(self, record: JobRecord, state: JobState) -> None:
        record.state = state
        record.finished = time.time()
        record.frame_states = [FrameStatus.CANCELLED if s is FrameStatus.RUNNING else s
                               for s in record.frame_states]
        entry = self.entries.get(record.job_id)
        if entry is not None:
            entry.watching = False

    # -- cancel and retry --
    def is_farm(self, job_id: str) -> bool:
        return job_id in self.entries

    def local_count(self) -> int:
        """Farm jobs whose tasks run on this computer right now (a local OpenJD run)."""
        return sum(1 for e in self.entries.values() if e.local_running)

    def cancel(self, job_id: str) -> bool:
        """Ask the scheduler to cancel; the row shows "Cancelling… (farm)" until the sweep is done."""
        entry = self.entries.get(job_id)
        record = self.model.record_for(job_id)
        if entry is None or record is None or record.state.finished:
            return False
        if record.token is None:
            record.token = CancelToken()
        record.token.cancel()
        entry.watching = True
        if entry.job is not None:
            self._send_cancel(job_id, entry)
        self.model.refresh_record(job_id)
        if not self.timer.isActive():
            self.timer.start()
        return True

    def _send_cancel(self, job_id: str, entry: _Entry) -> None:
        def work() -> tuple[str, object]:
            from vfxcopy.core.farm.backends import note_cancel

            if entry.choice == LOCAL_OPENJD:
                # The child's own SIGTERM handler asks openjd-sessions to notify-then-terminate its tasks.
                if entry.local_running and entry.proc is not None:
                    entry.proc.send_signal(signal.SIGTERM)
                note_cancel(entry.job, True)
                return "note", "Cancel sent to the local OpenJD run"
            entry.backend.cancel(entry.job)
            return "note", f"Cancel sent to {entry.choice}; tasks stop when their worker next checks in"

        self._spawn(job_id, entry, work)

    def retry(self, job_id: str) -> bool:
        """Requeue only the chunks that did not complete (done frames are skipped by the conflict policy)."""
        entry = self.entries.get(job_id)
        record = self.model.record_for(job_id)
        if entry is None or record is None or record.farm is None or entry.job is None:
            return False
        if not (record.state.finished and record.farm.retryable):
            return False
        record.token = CancelToken()
        record.state = JobState.PENDING
        record.finished = None
        record.farm.state = "submitted"
        entry.watching = True

        def work() -> tuple[str, object]:
            if entry.choice == LOCAL_OPENJD:
                from vfxcopy.core.farm.backends import note_cancel

                note_cancel(entry.job, False)
                entry.proc = self._start_local(entry.job)
                return "note", "Running the chunks that did not complete here again"
            entry.backend.retry(entry.job)
            return "note", f"Requeued the chunks that did not complete on {entry.choice}"

        self._spawn(job_id, entry, work)
        self.model.refresh_record(job_id)
        if not self.timer.isActive():
            self.timer.start()
        return True

    # -- closing --
    def shutdown(self, timeout_s: float = 10.0, *, stop_local: bool = True) -> None:
        """Stop following; a local OpenJD run is cancelled (a real farm's jobs go on without the window)."""
        self._closed = True
        self.timer.stop()
        for entry in self.entries.values():
            if stop_local and entry.local_running and entry.proc is not None:
                entry.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for entry in self.entries.values():
            if entry.proc is not None:
                try:
                    entry.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    entry.proc.kill()
                    entry.proc.wait()
            for thread in entry.threads:
                thread.join(max(0.1, deadline - time.monotonic()))
