"""The New job dialog's fields (operation, destination, frames and names, verification and safety)."""

from __future__ import annotations

import os

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from vfxcopy.core.jobs import Operation, VerifyMode
from vfxcopy.gui.dialogs.destinations import AlsoDestinations
from vfxcopy.gui.dialogs.job_options import CONFLICT_LABELS, HASH_LABELS, VERIFY_LABELS, labelled_combo
from vfxcopy.gui.dialogs.new_job_check import policy_combo
from vfxcopy.gui.forms import form_row
from vfxcopy.gui.settings import AppSettings, format_bwlimit


class JobFields(QDialog):
    """Builds the field groups of NewJobDialog (its base class); every edit calls `_validate`."""

    _settings: AppSettings

    def _validate(self) -> None:
        raise NotImplementedError

    def _on_operation_changed(self) -> None:
        raise NotImplementedError

    def _on_destinations_changed(self) -> None:
        raise NotImplementedError

    # -- building --
    def _build_operation_group(self) -> QWidget:
        box = QGroupBox("Operation")
        form = QFormLayout(box)
        self.operation_combo = QComboBox()
        self.operation_combo.setObjectName("operationCombo")
        self.operation_combo.addItem("Copy", Operation.COPY)
        self.operation_combo.addItem("Convert", Operation.CONVERT)
        self.operation_combo.currentIndexChanged.connect(self._on_operation_changed)
        form_row(form, "&Operation:", self.operation_combo)
        return box

    def _build_destination_group(self) -> QWidget:
        box = QGroupBox("Destination")
        form = QFormLayout(box)
        row = QHBoxLayout()
        self.destination_edit = QLineEdit()
        self.destination_edit.setObjectName("destinationEdit")
        self.destination_edit.setPlaceholderText("Folder to write into")
        self.destination_edit.textChanged.connect(self._validate)
        self.browse_button = QPushButton("Choose…")
        self.browse_button.setObjectName("browseButton")
        self.browse_button.clicked.connect(self._on_browse)
        row.addWidget(self.destination_edit, 1)
        row.addWidget(self.browse_button)
        form_row(form, "&Folder:", self.destination_edit, row)
        self.recent_combo = QComboBox()
        self.recent_combo.setObjectName("recentCombo")
        recent = self._settings.recent_destinations
        self.recent_combo.addItem("Recent destinations…" if recent else "No recent destinations", "")
        for path in recent:
            self.recent_combo.addItem(path, path)
        self.recent_combo.setEnabled(bool(recent))
        self.recent_combo.activated.connect(self._on_recent_chosen)
        form_row(form, "&Recent:", self.recent_combo)
        # A copy can go to several folders at once: one job per folder, the source read once.
        self.also = AlsoDestinations(_choose_folder, self._picker_start, box)
        self.also.changed.connect(self._on_destinations_changed)
        self.also_label = form_row(form, "Also copy &to:", self.also.add_button, self.also)
        self._destination_form = form
        return box

    def _build_frames_group(self) -> QWidget:
        box = QGroupBox("Frames and names")
        form = QFormLayout(box)
        self.frames_edit = QLineEdit()
        self.frames_edit.setObjectName("framesEdit")
        self.frames_edit.setPlaceholderText("All frames (or e.g. 1001-1100,1200)")
        self.frames_edit.textChanged.connect(self._validate)
        form_row(form, "Fr&ames:", self.frames_edit)
        self.rename_edit = QLineEdit()
        self.rename_edit.setObjectName("renameEdit")
        self.rename_edit.setPlaceholderText("Keep the name (or e.g. sh010_comp_v002.)")
        self.rename_edit.textChanged.connect(self._validate)
        form_row(form, "New hea&d:", self.rename_edit)
        numbering = QHBoxLayout()
        self.numbering_combo = QComboBox()
        self.numbering_combo.setObjectName("numberingCombo")
        self.numbering_combo.addItem("Keep frame numbers", "keep")
        self.numbering_combo.addItem("Add an offset", "offset")
        self.numbering_combo.addItem("Renumber from", "start")
        self.number_spin = QSpinBox()
        self.number_spin.setObjectName("numberSpin")
        self.number_spin.setRange(-10_000_000, 10_000_000)
        self.number_spin.setValue(0)
        self.numbering_combo.currentIndexChanged.connect(self._on_numbering_changed)
        self.number_spin.valueChanged.connect(self._validate)
        numbering.addWidget(self.numbering_combo, 1)
        numbering.addWidget(self.number_spin)
        form_row(form, "&Numbering:", self.numbering_combo, numbering)
        self._on_numbering_changed()
        return box

    def _build_safety_group(self) -> QWidget:
        box = QGroupBox("Verification and safety")
        form = QFormLayout(box)
        self.verify_combo = labelled_combo("verifyCombo", VERIFY_LABELS, self._settings.default_verify)
        form_row(form, "&Verify:", self.verify_combo)
        self.hash_combo = labelled_combo("hashCombo", HASH_LABELS, self._settings.default_hash)
        form_row(form, "&Hash:", self.hash_combo)
        self.verify_combo.currentIndexChanged.connect(self._on_verify_changed)
        self._on_verify_changed()
        self.conflict_combo = labelled_combo("conflictCombo", CONFLICT_LABELS, self._settings.default_conflict)
        form_row(form, "If a file &exists:", self.conflict_combo)
        self.fsync_check = QCheckBox("Flush each frame to disk (fs&ync)")
        self.fsync_check.setObjectName("fsyncCheck")
        self.fsync_check.setChecked(self._settings.fsync)
        form.addRow("", self.fsync_check)
        self.bwlimit_edit = QLineEdit()
        self.bwlimit_edit.setObjectName("bwlimitEdit")
        self.bwlimit_edit.setPlaceholderText("Unlimited (or e.g. 50M = 50 MiB per second)")
        self.bwlimit_edit.setText(format_bwlimit(self._settings.bwlimit))
        self.bwlimit_edit.textChanged.connect(self._validate)
        form_row(form, "Bandwidth &limit:", self.bwlimit_edit)
        self.preflight_combo = policy_combo(self._settings)
        self.preflight_combo.currentIndexChanged.connect(self._validate)
        form_row(form, "Pre-fli&ght:", self.preflight_combo)
        return box

    # -- reactions --
    @Slot()
    def _on_verify_changed(self) -> None:
        self.hash_combo.setEnabled(VerifyMode(self.verify_combo.currentData()) is not VerifyMode.NONE)

    @Slot()
    def _on_numbering_changed(self) -> None:
        mode = self.numbering_combo.currentData()
        self.number_spin.setEnabled(mode != "keep")
        if mode == "start" and self.number_spin.value() == 0:
            self.number_spin.setValue(1001)
        self._validate()

    def _picker_start(self) -> str:
        recent = self._settings.recent_destinations
        return self.destination_edit.text().strip() or (recent[0] if recent else os.path.expanduser("~"))

    @Slot()
    def _on_browse(self) -> None:
        path = _choose_folder(self, self._picker_start())
        if path:
            self.destination_edit.setText(path)

    @Slot(int)
    def _on_recent_chosen(self, index: int) -> None:
        path = self.recent_combo.itemData(index)
        if path:
            self.destination_edit.setText(path)


def _choose_folder(parent: QWidget, start: str) -> str | None:
    # Looked up on the module at call time so that tests can replace it.
    from vfxcopy.gui.dialogs import new_job

    return new_job.choose_folder(parent, start)
