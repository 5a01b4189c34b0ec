"""PreflightView: pre-flight checks of dropped sequences, run on a pool thread, one expandable line each."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, SignalInstance
from PySide6.QtGui import QCloseEvent, QColor, QHideEvent
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from vfxcopy.core.jobs import CancelToken
from vfxcopy.core.preflight import BROKEN_KINDS, Kind, PreflightOptions, Report, run_preflight
from vfxcopy.core.sequence import Sequence

# A person reads about ten updates a second; more only costs the GUI thread.
PROGRESS_INTERVAL = 0.1

OK_COLOUR = QColor("#4fbf6b")
WARN_COLOUR = QColor("#e0a23a")
BROKEN_COLOUR = QColor("#e5534b")

# Tasks stay referenced here until their run() returns, so that a view deleted while a
# check runs cannot free a runnable (and its signals) under the pool thread.
_RUNNING: set[_CheckTask] = set()
_RUNNING_LOCK = threading.Lock()


class _CheckSignals(QObject):
    """Emitted from the pool thread; queued to the view in the GUI thread."""

    progress = Signal(int, int, int, int)  # generation, row, frames done, frames total
    finished = Signal(int, int, object)  # generation, row, Report (or str: an internal error)


class _CheckTask(QRunnable):
    """Runs core's run_preflight for one sequence; never touches widgets."""

    def __init__(self, generation: int, row: int, seq: Sequence, frames: list[int] | None,
                 options: PreflightOptions, token: CancelToken) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.generation, self.row, self.seq, self.frames = generation, row, seq, frames
        self.options, self.token = options, token
        self.signals = _CheckSignals()
        self.done = threading.Event()
        self._last = 0.0
        with _RUNNING_LOCK:
            _RUNNING.add(self)

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last >= PROGRESS_INTERVAL or done == total:
            self._last = now
            self._emit(self.signals.progress, self.generation, self.row, done, total)

    def run(self) -> None:
        result: Report | str
        try:
            result = run_preflight(self.seq, self.frames, self.token, self.options, self._progress)
        except Exception as exc:  # noqa: BLE001 - shown on the sequence's line instead of a dead thread
            result = f"{type(exc).__name__}: {exc}"
        finally:
            # Done before the result is emitted, so that the view is idle when it shows the last one.
            # This frame still holds `self`, so the signals outlive the emit below.
            self.done.set()
            with _RUNNING_LOCK:
                _RUNNING.discard(self)
        self._emit(self.signals.finished, self.generation, self.row, result)

    @staticmethod
    def _emit(signal: SignalInstance, *args: object) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:
            pass  # the signals object went with the application at exit: nobody is left to tell


def _cancel_all(tokens: list[CancelToken]) -> None:
    for token in tokens:
        token.cancel()


class PreflightView(QWidget):
    """One line per sequence: 'checking 120/1000', 'OK' or 'N findings: ...'; expand a line for its findings.

    `set_sequences` starts the checks in the background (one sequence at a time on
    this view's own pool; each check reads its frames on several threads); closing
    the view or the window it is in, or deleting it, cancels them. Results are also available as core Reports
    (`report(row)`), for `core.preflight.policy_verdict` when the job is queued.
    """

    sequence_checked = Signal(int, object)  # row, Report
    all_checked = Signal()

    def __init__(self, parent: QWidget | None = None, options: PreflightOptions | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preflightView")
        self.options = options or PreflightOptions()
        self._tree = QTreeWidget(self)
        self._tree.setObjectName("preflightTree")
        self._tree.setHeaderLabels(["Sequence", "Pre-flight"])
        self._tree.setColumnCount(2)
        self._tree.setUniformRowHeights(True)
        self._tree.setColumnWidth(0, 320)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._tree)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # sequences one after another: each check is parallel inside
        self._generation = 0
        self._sequences: list[Sequence] = []
        self._reports: dict[int, Report] = {}
        self._tasks: list[_CheckTask] = []
        # A plain list, so that the destroyed hook needs nothing of this (by then dead) object.
        self._tokens: list[CancelToken] = []
        self.destroyed.connect(lambda *_, tokens=self._tokens: _cancel_all(tokens))

    # -- queries --
    def tree(self) -> QTreeWidget:
        return self._tree

    def sequences(self) -> list[Sequence]:
        return list(self._sequences)

    def report(self, row: int) -> Report | None:
        """The finished check of row `row` (None while it runs)."""
        return self._reports.get(row)

    def is_busy(self) -> bool:
        return any(not t.done.is_set() for t in self._tasks)

    def findings_total(self) -> int:
        return sum(len(r.findings) for r in self._reports.values())

    # -- commands --
    def set_sequences(self, sequences: Iterable[Sequence], frames: list[int] | None = None) -> None:
        """Show `sequences` and check them in the background (earlier checks are cancelled)."""
        self.cancel()
        self._generation += 1
        self._sequences = list(sequences)
        self._reports.clear()
        self._tasks = []
        self._tokens.clear()
        self._tree.clear()
        for row, seq in enumerate(self._sequences):
            item = QTreeWidgetItem([seq.display(), "waiting"])
            item.setToolTip(0, str(seq.path()) if seq.is_single else seq.pattern())
            self._tree.addTopLevelItem(item)
            token = CancelToken()
            wanted = None if seq.is_single else frames
            task = _CheckTask(self._generation, row, seq, wanted, self.options, token)
            task.signals.progress.connect(self._on_progress)
            task.signals.finished.connect(self._on_finished)
            self._tokens.append(token)
            self._tasks.append(task)
            self._pool.start(task)
        if not self._sequences:
            self.all_checked.emit()

    def cancel(self) -> None:
        """Stop every check of this view (each returns within a frame read)."""
        _cancel_all(self._tokens)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel and wait for the checks to stop; True if they all did within the time."""
        self.cancel()
        return self._pool.waitForDone(timeout_ms)

    def closeEvent(self, event: QCloseEvent) -> None:  # Qt override: a top-level view closed
        self.shutdown()
        super().closeEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:  # Qt override
        # Inside a dialog this widget gets no close event: the dialog going away hides it.
        # Hidden with its window (not just a tab switch): stop reading, without waiting.
        if not self.window().isVisible():
            self.cancel()
        super().hideEvent(event)

    # -- results (GUI thread) --
    def _item(self, generation: int, row: int) -> QTreeWidgetItem | None:
        if generation != self._generation:
            return None  # a check of sequences no longer shown
        return self._tree.topLevelItem(row)

    def _on_progress(self, generation: int, row: int, done: int, total: int) -> None:
        item = self._item(generation, row)
        if item is not None and row not in self._reports:
            item.setText(1, f"checking {done}/{total}")

    def _on_finished(self, generation: int, row: int, result: Report | str) -> None:
        item = self._item(generation, row)
        if item is None:
            return
        if isinstance(result, str):
            item.setText(1, f"error: {result}")
            item.setForeground(1, BROKEN_COLOUR)
            result = Report(self._sequences[row], cancelled=True)
        else:
            self._show(item, result)
        self._reports[row] = result
        self.sequence_checked.emit(row, result)
        if len(self._reports) == len(self._sequences):
            self.all_checked.emit()

    def _show(self, item: QTreeWidgetItem, report: Report) -> None:
        item.setText(1, report.summary())
        item.takeChildren()
        if report.cancelled:
            return
        broken = any(f.kind in BROKEN_KINDS for f in report.findings)
        item.setForeground(1, OK_COLOUR if report.ok else (BROKEN_COLOUR if broken else WARN_COLOUR))
        for f in report.findings:
            frame = "" if f.frame is None else f"{f.frame}  "
            detail = f.message
            if f.expected or f.found:
                detail += f" (expected {f.expected or '-'}, found {f.found or '-'})"
            child = QTreeWidgetItem([f"{frame}{f.kind.value}", detail])
            child.setToolTip(0, f.path)
            child.setToolTip(1, f.text())
            child.setData(0, Qt.ItemDataRole.UserRole, f.kind.value)
            if f.kind in BROKEN_KINDS or f.kind is Kind.GAP:
                child.setForeground(0, BROKEN_COLOUR if f.kind is not Kind.GAP else WARN_COLOUR)
            item.addChild(child)
