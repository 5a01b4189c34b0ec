"""ConvertGroup: the New job dialog's conversion options, presets included (pick, edit, save as your own)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from vfxcopy.core.jobs import ConvertOptions
from vfxcopy.core.presets import is_builtin, list_presets, save_user_preset
from vfxcopy.gui.dialogs.job_options import COLOUR_SPACES, COMPRESSIONS, DATA_FORMATS, FORMATS, sentence
from vfxcopy.gui.forms import form_row

CUSTOM_PRESET = "Custom"
COMPARED = ("to", "compression", "data_format", "quality", "resize", "from_space", "to_space")


def _set_placeholder(combo: QComboBox, text: str) -> None:
    edit = combo.lineEdit()
    if edit is not None:
        edit.setPlaceholderText(text)


def _set_combo_text(combo: QComboBox, text: str) -> None:
    index = combo.findText(text)
    if index < 0:
        combo.addItem(text)
        index = combo.findText(text)
    combo.setCurrentIndex(index)


class ConvertGroup(QGroupBox):
    """Target format, compression, bit depth, quality, size and colour spaces; `changed` on every edit."""

    changed = Signal()

    def __init__(self, ask_name: Callable[[QWidget, str], str | None], parent: QWidget | None = None) -> None:
        super().__init__("Conversion", parent)
        self.setObjectName("convertGroup")
        self._ask_name = ask_name
        self._filling_preset = False
        self._presets: dict[str, ConvertOptions] = {}
        form = QFormLayout(self)
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
        form_row(form, "&Preset:", self.preset_combo, preset_row)
        self.format_combo = QComboBox()
        self.format_combo.setObjectName("formatCombo")
        self.format_combo.addItems(list(FORMATS))
        form_row(form, "For&mat:", self.format_combo)
        self.compression_combo = QComboBox()
        self.compression_combo.setObjectName("compressionCombo")
        self.compression_combo.setEditable(True)
        self.compression_combo.addItems(list(COMPRESSIONS))
        _set_placeholder(self.compression_combo, "format default")
        form_row(form, "&Compression:", self.compression_combo)
        self.data_format_combo = QComboBox()
        self.data_format_combo.setObjectName("dataFormatCombo")
        for name in DATA_FORMATS:
            self.data_format_combo.addItem(name or "format default", name)
        form_row(form, "&Bit depth:", self.data_format_combo)
        self.quality_spin = QSpinBox()
        self.quality_spin.setObjectName("qualitySpin")
        self.quality_spin.setRange(0, 100)
        self.quality_spin.setSpecialValueText("default")
        form_row(form, "&Quality:", self.quality_spin)
        self.resize_edit = QLineEdit()
        self.resize_edit.setObjectName("resizeEdit")
        self.resize_edit.setPlaceholderText("Full size (or 50% or 1920x1080)")
        form_row(form, "Resi&ze:", self.resize_edit)
        self.from_space_combo = QComboBox()
        self.from_space_combo.setObjectName("fromSpaceCombo")
        self.to_space_combo = QComboBox()
        self.to_space_combo.setObjectName("toSpaceCombo")
        for combo, hint in ((self.from_space_combo, "as tagged in the file"), (self.to_space_combo, "no conversion")):
            combo.setEditable(True)
            combo.addItems(list(COLOUR_SPACES))
            _set_placeholder(combo, hint)
        form_row(form, "From colour &space:", self.from_space_combo)
        form_row(form, "&To colour space:", self.to_space_combo)
        for signal in (
            self.format_combo.currentIndexChanged,
            self.compression_combo.currentTextChanged,
            self.data_format_combo.currentIndexChanged,
            self.quality_spin.valueChanged,
            self.resize_edit.textChanged,
            self.from_space_combo.currentTextChanged,
            self.to_space_combo.currentTextChanged,
        ):
            signal.connect(self._on_option_changed)
        self.load_presets()

    # -- presets --
    def load_presets(self, select: str = "") -> None:
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

        current = self.preset_combo.currentData() or ""
        name = self._ask_name(self, "" if not current or is_builtin(current) else current)
        if not name:
            return
        try:
            save_user_preset(name, self.options())
        except (ValueError, OSError) as exc:
            prompts.inform(self, "Cannot save the preset", sentence(str(exc)), level="warning")
            return
        self.load_presets(select=name.strip())
        self.changed.emit()

    @Slot()
    def _on_preset_changed(self) -> None:
        name = self.preset_combo.currentData()
        opts = self._presets.get(name) if name else None
        if opts is None:
            return
        self._filling_preset = True
        try:
            _set_combo_text(self.format_combo, opts.to)
            self.compression_combo.setEditText(opts.compression or "")
            self.data_format_combo.setCurrentIndex(max(0, self.data_format_combo.findData(opts.data_format or "")))
            self.quality_spin.setValue(opts.quality or 0)
            self.resize_edit.setText(opts.resize or "")
            self.from_space_combo.setEditText(opts.from_space or "")
            self.to_space_combo.setEditText(opts.to_space or "")
        finally:
            self._filling_preset = False
        self.changed.emit()

    @Slot()
    def _on_option_changed(self) -> None:
        if self._filling_preset:
            return
        # Editing an option after picking a preset makes it a custom set of options.
        name = self.preset_combo.currentData()
        if name and not self._matches_preset(name):
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentIndex(0)
            self.preset_combo.blockSignals(False)
        self.changed.emit()

    def _matches_preset(self, name: str) -> bool:
        preset = self._presets.get(name)
        if preset is None:
            return False
        current = self.options()
        return all(getattr(current, f) == getattr(preset, f) for f in COMPARED)

    def options(self) -> ConvertOptions:
        """The options as shown, on top of the chosen preset (options not shown here carry over)."""
        name = self.preset_combo.currentData() or ""
        base = self._presets.get(name) or ConvertOptions()
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
