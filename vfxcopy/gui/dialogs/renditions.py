"""The conversion's outputs (renditions of one decode) as a list with Add and Remove: ConvertGroup edits the selected one."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vfxcopy.core.presets import PresetOutput, describe_options
from vfxcopy.gui.resources import icon

LIST_ROWS = 3  # rows in sight before the list scrolls (a plate ingest has three outputs)


def output_text(n: int, output: PresetOutput) -> str:
    """'2. JPG → proxy/  (quality 90, resize 50%, to-space sRGB - Display)'."""
    opts = output.options
    details = describe_options(opts).split(", ", 1)[1:]  # without the format, shown first
    where = (output.folder.rstrip("/") + "/") if output.folder else "the destination"
    return f"{n}. {opts.to.upper()} → {where}" + (f"  ({details[0]})" if details else "")


class RenditionList(QWidget):
    """The outputs, one row each (shown from two on), and the buttons that add and remove one."""

    current_changed = Signal(int)
    add_requested = Signal()
    remove_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("renditions")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.list = QListWidget()
        self.list.setObjectName("renditionList")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # Long rows are elided (the tooltip has them whole): the dialog must not grow sideways at 1024 px.
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setUniformItemSizes(True)
        self.list.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.list.setToolTip("Each output is its own job, written from the same decode of every source frame; "
                             "select one to edit its options below")
        self.list.currentRowChanged.connect(self.current_changed)
        layout.addWidget(self.list)
        buttons = QHBoxLayout()
        self.add_button = QPushButton(icon("add"), "Add Rendition")
        self.add_button.setObjectName("addRenditionButton")
        self.add_button.setAutoDefault(False)
        self.add_button.setToolTip("One more output of the same decode (e.g. JPEG proxies beside an EXR master), "
                                   "into a folder of its own")
        self.add_button.clicked.connect(self.add_requested)
        self.remove_button = QToolButton()
        self.remove_button.setObjectName("removeRenditionButton")
        self.remove_button.setIcon(icon("remove"))
        self.remove_button.setText("Remove")
        self.remove_button.setToolTip("Do not write the selected output")
        self.remove_button.clicked.connect(self.remove_requested)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

    def show_outputs(self, outputs: list[PresetOutput], current: int) -> None:
        """List `outputs` with row `current` selected; the list shows only from two outputs on."""
        self.list.blockSignals(True)
        while self.list.count() > len(outputs):
            self.list.takeItem(self.list.count() - 1)
        for n, output in enumerate(outputs):
            item = self.list.item(n)
            if item is None:
                item = QListWidgetItem()
                self.list.addItem(item)
            item.setText(output_text(n + 1, output))
            item.setToolTip(f"{item.text()}\n{describe_options(output.options)}")
        self.list.setCurrentRow(current)
        self.list.blockSignals(False)
        several = len(outputs) > 1
        self.list.setVisible(several)
        self.remove_button.setVisible(several)
        if several:
            rows = min(len(outputs), LIST_ROWS)
            self.list.setFixedHeight(rows * max(self.list.sizeHintForRow(0), 18) + 2 * self.list.frameWidth() + 2)
