"""JobTableView: the job list; columns sized from their content's font, names and paths share the rest."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from vfxcopy.gui.columns import COLUMN_INDEX, COLUMNS
from vfxcopy.gui.delegates import ProgressDelegate

EMPTY_HINT = "Drop image sequences or folders here\nor use File › Add Files… (Ctrl+O) or Add Folder… (Ctrl+Shift+O)"
# Stretched columns (names, paths) never get narrower than this; below it the table scrolls.
MIN_STRETCH = 140


class JobTableView(QTableView):
    """Paints a hint while empty; fixed columns fit their widest usual text, the others stretch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("jobTable")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        # Long names and paths keep both ends: the shot at the start, the frame range at the end.
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 12)
        header = self.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(40)
        header.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.progress_delegate = ProgressDelegate(self)
        self.setItemDelegateForColumn(COLUMN_INDEX["progress"], self.progress_delegate)

    def setModel(self, model: QAbstractItemModel | None) -> None:
        super().setModel(model)
        self.fit_columns(reset=True)

    def fixed_width(self, column: int) -> int:
        """The width a fixed column needs for its usual widest text and its title."""
        spec = COLUMNS[column]
        metrics = self.fontMetrics()
        bold = self.horizontalHeader().fontMetrics()
        return max(metrics.horizontalAdvance(spec.sample) + 22, bold.horizontalAdvance(spec.title) + 30)

    def fit_columns(self, reset: bool = False) -> None:
        """Names and paths share what the other columns leave; `reset` also sizes those to their
        content (at start: a width the user dragged or that was restored is kept otherwise)."""
        header = self.horizontalHeader()
        if header.count() != len(COLUMNS):
            return
        stretch = [n for n, c in enumerate(COLUMNS) if not c.sample]
        for n, column in enumerate(COLUMNS):
            if column.sample:
                header.setSectionResizeMode(n, QHeaderView.ResizeMode.Interactive)
                if reset or header.sectionSize(n) < 20:
                    header.resizeSection(n, self.fixed_width(n))
        fixed = sum(header.sectionSize(n) for n, c in enumerate(COLUMNS) if c.sample and not header.isSectionHidden(n))
        available = self.viewport().width() - fixed
        if available >= MIN_STRETCH * len(stretch):
            # The first stretched column (the name) takes what is left, so the header fits the
            # viewport exactly (no horizontal scrollbar); the others (paths) get a share of it.
            first, *others = stretch
            share = available // (len(stretch) + 1)  # the name gets twice a path's share
            for n in others:
                header.setSectionResizeMode(n, QHeaderView.ResizeMode.Fixed)
                header.resizeSection(n, max(MIN_STRETCH, share))
            header.setSectionResizeMode(first, QHeaderView.ResizeMode.Stretch)
        else:
            for n in stretch:
                header.setSectionResizeMode(n, QHeaderView.ResizeMode.Interactive)
                header.resizeSection(n, MIN_STRETCH)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_columns()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is not None and model.rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, EMPTY_HINT)
            painter.end()
