"""JobTableModel: one row per JobRecord, columns declared once in COLUMNS, raw numbers in custom roles."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
    Event,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    Operation,
)
from vfxcopy.core.sequence import format_frames
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

# Status colours, shared with the delegate and the style sheet's palette.
STATE_COLOURS: dict[JobState, str] = {
    JobState.PENDING: "#9aa4ad",
    JobState.RUNNING: "#4aa3f0",
    JobState.PAUSED: "#e0a526",
    JobState.COMPLETED: "#4fbf6b",
    JobState.FAILED: "#e5534b",
    JobState.CANCELLED: "#7d8590",
    JobState.INTERRUPTED: "#c67c3c",
}
CANCELLED_GREY = "#7d8590"

STATE_ORDER = {s: i for i, s in enumerate(
    [JobState.RUNNING, JobState.PAUSED, JobState.PENDING, JobState.FAILED,
     JobState.INTERRUPTED, JobState.CANCELLED, JobState.COMPLETED]
)}


@dataclass(frozen=True)
class ProgressInfo:
    """The numbers behind a row's progress, for painting and sorting (no text parsing)."""

    total: int
    done: int  # written or verified
    skipped: int
    failed: int
    running: int
    bytes_done: int
    bytes_total: int
    fraction: float
    bytes_per_s: float
    eta_s: float | None
    # A snapshot of the per-frame states and the dimmed flag, so that the delegate
    # paints from one role (a Python object Qt passes through without converting).
    states: tuple[FrameStatus, ...] = ()
    dimmed: bool = False


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def human_duration(seconds: float | None) -> str:
    if seconds is None or math.isinf(seconds) or seconds < 0:
        return ""
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_info(record: JobRecord) -> ProgressInfo:
    counts = {status: 0 for status in FrameStatus}
    for status in record.frame_states:
        counts[status] += 1
    total = record.frames_total
    done, skipped, failed = counts[FrameStatus.DONE], counts[FrameStatus.SKIPPED], counts[FrameStatus.FAILED]
    p = record.progress
    bytes_done = p.bytes_done if p else (record.result.bytes_done if record.result else 0)
    bytes_total = p.bytes_total if p else 0
    if record.state is JobState.COMPLETED and not failed:
        fraction = 1.0
    elif record.state.finished or p is None or p.bytes_total <= 0:
        # A finished job shows what it delivered: failed frames are not progress.
        fraction = (done + skipped) / total if total else 0.0
    else:
        fraction = p.fraction
    live = record.state is JobState.RUNNING
    rate = p.bytes_per_s if (p and live) else 0.0
    if record.state.finished and record.result is not None and record.result.elapsed > 0:
        rate = record.result.bytes_done / record.result.elapsed
    return ProgressInfo(
        total=total,
        done=done,
        skipped=skipped,
        failed=failed,
        running=counts[FrameStatus.RUNNING],
        bytes_done=bytes_done,
        bytes_total=bytes_total,
        fraction=fraction,
        bytes_per_s=rate,
        eta_s=p.eta_s if (p and live) else None,
        states=tuple(record.frame_states),
        dimmed=record.state is JobState.CANCELLED,
    )


def status_text(record: JobRecord, info: ProgressInfo) -> str:
    if record.cancelling and not record.state.finished:
        return "Cancelling…"
    if record.stopping and not record.state.finished:
        return "Stopping after frame…"
    state = record.state
    if state is JobState.PENDING:
        return "Pending"
    if state is JobState.RUNNING:
        return "Running"
    if state is JobState.PAUSED:
        return "Paused"
    if state is JobState.COMPLETED:
        return f"Completed, {info.failed} failed" if info.failed else "Completed"
    if state is JobState.FAILED:
        return f"Failed ({info.failed} frames)" if info.failed else "Failed"
    if state is JobState.CANCELLED:
        return "Cancelled"
    return "Interrupted"


def _sequence_text(record: JobRecord) -> str:
    """The job's name; a watch folder's jobs start with their rule's name."""
    origin = record.spec.origin
    prefix = f"⟳ {origin[len('watch:'):]} · " if origin.startswith("watch:") else ""
    return prefix + _plain_sequence_text(record)


def _plain_sequence_text(record: JobRecord) -> str:
    spec = record.spec
    if spec.name:
        return spec.name
    src = spec.source
    if src.is_single:
        return src.display()
    frames = spec.selected_frames()
    rng = f"{frames[0]}-{frames[-1]}" if len(frames) > 1 else (str(frames[0]) if frames else "")
    return f"{src.nuke_name()} {rng}".strip()


def _operation_text(record: JobRecord) -> str:
    spec = record.spec
    if spec.operation is Operation.COPY:
        return "Copy"
    conv = spec.convert
    if conv is None:
        return "Convert"
    return f"Convert → {conv.to.upper()}"


def _operation_tooltip(record: JobRecord, info: ProgressInfo) -> str:
    spec = record.spec
    conv = spec.convert
    if spec.operation is Operation.COPY:
        opts = spec.copy
        parts = [f"Copy, verify {opts.verify.value}, {opts.hash_algo.value}, on conflict {opts.on_conflict.value}"]
        if opts.bwlimit:
            parts.append(f"limited to {human_bytes(opts.bwlimit)}/s")
        return ", ".join(parts)
    if conv is None:
        return "Convert"
    details = [f"to {conv.to.upper()}"]
    for label, value in (("preset", conv.preset), ("compression", conv.compression), ("resize", conv.resize),
                         ("colour", conv.to_space)):
        if value:
            details.append(f"{label} {value}")
    return "Convert " + ", ".join(details)


def _frames_text(record: JobRecord, info: ProgressInfo) -> str:
    text = f"{info.done + info.skipped}/{info.total}"
    if info.failed:
        text += f", {info.failed} failed"
    return text


def _frames_tooltip(record: JobRecord, info: ProgressInfo) -> str:
    lines = [
        f"{info.done} written, {info.skipped} skipped, {info.failed} failed of {info.total}",
        f"Frames: {format_frames(record.spec.selected_frames())}",
    ]
    if info.failed:
        failed = sorted(r.frame for r in record.failed_frames)
        lines.append(f"Failed: {format_frames(failed)}")
    return "\n".join(lines)


def _status_tooltip(record: JobRecord, info: ProgressInfo) -> str:
    parts = [status_text(record, info)]
    if record.result and record.result.message:
        parts.append(record.result.message)
    elif record.progress and record.progress.message:
        parts.append(record.progress.message)
    return "\n".join(parts)


@dataclass(frozen=True)
class Column:
    """One column: how it is titled, sized, shown, sorted and explained."""

    key: str
    title: str
    width: int
    text: Callable[[JobRecord, ProgressInfo], str]
    sort_key: Callable[[JobRecord, ProgressInfo], Any]
    tooltip: Callable[[JobRecord, ProgressInfo], str] | None = None
    align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_CENTER = Qt.AlignmentFlag.AlignCenter

COLUMNS: list[Column] = [
    Column("sequence", "Sequence", 300, lambda r, i: _sequence_text(r),
           lambda r, i: _sequence_text(r).lower(),
           lambda r, i: r.spec.source.pattern("nuke")),
    Column("operation", "Operation", 130, lambda r, i: _operation_text(r),
           lambda r, i: _operation_text(r).lower(), _operation_tooltip),
    Column("frames", "Frames", 120, _frames_text,
           lambda r, i: (i.done + i.skipped) / i.total if i.total else 0.0,
           _frames_tooltip, _RIGHT),
    Column("progress", "Progress", 220, lambda r, i: f"{i.fraction * 100:.0f}%",
           lambda r, i: i.fraction,
           lambda r, i: f"{i.fraction * 100:.1f}% — {human_bytes(i.bytes_done)} of {human_bytes(i.bytes_total)}",
           _CENTER),
    Column("speed", "Speed", 90, lambda r, i: f"{human_bytes(i.bytes_per_s)}/s" if i.bytes_per_s > 0 else "",
           lambda r, i: i.bytes_per_s, None, _RIGHT),
    Column("eta", "ETA", 70, lambda r, i: human_duration(i.eta_s),
           lambda r, i: i.eta_s if i.eta_s is not None else math.inf, None, _RIGHT),
    Column("status", "Status", 150, status_text,
           lambda r, i: STATE_ORDER.get(r.state, 99), _status_tooltip),
    Column("destination", "Destination", 260, lambda r, i: r.spec.dest_dir,
           lambda r, i: r.spec.dest_dir.lower(), lambda r, i: r.spec.dest_dir),
]
COLUMN_INDEX = {c.key: n for n, c in enumerate(COLUMNS)}

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
    """Rows are JobRecords in insertion order; a QSortFilterProxyModel does the sorting."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._records: list[JobRecord] = []
        self._rows: dict[str, int] = {}
        self._info: dict[str, ProgressInfo] = {}
        self._paused: set[str] = set()

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
            return column.text(record, self.info(record))
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tooltip(record, self.info(record)) if column.tooltip else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(column.align.value)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(record, column)
        if role == Qt.ItemDataRole.FontRole:
            if record.state is JobState.CANCELLED or (column.key == "status" and record.cancelling):
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
            return record.state
        if role == SortRole:
            return column.sort_key(record, self.info(record))
        if role == JobIdRole:
            return record.job_id
        if role == DimmedRole:
            return record.state is JobState.CANCELLED
        return None

    def _foreground(self, record: JobRecord, column: Column) -> QBrush | None:
        if record.state is JobState.CANCELLED:
            return QBrush(QColor(CANCELLED_GREY))
        if column.key == "status":
            if record.cancelling and not record.state.finished:
                return QBrush(QColor(STATE_COLOURS[JobState.PAUSED]))
            info = self.info(record)
            if record.state is JobState.COMPLETED and info.failed:
                return QBrush(QColor(STATE_COLOURS[JobState.FAILED]))
            return QBrush(QColor(STATE_COLOURS[record.state]))
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
            info = self._info[record.job_id] = progress_info(record)
        return info

    def add_spec(self, spec: JobSpec) -> JobRecord:
        return self.add_record(JobRecord(spec))

    def add_record(self, record: JobRecord) -> JobRecord:
        """Append a row (a new job, or a finished one loaded from the journal's history)."""
        if record.job_id in self._rows:
            raise ValueError(f"job {record.job_id} is already in the table")
        row = len(self._records)
        self.beginInsertRows(QModelIndex(), row, row)
        self._records.append(record)
        self._rows[record.job_id] = row
        self.endInsertRows()
        return record

    def add_records(self, records: Iterable[JobRecord]) -> None:
        """Append many rows with one insert (history loading)."""
        new = [r for r in records if r.job_id not in self._rows]
        if not new:
            return
        first = len(self._records)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for record in new:
            self._rows[record.job_id] = len(self._records)
            self._records.append(record)
        self.endInsertRows()

    def remove_job(self, job_id: str) -> bool:
        row = self._rows.get(job_id)
        if row is None:
            return False
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._records[row]
        self._info.pop(job_id, None)
        self._paused.discard(job_id)
        self._rows = {r.job_id: i for i, r in enumerate(self._records)}
        self.endRemoveRows()
        return True

    # -- updates from the runner (GUI thread) --
    def mark_started(self, job_id: str) -> None:
        record = self.record_for(job_id)
        if record is None or record.state.finished:
            return
        record.state = JobState.PAUSED if job_id in self._paused else JobState.RUNNING
        record.started = record.started or time.time()
        self._changed(record)

    def apply_events(self, job_id: str, events: Iterable[Event]) -> None:
        record = self.record_for(job_id)
        if record is None:
            return
        for event in events:
            record.apply(event)
        if job_id in self._paused and record.state is JobState.RUNNING:
            # A progress sent just before the pause took effect must not undo it.
            record.state = JobState.PAUSED
        self._changed(record)

    def set_paused(self, job_id: str, paused: bool) -> None:
        record = self.record_for(job_id)
        if record is None:
            return
        if paused:
            self._paused.add(job_id)
        else:
            self._paused.discard(job_id)
        if not record.state.finished:
            record.state = JobState.PAUSED if paused else (
                JobState.RUNNING if record.started else JobState.PENDING)
            if record.progress is not None:
                record.progress = record.progress.copy(state=record.state)
        self._changed(record)

    def set_cancelling(self, job_id: str) -> None:
        record = self.record_for(job_id)
        if record is None or record.state.finished:
            return
        record.cancelling = True
        self._changed(record)

    def set_stopping(self, job_id: str) -> None:
        record = self.record_for(job_id)
        if record is None or record.state.finished:
            return
        record.stopping = True
        self._changed(record)

    def finish(self, result: JobResult) -> None:
        record = self.record_for(result.job_id)
        if record is None:
            return
        for frame in result.frames:
            record.apply(frame)
        # A frame still marked running had no result: it was interrupted mid-file.
        leftover = FrameStatus.CANCELLED if result.state is JobState.CANCELLED else FrameStatus.PENDING
        record.frame_states = [leftover if s is FrameStatus.RUNNING else s for s in record.frame_states]
        record.result = result
        record.state = result.state
        record.cancelling = False
        record.stopping = False
        record.finished = time.time()
        if record.progress is not None:
            record.progress = record.progress.copy(state=result.state, bytes_per_s=0.0, eta_s=None)
        self._paused.discard(result.job_id)
        self._changed(record)

    def _changed(self, record: JobRecord) -> None:
        self._info.pop(record.job_id, None)
        row = self._rows[record.job_id]
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1), _UPDATE_ROLES)

    # -- totals for the status bar --
    def totals(self) -> tuple[int, int, float]:
        """(running, pending, total bytes/s) over the rows."""
        running = pending = 0
        speed = 0.0
        for record in self._records:
            if record.state in (JobState.RUNNING, JobState.PAUSED):
                running += 1
                speed += self.info(record).bytes_per_s if record.state is JobState.RUNNING else 0.0
            elif record.state is JobState.PENDING:
                pending += 1
        return running, pending, speed


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

