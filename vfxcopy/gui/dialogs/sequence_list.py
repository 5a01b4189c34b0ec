"""SequenceList: the New job dialog's list of dropped sequences; compact rows, thumbnails only for rows in sight."""

from __future__ import annotations

import os

from PySide6.QtCore import QSize, Qt, QTimer, Slot
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QTreeWidget, QTreeWidgetItem, QWidget

from vfxcopy.core.framenames import format_frames
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.tree import Tree, special_note
from vfxcopy.core.units import format_size, plural
from vfxcopy.gui.dialogs.job_options import WARNING_COLOUR, sequence_size
from vfxcopy.gui.thumbs import ThumbnailLoader

THUMB_SIZE = 96  # decoded size; shown at ICON_SIZE in the list
ICON_SIZE = QSize(48, 27)
COL_SEQUENCE, COL_RANGE, COL_FRAMES, COL_MISSING, COL_SIZE, COL_CHECK = range(6)
COLUMN_TITLES = ("Sequence", "Range", "Frames", "Missing", "Size", "Check")


def _placeholder_icon() -> QIcon:
    pixmap = QPixmap(ICON_SIZE)
    pixmap.fill(QColor("#3a3a3a"))
    return QIcon(pixmap)


def thumbnail_path(seq: Sequence) -> str:
    """The frame a sequence is shown by: its middle one."""
    return str(seq.path() if seq.is_single else seq.path(seq.frames[len(seq.frames) // 2]))


class SequenceList(QTreeWidget):
    """One checkable row per sequence: range, count, missing frames, size and a thumbnail.

    Thumbnails are asked for when a row scrolls into sight: fifty dropped sequences
    do not start fifty decodes of multi-megabyte EXRs before the dialog is usable.
    """

    def __init__(self, sequences: list[Sequence], loader: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sequenceList")
        self._sequences = list(sequences)
        self._loader = loader
        self.sizes: dict[int, int | None] = {}  # id(seq) -> bytes; kept: a NAS stat is slow
        self.requested: set[int] = set()  # rows whose thumbnail was asked for
        self._thumb_rows: dict[str, list[int]] = {}
        self._trees: list[Tree] = []
        self.setColumnCount(len(COLUMN_TITLES))
        self.setHeaderLabels(list(COLUMN_TITLES))
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setMinimumHeight(120)
        self.setIconSize(ICON_SIZE)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.header().setSectionResizeMode(COL_SEQUENCE, QHeaderView.ResizeMode.Stretch)
        self.header().setStretchLastSection(False)
        loader.ready.connect(self._on_thumbnail)
        loader.failed.connect(self._on_thumbnail_failed)
        placeholder = _placeholder_icon()
        for seq in self._sequences:
            self.addTopLevelItem(self._make_item(seq, placeholder))
        for col in range(1, len(COLUMN_TITLES)):
            self.resizeColumnToContents(col)
        # Rows come into sight by scrolling, resizing and showing: coalesce into one look.
        self._sight_timer = QTimer(self)
        self._sight_timer.setSingleShot(True)
        self._sight_timer.setInterval(30)
        self._sight_timer.timeout.connect(self.load_visible_thumbnails)
        self.verticalScrollBar().valueChanged.connect(lambda _v: self._sight_timer.start())

    def _make_item(self, seq: Sequence, placeholder: QIcon) -> QTreeWidgetItem:
        item = QTreeWidgetItem()
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(COL_SEQUENCE, Qt.CheckState.Checked)
        item.setText(COL_SEQUENCE, seq.nuke_name())
        item.setToolTip(COL_SEQUENCE, seq.pattern("nuke"))
        item.setIcon(COL_SEQUENCE, placeholder)
        item.setText(COL_RANGE, seq.range_str() or "single file")
        item.setText(COL_FRAMES, str(len(seq)))
        item.setTextAlignment(COL_FRAMES, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        missing = seq.missing()
        if missing:
            item.setText(COL_MISSING, f"{len(missing)} missing")
            tip = f"Missing {plural(len(missing), 'frame')}: {format_frames(missing)}"
            brush = QBrush(WARNING_COLOUR)
            for col in (COL_RANGE, COL_MISSING):
                item.setForeground(col, brush)
                item.setToolTip(col, tip)
            font = item.font(COL_MISSING)
            font.setBold(True)
            item.setFont(COL_MISSING, font)
        else:
            item.setText(COL_MISSING, "none")
        size = sequence_size(seq)
        self.sizes[id(seq)] = size
        item.setText(COL_SIZE, format_size(size))
        item.setTextAlignment(COL_SIZE, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setText(COL_CHECK, "waiting")
        return item

    def set_check(self, row: int, text: str, colour: QColor | None = None, tooltip: str = "") -> None:
        """The pre-flight's word on row `row` (the Check tab has the findings)."""
        item = self.topLevelItem(row)
        if item is None:
            return
        item.setText(COL_CHECK, text)
        item.setToolTip(COL_CHECK, tooltip or text)
        if colour is not None:
            item.setForeground(COL_CHECK, QBrush(colour))

    def add_tree_rows(self, trees: list[Tree]) -> None:
        """One row per folder tree, after the sequences: the whole tree is one job."""
        from vfxcopy.gui.trees import tree_problem, tree_summary

        self._trees = list(trees)
        for tree in trees:
            item = QTreeWidgetItem()
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(COL_SEQUENCE, Qt.CheckState.Checked)
            item.setText(COL_SEQUENCE, f"{os.path.basename(tree.root)}/  (folder tree: {tree_summary(tree)})")
            item.setToolTip(COL_SEQUENCE, f"{tree.root}\nCopied as one job, keeping its layout")
            item.setIcon(COL_SEQUENCE, self.style().standardIcon(QStyle.StandardPixmap.SP_DirIcon))
            item.setText(COL_RANGE, "tree")
            item.setText(COL_FRAMES, str(len(tree.items)))
            item.setTextAlignment(COL_FRAMES, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setText(COL_MISSING, "—")
            item.setText(COL_SIZE, format_size(tree.total_size))
            item.setTextAlignment(COL_SIZE, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            problem = tree_problem(tree)
            # FIFOs, sockets, devices in the tree are left out: said here, the whole list in the tooltip.
            note = special_note(tree) if not problem else None
            left_out = f"{plural(len(tree.special), 'item')} left out: not files" if note else "—"
            item.setText(COL_CHECK, problem or left_out)
            if note:
                item.setToolTip(COL_CHECK, note)
            if problem or note:
                item.setForeground(COL_CHECK, QBrush(WARNING_COLOUR))
            self.addTopLevelItem(item)

    def checked_trees(self) -> list[Tree]:
        first = len(self._sequences)
        return [tree for i, tree in enumerate(self._trees)
                if (item := self.topLevelItem(first + i)) is not None
                and item.checkState(COL_SEQUENCE) == Qt.CheckState.Checked]

    # -- state --
    def checked_sequences(self) -> list[Sequence]:
        out = []
        for row, seq in enumerate(self._sequences):
            item = self.topLevelItem(row)
            if item is not None and item.checkState(COL_SEQUENCE) == Qt.CheckState.Checked:
                out.append(seq)
        return out

    # -- thumbnails --
    def visible_rows(self) -> range:
        count = self.topLevelItemCount()
        if not count:
            return range(0)
        top = self.indexAt(self.viewport().rect().topLeft())
        bottom = self.indexAt(self.viewport().rect().bottomLeft())
        first = top.row() if top.isValid() else 0
        last = bottom.row() if bottom.isValid() else count - 1
        return range(first, last + 1)

    @Slot()
    def load_visible_thumbnails(self) -> None:
        """Ask for the thumbnails of the rows in sight (and one screen ahead) not asked for yet."""
        rows = self.visible_rows()
        ahead = range(rows.start, min(self.topLevelItemCount(), rows.stop + len(rows)))
        for row in ahead:
            if row in self.requested or row >= len(self._sequences):  # a folder tree has no thumbnail
                continue
            self.requested.add(row)
            path = thumbnail_path(self._sequences[row])
            self._thumb_rows.setdefault(path, []).append(row)
            self._loader.request(path, path, THUMB_SIZE)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._sight_timer.start()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._sight_timer.start()

    @Slot(str, QImage)
    def _on_thumbnail(self, key: str, image: QImage) -> None:
        rows = self._thumb_rows.get(key)
        if not rows or image.isNull():
            return
        icon = QIcon(QPixmap.fromImage(image))
        for row in rows:
            item = self.topLevelItem(row)
            if item is not None:
                item.setIcon(COL_SEQUENCE, icon)

    @Slot(str, str)
    def _on_thumbnail_failed(self, key: str, message: str) -> None:
        for row in self._thumb_rows.get(key, []):
            item = self.topLevelItem(row)
            if item is not None:
                item.setToolTip(COL_SEQUENCE, f"{item.toolTip(COL_SEQUENCE)}\nNo preview: {message}")
