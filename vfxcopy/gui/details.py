"""DetailsPane: the selected job's header, a thumbnail, its per-frame list and its log."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    Qt,
    Slot,
)
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QStackedWidget,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from vfxcopy.core.jobs import FrameResult, FrameStatus, Operation
from vfxcopy.core.units import plural
from vfxcopy.gui.columns import STATE_WORDS, frames_breakdown, progress_info, status_text
from vfxcopy.gui.frame_list import (
    COL_FRAME,
    COL_PATH,
    COL_STATUS,
    RELOAD_S,
    FailedOnlyProxy,
    FrameListModel,
    FrameResultsLoader,
)
from vfxcopy.gui.groups import group_position, group_text, member_label
from vfxcopy.gui.records import JobRecord
from vfxcopy.gui.thumbs import ThumbnailLoader

if TYPE_CHECKING:
    from vfxcopy.core.journal import Journal

THUMB_SIZE = 144
FARM_TAB = 2
IMAGE_TAILS = (".exr", ".dpx", ".tif", ".tiff", ".png", ".jpg", ".jpeg")
LOG_COLOURS = {"warning": "#d98c00", "error": "#d0362c"}
STATE_LABELS = STATE_WORDS  # one vocabulary for the table and the details


def _repeats(message: str, parts: list[str]) -> bool:
    """True when `message` says nothing the summary does not ("Cancelled", "5 of 20 frames failed")."""
    text = message.lower().rstrip(".")
    if any(text == p.lower() for p in parts):
        return True
    return bool(re.fullmatch(r"((all )?\d+ (of \d+ )?frames? (failed|cancelled|skipped|done|copied)[,; ]*)+|"
                             r"(cancelled|completed|failed|interrupted)( by the user)?", text))


def _format_log_line(time_s: float, level: str, text: str) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(time_s))
    body = html.escape(f"{stamp}  {level:<7}  {text}")
    colour = LOG_COLOURS.get(level)
    # pre-wrap keeps the column alignment that HTML would otherwise collapse.
    style = "white-space:pre-wrap;" + (f"color:{colour};" if colour else "")
    return f'<span style="{style}">{body}</span>'


class DetailsPane(QWidget):
    """What the window shows for the selected job; `refresh()` re-reads the same record."""

    def __init__(self, parent: QWidget | None = None, loader: ThumbnailLoader | None = None,
                 group_of: Callable[[JobRecord], list[JobRecord]] | None = None,
                 journal: Journal | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailsPane")
        # Per-frame results of the shown job come from the journal (the rows keep counts only).
        self.results_loader = FrameResultsLoader(journal, self)
        self.results_loader.ready.connect(self._on_results)
        self._results_key: tuple[str, int, bool] | None = None  # what the last request was for
        self._results_at = 0.0
        self._results_waiting = False
        self._record: JobRecord | None = None
        # The jobs that read one source with a job (the table's model knows them all).
        self._group_of = group_of
        self._log_count = 0
        self._thumb_key = ""
        self._loader = loader if loader is not None else ThumbnailLoader(self)
        self._loader.ready.connect(self._on_thumbnail)
        self._loader.failed.connect(self._on_thumbnail_failed)

        self.stack = QStackedWidget()
        self.empty_label = QLabel("Select a job to see its frames, errors and log.")
        self.empty_label.setObjectName("detailsEmpty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(self._build_content())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.show_record(None)

    def _build_content(self) -> QWidget:
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(4, 4, 4, 4)

        top = QHBoxLayout()
        self.thumbnail_label = QLabel()
        self.thumbnail_label.setObjectName("detailsThumbnail")
        self.thumbnail_label.setFixedSize(THUMB_SIZE, THUMB_SIZE * 9 // 16)
        self.thumbnail_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail_label.setStyleSheet("background: #2b2b2b; color: #9a9a9a;")
        top.addWidget(self.thumbnail_label)
        header = QVBoxLayout()
        self.title_label = QLabel()
        self.title_label.setObjectName("detailsTitle")
        font = self.title_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title_label.setFont(font)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("detailsSummary")
        self.paths_label = QLabel()
        self.paths_label.setObjectName("detailsPaths")
        self.paths_label.setWordWrap(True)
        self.group_label = QLabel()
        self.group_label.setObjectName("detailsGroup")
        self.group_label.setWordWrap(True)
        self.group_label.setVisible(False)
        for label in (self.title_label, self.summary_label, self.paths_label, self.group_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            header.addWidget(label)
        header.addStretch(1)
        top.addLayout(header, 1)
        layout.addLayout(top)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("detailsTabs")
        frames_page = QWidget()
        frames_layout = QVBoxLayout(frames_page)
        frames_layout.setContentsMargins(0, 4, 0, 0)
        self.failed_only_check = QCheckBox("Failed frames only")
        self.failed_only_check.setObjectName("failedOnlyCheck")
        self.failed_only_check.toggled.connect(self._on_failed_only)
        frames_layout.addWidget(self.failed_only_check)
        self.frame_model = FrameListModel(self)
        self.frame_proxy = FailedOnlyProxy(self)
        self.frame_proxy.setSourceModel(self.frame_model)
        self.frame_view = QTableView()
        self.frame_view.setObjectName("frameTable")
        self.frame_view.setModel(self.frame_proxy)
        self.frame_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.frame_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.frame_view.setWordWrap(False)
        self.frame_view.verticalHeader().setVisible(False)
        # Fixed row heights: the view never measures 781+ rows' contents.
        self.frame_view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.frame_view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header_view = self.frame_view.horizontalHeader()
        header_view.setSectionResizeMode(COL_FRAME, QHeaderView.ResizeMode.ResizeToContents)
        header_view.setSectionResizeMode(COL_STATUS, QHeaderView.ResizeMode.ResizeToContents)
        # Measure the rows in sight only (Qt's default reads the first 1,000 rows' data at each layout).
        header_view.setResizeContentsPrecision(0)
        header_view.setSectionResizeMode(COL_PATH, QHeaderView.ResizeMode.Interactive)
        header_view.setStretchLastSection(True)
        header_view.resizeSection(COL_PATH, 320)
        self.frame_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        copy_action = QAction("Copy", self.frame_view)
        copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        copy_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        copy_action.triggered.connect(self.copy_selected_frames)
        self.frame_view.addAction(copy_action)
        self.frame_view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        frames_layout.addWidget(self.frame_view)
        self.tabs.addTab(frames_page, "Frames")

        self.log_view = QPlainTextEdit()
        self.log_view.setObjectName("logView")
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(20000)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.tabs.addTab(self.log_view, "Log")
        # A farm job's tasks (chunks of frames) as the scheduler and the results folder say.
        self.chunk_table = QTableWidget(0, 4)
        self.chunk_table.setObjectName("farmChunkTable")
        self.chunk_table.setHorizontalHeaderLabels(["Step", "Frames", "Task state", "Frames done / failed"])
        self.chunk_table.verticalHeader().setVisible(False)
        self.chunk_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.chunk_table.horizontalHeader().setStretchLastSection(True)
        self.tabs.addTab(self.chunk_table, "Farm tasks")
        self.tabs.setTabVisible(FARM_TAB, False)
        layout.addWidget(self.tabs, 1)
        return content

    def _show_chunks(self, record: JobRecord) -> None:
        farm = record.farm
        self.tabs.setTabVisible(FARM_TAB, farm is not None)
        if farm is None:
            return
        self.tabs.setTabText(FARM_TAB, f"Farm tasks ({farm.tasks_done}/{len(farm.chunks)})")
        self.chunk_table.setRowCount(len(farm.chunks))
        for row, chunk in enumerate(farm.chunks):
            counts = chunk.get("counts") or {}
            done = counts.get("done", 0) + counts.get("skipped", 0)
            values = [chunk["step"], chunk["frames"], chunk["state"], f"{done} / {counts.get('failed', 0)}"]
            for col, value in enumerate(values):
                item = self.chunk_table.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.chunk_table.setItem(row, col, item)
                item.setText(str(value))

    # -- public interface --
    @property
    def record(self) -> JobRecord | None:
        return self._record

    def show_record(self, record: JobRecord | None) -> None:
        """Show `record` (None: the empty state)."""
        if record is self._record and record is not None:
            self.refresh()
            return
        self._record = record
        self._log_count = 0
        self.log_view.clear()
        self.frame_model.set_record(record)
        self._results_key = None
        self._results_waiting = False
        if record is None:
            self.stack.setCurrentIndex(0)
            self._thumb_key = ""
            return
        self.stack.setCurrentIndex(1)
        self._request_thumbnail(record)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the shown record (the model folds events into it in place)."""
        record = self._record
        if record is None:
            return
        self._update_header(record)
        self.frame_model.refresh()
        self._request_results(record)
        new = record.log[self._log_count:]
        if new:
            for message in new:
                self.log_view.appendHtml(_format_log_line(message.time, message.level, message.text))
            self._log_count = len(record.log)
        self._show_chunks(record)
        failed = record.count(FrameStatus.FAILED)
        self.tabs.setTabText(0, f"Frames ({failed} failed)" if failed else "Frames")
        self.tabs.setTabText(1, f"Log ({len(record.log)})" if record.log else "Log")

    def copy_selected_frames(self) -> str:
        """Put the selected frames (frame, status, path, error per line) on the clipboard."""
        rows = sorted({self.frame_proxy.mapToSource(i).row() for i in self.frame_view.selectionModel().selectedRows()})
        text = "\n".join(self.frame_model.row_text(r) for r in rows)
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def shutdown(self, msecs: int = 5000) -> None:
        """Stop thumbnail decoding and journal reads (window close)."""
        self._loader.shutdown(msecs)
        self.results_loader.shutdown()

    # -- per-frame results, from the journal --
    def _request_results(self, record: JobRecord) -> None:
        """Ask for the shown job's results when they may have changed: at once when it is shown or
        finishes, at most every RELOAD_S while it runs; one read in flight at a time."""
        if not self.results_loader.available or self._results_waiting:
            return
        handled = len(record.frame_states) - record.count(FrameStatus.PENDING) - record.count(FrameStatus.RUNNING)
        key = (record.job_id, handled, record.state.finished)
        last = self._results_key
        if last == key:
            return
        if last is not None and last[0] == key[0] and last[2] == key[2] \
                and time.monotonic() - self._results_at < RELOAD_S:
            return  # a running job: its next read comes with a later refresh
        if self.results_loader.request(record.job_id):
            self._results_key = key
            self._results_at = time.monotonic()
            self._results_waiting = True

    @Slot(str, object)
    def _on_results(self, job_id: str, results: dict[int, FrameResult]) -> None:
        record = self._record
        if record is None or job_id != record.job_id:
            return  # the pane moved on to another job; its own read follows
        self._results_waiting = False
        self.frame_model.set_loaded(results)

    # -- pieces --
    def _update_header(self, record: JobRecord) -> None:
        spec = record.spec
        self.title_label.setText(spec.display_name())
        operation = "Copy" if spec.operation is Operation.COPY else "Convert"
        if spec.operation is Operation.CONVERT and spec.convert is not None:
            operation += f" to {spec.convert.to.upper()}"
            if spec.convert.preset:
                operation += f" ({spec.convert.preset})"
        info = progress_info(record)
        # The same count as the table's Frames column (written or skipped of those selected).
        done = f"{info.done + info.skipped}/{plural(info.total, 'frame')} done"
        breakdown = frames_breakdown(info, of_total=False)
        if spec.tree is not None:
            folders = sum(1 for e in spec.tree if e.get("kind") == "dir")
            operation += f" folder tree ({plural(info.total, 'item')}, {plural(folders, 'folder')})"
            done = done.replace("frame", "item")
        parts = [operation, status_text(record, info), f"{done}: {breakdown}" if breakdown else done]
        message = record.result.message.strip() if record.result is not None else ""
        # The engine's closing words, unless they only repeat the state or the counts shown.
        if message and not _repeats(message, parts):
            parts.append(message)
        self.summary_label.setText(" · ".join(parts))
        source = spec.source.pattern("nuke")
        self.paths_label.setText(f"{source}  →  {spec.dest_dir}")
        self.paths_label.setToolTip(f"Source: {source}\nDestination: {spec.dest_dir}")
        self._update_group(record)

    def _update_group(self, record: JobRecord) -> None:
        """'Destination 2 of 3 from one read · the others: …' for a job that shares its source's read."""
        members = self._group_of(record) if self._group_of is not None and record.spec.group else [record]
        position = group_position(members, record)
        self.group_label.setVisible(bool(position))
        if not position:
            return
        others = [m for m in members if m is not record]
        read = "one decode" if record.spec.operation is Operation.CONVERT else "one read"
        # Their folders only: their states are in their own rows (this pane repaints with this job).
        self.group_label.setText(f"{position} from {read} · also: " + ", ".join(member_label(m) for m in others))
        self.group_label.setToolTip(group_text(members, record))

    def _request_thumbnail(self, record: JobRecord) -> None:
        source = record.spec.source
        frames = record.spec.selected_frames()
        if record.spec.tree is not None:
            # A tree: its first image, if it holds one (the frame list has its items already).
            paths = (self.frame_model.path(r) for r in range(self.frame_model.rowCount()))
            first = next((p for p in paths if p.lower().endswith(IMAGE_TAILS)), None)
            if first is None:
                self._thumb_key = ""
                self.thumbnail_label.clear()
                self.thumbnail_label.setText("Folder tree")
                return
            path: Any = first
        else:
            path = source.path(frames[len(frames) // 2]) if frames else source.path()
        self._thumb_key = str(path)
        self.thumbnail_label.clear()
        self.thumbnail_label.setText("Loading…")
        self.thumbnail_label.setToolTip(str(path))
        self._loader.request(self._thumb_key, path, THUMB_SIZE)

    @Slot(str, QImage)
    def _on_thumbnail(self, key: str, image: QImage) -> None:
        if key != self._thumb_key or image.isNull():
            return
        pixmap = QPixmap.fromImage(image).scaled(
            self.thumbnail_label.size(), Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.thumbnail_label.setPixmap(pixmap)

    @Slot(str, str)
    def _on_thumbnail_failed(self, key: str, message: str) -> None:
        if key != self._thumb_key:
            return
        self.thumbnail_label.setText("No preview")
        self.thumbnail_label.setToolTip(message)

    @Slot(bool)
    def _on_failed_only(self, on: bool) -> None:
        self.frame_proxy.set_failed_only(on)
