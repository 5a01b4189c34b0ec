"""The New job dialog with real generated sequences: listing, validation, specs, recent folders."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
)

from vfxcopy.core.jobs import ConflictPolicy, HashAlgo, Operation, VerifyMode
from vfxcopy.core.samples import make_byte_sequence, make_exr_sequence
from vfxcopy.core.seqfind import scan
from vfxcopy.core.sequence import Sequence
from vfxcopy.gui.dialogs import new_job
from vfxcopy.gui.dialogs.new_job import WARNING_COLOUR, NewJobDialog
from vfxcopy.gui.settings import AppSettings


def sequences_in(folder: Path) -> list[Sequence]:
    """The sequences in `folder` as a drop finds them, ordered by name."""
    return sorted(scan([folder], stat=True), key=lambda s: s.head)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """plate.1001-1010 with 1004-1005 missing, and a complete 6-frame EXR shot_010 sequence."""
    folder = tmp_path / "src"
    paths = make_byte_sequence(folder, head="plate.", count=10, size=4096)
    paths[3].unlink()
    paths[4].unlink()
    make_exr_sequence(folder, head="shot_010.", count=6)
    return folder


@pytest.fixture
def make_dialog(qtbot) -> Iterator[Callable[[list[Sequence]], NewJobDialog]]:
    made: list[NewJobDialog] = []

    def factory(sequences: list[Sequence]) -> NewJobDialog:
        dialog = NewJobDialog(sequences, AppSettings())
        qtbot.addWidget(dialog)
        dialog.show()
        made.append(dialog)
        return dialog

    yield factory
    for dialog in made:
        # Stop the thumbnail decodes this dialog started before its widgets go.
        dialog._loader.shutdown(10000)


def child(dialog: QDialog, cls: type, name: str):
    widget = dialog.findChild(cls, name)
    assert widget is not None, f"no {cls.__name__} named {name}"
    return widget


def choose(qtbot, combo: QComboBox, data: object) -> None:
    """Pick an item the way a user does: open the list and click the entry."""
    index = combo.findData(data)
    assert index >= 0, f"{data!r} is not offered"
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    rect = view.visualRect(view.model().index(index, combo.modelColumn()))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible())
    assert combo.currentData() == data, f"clicking {combo.itemText(index)!r} chose {combo.currentText()!r}"


def click_check(qtbot, check) -> None:
    """Click on the box itself: a check box only reacts to clicks on its indicator and label."""
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(6, check.height() // 2))


def ok_button(dialog: NewJobDialog) -> QPushButton:
    return child(dialog, QPushButton, "okButton")


def error_text(dialog: NewJobDialog) -> str:
    return child(dialog, QLabel, "errorLabel").text()


def test_lists_sequences_with_range_count_and_missing_frames_highlighted(make_dialog, src: Path) -> None:
    dialog = make_dialog(sequences_in(src))
    tree: QTreeWidget = child(dialog, QTreeWidget, "sequenceList")
    assert tree.topLevelItemCount() == 2
    rows = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(2)}
    assert set(rows) == {"plate.####.exr", "shot_010.####.exr"}

    plate = rows["plate.####.exr"]
    assert plate.text(1) == "1001-1010"
    assert plate.text(2) == "8"
    assert plate.text(3) == "2 missing"
    assert plate.foreground(3).color() == WARNING_COLOUR
    assert "1004-1005" in plate.toolTip(3)
    assert plate.text(4) == "32.0 KiB"  # 8 frames of 4 KiB: binary units, labelled as such
    assert plate.checkState(0) == Qt.CheckState.Checked

    shot = rows["shot_010.####.exr"]
    assert (shot.text(1), shot.text(2), shot.text(3)) == ("1001-1006", "6", "none")
    assert shot.foreground(3).color() != WARNING_COLOUR


def test_ok_is_disabled_with_a_reason_until_a_destination_is_given(qtbot, make_dialog, src: Path, tmp_path: Path) -> None:
    dialog = make_dialog(sequences_in(src))
    assert not ok_button(dialog).isEnabled()
    assert "destination" in error_text(dialog).lower()
    qtbot.keyClicks(child(dialog, QLineEdit, "destinationEdit"), str(tmp_path / "out"))
    assert ok_button(dialog).isEnabled()
    assert error_text(dialog) == ""


def test_chosen_options_become_job_specs(qtbot, make_dialog, src: Path, tmp_path: Path) -> None:
    seqs = sequences_in(src)
    dialog = make_dialog(seqs)
    dest = tmp_path / "delivery"
    qtbot.keyClicks(child(dialog, QLineEdit, "destinationEdit"), str(dest))
    choose(qtbot, child(dialog, QComboBox, "verifyCombo"), VerifyMode.FULL)
    choose(qtbot, child(dialog, QComboBox, "hashCombo"), HashAlgo.MD5)
    choose(qtbot, child(dialog, QComboBox, "conflictCombo"), ConflictPolicy.OVERWRITE)
    click_check(qtbot, child(dialog, QCheckBox, "fsyncCheck"))
    bw = child(dialog, QLineEdit, "bwlimitEdit")
    bw.clear()
    qtbot.keyClicks(bw, "50M")
    # Untick the EXR shot: only the plate is queued.
    tree: QTreeWidget = child(dialog, QTreeWidget, "sequenceList")
    shot_row = [i for i in range(2) if tree.topLevelItem(i).text(0).startswith("shot")][0]
    tree.topLevelItem(shot_row).setCheckState(0, Qt.CheckState.Unchecked)

    qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    specs = dialog.specs()
    assert len(specs) == 1
    spec = specs[0]
    assert spec.source.head == "plate."
    assert spec.source.frames == (1001, 1002, 1003, 1006, 1007, 1008, 1009, 1010)
    assert spec.dest_dir == str(dest)
    assert spec.operation is Operation.COPY
    assert spec.frames is None
    assert spec.rename_head is None and spec.offset == 0
    assert spec.origin == "gui"
    assert spec.convert is None
    copy = spec.copy
    assert (copy.verify, copy.hash_algo, copy.on_conflict, copy.fsync, copy.bwlimit) == (
        VerifyMode.FULL, HashAlgo.MD5, ConflictPolicy.OVERWRITE, False, 50 * 1024 * 1024
    )


def test_defaults_come_from_the_settings(make_dialog, src: Path) -> None:
    settings = AppSettings()
    settings.default_verify = VerifyMode.NONE
    settings.default_conflict = ConflictPolicy.RENAME
    settings.fsync = False
    settings.bwlimit = 10 * 1024 * 1024
    dialog = make_dialog(sequences_in(src))
    assert VerifyMode(child(dialog, QComboBox, "verifyCombo").currentData()) is VerifyMode.NONE
    assert not child(dialog, QComboBox, "hashCombo").isEnabled()  # no hash without verification
    assert ConflictPolicy(child(dialog, QComboBox, "conflictCombo").currentData()) is ConflictPolicy.RENAME
    assert not child(dialog, QCheckBox, "fsyncCheck").isChecked()
    assert child(dialog, QLineEdit, "bwlimitEdit").text() == "10M"


def test_bad_frame_range_keeps_ok_disabled_with_a_message(qtbot, make_dialog, src: Path, tmp_path: Path) -> None:
    dialog = make_dialog(sequences_in(src))
    qtbot.keyClicks(child(dialog, QLineEdit, "destinationEdit"), str(tmp_path / "out"))
    frames = child(dialog, QLineEdit, "framesEdit")
    qtbot.keyClicks(frames, "1001-abc")
    assert not ok_button(dialog).isEnabled()
    assert "frame range '1001-abc'" in error_text(dialog).lower()
    qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)
    assert dialog.isVisible()  # a disabled Queue does nothing

    frames.clear()
    qtbot.keyClicks(frames, "3000-3010")  # valid syntax, but no such frames
    assert not ok_button(dialog).isEnabled()
    assert "none of the frames" in error_text(dialog)

    frames.clear()
    qtbot.keyClicks(frames, "1003-1006")
    assert ok_button(dialog).isEnabled()
    qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)
    by_head = {s.source.head: s for s in dialog.specs()}
    assert by_head["plate."].frames == [1003, 1006]  # the gap 1004-1005 is not asked for
    assert by_head["shot_010."].frames == [1003, 1004, 1005, 1006]


def test_destination_inside_a_source_is_refused(qtbot, make_dialog, src: Path) -> None:
    dialog = make_dialog(sequences_in(src))
    qtbot.keyClicks(child(dialog, QLineEdit, "destinationEdit"), str(src / "copies"))
    assert not ok_button(dialog).isEnabled()
    assert "inside the source" in error_text(dialog)
    dest = child(dialog, QLineEdit, "destinationEdit")
    dest.clear()
    qtbot.keyClicks(dest, str(src))
    assert not ok_button(dialog).isEnabled()


def test_relative_destination_and_nothing_ticked_are_refused(qtbot, make_dialog, src: Path, tmp_path: Path) -> None:
    dialog = make_dialog(sequences_in(src))
    dest = child(dialog, QLineEdit, "destinationEdit")
    qtbot.keyClicks(dest, "relative/out")
    assert not ok_button(dialog).isEnabled()
    assert "full path" in error_text(dialog)
    dest.clear()
    qtbot.keyClicks(dest, str(tmp_path / "out"))
    tree: QTreeWidget = child(dialog, QTreeWidget, "sequenceList")
    for i in range(tree.topLevelItemCount()):
        tree.topLevelItem(i).setCheckState(0, Qt.CheckState.Unchecked)
    assert not ok_button(dialog).isEnabled()
    assert "Tick at least one" in error_text(dialog)


def test_bad_bandwidth_limit_is_refused(qtbot, make_dialog, src: Path, tmp_path: Path) -> None:
    dialog = make_dialog(sequences_in(src))
    qtbot.keyClicks(child(dialog, QLineEdit, "destinationEdit"), str(tmp_path / "out"))
    qtbot.keyClicks(child(dialog, QLineEdit, "bwlimitEdit"), "fast")
    assert not ok_button(dialog).isEnabled()
    assert "Bandwidth limit" in error_text(dialog)


def test_rename_and_renumber(qtbot, make_dialog, src: Path, tmp_path: Path) -> None:
    plate = [s for s in sequences_in(src) if s.head == "plate."]
    dialog = make_dialog(plate)
    qtbot.keyClicks(child(dialog, QLineEdit, "destinationEdit"), str(tmp_path / "out"))
    rename = child(dialog, QLineEdit, "renameEdit")
    qtbot.keyClicks(rename, "../escape.")
    assert not ok_button(dialog).isEnabled()
    rename.clear()
    qtbot.keyClicks(rename, "sh010_bg_v002.")
    choose(qtbot, child(dialog, QComboBox, "numberingCombo"), "start")
    spin = child(dialog, QSpinBox, "numberSpin")
    spin.selectAll()
    qtbot.keyClicks(spin, "1")
    assert spin.value() == 1
    qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)
    (spec,) = dialog.specs()
    assert spec.rename_head == "sh010_bg_v002."
    assert spec.offset == 1 - 1001  # the first frame becomes frame 1


def test_convert_with_a_preset_then_a_custom_change(qtbot, make_dialog, src: Path, tmp_path: Path) -> None:
    shot = [s for s in sequences_in(src) if s.head == "shot_010."]
    dialog = make_dialog(shot)
    qtbot.keyClicks(child(dialog, QLineEdit, "destinationEdit"), str(tmp_path / "proxies"))
    convert_group = dialog.findChild(QGroupBox, "convertGroup")
    assert not convert_group.isEnabled()
    choose(qtbot, child(dialog, QComboBox, "operationCombo"), Operation.CONVERT)
    assert convert_group.isEnabled()
    presets = child(dialog, QComboBox, "presetCombo")
    choose(qtbot, presets, "Half-res sRGB JPEG proxies")
    assert child(dialog, QComboBox, "formatCombo").currentText() == "jpg"
    assert child(dialog, QLineEdit, "resizeEdit").text() == "50%"
    (spec,) = dialog.specs()
    assert spec.operation is Operation.CONVERT
    assert spec.convert is not None
    assert (spec.convert.to, spec.convert.resize, spec.convert.quality, spec.convert.to_space) == (
        "jpg", "50%", 90, "sRGB - Display"
    )
    assert spec.convert.preset == "Half-res sRGB JPEG proxies"

    resize = child(dialog, QLineEdit, "resizeEdit")
    resize.clear()
    qtbot.keyClicks(resize, "1920x108O")  # a typo: letter O
    assert not ok_button(dialog).isEnabled()
    assert "Resize" in error_text(dialog)
    resize.clear()
    qtbot.keyClicks(resize, "960x540")
    assert presets.currentText() == "Custom"  # edited away from the preset
    qtbot.mouseClick(ok_button(dialog), Qt.MouseButton.LeftButton)
    (spec,) = dialog.specs()
    assert spec.convert is not None
    assert (spec.convert.to, spec.convert.resize, spec.convert.preset) == ("jpg", "960x540", None)


def test_folder_chooser_fills_the_destination(qtbot, make_dialog, src: Path, tmp_path: Path, monkeypatch) -> None:
    asked: list[str] = []

    def fake_choose(parent, start: str) -> str:
        asked.append(start)
        return str(tmp_path / "picked")

    monkeypatch.setattr(new_job, "choose_folder", fake_choose)
    dialog = make_dialog(sequences_in(src))
    qtbot.mouseClick(child(dialog, QPushButton, "browseButton"), Qt.MouseButton.LeftButton)
    # Nothing typed and nothing recent: the home folder, never the process's working folder.
    assert asked == [os.path.expanduser("~")]
    assert child(dialog, QLineEdit, "destinationEdit").text() == str(tmp_path / "picked")
    assert ok_button(dialog).isEnabled()
    qtbot.mouseClick(child(dialog, QPushButton, "browseButton"), Qt.MouseButton.LeftButton)
    assert asked[-1] == str(tmp_path / "picked")  # then where the user was last


def test_recent_destinations_are_remembered_across_settings_instances(qtbot, make_dialog, src: Path, tmp_path: Path) -> None:
    first = make_dialog(sequences_in(src))
    dest = tmp_path / "onto_nas"
    qtbot.keyClicks(child(first, QLineEdit, "destinationEdit"), str(dest))
    qtbot.mouseClick(ok_button(first), Qt.MouseButton.LeftButton)
    assert first.result() == QDialog.DialogCode.Accepted
    assert AppSettings().recent_destinations[0] == str(dest)

    second = make_dialog(sequences_in(src))
    recent = child(second, QComboBox, "recentCombo")
    assert recent.findData(str(dest)) >= 0
    recent.setFocus()
    qtbot.keyClick(recent, Qt.Key.Key_Down)  # the keyboard activates the next entry
    assert child(second, QLineEdit, "destinationEdit").text() == str(dest)


def test_cancel_does_not_remember_the_destination(qtbot, make_dialog, src: Path, tmp_path: Path) -> None:
    dialog = make_dialog(sequences_in(src))
    qtbot.keyClicks(child(dialog, QLineEdit, "destinationEdit"), str(tmp_path / "nope"))
    dialog.reject()
    assert AppSettings().recent_destinations == []


def test_exr_thumbnail_replaces_the_placeholder(qtbot, make_dialog, src: Path) -> None:
    shot = [s for s in sequences_in(src) if s.head == "shot_010."]
    dialog = make_dialog(shot)
    item = child(dialog, QTreeWidget, "sequenceList").topLevelItem(0)

    def distinct_colours() -> int:
        image = item.icon(0).pixmap(96, 54).toImage()
        return len({image.pixel(x, image.height() // 2) for x in range(0, image.width(), 4)})

    assert distinct_colours() == 1  # the flat placeholder
    qtbot.waitUntil(lambda: distinct_colours() > 4, timeout=20000)


def test_a_non_image_sequence_keeps_its_placeholder_and_the_dialog_works(qtbot, make_dialog, src: Path, tmp_path: Path) -> None:
    plate = [s for s in sequences_in(src) if s.head == "plate."]
    dialog = make_dialog(plate)
    item = child(dialog, QTreeWidget, "sequenceList").topLevelItem(0)
    # The plate's frames are random bytes named .exr: the preview fails, the tooltip says why.
    qtbot.waitUntil(lambda: "No preview" in item.toolTip(0), timeout=20000)
    assert "plate.1007.exr" in item.toolTip(0)  # the middle frame of the eight
    qtbot.keyClicks(child(dialog, QLineEdit, "destinationEdit"), str(tmp_path / "out"))
    assert ok_button(dialog).isEnabled()


def test_summary_counts_the_frames_and_bytes_to_queue(qtbot, make_dialog, src: Path, tmp_path: Path) -> None:
    dialog = make_dialog(sequences_in(src))
    summary = child(dialog, QLabel, "summaryLabel")
    assert summary.text() == ""  # nothing to queue yet
    qtbot.keyClicks(child(dialog, QLineEdit, "destinationEdit"), str(tmp_path / "out"))
    assert summary.text().startswith("2 jobs · 14 frames · ")  # 8 plate frames + 6 EXR frames
    qtbot.keyClicks(child(dialog, QLineEdit, "framesEdit"), "1001-1002")
    assert summary.text() == "2 jobs · 4 frames · " + summary.text().split(" · ")[2]
    assert child(dialog, QLabel, "warningLabel").text() == ""  # plenty of room in tmp


def test_conversion_options_the_engine_refuses_keep_ok_disabled(qtbot, make_dialog, src: Path, tmp_path: Path) -> None:
    dialog = make_dialog([s for s in sequences_in(src) if s.head == "shot_010."])
    qtbot.keyClicks(child(dialog, QLineEdit, "destinationEdit"), str(tmp_path / "out"))
    choose(qtbot, child(dialog, QComboBox, "operationCombo"), Operation.CONVERT)
    fmt = child(dialog, QComboBox, "formatCombo")
    fmt.setFocus()
    qtbot.keyClicks(fmt, "jpg")
    assert fmt.currentText() == "jpg"
    depth = child(dialog, QComboBox, "dataFormatCombo")
    choose(qtbot, depth, "uint16")
    assert not ok_button(dialog).isEnabled()
    assert "JPEG" in error_text(dialog) and "8-bit" in error_text(dialog)
    choose(qtbot, depth, "uint8")
    assert ok_button(dialog).isEnabled()
    (spec,) = dialog.specs()
    assert spec.convert is not None and (spec.convert.to, spec.convert.data_format) == ("jpg", "uint8")


def test_save_conversion_options_as_a_user_preset(qtbot, make_dialog, src: Path, tmp_path: Path, monkeypatch) -> None:
    from vfxcopy.core.presets import get_preset

    monkeypatch.setattr(new_job, "ask_preset_name", lambda parent, suggestion: "Grade DPX 16-bit")
    shot = [s for s in sequences_in(src) if s.head == "shot_010."]
    dialog = make_dialog(shot)
    choose(qtbot, child(dialog, QComboBox, "operationCombo"), Operation.CONVERT)
    fmt = child(dialog, QComboBox, "formatCombo")
    fmt.setFocus()
    qtbot.keyClicks(fmt, "dpx")
    choose(qtbot, child(dialog, QComboBox, "dataFormatCombo"), "uint16")
    qtbot.keyClicks(child(dialog, QLineEdit, "resizeEdit"), "1920x1080")
    qtbot.mouseClick(child(dialog, QPushButton, "savePresetButton"), Qt.MouseButton.LeftButton)

    presets = child(dialog, QComboBox, "presetCombo")
    assert presets.currentText() == "Grade DPX 16-bit"
    saved = get_preset("Grade DPX 16-bit")  # persisted in the config folder
    assert (saved.to, saved.data_format, saved.resize) == ("dpx", "uint16", "1920x1080")

    later = make_dialog(shot)
    later_presets = child(later, QComboBox, "presetCombo")
    assert later_presets.findData("Grade DPX 16-bit") >= 0
    choose(qtbot, child(later, QComboBox, "operationCombo"), Operation.CONVERT)
    choose(qtbot, later_presets, "Grade DPX 16-bit")
    assert child(later, QComboBox, "formatCombo").currentText() == "dpx"
    assert child(later, QLineEdit, "resizeEdit").text() == "1920x1080"


def test_a_built_in_preset_name_is_refused_with_a_message(qtbot, make_dialog, src: Path, monkeypatch) -> None:
    from vfxcopy.gui import prompts

    told: list[str] = []
    monkeypatch.setattr(new_job, "ask_preset_name", lambda parent, suggestion: "PNG 8-bit sRGB")
    monkeypatch.setattr(prompts, "inform", lambda parent, title, text, **kw: told.append(text))
    dialog = make_dialog(sequences_in(src))
    choose(qtbot, child(dialog, QComboBox, "operationCombo"), Operation.CONVERT)
    qtbot.mouseClick(child(dialog, QPushButton, "savePresetButton"), Qt.MouseButton.LeftButton)
    assert told and "built-in" in told[0]


@pytest.mark.parametrize("operation", [Operation.COPY, Operation.CONVERT])
def test_overwrite_check_names_the_files_the_engine_writes(tmp_path: Path, operation: Operation) -> None:
    from vfxcopy.core.engine import run_job
    from vfxcopy.core.jobs import ConvertOptions, CopyOptions, JobSpec

    make_exr_sequence(tmp_path / "src", count=3, width=32, height=18)
    (seq,) = scan([tmp_path / "src"], stat=True)
    spec = JobSpec(
        source=seq, dest_dir=str(tmp_path / "out"), operation=operation, frames=[1002, 1003],
        rename_head="sh020_bg.", offset=-1000, copy=CopyOptions(fsync=False),
        convert=ConvertOptions(to="png") if operation is Operation.CONVERT else None,
    )
    result = run_job(spec)
    assert not result.failed
    written = sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_file())  # not the ascmhl folder
    assert sorted(new_job.dest_names(spec)) == written
    assert written[0] == ("sh020_bg.0002.png" if operation is Operation.CONVERT else "sh020_bg.0002.exr")


def test_fifty_sequences_fit_the_screen_and_thumbnails_load_only_for_rows_in_sight(qtbot, tmp_path: Path) -> None:
    seqs = [Sequence(str(tmp_path / "src"), f"sh{i:03d}_plate.", ".exr", 4, tuple(range(1001, 1011)))
            for i in range(50)]
    dialog = NewJobDialog(seqs, AppSettings())
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    listed = child(dialog, QTreeWidget, "sequenceList")
    screen = dialog.screen().availableGeometry()
    assert dialog.isSizeGripEnabled() and dialog.height() <= screen.height()
    assert listed.viewport().height() >= 3 * listed.sizeHintForRow(0)  # several rows in sight, not two
    qtbot.waitUntil(lambda: bool(listed.requested), timeout=5000)
    first = set(listed.requested)
    assert 0 in first and 49 not in first and len(first) < 50  # not fifty decodes at once
    listed.scrollToBottom()
    qtbot.waitUntil(lambda: 49 in listed.requested, timeout=5000)
    dialog._loader.shutdown(10000)
