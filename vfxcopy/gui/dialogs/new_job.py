"""NewJobDialog: the sequences a drop brought in, and what to do with them, as JobSpecs."""

from __future__ import annotations

import os
from dataclasses import replace

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from vfxcopy.core.jobs import (
    ConflictPolicy,
    ConvertOptions,
    CopyOptions,
    HashAlgo,
    JobSpec,
    Operation,
    VerifyMode,
)
from vfxcopy.core.naming import dest_names  # noqa: F401 - re-exported: the names the engine writes
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.units import format_size, plural
from vfxcopy.gui.dialogs.convert_options import ConvertGroup
from vfxcopy.gui.dialogs.job_options import (
    CONFLICT_LABELS,
    ERROR_COLOUR,
    HASH_LABELS,
    RESIZE_RE,
    VERIFY_LABELS,
    WARNING_COLOUR,
    convert_problem,
    dest_inside_source,
    free_space,
    labelled_combo,
    name_problem,
    parse_frame_text,
    sentence,
)
from vfxcopy.gui.dialogs.sequence_list import COL_SEQUENCE, SequenceList  # noqa: F401 - re-exported
from vfxcopy.gui.forms import form_row
from vfxcopy.gui.settings import AppSettings, format_bwlimit, parse_bwlimit
from vfxcopy.gui.thumbs import ThumbnailLoader

SIZE_KEY = "dialogs/new_job_size"


def choose_folder(parent: QWidget | None, start: str) -> str | None:
    """Ask for a destination folder; tests replace this function (call it through the module)."""
    path = QFileDialog.getExistingDirectory(parent, "Destination folder", start)
    return path or None


def ask_preset_name(parent: QWidget | None, suggestion: str) -> str | None:
    """Ask for a name for a new user preset; tests replace this function."""
    name, ok = QInputDialog.getText(parent, "Save preset", "Preset name:", text=suggestion)
    return (name.strip() or None) if ok else None


def _ask_preset_name(parent: QWidget, suggestion: str) -> str | None:
    from vfxcopy.gui.dialogs import new_job  # looked up at call time so that tests can replace it

    return new_job.ask_preset_name(parent, suggestion)


class NewJobDialog(QDialog):
    """Lists dropped sequences with their ranges, gaps and sizes; `specs()` after accept."""

    def __init__(
        self,
        sequences: list[Sequence],
        settings: AppSettings,
        parent: QWidget | None = None,
        loader: ThumbnailLoader | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("newJobDialog")
        self.setWindowTitle("New job")
        self.setSizeGripEnabled(True)
        self._settings = settings
        self._sequences = list(sequences)
        self._owns_loader = loader is None
        self._loader = loader if loader is not None else ThumbnailLoader(self)
        self._accepted_specs: list[JobSpec] = []

        self.sequence_list = SequenceList(self._sequences, self._loader, self)
        self.sequence_list.itemChanged.connect(self._validate)
        self.convert_group = ConvertGroup(_ask_preset_name, self)
        self.convert_group.changed.connect(self._validate)
        options = QWidget()
        columns = QHBoxLayout(options)
        columns.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        left.addWidget(self._build_operation_group())
        left.addWidget(self._build_destination_group())
        left.addWidget(self._build_frames_group())
        left.addStretch(1)
        columns.addLayout(left, 1)
        right = QVBoxLayout()
        right.addWidget(self.convert_group)
        right.addWidget(self._build_safety_group())
        right.addStretch(1)
        columns.addLayout(right, 1)
        # The options scroll when the dialog is short; the splitter lets the list take the room.
        scroll = QScrollArea()
        scroll.setObjectName("optionsScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(options)
        self._options = options
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("newJobSplitter")
        self.splitter.addWidget(self.sequence_list)
        self.splitter.addWidget(scroll)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter, 1)

        self.summary_label = QLabel()
        self.summary_label.setObjectName("summaryLabel")
        layout.addWidget(self.summary_label)
        self.warning_label = self._message_label("warningLabel", WARNING_COLOUR.name())
        layout.addWidget(self.warning_label)
        self.error_label = self._message_label("errorLabel", ERROR_COLOUR.name())
        layout.addWidget(self.error_label)

        self.button_box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.button_box.setObjectName("buttonBox")
        self.ok_button = self.button_box.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setObjectName("okButton")
        self.ok_button.setText("Queue")
        self.button_box.accepted.connect(self.accept)
        self.button_box.rejected.connect(self.reject)
        layout.addWidget(self.button_box)

        self._on_operation_changed()
        self._validate()
        self._fitted = False
        self.resize(980, 760)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._fitted:
            # Sizes are known once the widgets are polished (hidden groups no longer count).
            self._fitted = True
            self._fit_to_screen(len(self._sequences))

    def _message_label(self, name: str, colour: str) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setStyleSheet(f"color: {colour};")
        return label

    def _fit_to_screen(self, rows: int) -> None:
        """Room for every option and up to a dozen rows of the list; never taller than the screen."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        row_height = max(self.sequence_list.sizeHintForRow(0) if rows else 30, 24)
        list_height = min(max(rows, 3), 12) * row_height + self.sequence_list.header().sizeHint().height() + 6
        options_height = self._options.sizeHint().height() + 4
        chrome = 150  # summary, messages, buttons, margins, the window frame
        height, width = list_height + options_height + chrome, 980
        if avail is not None:
            height = min(height, avail.height() - 40)
            width = min(width, avail.width() - 40)
        # The options first (they scroll when even they do not fit), the list gets the rest.
        options_height = min(options_height, max(160, height - chrome - 4 * row_height))
        self.resize(width, height)
        self.splitter.setSizes([max(3 * row_height, height - chrome - options_height), options_height])

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
        return box

    # -- reactions --
    @Slot()
    def _on_operation_changed(self) -> None:
        converting = self.operation() is Operation.CONVERT
        self.convert_group.setEnabled(converting)
        # A copy has no conversion options: their room goes to the sequence list.
        self.convert_group.setVisible(converting)
        if converting and hasattr(self, "_options"):
            # Make room for the conversion options the list had.
            sizes = self.splitter.sizes()
            need = self._options.sizeHint().height() + 4
            if len(sizes) == 2 and sizes[1] < need:
                total = sum(sizes)
                self.splitter.setSizes([max(120, total - need), min(need, total - 120)])
        self._validate()

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

    @Slot()
    def _on_browse(self) -> None:
        recent = self._settings.recent_destinations
        start = self.destination_edit.text().strip() or (recent[0] if recent else os.path.expanduser("~"))
        # Looked up on the module at call time so that tests can replace it.
        from vfxcopy.gui.dialogs import new_job

        path = new_job.choose_folder(self, start)
        if path:
            self.destination_edit.setText(path)

    @Slot(int)
    def _on_recent_chosen(self, index: int) -> None:
        path = self.recent_combo.itemData(index)
        if path:
            self.destination_edit.setText(path)

    # -- state --
    def checked_sequences(self) -> list[Sequence]:
        return self.sequence_list.checked_sequences()

    def operation(self) -> Operation:
        # Qt hands str-based enums back from item data as plain strings.
        return Operation(self.operation_combo.currentData())

    def destination(self) -> str:
        text = self.destination_edit.text().strip()
        return os.path.normpath(os.path.expanduser(text)) if text else ""

    def _check_destination(self, checked: list[Sequence]) -> str:
        dest = self.destination()
        if not dest:
            raise ValueError("Choose a destination folder.")
        if not os.path.isabs(dest):
            raise ValueError(f"Give the full path of the destination folder ({dest} is relative).")
        if os.path.exists(dest) and not os.path.isdir(dest):
            raise ValueError(f"The destination {dest} is a file, not a folder.")
        for seq in checked:
            message = dest_inside_source(dest, seq.directory or ".")
            if message:
                raise ValueError(message)
        return dest

    def _convert_options(self) -> ConvertOptions:
        convert = self.convert_group.options()
        if convert.resize and not RESIZE_RE.match(convert.resize):
            raise ValueError(f"Resize {convert.resize!r}: use a percentage like 50% or a size like 1920x1080.")
        problem = convert_problem(convert)
        if problem:
            raise ValueError(problem)
        return convert

    def _build_specs(self) -> list[JobSpec]:
        """Specs for the current choices; raises ValueError with the reason when they are not valid."""
        checked = self.checked_sequences()
        if not checked:
            raise ValueError("Tick at least one sequence to queue.")
        dest = self._check_destination(checked)
        try:
            frames = parse_frame_text(self.frames_edit.text())
        except ValueError as exc:
            text = str(exc).rstrip(".")
            message = sentence(text) if "frame" in text.lower() else f"Frame range: {text}"
            raise ValueError(f"{message}.") from exc
        head = self.rename_edit.text()
        rename = head if head.strip() else None
        if rename is not None:
            problem = name_problem(rename)
            if problem:
                raise ValueError(problem)
            tails = [s.tail for s in checked]
            if len(set(tails)) < len(tails):
                raise ValueError("Renaming several sequences with the same extension to one head would "
                                 "make them overwrite each other: queue them one at a time.")
        try:
            bwlimit = parse_bwlimit(self.bwlimit_edit.text())
        except ValueError as exc:
            raise ValueError(sentence(str(exc)) + ".") from exc
        operation = self.operation()
        convert = self._convert_options() if operation is Operation.CONVERT else None
        copy = CopyOptions(
            verify=VerifyMode(self.verify_combo.currentData()),
            hash_algo=HashAlgo(self.hash_combo.currentData()),
            on_conflict=ConflictPolicy(self.conflict_combo.currentData()),
            fsync=self.fsync_check.isChecked(),
            bwlimit=bwlimit,
        )
        mode = self.numbering_combo.currentData()
        specs = []
        for seq in checked:
            selected: list[int] | None = None
            if frames is not None and not seq.is_single:
                have = set(seq.frames)
                selected = [f for f in frames if f in have]
                if not selected:
                    raise ValueError(
                        f"Frame range: none of the frames asked for are in {seq.nuke_name()} "
                        f"({seq.frame_set_str()})."
                    )
            first = (selected or list(seq.frames) or [0])[0]
            offset = {"offset": self.number_spin.value(), "start": self.number_spin.value() - first}.get(mode, 0)
            specs.append(JobSpec(source=seq, dest_dir=dest, operation=operation, frames=selected,
                                 rename_head=rename, offset=offset, copy=replace(copy),
                                 convert=replace(convert) if convert is not None else None, origin="gui"))
        return specs

    def validation_error(self) -> str:
        """Why Queue is disabled ('' when everything is valid)."""
        try:
            self._build_specs()
        except ValueError as exc:
            return str(exc)
        return ""

    @Slot()
    def _validate(self) -> None:
        if not hasattr(self, "ok_button"):
            return  # still building the widgets
        try:
            specs = self._build_specs()
            error = ""
        except ValueError as exc:
            specs, error = [], str(exc)
        self.error_label.setText(error)
        self.error_label.setVisible(bool(error))
        self.ok_button.setEnabled(not error)
        self.ok_button.setToolTip(error)
        self._update_summary(specs)
        self.warning_label.setVisible(bool(self.warning_label.text()))

    def _update_summary(self, specs: list[JobSpec]) -> None:
        if not specs:
            self.summary_label.setText("")
            self.warning_label.setText("")
            return
        frames = sum(len(spec.selected_frames()) or 1 for spec in specs)
        size = 0
        for spec in specs:
            whole = self.sequence_list.sizes.get(id(spec.source)) or 0
            count = len(spec.source.frames) or 1
            size += whole * (len(spec.selected_frames()) or 1) // count
        self.summary_label.setText(f"{plural(len(specs), 'job')} · {plural(frames, 'frame')} · {format_size(size)}")
        free = free_space(specs[0].dest_dir)
        warning = ""
        if specs[0].operation is Operation.COPY and free is not None and size > free:
            warning = f"Only {format_size(free)} free at the destination for {format_size(size)}."
        self.warning_label.setText(warning)

    def accept(self) -> None:
        try:
            specs = self._build_specs()
        except ValueError as exc:
            self.error_label.setText(str(exc))
            self.error_label.setVisible(True)
            self.ok_button.setEnabled(False)
            return
        # Files already at the destination are asked about by the window, once per job, after this.
        self._accepted_specs = specs
        self._settings.add_recent_destination(self.destination())
        super().accept()

    def specs(self) -> list[JobSpec]:
        """One JobSpec per ticked sequence, as accepted (or for the current choices before that)."""
        if self._accepted_specs:
            return list(self._accepted_specs)
        try:
            return self._build_specs()
        except ValueError:
            return []

    def done(self, result: int) -> None:
        if self._owns_loader:
            self._loader.shutdown(5000)
        super().done(result)
