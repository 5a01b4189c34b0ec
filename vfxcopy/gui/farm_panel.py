"""The render farm in the window: a "Run on" choice for new jobs and a farm job's live status panel.

`RunOnChoice` goes into the New job dialog (this computer, or a farm backend with
chunk size, task cap and partition). `FarmJobPanel` shows one farm job: its chunks
and frames read from the results folder on shared storage plus what the scheduler
says, refreshed on a worker thread; Cancel asks the scheduler and shows
"Cancelling… (farm)" until no task is running and every temporary of the job is
gone; Retry Failed requeues only the chunks that did not complete. The lead wires
both into the main window.
"""

from __future__ import annotations

import os
import threading
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vfxcopy.core.farm.plan import FarmJob
from vfxcopy.core.jobs import is_temp_name
from vfxcopy.gui.forms import form_row

BACKENDS = (
    # The window runs the OpenJD bundle here with openjd-sessions (gui/farm_jobs.py).
    ("openjd-local", "OpenJD tasks on this computer (openjd-sessions)"),
    ("openjd", "Open Job Description (job bundle)"),
    ("deadline", "AWS Deadline Cloud"),
    ("slurm", "SLURM"),
    ("deadline10", "Deadline 10 (submission files)"),
    ("opencue", "OpenCue (outline)"),
)
CANCEL_NOTE = ("A farm delivers a cancel when its worker next checks in; the task then stops within a "
               "frame and leaves nothing partial.")
REFRESH_MS = 2000

# Status threads keep their signal carrier alive here until they finish, so a panel closed
# meanwhile never has a thread emit on a deleted object.
_CARRIERS: set[_StatusCarrier] = set()
_CARRIERS_LOCK = threading.Lock()


_W = TypeVar("_W", bound=QWidget)


def _named(widget: _W, name: str) -> _W:
    """A widget with a stable objectName (tests and automation find it by that)."""
    widget.setObjectName(name)
    return widget


class RunOnChoice(QWidget):
    """This computer, or a farm: backend, frames per task, tasks at once, partition/pool/queue."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runOnChoice")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.form = form
        self.where = _named(QComboBox(), "runOnCombo")
        self.where.addItem("This computer", None)
        for key, label in BACKENDS:
            self.where.addItem(f"Farm: {label}", key)
        form_row(form, "R&un on:", self.where)
        self.chunk = _named(QSpinBox(), "farmChunkSpin")
        self.chunk.setRange(1, 100_000)
        self.chunk.setValue(10)
        self.chunk.setSuffix(" frames per task")
        form.addRow("Chunk:", self.chunk)
        self.max_running = _named(QSpinBox(), "farmMaxRunningSpin")
        self.max_running.setRange(0, 10_000)
        self.max_running.setSpecialValueText("no limit")
        form.addRow("Tasks at once:", self.max_running)
        self.partition = _named(QLineEdit(), "farmPartitionEdit")
        self.partition.setPlaceholderText("partition / pool / queue (optional)")
        form.addRow("Queue:", self.partition)
        self.note = _named(QLabel(CANCEL_NOTE), "farmCancelNote")
        self.note.setWordWrap(True)
        form.addRow(self.note)
        self.where.currentIndexChanged.connect(self._sync)
        self._sync()

    def set_defaults(self, chunk: int, partition: str) -> None:
        """The farm settings' chunk size and queue (Settings › Farm); 0 keeps this widget's own."""
        if chunk > 0:
            self.chunk.setValue(chunk)
        self.partition.setText(partition)

    def _sync(self) -> None:
        farm = self.where.currentData() is not None
        for widget in (self.chunk, self.max_running, self.partition, self.note):
            widget.setEnabled(farm)
            label = self.form.labelForField(widget)
            for w in (widget, label):
                if w is not None:
                    w.setVisible(farm)
        self.changed.emit()

    def farm_options(self) -> dict[str, Any] | None:
        """None for this computer; else what `vfxcopy farm submit` takes (backend, chunk, ...)."""
        backend = self.where.currentData()
        if backend is None:
            return None
        return {"backend": str(backend), "chunk": self.chunk.value(),
                "max_running": self.max_running.value() or None, "partition": self.partition.text().strip() or None}


class _StatusCarrier(QObject):
    done = Signal(object)  # dict (status) or str (an error)


class FarmJobPanel(QWidget):
    """One farm job: per-chunk table, frames progress, Cancel and Retry Failed."""

    def __init__(self, job: FarmJob, backend: Any = None, parent: QWidget | None = None,
                 refresh_ms: int = REFRESH_MS) -> None:
        super().__init__(parent)
        self.setObjectName("farmJobPanel")
        self.job = job
        if backend is None:
            from vfxcopy.core.farm.backends import get_backend

            backend = get_backend(job.backend or "openjd")
        self.backend = backend
        self.cancel_requested = False
        self.status: dict[str, Any] | None = None
        self._busy = False
        layout = QVBoxLayout(self)
        self.title = _named(QLabel(f"{job.name}  [{job.backend or 'farm'}]"), "farmJobTitle")
        layout.addWidget(self.title)
        self.state = _named(QLabel("reading the results folder…"), "farmJobState")
        layout.addWidget(self.state)
        self.progress = _named(QProgressBar(), "farmJobProgress")
        layout.addWidget(self.progress)
        self.table = _named(QTableWidget(0, 4), "farmChunkTable")
        self.table.setHorizontalHeaderLabels(["Step", "Frames", "State", "Frames done / failed"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.table)
        note = _named(QLabel(CANCEL_NOTE), "farmCancelNote")
        note.setWordWrap(True)
        layout.addWidget(note)
        buttons = QHBoxLayout()
        self.cancel_button = _named(QPushButton("Cancel"), "farmCancelButton")
        self.retry_button = _named(QPushButton("Retry Failed Frames"), "farmRetryButton")
        buttons.addStretch(1)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.cancel_button.clicked.connect(self.cancel)
        self.retry_button.clicked.connect(self.retry)
        self.timer = QTimer(self, interval=refresh_ms)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()

    # -- reading state (a worker thread: squeue or a cloud call may take a while) --
    def refresh(self) -> None:
        if self._busy:
            return
        self._busy = True
        carrier = _StatusCarrier()
        carrier.done.connect(self._show, Qt.ConnectionType.QueuedConnection)
        with _CARRIERS_LOCK:
            _CARRIERS.add(carrier)
        job, backend = self.job, self.backend

        def work() -> None:
            try:
                result: object = backend.status(job)
                result_dict = dict(result)  # type: ignore[call-overload]
                result_dict["partials"] = _partials(job)
                result = result_dict
            except Exception as exc:  # noqa: BLE001 - shown in the panel, never a crash of the window
                result = f"cannot read the farm job's state: {exc}"
            try:
                carrier.done.emit(result)
            finally:
                with _CARRIERS_LOCK:
                    _CARRIERS.discard(carrier)

        threading.Thread(target=work, name=f"farm-status-{job.job_id}", daemon=True).start()

    def _show(self, status: object) -> None:
        self._busy = False
        if isinstance(status, str):
            self.state.setText(status)
            return
        assert isinstance(status, dict)
        self.status = status
        frames = status["frames"]
        self.progress.setMaximum(max(1, frames["total"]))
        self.progress.setValue(frames["done"] + frames["skipped"] + frames["failed"])
        chunks = status["chunks"]
        self.table.setRowCount(len(chunks))
        for row, chunk in enumerate(chunks):
            counts = chunk["counts"]
            done = counts.get("done", 0) + counts.get("skipped", 0)
            values = [chunk["step"], chunk["frames"], chunk["state"], f"{done} / {counts.get('failed', 0)}"]
            for col, value in enumerate(values):
                self.table.setItem(row, col, QTableWidgetItem(str(value)))
        active = any(c["state"] in ("running", "pending") for c in chunks)
        if self.cancel_requested and (active or status["partials"]):
            text = "Cancelling… (farm)"
        elif self.cancel_requested:
            text = "Cancelled"
        else:
            text = {"completed": "Completed", "running": "Running on the farm", "failed": "Failed",
                    "cancelled": "Cancelled", "merging": "Writing the manifest"}.get(
                status["state"], status["state"].capitalize())
        done_all = frames["done"] + frames["skipped"]
        self.state.setText(f"{text}: {done_all} of {frames['total']} frames"
                           + (f", {frames['failed']} failed" if frames["failed"] else ""))
        self.retry_button.setEnabled(not active and status["state"] != "completed")
        self.cancel_button.setEnabled(active and not self.cancel_requested)

    # -- actions --
    def cancel(self) -> None:
        try:
            self.backend.cancel(self.job)
        except Exception as exc:  # noqa: BLE001 - FarmError, SlurmError, a cloud error: tell the user
            QMessageBox.warning(self, "Cancel farm job", str(exc))
            return
        self.cancel_requested = True
        self.state.setText("Cancelling… (farm)")
        self.cancel_button.setEnabled(False)
        self.refresh()

    def retry(self) -> None:
        try:
            self.backend.retry(self.job)
        except Exception as exc:  # noqa: BLE001 - as for cancel
            QMessageBox.warning(self, "Retry failed frames", str(exc))
            return
        self.cancel_requested = False
        self.refresh()


def _partials(job: FarmJob) -> list[str]:
    """The job's temporaries still in its destination folders (the sweep has not run yet)."""
    found: list[str] = []
    folders = {job.dest_dir}
    for step in job.steps:
        try:
            folders.add(job.spec(step.name).dest_dir)
        except (OSError, ValueError, KeyError):
            continue
    for folder in folders:
        try:
            found += [n for n in os.listdir(folder) if is_temp_name(n, job.job_id)]
        except OSError:
            continue
    return found
