"""The details pane's per-frame list: its model (rows from the record, results from the journal,
loaded off the GUI thread) and the failed-only filter."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from vfxcopy.core.jobs import FrameResult, FrameStatus
from vfxcopy.gui.records import JobRecord
from vfxcopy.gui.trees import TreeItem, tree_items

if TYPE_CHECKING:
    from vfxcopy.core.journal import Journal


STATUS_ROLE = Qt.ItemDataRole.UserRole + 1  # the FrameStatus of a row
FRAME_ROLE = Qt.ItemDataRole.UserRole + 2  # the frame number of a row

STATUS_COLOURS = {
    FrameStatus.DONE: QColor("#3a9d4a"),
    FrameStatus.RUNNING: QColor("#2f7fd1"),
    FrameStatus.FAILED: QColor("#d0362c"),
    FrameStatus.SKIPPED: QColor("#8a8a8a"),
    FrameStatus.CANCELLED: QColor("#8a8a8a"),
}

COL_FRAME, COL_STATUS, COL_PATH, COL_ERROR = range(4)
FRAME_COLUMNS = ("Frame", "Status", "Path", "Error")
# A running job's results are read again from the journal at most this often while it is shown.
RELOAD_S = 1.0


class FrameResultsLoader(QObject):
    """Reads one job's per-frame results from the journal in a thread of its own.

    The table's rows keep counts, not results (records.keeps()): the pane asks for the
    results of the one job it shows, and drops them when it shows another. Reading
    2,000 rows takes a few milliseconds of SQLite, never on the GUI thread.
    `ready(job_id, {index: FrameResult})` comes back queued to the GUI thread.
    """

    ready = Signal(str, object)

    def __init__(self, journal: Journal | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._journal = journal
        self._pool: ThreadPoolExecutor | None = None

    @property
    def available(self) -> bool:
        return self._journal is not None

    def request(self, job_id: str) -> bool:
        """Start reading `job_id`'s frames; False without a journal (nothing will come)."""
        if self._journal is None:
            return False
        if self._pool is None:
            # One thread: requests are read in order, on one SQLite connection of its own.
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vfxcopy-frame-results")
        self._pool.submit(self._load, job_id)
        return True

    def _load(self, job_id: str) -> None:
        from vfxcopy.core.journal import JournalError

        assert self._journal is not None
        try:
            results = {f.index: f.to_result() for f in self._journal.frames(job_id)}
        except (sqlite3.Error, JournalError, OSError):
            results = {}  # the pane shows what the row knows; nothing else to do
        try:
            self.ready.emit(job_id, results)
        except RuntimeError:
            pass  # the pane was deleted meanwhile

    def shutdown(self) -> None:
        """Finish the read under way and close this loader's journal connection (window close)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        journal = self._journal
        if journal is not None:
            pool.submit(journal.release_connection)
        pool.shutdown(wait=True, cancel_futures=False)


class FrameListModel(QAbstractTableModel):
    """One row per selected frame of a job, read straight from its JobRecord (no copies per frame)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._record: JobRecord | None = None
        self._frames: list[int] = []
        # A folder tree's items (sequence frame or file, and its path), made when the job is shown.
        self._items: list[TreeItem] | None = None
        # Every frame's result as the journal has it, for the shown job only (FrameResultsLoader).
        self._loaded: dict[int, FrameResult] = {}
        # Where each frame lands, as planned, until the journal says (made when first asked).
        self._dests: list[str] | None = None

    @property
    def record(self) -> JobRecord | None:
        return self._record

    def set_record(self, record: JobRecord | None) -> None:
        self.beginResetModel()
        self._record = record
        self._frames = self._planned(record)
        self._items = tree_items(record.spec) if record is not None and record.spec.tree is not None else None
        self._loaded = {}
        self._dests = None
        self.endResetModel()

    def set_loaded(self, results: dict[int, FrameResult]) -> None:
        """The journal's results of the shown job arrived: paths, destinations and errors of every frame."""
        self._loaded = results
        if self._frames:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._frames) - 1, len(FRAME_COLUMNS) - 1))

    @property
    def loaded_count(self) -> int:
        return len(self._loaded)

    def result(self, row: int) -> FrameResult | None:
        """The row's result: the record's own (a failure, live) first, else the journal's."""
        record = self._record
        if record is None:
            return None
        return record.frame_results.get(row) or self._loaded.get(row)

    def _planned_dest(self, row: int) -> str:
        record = self._record
        if record is None or self._items is not None:
            return ""
        if self._dests is None:
            from vfxcopy.core import naming

            try:
                self._dests = naming.dest_paths(record.spec)
            except (ValueError, OSError, KeyError):
                self._dests = []
        if len(self._dests) == 1:
            return self._dests[0]  # a single file or a movie: one output for every row
        return self._dests[row] if 0 <= row < len(self._dests) else ""

    @staticmethod
    def _planned(record: JobRecord | None) -> list[int]:
        if record is None:
            return []
        frames = record.spec.selected_frames()
        # A single file (no frame number) is one row; the engine reports it as index 0.
        return frames if frames or not record.spec.source.is_single else [0]

    def refresh(self) -> None:
        """The record changed in place: repaint every row (the views only repaint what is visible)."""
        record = self._record
        if record is None:
            return
        if len(self._planned(record)) != len(self._frames):
            self.set_record(record)  # a retry re-planned the frames
            return
        if self._frames:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._frames) - 1, len(FRAME_COLUMNS) - 1)
            )

    # -- Qt model interface --
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._frames)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(FRAME_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            if section == COL_FRAME and self._items is not None:
                return "Item (sequence frame or file)"
            return FRAME_COLUMNS[section]
        return None

    def status(self, row: int) -> FrameStatus:
        record = self._record
        if record is None:
            return FrameStatus.PENDING
        if 0 <= row < len(record.frame_states):
            return record.frame_states[row]
        result = self.result(row)
        return result.status if result is not None else FrameStatus.PENDING

    def path(self, row: int) -> str:
        record = self._record
        if record is None:
            return ""
        result = self.result(row)
        if result is not None and result.source:
            return result.source
        if self._items is not None:
            return self._items[row].path if row < len(self._items) else ""
        source = record.spec.source
        return str(source.path() if source.is_single else source.path(self._frames[row]))

    def path_tooltip(self, row: int) -> str:
        result = self.result(row)
        dest = result.dest if result is not None and result.dest else ""
        if not dest and self.status(row) in (FrameStatus.DONE, FrameStatus.SKIPPED):
            dest = self._planned_dest(row)  # the journal's word is on its way (or there is no journal)
        if dest:
            return f"Source: {self.path(row)}\nDestination: {dest}"
        return self.path(row)

    def row_text(self, row: int) -> str:
        """One frame as a tab-separated line (frame, status, path, full error) for the clipboard."""
        return "\t".join((self.label(row), self.status(row).value, self.path(row),
                          self.error(row).replace("\n", " ")))

    def label(self, row: int) -> str:
        """What the first column shows: the frame number, or a tree item's sequence and frame (or its path)."""
        if self._items is not None:
            return self._items[row].label if row < len(self._items) else ""
        record = self._record
        return "—" if record is not None and record.spec.source.is_single else str(self._frames[row])

    def error(self, row: int) -> str:
        result = self.result(row)
        return (result.error or "") if result is not None else ""

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self._record is None:
            return None
        row, col = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_FRAME:
                return self.label(row)
            if col == COL_STATUS:
                return self.status(row).value
            if col == COL_PATH:
                return self.path(row)
            if col == COL_ERROR:
                return self.error(row).splitlines()[0] if self.error(row) else ""
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_ERROR:
                return self.error(row) or None
            if col == COL_PATH:
                return self.path_tooltip(row)
            return None
        if role == Qt.ItemDataRole.ForegroundRole and col in (COL_STATUS, COL_ERROR):
            return STATUS_COLOURS.get(self.status(row))
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_FRAME and self._items is None:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == STATUS_ROLE:
            return self.status(row)
        if role == FRAME_ROLE:
            return self._frames[row]
        return None


class FailedOnlyProxy(QSortFilterProxyModel):
    """Shows every frame, or only the failed ones; re-filters as rows change."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._failed_only = False
        self.setDynamicSortFilter(True)

    @property
    def failed_only(self) -> bool:
        return self._failed_only

    def set_failed_only(self, on: bool) -> None:
        if on == self._failed_only:
            return
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+: invalidateFilter is deprecated
            self.beginFilterChange()
            self._failed_only = on
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._failed_only = on
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self._failed_only:
            return True
        model = self.sourceModel()
        if isinstance(model, FrameListModel):
            return model.status(source_row) is FrameStatus.FAILED
        return True
