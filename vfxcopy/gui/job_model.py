"""JobTableModel: one row per JobRecord, columns declared once in COLUMNS, raw numbers in custom roles."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont

from vfxcopy.core.jobs import (
    CancelToken,
    Event,
    JobResult,
    JobSpec,
    JobState,
    Progress,
)
from vfxcopy.core.units import RateMeter
from vfxcopy.gui.columns import (  # noqa: F401 - re-exported: the model's public vocabulary
    CANCELLED_GREY,
    COLUMN_INDEX,
    COLUMNS,
    STATE_COLOURS,
    STATE_ORDER,
    STATE_WORDS,
    Column,
    ProgressInfo,
    Totals,
    frames_breakdown,
    frames_text,
    progress_info,
    status_text,
)
from vfxcopy.gui.groups import distinct_folder, group_text
from vfxcopy.gui.records import JobRecord

# Custom roles: raw values for delegates, the details pane and sorting.
RecordRole = Qt.ItemDataRole.UserRole + 1  # the JobRecord itself
ProgressRole = Qt.ItemDataRole.UserRole + 2  # ProgressInfo (raw numbers)
FrameStatesRole = Qt.ItemDataRole.UserRole + 3  # list[FrameStatus], one per selected frame
StateRole = Qt.ItemDataRole.UserRole + 4  # JobState
SortRole = Qt.ItemDataRole.UserRole + 5  # the column's sort key (numbers or lowercase text)
JobIdRole = Qt.ItemDataRole.UserRole + 6  # str
DimmedRole = Qt.ItemDataRole.UserRole + 7  # bool: cancelled rows are painted faded

ModelIndex = QModelIndex | QPersistentModelIndex


# What changes on a progress update: everything shown, none of the structure.
_UPDATE_ROLES = [
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.FontRole,
    ProgressRole,
    FrameStatesRole,
    StateRole,
    SortRole,
    DimmedRole,
]


_HANDLED_ROLES = frozenset(int(r) for r in (
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.TextAlignmentRole,
    Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.FontRole, RecordRole, ProgressRole, FrameStatesRole,
    StateRole, SortRole, JobIdRole, DimmedRole,
))


class JobTableModel(QAbstractTableModel):
    """Rows are JobRecords: this session's jobs in the order they came, then earlier sessions'.

    A QSortFilterProxyModel does the sorting when the user asks for it.
    """

    def __init__(self, parent: QObject | None = None,
                 token_of: Callable[[str], CancelToken | None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._records: list[JobRecord] = []
        self._rows: dict[str, int] = {}
        # JobSpec.group -> its members' job ids in row order (jobs that read one source once).
        self._groups: dict[str, list[str]] = {}
        self._info: dict[str, ProgressInfo] = {}
        # One rate meter per running job, fed with the bytes of each progress event.
        self._meters: dict[str, RateMeter] = {}
        # Where a job's CancelToken is found (the runner): pause, cancel and stop live there.
        self._token_of = token_of
        self._clock = clock  # when a progress event arrived (tests inject one)

    # -- Qt model interface --
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].title
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # The view asks for a dozen roles per cell and paint; most are not ours.
        if role not in _HANDLED_ROLES or not index.isValid() or not 0 <= index.row() < len(self._records):
            return None
        if not 0 <= index.column() < len(COLUMNS):
            return None
        record = self._records[index.row()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            if column.key == "destination" and record.spec.group is not None:
                return self._group_mark(record)
            return column.text(record, self.info(record))
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = column.tooltip(record, self.info(record)) if column.tooltip else None
            if column.key in ("sequence", "destination") and record.spec.group is not None:
                tip = "\n".join(filter(None, [tip, group_text(self.group_records(record), record)]))
            return tip
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(column.align.value)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(record, column)
        if role == Qt.ItemDataRole.FontRole:
            if record.shown_state is JobState.CANCELLED or (column.key == "status" and record.cancelling):
                font = QFont()
                font.setItalic(True)
                return font
            return None
        if role == RecordRole:
            return record
        if role == ProgressRole:
            return self.info(record)
        if role == FrameStatesRole:
            return record.frame_states
        if role == StateRole:
            return record.shown_state
        if role == SortRole:
            return column.sort_key(record, self.info(record))
        if role == JobIdRole:
            return record.job_id
        if role == DimmedRole:
            return record.shown_state is JobState.CANCELLED
        return None

    def _foreground(self, record: JobRecord, column: Column) -> QBrush | None:
        state = record.shown_state
        if state is JobState.CANCELLED:
            return QBrush(QColor(CANCELLED_GREY))
        if column.key == "status":
            if record.cancelling or record.stopping:
                return QBrush(QColor(STATE_COLOURS[JobState.PAUSED]))
            info = self.info(record)
            if state is JobState.COMPLETED and info.failed:
                return QBrush(QColor(STATE_COLOURS[JobState.FAILED]))
            return QBrush(QColor(STATE_COLOURS[state]))
        return None

    # -- records --
    def records(self) -> list[JobRecord]:
        return list(self._records)

    def record_at(self, row: int) -> JobRecord:
        return self._records[row]

    def record_for(self, job_id: str) -> JobRecord | None:
        row = self._rows.get(job_id)
        return self._records[row] if row is not None else None

    def row_of(self, job_id: str) -> int:
        return self._rows.get(job_id, -1)

    def info(self, record: JobRecord) -> ProgressInfo:
        info = self._info.get(record.job_id)
        if info is None:
            info = self._info[record.job_id] = progress_info(record, self._meters.get(record.job_id))
        return info

    def add_spec(self, spec: JobSpec, token: CancelToken | None = None) -> JobRecord:
        """A new job of this session: listed above the earlier sessions' history."""
        if token is None and self._token_of is not None:
            token = self._token_of(spec.job_id)
        return self.add_record(JobRecord(spec, token=token))

    def add_record(self, record: JobRecord) -> JobRecord:
        """Insert a row: this session's jobs in the order they came, then history (newest first)."""
        if record.job_id in self._rows:
            raise ValueError(f"job {record.job_id} is already in the table")
        if record.from_history:
            row = len(self._records)
        else:
            row = next((i for i, r in enumerate(self._records) if r.from_history), len(self._records))
        self.beginInsertRows(QModelIndex(), row, row)
        self._records.insert(row, record)
        self._reindex()
        self.endInsertRows()
        return record

    def add_records(self, records: Iterable[JobRecord]) -> None:
        """Append many history rows with one insert (history loading)."""
        new = [r for r in records if r.job_id not in self._rows]
        if not new:
            return
        for record in new:
            record.from_history = True
        first = len(self._records)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._records.extend(new)
        self._reindex()
        self.endInsertRows()

    def remove_job(self, job_id: str) -> bool:
        row = self._rows.get(job_id)
        if row is None:
            return False
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._records[row]
        self._info.pop(job_id, None)
        self._meters.pop(job_id, None)
        self._reindex()
        self.endRemoveRows()
        return True

    def _reindex(self) -> None:
        self._rows = {r.job_id: i for i, r in enumerate(self._records)}
        self._groups = {}
        for r in self._records:
            if r.spec.group is not None:
                self._groups.setdefault(r.spec.group, []).append(r.job_id)

    def group_records(self, record: JobRecord) -> list[JobRecord]:
        """The jobs that read one source with `record` (itself included, in row order); [record] alone if none."""
        ids = self._groups.get(record.spec.group or "", [])
        return [self._records[self._rows[i]] for i in ids] if len(ids) > 1 else [record]

    def _group_mark(self, record: JobRecord) -> str:
        """A group member's destination: '2/3 · …/shuttle_A/day_012' (which one, and what tells it apart)."""
        members = self.group_records(record)
        if len(members) < 2:
            return record.spec.dest_dir
        folders = [m.spec.dest_dir for m in members]
        return f"{members.index(record) + 1}/{len(members)} · {distinct_folder(record.spec.dest_dir, folders)}"

    # -- updates from the runner (GUI thread): engine events and the token only --
    def mark_started(self, job_id: str) -> None:
        record = self.record_for(job_id)
        if record is None or record.state.finished:
            return
        record.state = JobState.RUNNING
        record.started = record.started or time.time()
        if record.token is None and self._token_of is not None:
            record.token = self._token_of(job_id)
        self._meters[job_id] = RateMeter()
        self._changed(record)

    def apply_events(self, job_id: str, events: Iterable[Event]) -> None:
        record = self.record_for(job_id)
        if record is None:
            return
        for event in events:
            record.apply(event)
            if isinstance(event, Progress):
                self._meters.setdefault(job_id, RateMeter()).add(event.bytes_done, self._clock())
        self._changed(record)

    def token_changed(self, job_id: str, *_args: object) -> None:
        """The job's token was paused, resumed, cancelled or told to stop: repaint its row."""
        record = self.record_for(job_id)
        if record is None:
            return
        if record.token is None and self._token_of is not None and not record.state.finished:
            record.token = self._token_of(job_id)
        if record.paused:
            # The bytes stop while paused: a new measurement starts on resume.
            meter = self._meters.get(job_id)
            if meter is not None:
                meter.reset()
        self._changed(record)

    def refresh_record(self, job_id: str) -> None:
        """A record changed outside the runner's events (a farm job's state): repaint its row."""
        record = self.record_for(job_id)
        if record is not None:
            self._changed(record)

    # Kept for the runner's job_paused(job_id, paused) signal.
    set_paused = token_changed

    def finish(self, result: JobResult) -> None:
        record = self.record_for(result.job_id)
        if record is None:
            return
        record.finish(result)
        self._meters.pop(result.job_id, None)
        self._changed(record)

    def _changed(self, record: JobRecord) -> None:
        self._info.pop(record.job_id, None)
        row = self._rows[record.job_id]
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1), _UPDATE_ROLES)

    # -- totals for the status bar --
    def totals(self) -> Totals:
        """Jobs by what they are doing now, and their summed speed."""
        running = paused = pending = 0
        speed = 0.0
        for record in self._records:
            state = record.shown_state
            if state is JobState.RUNNING:
                running += 1
                speed += self.info(record).bytes_per_s
            elif state is JobState.PAUSED:
                paused += 1
            elif state is JobState.PENDING:
                pending += 1
        return Totals(running, paused, pending, speed)


class JobSortProxy(QSortFilterProxyModel):
    """Sorts by each column's raw sort key rather than by its text."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SortRole)
        self.setDynamicSortFilter(True)

    def lessThan(self, left: ModelIndex, right: ModelIndex) -> bool:
        a = left.data(SortRole)
        b = right.data(SortRole)
        try:
            return bool(a < b)
        except TypeError:
            return str(a) < str(b)

