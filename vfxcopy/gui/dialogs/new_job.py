"""NewJobDialog: the sequences a drop brought in, and what to do with them, as JobSpecs."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vfxcopy.core.errors import SafetyError
from vfxcopy.core.jobs import (
    ConflictPolicy,
    ConvertOptions,
    CopyOptions,
    HashAlgo,
    JobSpec,
    Operation,
    VerifyMode,
)
from vfxcopy.core.presets import is_builtin, list_presets, save_user_preset
from vfxcopy.core.safety import check_name, is_same_or_inside
from vfxcopy.core.sequence import Sequence, format_frames, parse_frames
from vfxcopy.gui.settings import AppSettings, parse_bwlimit
from vfxcopy.gui.thumbs import ThumbnailLoader

THUMB_SIZE = 96
WARNING_COLOUR = QColor("#d98c00")
ERROR_COLOUR = QColor("#d0362c")

# Columns of the sequence list.
COL_SEQUENCE, COL_RANGE, COL_FRAMES, COL_MISSING, COL_SIZE = range(5)
COLUMN_TITLES = ("Sequence", "Range", "Frames", "Missing", "Size")

FORMATS = ("exr", "dpx", "tif", "png", "jpg", "mp4", "mov")
DATA_FORMATS = ("", "half", "float", "uint8", "uint10", "uint16")
COMPRESSIONS = ("", "zip", "piz", "dwaa:45", "dwab", "none", "lzw")
COLOUR_SPACES = ("", "ACEScg", "ACES2065-1", "ACEScct", "Linear Rec.709 (sRGB)", "sRGB - Display",
                 "Rec.1886 Rec.709 - Display")
_RESIZE_RE = re.compile(r"^\s*(\d+(\.\d+)?%|\d+x\d+)\s*$")

VERIFY_LABELS = {
    VerifyMode.NONE: "None",
    VerifyMode.TRANSFER: "Hash while copying",
    VerifyMode.FULL: "Hash, then read back",
}
HASH_LABELS = {HashAlgo.XXH3: "xxh3-128", HashAlgo.XXH64: "xxh64", HashAlgo.MD5: "MD5"}
CONFLICT_LABELS = {
    ConflictPolicy.SKIP: "Skip existing files",
    ConflictPolicy.SKIP_IDENTICAL: "Skip identical, fail if different",
    ConflictPolicy.OVERWRITE: "Overwrite",
    ConflictPolicy.RENAME: "Keep both (new versioned name)",
    ConflictPolicy.FAIL: "Fail the frame",
}
CUSTOM_PRESET = "Custom"


def labelled_combo(object_name: str, labels: dict[Any, str], current: Any) -> QComboBox:
    """A combo box of `labels` (value -> text) with each value as item data, `current` selected."""
    combo = QComboBox()
    combo.setObjectName(object_name)
    for value, label in labels.items():
        combo.addItem(label, value)
    combo.setCurrentIndex(combo.findData(current))
    return combo


def choose_folder(parent: QWidget | None, start: str) -> str | None:
    """Ask for a destination folder; tests replace this function (call it through the module)."""
    path = QFileDialog.getExistingDirectory(parent, "Destination folder", start)
    return path or None


def ask_preset_name(parent: QWidget | None, suggestion: str) -> str | None:
    """Ask for a name for a new user preset; tests replace this function."""
    name, ok = QInputDialog.getText(parent, "Save preset", "Preset name:", text=suggestion)
    return (name.strip() or None) if ok else None


def human_size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def sequence_size(seq: Sequence) -> int | None:
    """Bytes on disk: the scanner's figure, else a stat of every frame (None if none is readable)."""
    if seq.total_size is not None:
        return seq.total_size
    total, seen = 0, False
    for path in seq.paths():
        try:
            total += path.stat().st_size
            seen = True
        except OSError:
            continue
    return total if seen else None


def parse_frame_text(text: str) -> list[int] | None:
    """'' -> None (all frames); else the sorted frames. Raises ValueError with a readable message."""
    text = text.strip()
    if not text:
        return None
    frames = parse_frames(text)
    if not frames:
        raise ValueError("no frames given")
    return list(frames)


def dest_inside_source(dest: str, source_dir: str) -> str | None:
    """A message if `dest` is the source folder or inside it, else None."""
    if is_same_or_inside(dest, source_dir):
        return f"The destination {dest} is inside the source folder {source_dir}: choose a folder outside it."
    return None


def _check_name(name: str) -> str | None:
    try:
        check_name(name, "new name")
    except SafetyError as exc:
        return _sentence(str(exc))
    return None


def _convert_problem(opts: ConvertOptions) -> str | None:
    """The conversion engine's own objection to these options, as a sentence (None if fine)."""
    # Imported here: the conversion engine loads OpenImageIO, which only conversions need.
    from vfxcopy.core.convert import validate_options

    try:
        validate_options(opts)
    except ValueError as exc:
        text = str(exc)
        return f"Conversion: {text}." if not text.endswith(".") else f"Conversion: {text}"
    return None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def dest_names(spec: JobSpec) -> list[str]:
    """The file names the job will write (for the overwrite question): the engine's own naming."""
    from vfxcopy.core.naming import planned_names

    return planned_names(spec)


def free_space(path: str) -> int | None:
    """Free bytes on the file system that `path` (or its nearest existing parent) is on."""
    probe = path
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def _placeholder_icon() -> QIcon:
    pixmap = QPixmap(THUMB_SIZE, THUMB_SIZE * 9 // 16)
    pixmap.fill(QColor("#3a3a3a"))
    return QIcon(pixmap)


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
        self._settings = settings
        self._sequences = list(sequences)
        self._owns_loader = loader is None
        self._loader = loader if loader is not None else ThumbnailLoader(self)
        self._thumb_keys: dict[str, list[QTreeWidgetItem]] = {}
        self._filling_preset = False
        self._accepted_specs: list[JobSpec] = []
        self._presets: dict[str, ConvertOptions] = {}
        self._sizes: dict[int, int | None] = {}

        # Connected before the list asks for thumbnails: a cached one is emitted at once.
        self._loader.ready.connect(self._on_thumbnail)
        self._loader.failed.connect(self._on_thumbnail_failed)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_sequence_list(), 1)
        columns = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(self._build_operation_group())
        left.addWidget(self._build_destination_group())
        left.addWidget(self._build_frames_group())
        left.addStretch(1)
        columns.addLayout(left, 1)
        right = QVBoxLayout()
        right.addWidget(self._build_convert_group())
        right.addWidget(self._build_safety_group())
        right.addStretch(1)
        columns.addLayout(right, 1)
        layout.addLayout(columns)

        self.summary_label = QLabel()
        self.summary_label.setObjectName("summaryLabel")
        layout.addWidget(self.summary_label)
        self.warning_label = QLabel()
        self.warning_label.setObjectName("warningLabel")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet(f"color: {WARNING_COLOUR.name()};")
        layout.addWidget(self.warning_label)
        self.error_label = QLabel()
        self.error_label.setObjectName("errorLabel")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {ERROR_COLOUR.name()};")
        layout.addWidget(self.error_label)

        self.button_box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.button_box.setObjectName("buttonBox")
        self.ok_button = self.button_box.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setObjectName("okButton")
        self.ok_button.setText("Queue")
        self.button_box.accepted.connect(self.accept)
        self.button_box.rejected.connect(self.reject)
        layout.addWidget(self.button_box)

        self._load_presets()
        self._on_operation_changed()
        self._validate()
        self.resize(920, 720)

    # -- building --
    def _build_sequence_list(self) -> QWidget:
        tree = QTreeWidget()
        tree.setObjectName("sequenceList")
        tree.setColumnCount(len(COLUMN_TITLES))
        tree.setHeaderLabels(list(COLUMN_TITLES))
        tree.setRootIsDecorated(False)
        tree.setUniformRowHeights(True)
        tree.setMinimumHeight(150)
        tree.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE * 9 // 16))
        tree.header().setSectionResizeMode(COL_SEQUENCE, QHeaderView.ResizeMode.Stretch)
        tree.header().setStretchLastSection(False)
        placeholder = _placeholder_icon()
        for seq in self._sequences:
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
                tip = f"Missing frames: {format_frames(missing)}"
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
            # Kept: the summary re-reads it on every keystroke, and a NAS stat is slow.
            self._sizes[id(seq)] = size
            item.setText(COL_SIZE, human_size(size))
            item.setTextAlignment(COL_SIZE, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            tree.addTopLevelItem(item)
            self._request_thumbnail(seq, item)
        for col in range(1, len(COLUMN_TITLES)):
            tree.resizeColumnToContents(col)
        tree.itemChanged.connect(self._validate)
        self.sequence_list = tree
        return tree

    def _build_operation_group(self) -> QWidget:
        box = QGroupBox("Operation")
        form = QFormLayout(box)
        self.operation_combo = QComboBox()
        self.operation_combo.setObjectName("operationCombo")
        self.operation_combo.addItem("Copy", Operation.COPY)
        self.operation_combo.addItem("Convert", Operation.CONVERT)
        self.operation_combo.currentIndexChanged.connect(self._on_operation_changed)
        form.addRow("&Operation:", self.operation_combo)
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
        folder_label = QLabel("&Folder:")
        folder_label.setBuddy(self.destination_edit)
        form.addRow(folder_label, row)
        self.recent_combo = QComboBox()
        self.recent_combo.setObjectName("recentCombo")
        recent = self._settings.recent_destinations
        self.recent_combo.addItem("Recent destinations…" if recent else "No recent destinations", "")
        for path in recent:
            self.recent_combo.addItem(path, path)
        self.recent_combo.setEnabled(bool(recent))
        self.recent_combo.activated.connect(self._on_recent_chosen)
        form.addRow("Recent:", self.recent_combo)
        return box

    def _build_frames_group(self) -> QWidget:
        box = QGroupBox("Frames and names")
        form = QFormLayout(box)
        self.frames_edit = QLineEdit()
        self.frames_edit.setObjectName("framesEdit")
        self.frames_edit.setPlaceholderText("All frames (or e.g. 1001-1100,1200)")
        self.frames_edit.textChanged.connect(self._validate)
        form.addRow("F&rames:", self.frames_edit)
        self.rename_edit = QLineEdit()
        self.rename_edit.setObjectName("renameEdit")
        self.rename_edit.setPlaceholderText("Keep the name (or e.g. sh010_comp_v002.)")
        self.rename_edit.textChanged.connect(self._validate)
        form.addRow("New &head:", self.rename_edit)
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
        numbering_label = QLabel("&Numbering:")
        numbering_label.setBuddy(self.numbering_combo)
        form.addRow(numbering_label, numbering)
        self._on_numbering_changed()
        return box

    def _build_convert_group(self) -> QWidget:
        box = QGroupBox("Conversion")
        box.setObjectName("convertGroup")
        form = QFormLayout(box)
        self.preset_combo = QComboBox()
        self.preset_combo.setObjectName("presetCombo")
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        self.save_preset_button = QPushButton("Save…")
        self.save_preset_button.setObjectName("savePresetButton")
        self.save_preset_button.setToolTip("Save these conversion options as a preset of your own")
        self.save_preset_button.clicked.connect(self._on_save_preset)
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset_combo, 1)
        preset_row.addWidget(self.save_preset_button)
        preset_label = QLabel("&Preset:")
        preset_label.setBuddy(self.preset_combo)
        form.addRow(preset_label, preset_row)
        self.format_combo = QComboBox()
        self.format_combo.setObjectName("formatCombo")
        self.format_combo.addItems(list(FORMATS))
        form.addRow("Fo&rmat:", self.format_combo)
        self.compression_combo = QComboBox()
        self.compression_combo.setObjectName("compressionCombo")
        self.compression_combo.setEditable(True)
        self.compression_combo.addItems(list(COMPRESSIONS))
        self._set_placeholder(self.compression_combo, "format default")
        form.addRow("&Compression:", self.compression_combo)
        self.data_format_combo = QComboBox()
        self.data_format_combo.setObjectName("dataFormatCombo")
        for name in DATA_FORMATS:
            self.data_format_combo.addItem(name or "format default", name)
        form.addRow("&Bit depth:", self.data_format_combo)
        self.quality_spin = QSpinBox()
        self.quality_spin.setObjectName("qualitySpin")
        self.quality_spin.setRange(0, 100)
        self.quality_spin.setSpecialValueText("default")
        form.addRow("&Quality:", self.quality_spin)
        self.resize_edit = QLineEdit()
        self.resize_edit.setObjectName("resizeEdit")
        self.resize_edit.setPlaceholderText("Full size (or 50% or 1920x1080)")
        form.addRow("Resi&ze:", self.resize_edit)
        self.from_space_combo = QComboBox()
        self.from_space_combo.setObjectName("fromSpaceCombo")
        self.to_space_combo = QComboBox()
        self.to_space_combo.setObjectName("toSpaceCombo")
        for combo, hint in ((self.from_space_combo, "as tagged in the file"), (self.to_space_combo, "no conversion")):
            combo.setEditable(True)
            combo.addItems(list(COLOUR_SPACES))
            self._set_placeholder(combo, hint)
        form.addRow("From colour &space:", self.from_space_combo)
        form.addRow("&To colour space:", self.to_space_combo)
        for signal in (
            self.format_combo.currentIndexChanged,
            self.compression_combo.currentTextChanged,
            self.data_format_combo.currentIndexChanged,
            self.quality_spin.valueChanged,
            self.resize_edit.textChanged,
            self.from_space_combo.currentTextChanged,
            self.to_space_combo.currentTextChanged,
        ):
            signal.connect(self._on_convert_option_changed)
        self.convert_group = box
        return box

    def _build_safety_group(self) -> QWidget:
        box = QGroupBox("Verification and safety")
        form = QFormLayout(box)
        self.verify_combo = labelled_combo("verifyCombo", VERIFY_LABELS, self._settings.default_verify)
        form.addRow("&Verify:", self.verify_combo)
        self.hash_combo = labelled_combo("hashCombo", HASH_LABELS, self._settings.default_hash)
        form.addRow("&Hash:", self.hash_combo)
        self.verify_combo.currentIndexChanged.connect(self._on_verify_changed)
        self._on_verify_changed()
        self.conflict_combo = labelled_combo("conflictCombo", CONFLICT_LABELS, self._settings.default_conflict)
        form.addRow("If a file &exists:", self.conflict_combo)
        self.fsync_check = QCheckBox("Flush each frame to disk (fsync)")
        self.fsync_check.setObjectName("fsyncCheck")
        self.fsync_check.setChecked(self._settings.fsync)
        form.addRow("", self.fsync_check)
        self.bwlimit_edit = QLineEdit()
        self.bwlimit_edit.setObjectName("bwlimitEdit")
        self.bwlimit_edit.setPlaceholderText("Unlimited (or e.g. 50M per second)")
        from vfxcopy.gui.settings import format_bwlimit

        self.bwlimit_edit.setText(format_bwlimit(self._settings.bwlimit))
        self.bwlimit_edit.textChanged.connect(self._validate)
        form.addRow("Bandwidth &limit:", self.bwlimit_edit)
        return box

    # -- presets --
    def _load_presets(self, select: str = "") -> None:
        try:
            self._presets = list_presets()
        except (OSError, ValueError):
            # Without presets the manual options still work.
            self._presets = {}
        self.preset_combo.blockSignals(True)
        self.preset_combo.clear()
        self.preset_combo.addItem(CUSTOM_PRESET, "")
        for name in self._presets:
            self.preset_combo.addItem(name, name)
        self.preset_combo.setCurrentIndex(max(0, self.preset_combo.findData(select)) if select else 0)
        self.preset_combo.blockSignals(False)

    @Slot()
    def _on_save_preset(self) -> None:
        from vfxcopy.gui import prompts
        from vfxcopy.gui.dialogs import new_job

        current = self.preset_combo.currentData() or ""
        name = new_job.ask_preset_name(self, "" if not current or is_builtin(current) else current)
        if not name:
            return
        try:
            save_user_preset(name, self._convert_options_from_widgets())
        except (ValueError, OSError) as exc:
            prompts.inform(self, "Cannot save the preset", _sentence(str(exc)), level="warning")
            return
        self._load_presets(select=name.strip())
        self._validate()

    @Slot()
    def _on_preset_changed(self) -> None:
        name = self.preset_combo.currentData()
        opts = self._presets.get(name) if name else None
        if opts is None:
            return
        self._filling_preset = True
        try:
            self._set_combo_text(self.format_combo, opts.to)
            self.compression_combo.setEditText(opts.compression or "")
            self.data_format_combo.setCurrentIndex(max(0, self.data_format_combo.findData(opts.data_format or "")))
            self.quality_spin.setValue(opts.quality or 0)
            self.resize_edit.setText(opts.resize or "")
            self.from_space_combo.setEditText(opts.from_space or "")
            self.to_space_combo.setEditText(opts.to_space or "")
        finally:
            self._filling_preset = False
        self._validate()

    @staticmethod
    def _set_placeholder(combo: QComboBox, text: str) -> None:
        edit = combo.lineEdit()
        if edit is not None:
            edit.setPlaceholderText(text)

    @staticmethod
    def _set_combo_text(combo: QComboBox, text: str) -> None:
        index = combo.findText(text)
        if index < 0:
            combo.addItem(text)
            index = combo.findText(text)
        combo.setCurrentIndex(index)

    @Slot()
    def _on_convert_option_changed(self) -> None:
        if self._filling_preset:
            return
        # Editing an option after picking a preset makes it a custom set of options.
        name = self.preset_combo.currentData()
        if name and not self._matches_preset(name):
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentIndex(0)
            self.preset_combo.blockSignals(False)
        self._validate()

    def _matches_preset(self, name: str) -> bool:
        preset = self._presets.get(name)
        if preset is None:
            return False
        current = self._convert_options_from_widgets()
        compared = ("to", "compression", "data_format", "quality", "resize", "from_space", "to_space")
        return all(getattr(current, f) == getattr(preset, f) for f in compared)

    def _convert_options_from_widgets(self) -> ConvertOptions:
        name = self.preset_combo.currentData() or ""
        base = self._presets.get(name) or ConvertOptions()
        # Start from the preset so options the dialog does not show (filter, channels…) carry over.
        return replace(
            base,
            to=self.format_combo.currentText(),
            compression=self.compression_combo.currentText().strip() or None,
            data_format=self.data_format_combo.currentData() or None,
            quality=self.quality_spin.value() or None,
            resize=self.resize_edit.text().strip() or None,
            from_space=self.from_space_combo.currentText().strip() or None,
            to_space=self.to_space_combo.currentText().strip() or None,
            preset=name or None,
        )

    # -- reactions --
    @Slot()
    def _on_operation_changed(self) -> None:
        converting = self.operation() is Operation.CONVERT
        self.convert_group.setEnabled(converting)
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
        start = self.destination_edit.text().strip() or (self._settings.recent_destinations or [""])[0]
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

    def _request_thumbnail(self, seq: Sequence, item: QTreeWidgetItem) -> None:
        if seq.is_single:
            path = seq.path()
        else:
            path = seq.path(seq.frames[len(seq.frames) // 2])
        key = str(path)
        self._thumb_keys.setdefault(key, []).append(item)
        self._loader.request(key, path, THUMB_SIZE)

    @Slot(str, QImage)
    def _on_thumbnail(self, key: str, image: QImage) -> None:
        items = self._thumb_keys.get(key)
        if not items or image.isNull():
            return
        icon = QIcon(QPixmap.fromImage(image))
        for item in items:
            item.setIcon(COL_SEQUENCE, icon)

    @Slot(str, str)
    def _on_thumbnail_failed(self, key: str, message: str) -> None:
        for item in self._thumb_keys.get(key, []):
            item.setToolTip(COL_SEQUENCE, f"{item.toolTip(COL_SEQUENCE)}\nNo preview: {message}")

    # -- state --
    def checked_sequences(self) -> list[Sequence]:
        out = []
        for row, seq in enumerate(self._sequences):
            item = self.sequence_list.topLevelItem(row)
            if item is not None and item.checkState(COL_SEQUENCE) == Qt.CheckState.Checked:
                out.append(seq)
        return out

    def operation(self) -> Operation:
        # Qt hands str-based enums back from item data as plain strings.
        return Operation(self.operation_combo.currentData())

    def destination(self) -> str:
        text = self.destination_edit.text().strip()
        return os.path.normpath(os.path.expanduser(text)) if text else ""

    def _build_specs(self) -> list[JobSpec]:
        """Specs for the current choices; raises ValueError with the reason when they are not valid."""
        checked = self.checked_sequences()
        if not checked:
            raise ValueError("Tick at least one sequence to queue.")
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
        try:
            frames = parse_frame_text(self.frames_edit.text())
        except ValueError as exc:
            text = str(exc).rstrip(".")
            message = _sentence(text) if "frame" in text.lower() else f"Frame range: {text}"
            raise ValueError(f"{message}.") from exc
        head = self.rename_edit.text()
        rename = head if head.strip() else None
        if rename is not None:
            problem = _check_name(rename)
            if problem:
                raise ValueError(problem)
            tails = [s.tail for s in checked]
            if len(set(tails)) < len(tails):
                raise ValueError("Renaming several sequences with the same extension to one head would "
                                 "make them overwrite each other: queue them one at a time.")
        try:
            bwlimit = parse_bwlimit(self.bwlimit_edit.text())
        except ValueError as exc:
            raise ValueError(str(exc)[:1].upper() + str(exc)[1:] + ".") from exc
        operation = self.operation()
        convert = None
        if operation is Operation.CONVERT:
            convert = self._convert_options_from_widgets()
            if convert.resize and not _RESIZE_RE.match(convert.resize):
                raise ValueError(f"Resize {convert.resize!r}: use a percentage like 50% or a size like 1920x1080.")
            problem = _convert_problem(convert)
            if problem:
                raise ValueError(problem)
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
            if mode == "offset":
                offset = self.number_spin.value()
            elif mode == "start":
                offset = self.number_spin.value() - first
            else:
                offset = 0
            copy = CopyOptions(
                verify=VerifyMode(self.verify_combo.currentData()),
                hash_algo=HashAlgo(self.hash_combo.currentData()),
                on_conflict=ConflictPolicy(self.conflict_combo.currentData()),
                fsync=self.fsync_check.isChecked(),
                bwlimit=bwlimit,
            )
            specs.append(
                JobSpec(
                    source=seq,
                    dest_dir=dest,
                    operation=operation,
                    frames=selected,
                    rename_head=rename,
                    offset=offset,
                    copy=copy,
                    convert=replace(convert) if convert is not None else None,
                    origin="gui",
                )
            )
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
        self.ok_button.setEnabled(not error)
        self.ok_button.setToolTip(error)
        self._update_summary(specs)

    def _update_summary(self, specs: list[JobSpec]) -> None:
        if not specs:
            self.summary_label.setText("")
            self.warning_label.setText("")
            return
        frames = sum(len(spec.selected_frames()) or 1 for spec in specs)
        size = 0
        for spec in specs:
            whole = self._sizes.get(id(spec.source)) or 0
            count = len(spec.source.frames) or 1
            size += whole * (len(spec.selected_frames()) or 1) // count
        jobs = f"{len(specs)} job" + ("s" if len(specs) != 1 else "")
        self.summary_label.setText(f"{jobs} · {frames} frames · {human_size(size)}")
        free = free_space(specs[0].dest_dir)
        warning = ""
        if specs[0].operation is Operation.COPY and free is not None and size > free:
            warning = f"Only {human_size(free)} free at the destination for {human_size(size)}."
        self.warning_label.setText(warning)

    def existing_targets(self, specs: list[JobSpec]) -> list[str]:
        """Files that the jobs would replace at the destination (for the overwrite question)."""
        found: list[str] = []
        for spec in specs:
            for name in dest_names(spec):
                path = os.path.join(spec.dest_dir, name)
                if os.path.lexists(path):
                    found.append(path)
        return found

    def _confirm_overwrite(self, specs: list[JobSpec]) -> bool:
        overwriting = [s for s in specs if s.copy.on_conflict is ConflictPolicy.OVERWRITE]
        if not overwriting or not self._settings.confirm_overwrite:
            return True
        existing = self.existing_targets(overwriting)
        if not existing:
            return True
        from vfxcopy.gui import prompts

        shown = "\n".join(existing[:5]) + (f"\n… and {len(existing) - 5} more" if len(existing) > 5 else "")
        return prompts.ask(
            self,
            "Overwrite files?",
            f"{len(existing)} file(s) at the destination will be replaced.",
            ok_text="Overwrite",
            cancel_text="Go back",
            dont_ask_key="confirm_overwrite",
            settings=self._settings,
            informative=shown,
        )

    def accept(self) -> None:
        try:
            specs = self._build_specs()
        except ValueError as exc:
            self.error_label.setText(str(exc))
            self.ok_button.setEnabled(False)
            return
        if not self._confirm_overwrite(specs):
            return
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
