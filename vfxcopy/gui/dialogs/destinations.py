"""The New job dialog's "Also copy to" rows: more destinations of a copy, each its own job, one read."""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vfxcopy.gui.resources import icon

# (parent, start folder) -> the chosen folder or None; the dialog passes new_job.choose_folder.
ChooseFolder = Callable[[QWidget, str], "str | None"]


def normalise(text: str) -> str:
    """A typed folder as the dialog plans with it ('' stays '')."""
    text = text.strip()
    return os.path.normpath(os.path.expanduser(text)) if text else ""


class AlsoDestinations(QWidget):
    """Rows of extra destination folders (line edit, Choose…, remove) and an Add button that asks for one."""

    changed = Signal()

    def __init__(self, choose: ChooseFolder, start: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alsoDestinations")
        self._choose = choose
        self._start = start  # where the folder picker opens (the main destination, a recent folder)
        self._rows: list[QWidget] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self._rows_layout = QVBoxLayout()
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        self._rows_layout.setSpacing(4)
        layout.addLayout(self._rows_layout)
        bottom = QHBoxLayout()
        self.add_button = QPushButton(icon("add-folder"), "Add Destination…")
        self.add_button.setObjectName("addDestinationButton")
        self.add_button.setToolTip("Copy the same frames to one more folder (a backup drive, a second "
                                   "facility): read once, written to every destination at the same time")
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(self._on_add)
        bottom.addWidget(self.add_button)
        bottom.addStretch(1)
        layout.addLayout(bottom)

    # -- state --
    def edits(self) -> list[QLineEdit]:
        return [edit for row in self._rows if (edit := row.findChild(QLineEdit, "alsoEdit")) is not None]

    def paths(self) -> list[str]:
        """The extra destinations as typed or chosen, normalised; '' for an empty row."""
        return [normalise(edit.text()) for edit in self.edits()]

    def count(self) -> int:
        return len(self._rows)

    # -- changing --
    def add_destination(self, path: str = "") -> QLineEdit:
        """A new row holding `path`; returns its line edit."""
        row = QWidget(self)
        row.setObjectName("alsoRow")
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        edit = QLineEdit(path)
        edit.setObjectName("alsoEdit")
        edit.setPlaceholderText("Another folder to copy into")
        edit.setToolTip(path)
        edit.textChanged.connect(edit.setToolTip)  # the whole path: the field shows its end only
        edit.textChanged.connect(self.changed)
        choose = QPushButton("Choose…")
        choose.setObjectName("alsoChooseButton")
        choose.setAutoDefault(False)
        choose.clicked.connect(lambda _checked=False, e=edit: self._choose_into(e))
        remove = QToolButton()
        remove.setObjectName("alsoRemoveButton")
        remove.setIcon(icon("remove"))
        remove.setText("Remove")
        remove.setToolTip("Do not copy to this folder")
        remove.clicked.connect(lambda _checked=False, r=row: self.remove_row(self._rows.index(r)))
        line.addWidget(edit, 1)
        line.addWidget(choose)
        line.addWidget(remove)
        self._rows.append(row)
        self._rows_layout.addWidget(row)
        row.show()  # now, not at the layout's next turn: the dialog measures and validates it at once
        self.changed.emit()
        return edit

    def remove_row(self, index: int) -> None:
        row = self._rows.pop(index)
        self._rows_layout.removeWidget(row)
        row.hide()
        row.deleteLater()
        self.changed.emit()

    def set_paths(self, paths: list[str]) -> None:
        while self._rows:
            self.remove_row(len(self._rows) - 1)
        for path in paths:
            self.add_destination(path)

    # -- reactions --
    @Slot()
    def _on_add(self) -> None:
        path = self._choose(self, self._start())
        if path:
            self.add_destination(path).setFocus()

    def _choose_into(self, edit: QLineEdit) -> None:
        path = self._choose(self, edit.text().strip() or self._start())
        if path:
            edit.setText(path)
