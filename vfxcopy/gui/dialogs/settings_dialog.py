"""SettingsDialog: edits AppSettings (jobs at once, copy defaults, confirmations) and applies on OK."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
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
from vfxcopy.gui.dialogs.notify_fields import NotifyGroup
from vfxcopy.gui.farm_panel import BACKENDS
from vfxcopy.gui.farm_settings import BACKEND_KEYS, FarmSettings
from vfxcopy.gui.forms import form_row
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

        layout.addWidget(self._build_farm_group())
        # E-mail, chat and webhook messages and a hook command (the notify.* settings the CLI reads too).
        self.notify_group = NotifyGroup(self)
        self.notify_group.urls_edit.textChanged.connect(self._validate)
        layout.addWidget(self.notify_group)

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

    def _build_farm_group(self) -> QWidget:
        """Where "Run on: a farm" sends jobs (the same [farm] settings `vfxcopy farm submit` reads)."""
        farm = FarmSettings.load()
        box = QGroupBox("Farm")
        form = QFormLayout(box)
        self.farm_backend_combo = QComboBox()
        self.farm_backend_combo.setObjectName("farmBackendCombo")
        labels = dict(BACKENDS)
        for key in BACKEND_KEYS:
            self.farm_backend_combo.addItem(labels.get(key, key), key)
        self.farm_backend_combo.setCurrentIndex(max(0, self.farm_backend_combo.findData(farm.backend)))
        form_row(form, "Farm bac&kend:", self.farm_backend_combo)
        self.farm_partition_edit = QLineEdit(farm.partition)
        self.farm_partition_edit.setObjectName("farmPartitionEdit")
        self.farm_partition_edit.setPlaceholderText("The farm's default (or a SLURM partition, pool, show)")
        form_row(form, "&Queue / partition:", self.farm_partition_edit)
        self.farm_chunk_spin = QSpinBox()
        self.farm_chunk_spin.setObjectName("farmChunkSpin")
        self.farm_chunk_spin.setRange(0, 100_000)
        self.farm_chunk_spin.setSpecialValueText("sized by task time")
        self.farm_chunk_spin.setSuffix(" frames per task")
        self.farm_chunk_spin.setValue(farm.chunk)
        form_row(form, "&Chunk size:", self.farm_chunk_spin)
        self.farm_path_map_edit = QPlainTextEdit("\n".join(farm.path_map))
        self.farm_path_map_edit.setObjectName("farmPathMapEdit")
        self.farm_path_map_edit.setPlaceholderText("One rule a line: /mnt/projects=/net/projects")
        self.farm_path_map_edit.setFixedHeight(64)
        self.farm_path_map_edit.setTabChangesFocus(True)
        self.farm_path_map_edit.textChanged.connect(self._validate)
        form_row(form, "&Path mapping:", self.farm_path_map_edit)
        return box

    @Slot()
    def _validate(self) -> None:
        try:
            parse_bwlimit(self.bwlimit_edit.text())
            error = ""
        except ValueError as exc:
            error = str(exc)[:1].upper() + str(exc)[1:] + "."
        if not error and hasattr(self, "farm_path_map_edit"):
            try:
                FarmSettings.parse_path_map(self.farm_path_map_edit.toPlainText())
            except ValueError as exc:
                error = f"Path mapping: {exc}."
        if not error and hasattr(self, "notify_group"):
            error = self.notify_group.error()
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
        self.notify_group.apply()
        FarmSettings(str(self.farm_backend_combo.currentData()), self.farm_partition_edit.text().strip(),
                     self.farm_chunk_spin.value(),
                     FarmSettings.parse_path_map(self.farm_path_map_edit.toPlainText())).save()

    def accept(self) -> None:
        try:
            self.apply()
        except ValueError as exc:
            self.error_label.setText(str(exc))
            return
        super().accept()
