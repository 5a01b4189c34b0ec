"""SettingsDialog: edits AppSettings (jobs at once, copy defaults, confirmations) and applies on OK."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vfxcopy.core.jobs import ConflictPolicy, HashAlgo, VerifyMode
from vfxcopy.gui.dialogs.job_options import (
    CONFLICT_LABELS,
    ERROR_COLOUR,
    HASH_LABELS,
    VERIFY_LABELS,
    labelled_combo,
)
from vfxcopy.gui.settings import AppSettings, format_bwlimit, parse_bwlimit


class SettingsDialog(QDialog):
    """Shows the current settings; nothing is written until OK."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self._settings = settings
        layout = QVBoxLayout(self)

        jobs = QGroupBox("Queue")
        form = QFormLayout(jobs)
        self.jobs_spin = QSpinBox()
        self.jobs_spin.setObjectName("jobsAtOnceSpin")
        self.jobs_spin.setRange(1, 64)
        self.jobs_spin.setValue(settings.jobs_at_once)
        self.jobs_spin.setMaximumWidth(110)
        self.jobs_spin.setToolTip("How many jobs run at the same time; the others wait as pending.")
        form.addRow("&Jobs at once:", self.jobs_spin)
        layout.addWidget(jobs)

        defaults = QGroupBox("Defaults for new jobs")
        form = QFormLayout(defaults)
        self.verify_combo = labelled_combo("verifyCombo", VERIFY_LABELS, settings.default_verify)
        form.addRow("&Verification:", self.verify_combo)
        self.hash_combo = labelled_combo("hashCombo", HASH_LABELS, settings.default_hash)
        form.addRow("&Hash:", self.hash_combo)
        self.conflict_combo = labelled_combo("conflictCombo", CONFLICT_LABELS, settings.default_conflict)
        form.addRow("If a file &exists:", self.conflict_combo)
        self.fsync_check = QCheckBox("Flush each frame to disk (fsync)")
        self.fsync_check.setObjectName("fsyncCheck")
        self.fsync_check.setChecked(settings.fsync)
        form.addRow("", self.fsync_check)
        self.bwlimit_edit = QLineEdit(format_bwlimit(settings.bwlimit))
        self.bwlimit_edit.setObjectName("bwlimitEdit")
        self.bwlimit_edit.setPlaceholderText("Unlimited (or e.g. 50M = 50 MiB per second)")
        self.bwlimit_edit.textChanged.connect(self._validate)
        form.addRow("&Bandwidth limit per job:", self.bwlimit_edit)
        layout.addWidget(defaults)

        confirm = QGroupBox("Ask before")
        box = QVBoxLayout(confirm)
        self.confirm_cancel_check = QCheckBox("Cancelling a job")
        self.confirm_cancel_check.setObjectName("confirmCancelCheck")
        self.confirm_cancel_check.setChecked(settings.confirm_cancel)
        # The conflict question: which files already exist, and what to do with each.
        self.confirm_overwrite_check = QCheckBox("Queueing a job whose files already exist at the destination")
        self.confirm_overwrite_check.setObjectName("confirmOverwriteCheck")
        self.confirm_overwrite_check.setChecked(settings.confirm_overwrite)
        box.addWidget(self.confirm_cancel_check)
        box.addWidget(self.confirm_overwrite_check)
        layout.addWidget(confirm)

        self.error_label = QLabel()
        self.error_label.setObjectName("errorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {ERROR_COLOUR.name()};")
        layout.addWidget(self.error_label)

        self.button_box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.button_box.setObjectName("buttonBox")
        self.ok_button = self.button_box.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setObjectName("okButton")
        self.button_box.accepted.connect(self.accept)
        self.button_box.rejected.connect(self.reject)
        layout.addWidget(self.button_box)
        self._validate()

    @Slot()
    def _validate(self) -> None:
        try:
            parse_bwlimit(self.bwlimit_edit.text())
            error = ""
        except ValueError as exc:
            error = str(exc)[:1].upper() + str(exc)[1:] + "."
        self.error_label.setText(error)
        self.ok_button.setEnabled(not error)

    def apply(self) -> None:
        """Write the dialog's values into the settings."""
        settings = self._settings
        settings.jobs_at_once = self.jobs_spin.value()
        settings.default_verify = VerifyMode(self.verify_combo.currentData())
        settings.default_hash = HashAlgo(self.hash_combo.currentData())
        settings.default_conflict = ConflictPolicy(self.conflict_combo.currentData())
        settings.fsync = self.fsync_check.isChecked()
        settings.bwlimit = parse_bwlimit(self.bwlimit_edit.text())
        settings.confirm_cancel = self.confirm_cancel_check.isChecked()
        settings.confirm_overwrite = self.confirm_overwrite_check.isChecked()
        settings.sync()

    def accept(self) -> None:
        try:
            self.apply()
        except ValueError as exc:
            self.error_label.setText(str(exc))
            return
        super().accept()
