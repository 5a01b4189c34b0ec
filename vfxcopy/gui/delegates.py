"""ProgressDelegate: paints a job's frames as coloured state segments from the model's raw roles."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from vfxcopy.core.jobs import FrameStatus
from vfxcopy.gui.columns import ProgressInfo
from vfxcopy.gui.job_model import JobIdRole, ProgressRole

FRAME_COLOURS: dict[FrameStatus, QColor] = {
    FrameStatus.PENDING: QColor("#2f353c"),
    FrameStatus.RUNNING: QColor("#4aa3f0"),
    FrameStatus.DONE: QColor("#4fbf6b"),
    FrameStatus.SKIPPED: QColor("#3e9e92"),
    FrameStatus.FAILED: QColor("#e5534b"),
    FrameStatus.CANCELLED: QColor("#5c636b"),
}

# A bucket of several frames shows its "worst" frame: one failure in a hundred
# frames must stay visible however narrow the column is.
_PRIORITY: dict[FrameStatus, int] = {
    FrameStatus.DONE: 0,
    FrameStatus.SKIPPED: 1,
    FrameStatus.CANCELLED: 2,
    FrameStatus.PENDING: 3,
    FrameStatus.RUNNING: 4,
    FrameStatus.FAILED: 5,
}
_BY_PRIORITY = sorted(_PRIORITY, key=_PRIORITY.__getitem__)


def frame_segments(states: Sequence[FrameStatus], width: int) -> list[tuple[int, int, FrameStatus]]:
    """Group frames into at most `width` buckets and merge equal neighbours.

    Returns (first_bucket, end_bucket, status) runs over `min(len(states), width)`
    buckets; one pass over the frames, one over the buckets.
    """
    count = len(states)
    buckets = min(count, max(1, width))
    if count == 0:
        return []
    worst = [-1] * buckets
    priority = _PRIORITY
    for i, status in enumerate(states):
        b = i * buckets // count
        p = priority[status]
        if p > worst[b]:
            worst[b] = p
    runs: list[tuple[int, int, FrameStatus]] = []
    start = 0
    for b in range(1, buckets + 1):
        if b == buckets or worst[b] != worst[start]:
            runs.append((start, b, _BY_PRIORITY[worst[start]]))
            start = b
    return runs


class ProgressDelegate(QStyledItemDelegate):
    """Per-frame segments (done, running, failed, skipped, pending) plus the percentage."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # job id -> (the ProgressInfo painted, bucket count, runs): a row repaints without
        # re-bucketing its frames until the model hands out a new ProgressInfo.
        self._runs: dict[str, tuple[ProgressInfo, int, list[tuple[int, int, FrameStatus]]]] = {}

    def forget(self, job_ids: Iterable[str]) -> None:
        """Drop what was painted for these jobs (their rows are removed)."""
        for job_id in job_ids:
            self._runs.pop(job_id, None)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(max(size.width(), 120), max(size.height(), 22))

    def _segments(self, key: str, info: ProgressInfo, width: int) -> list[tuple[int, int, FrameStatus]]:
        cached = self._runs.get(key)
        if cached is not None and cached[0] is info and cached[1] == width:
            return cached[2]
        runs = frame_segments(info.states, width)
        if len(self._runs) > 512:
            self._runs.clear()  # rows come and go; a small cache is enough
        self._runs[key] = (info, width, runs)
        return runs

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        # The selection/hover background first, so the bar sits on the row's own colour.
        # (No initStyleOption: it would ask the model for a dozen roles the bar does not use.)
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)

        info = index.data(ProgressRole)
        rect = QRectF(option.rect).adjusted(4, 4, -4, -4)
        if not isinstance(info, ProgressInfo) or rect.width() <= 2 or rect.height() <= 2:
            return

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if info.dimmed:
            painter.setOpacity(0.45)
        clip = QPainterPath()
        clip.addRoundedRect(rect, 3, 3)
        painter.setClipPath(clip)
        painter.fillRect(rect, FRAME_COLOURS[FrameStatus.PENDING])
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

        width = int(rect.width())
        runs = self._segments(str(index.data(JobIdRole)), info, width) if info.states else []
        if runs:
            buckets = min(len(info.states), max(1, width))
            scale = rect.width() / buckets
            for first, end, status in runs:
                if status is FrameStatus.PENDING:
                    continue
                x0 = rect.x() + first * scale
                painter.fillRect(QRectF(x0, rect.y(), (end - first) * scale, rect.height()),
                                 FRAME_COLOURS[status])
        else:
            painter.fillRect(QRectF(rect.x(), rect.y(), rect.width() * info.fraction, rect.height()),
                             FRAME_COLOURS[FrameStatus.DONE])

        text = f"{info.fraction * 100:.0f}%"
        font = painter.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor(0, 0, 0, 160))
        painter.drawText(rect.translated(1, 1), Qt.AlignmentFlag.AlignCenter, text)
        painter.setPen(QColor("#f2f4f6"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
