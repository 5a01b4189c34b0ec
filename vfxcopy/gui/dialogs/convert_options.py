"""ConvertGroup: the New job dialog's conversion options, presets included (pick, edit, save as your own),
and its outputs: several renditions of one decode, each with its format, options and folder."""

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
from vfxcopy.core.presets import PresetOutput, is_builtin, list_output_presets, save_user_outputs
from vfxcopy.gui.dialogs.job_options import COLOUR_SPACES, COMPRESSIONS, DATA_FORMATS, FORMATS, sentence
from vfxcopy.gui.dialogs.renditions import RenditionList
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


def _same(a: ConvertOptions, b: ConvertOptions) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in COMPARED)


class ConvertGroup(QGroupBox):
    """Target format, compression, bit depth, quality, size and colour spaces; `changed` on every edit.

    A conversion has one output or several (renditions of one decode): the fields edit the
    selected output, `outputs()` gives them all, `options()` the selected one's options.
    """

    changed = Signal()

    def __init__(self, ask_name: Callable[[QWidget, str], str | None], parent: QWidget | None = None) -> None:
        super().__init__("Conversion", parent)
        self.setObjectName("convertGroup")
        self._ask_name = ask_name
        self._filling_preset = False
        self._presets: dict[str, list[PresetOutput]] = {}
        self._outputs: list[PresetOutput] = [PresetOutput(ConvertOptions())]
        self._row = 0  # the output the fields show
        form = QFormLayout(self)
        self.preset_combo = QComboBox()
        self.preset_combo.setObjectName("presetCombo")
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        # A long preset name ("Plate ingest: …") is elided, not a reason to widen the dialog.
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_combo.setMinimumContentsLength(16)
        self.save_preset_button = QPushButton("Save…")
        self.save_preset_button.setObjectName("savePresetButton")
        self.save_preset_button.setToolTip("Save these conversion options as a preset of your own")
        self.save_preset_button.clicked.connect(self._on_save_preset)
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset_combo, 1)
        preset_row.addWidget(self.save_preset_button)
        form_row(form, "&Preset:", self.preset_combo, preset_row)
        self.renditions = RenditionList(self)
        self.renditions.current_changed.connect(self._on_output_selected)
        self.renditions.add_requested.connect(self.add_output)
        self.renditions.remove_requested.connect(lambda: self.remove_output(self._row))
        self.renditions_label = form_row(form, "Rend&itions:", self.renditions.add_button, self.renditions)
        self.folder_edit = QLineEdit()
        self.folder_edit.setObjectName("outputFolderEdit")
        self.folder_edit.setPlaceholderText("The destination folder (or a sub-folder: proxy)")
        self.folder_edit.setToolTip("Where this output goes: a folder inside the destination (proxy, review/h264), "
                                    "or a full path; empty: the destination itself")
        form_row(form, "&Write into:", self.folder_edit)
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
            self.folder_edit.textChanged,
        ):
            signal.connect(self._on_option_changed)
        self.load_presets()
        self._show_outputs()

    # -- presets --
    def load_presets(self, select: str = "") -> None:
        try:
            self._presets = list_output_presets()
        except (OSError, ValueError):
            # Without presets the manual options still work.
            self._presets = {}
        self.preset_combo.blockSignals(True)
        self.preset_combo.clear()
        self.preset_combo.addItem(CUSTOM_PRESET, "")
        for name, outputs in self._presets.items():
            self.preset_combo.addItem(name if len(outputs) == 1 else f"{name} ({len(outputs)} outputs)", name)
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
            save_user_outputs(name, self.outputs())
        except (ValueError, OSError) as exc:
            prompts.inform(self, "Cannot save the preset", sentence(str(exc)), level="warning")
            return
        self.load_presets(select=name.strip())
        self.changed.emit()

    @Slot()
    def _on_preset_changed(self) -> None:
        name = self.preset_combo.currentData()
        outputs = self._presets.get(name) if name else None
        if not outputs:
            return
        if len(outputs) > 1 or len(self._outputs) == 1:
            # A preset of several outputs is the whole conversion; one of one output is the selected output's.
            folder = self._outputs[self._row].folder if len(outputs) == 1 else ""
            self._outputs = [PresetOutput(replace(o.options), o.folder or folder) for o in outputs]
            self._row = 0
        else:
            self._outputs[self._row] = PresetOutput(replace(outputs[0].options), self._outputs[self._row].folder)
        self._fill_fields()
        self._show_outputs()
        self.changed.emit()

    def _fill_fields(self) -> None:
        """Show the selected output in the fields."""
        opts = self._outputs[self._row].options
        self._filling_preset = True
        try:
            self.folder_edit.setText(self._outputs[self._row].folder)
            _set_combo_text(self.format_combo, opts.to)
            self.compression_combo.setEditText(opts.compression or "")
            self.data_format_combo.setCurrentIndex(max(0, self.data_format_combo.findData(opts.data_format or "")))
            self.quality_spin.setValue(opts.quality or 0)
            self.resize_edit.setText(opts.resize or "")
            self.from_space_combo.setEditText(opts.from_space or "")
            self.to_space_combo.setEditText(opts.to_space or "")
        finally:
            self._filling_preset = False

    @Slot()
    def _on_option_changed(self) -> None:
        if self._filling_preset:
            return
        self._outputs[self._row] = PresetOutput(self._field_options(), self.folder_edit.text().strip())
        # Editing an option after picking a preset makes it a custom set of options.
        name = self.preset_combo.currentData()
        if name and not self._matches_preset(name):
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentIndex(0)
            self.preset_combo.blockSignals(False)
        self._show_outputs()
        self.changed.emit()

    def _matches_preset(self, name: str) -> bool:
        preset = self._presets.get(name)
        if preset is None:
            return False
        if len(preset) == 1 and len(self._outputs) > 1:
            return _same(self._outputs[self._row].options, preset[0].options)
        return len(preset) == len(self._outputs) and all(
            _same(mine.options, theirs.options) and (len(preset) == 1 or mine.folder == theirs.folder)
            for mine, theirs in zip(self._outputs, preset, strict=True))

    # -- outputs --
    def add_output(self) -> None:
        """One more rendition, like the selected one (edit its format and folder next)."""
        current = self._outputs[self._row]
        self._outputs.append(PresetOutput(replace(current.options), ""))
        self._row = len(self._outputs) - 1
        self._fill_fields()
        self._sync_preset()
        self._show_outputs()
        self.folder_edit.setFocus()
        self.changed.emit()

    def remove_output(self, row: int) -> None:
        if len(self._outputs) < 2 or not 0 <= row < len(self._outputs):
            return
        del self._outputs[row]
        self._row = min(self._row, len(self._outputs) - 1)
        self._fill_fields()
        self._sync_preset()
        self._show_outputs()
        self.changed.emit()

    def select_output(self, row: int) -> None:
        self._on_output_selected(row)

    @Slot(int)
    def _on_output_selected(self, row: int) -> None:
        if not 0 <= row < len(self._outputs) or row == self._row:
            return
        self._row = row
        self._fill_fields()
        self._sync_preset()
        self._show_outputs()

    def _sync_preset(self) -> None:
        """The preset box names the preset the outputs (or the selected output) still match, else Custom."""
        match = next((n for n in self._presets if len(self._presets[n]) > 1 and self._matches_preset(n)), None)
        if match is None:
            own = self._outputs[self._row].options.preset
            match = own if own in self._presets and self._matches_preset(own) else None
        self.preset_combo.blockSignals(True)
        self.preset_combo.setCurrentIndex(max(0, self.preset_combo.findData(match)) if match else 0)
        self.preset_combo.blockSignals(False)

    def _show_outputs(self) -> None:
        self.renditions.show_outputs(self._outputs, self._row)

    def outputs(self) -> list[PresetOutput]:
        """Every output as shown (copies); each output's `preset` names the preset it still matches."""
        name = self.preset_combo.currentData() or ""
        whole = name if name in self._presets and len(self._presets[name]) > 1 else ""
        result = []
        for output in self._outputs:
            own = output.options.preset
            keep = whole or (own if own in self._presets and len(self._presets[own]) == 1
                             and _same(output.options, self._presets[own][0].options) else None)
            result.append(PresetOutput(replace(output.options, preset=keep or None), output.folder))
        return result

    def output_count(self) -> int:
        return len(self._outputs)

    def options(self) -> ConvertOptions:
        """The selected output's options as shown."""
        return self.outputs()[self._row].options

    def _field_options(self) -> ConvertOptions:
        """The fields on top of the selected output's options (options not shown here carry over)."""
        base = self._outputs[self._row].options
        name = self.preset_combo.currentData() or ""
        return replace(
            base,
            to=self.format_combo.currentText(),
            compression=self.compression_combo.currentText().strip() or None,
            data_format=self.data_format_combo.currentData() or None,
            quality=self.quality_spin.value() or None,
            resize=self.resize_edit.text().strip() or None,
            from_space=self.from_space_combo.currentText().strip() or None,
            to_space=self.to_space_combo.currentText().strip() or None,
            preset=name or base.preset,
        )
