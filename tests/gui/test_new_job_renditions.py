"""Several renditions from one decode in the window: a preset of several outputs, the outputs list (add, edit,
remove, save), one conversion job per output sharing a group, the refusals, and cancel per rendition."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QListWidget, QPushButton, QToolButton

from vfxcopy.core.jobs import JobState, Operation, is_temp_name
from vfxcopy.core.samples import make_exr_sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.adding import sequences_for_paths
from vfxcopy.gui.dialogs import new_job
from vfxcopy.gui.dialogs.new_job import NewJobDialog
from vfxcopy.gui.job_model import COLUMN_INDEX
from vfxcopy.gui.main_window import MainWindow
from vfxcopy.gui.records import JobRecord

WAIT_MS = 60_000
INGEST = "Plate ingest: DWAA master + JPEG proxies + H.264 review"


@pytest.fixture
def window(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setattr(prompts, "ask", lambda *args, **kwargs: True)

    def no_inform(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"unexpected message box: {args[1:3]}")

    monkeypatch.setattr(prompts, "inform", no_inform)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shutdown(WAIT_MS)


@pytest.fixture
def plate(tmp_path: Path) -> Path:
    """Eight real 128x72 EXR frames."""
    make_exr_sequence(tmp_path / "plates" / "sh010", head="sh010_plate_v001.", count=8)
    return tmp_path / "plates" / "sh010"


def open_convert(window: MainWindow, src: Path, dest: Path) -> NewJobDialog:
    dialog = window.open_new_job_dialog(sequences_for_paths([src]))
    assert isinstance(dialog, NewJobDialog)
    dialog.destination_edit.setText(str(dest))
    dialog.operation_combo.setCurrentIndex(dialog.operation_combo.findData(Operation.CONVERT))
    return dialog


def choose(qtbot: Any, combo: QComboBox, data: object) -> None:
    """Pick an item the way a user does: open the list and click the entry."""
    index = combo.findData(data)
    assert index >= 0, f"{data!r} is not offered"
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    view.scrollTo(view.model().index(index, combo.modelColumn()))
    rect = view.visualRect(view.model().index(index, combo.modelColumn()))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible())
    assert combo.currentData() == data


def rows(dialog: NewJobDialog) -> list[str]:
    view = dialog.findChild(QListWidget, "renditionList")
    if not view.isVisibleTo(dialog):
        return []
    return [view.item(i).text() for i in range(view.count())]


def select_row(qtbot: Any, dialog: NewJobDialog, row: int) -> None:
    view = dialog.findChild(QListWidget, "renditionList")
    rect = view.visualItemRect(view.item(row))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert view.currentRow() == row


def error_text(dialog: NewJobDialog) -> str:
    label = dialog.findChild(QLabel, "errorLabel")
    return label.text() if label.isVisibleTo(dialog) else ""


def queue(qtbot: Any, window: MainWindow, dialog: NewJobDialog, count: int) -> list[JobRecord]:
    assert dialog.ok_button.isEnabled(), error_text(dialog)
    before = window.model.rowCount()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.rowCount() == before + count, timeout=WAIT_MS)
    return window.model.records()[before:]


def image_size(path: Path) -> tuple[int, int]:
    import OpenImageIO as oiio

    spec = oiio.ImageInput.open(str(path)).spec()
    return spec.width, spec.height


def test_a_preset_of_three_outputs_queues_three_renditions_of_one_decode(
    qtbot: Any, window: MainWindow, plate: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "ingest"
    dialog = open_convert(window, plate, dest)
    assert rows(dialog) == []  # one output: no list, just its options
    choose(qtbot, dialog.findChild(QComboBox, "presetCombo"), INGEST)
    assert [r.split("  (")[0] for r in rows(dialog)] == ["1. EXR → master/", "2. JPG → proxy/", "3. MP4 → review/"]
    assert dialog.findChild(QComboBox, "formatCombo").currentText() == "exr"
    select_row(qtbot, dialog, 1)  # the fields follow the selected output
    assert dialog.findChild(QComboBox, "formatCombo").currentText() == "jpg"
    assert dialog.convert_group.resize_edit.text() == "50%"
    assert dialog.convert_group.folder_edit.text() == "proxy"
    assert dialog.findChild(QComboBox, "presetCombo").currentData() == INGEST
    summary = dialog.findChild(QLabel, "summaryLabel").text()
    assert summary.startswith("3 jobs") and "3 renditions, each frame decoded once" in summary

    records = queue(qtbot, window, dialog, 3)
    assert len({r.spec.group for r in records}) == 1 and records[0].spec.group is not None
    assert [(r.spec.dest_dir, r.spec.convert.to) for r in records] == [
        (str(dest / "master"), "exr"), (str(dest / "proxy"), "jpg"), (str(dest / "review"), "mp4")]
    assert all(r.spec.convert.preset == INGEST for r in records)
    cell = window.model.index(window.model.row_of(records[1].job_id), COLUMN_INDEX["destination"])
    assert cell.data() == "2/3 · …/proxy"
    assert "Rendition 2 of 3 from one decode" in cell.data(Qt.ItemDataRole.ToolTipRole)
    qtbot.waitUntil(lambda: all(r.result is not None for r in records), timeout=WAIT_MS)
    assert [r.state for r in records] == [JobState.COMPLETED] * 3, [r.result.message for r in records]

    masters = sorted((dest / "master").glob("sh010_plate_v001.*.exr"))
    proxies = sorted((dest / "proxy").glob("sh010_plate_v001.*.jpg"))
    assert len(masters) == 8 and len(proxies) == 8
    assert image_size(masters[0]) == (128, 72) and image_size(proxies[0]) == (64, 36)
    movies = list((dest / "review").glob("*.mp4"))
    assert len(movies) == 1 and movies[0].stat().st_size > 0
    for folder in ("master", "proxy", "review"):
        assert not [p for p in (dest / folder).iterdir() if is_temp_name(p.name)]
    window.select_jobs([records[2].job_id])
    note = window.details.findChild(QLabel, "detailsGroup")
    assert note.text() == f"Rendition 3 of 3 from one decode · also: EXR → {dest / 'master'}, JPG → {dest / 'proxy'}"


def test_outputs_are_added_edited_and_removed_in_the_dialog(qtbot: Any, window: MainWindow, plate: Path,
                                                          tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dialog = open_convert(window, plate, dest)
    group = dialog.convert_group
    qtbot.mouseClick(dialog.findChild(QPushButton, "addRenditionButton"), Qt.MouseButton.LeftButton)
    assert len(rows(dialog)) == 2
    # The new rendition starts as a copy of the first, into the destination: the same files twice.
    assert "Renditions 1 and 2 would both write sh010_plate_v001.1001.exr" in error_text(dialog)
    assert not dialog.ok_button.isEnabled()
    qtbot.keyClicks(group.folder_edit, "proxy")
    group.format_combo.setCurrentIndex(group.format_combo.findText("jpg"))
    qtbot.keyClicks(group.resize_edit, "half")
    assert error_text(dialog).startswith("Rendition 2 (JPG): Resize 'half'")
    group.resize_edit.setText("50%")
    assert error_text(dialog) == ""
    assert rows(dialog)[1].startswith("2. JPG → proxy/  (")
    select_row(qtbot, dialog, 0)
    assert group.format_combo.currentText() == "exr" and group.folder_edit.text() == ""
    qtbot.mouseClick(dialog.findChild(QPushButton, "addRenditionButton"), Qt.MouseButton.LeftButton)
    group.folder_edit.setText(str(tmp_path / "elsewhere" / "dpx"))  # a full path goes where it says
    group.format_combo.setCurrentIndex(group.format_combo.findText("dpx"))
    specs = dialog.specs()
    assert [(s.dest_dir, s.convert.to, s.convert.resize) for s in specs] == [
        (str(dest), "exr", None), (str(dest / "proxy"), "jpg", "50%"), (str(tmp_path / "elsewhere" / "dpx"), "dpx", None)]
    assert len({s.group for s in specs}) == 1 and specs[0].group is not None
    # Remove the selected (third) rendition; two are left.
    remove = dialog.findChild(QToolButton, "removeRenditionButton")
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    assert len(rows(dialog)) == 2 and group.format_combo.currentText() == "jpg"
    select_row(qtbot, dialog, 1)
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    assert rows(dialog) == []  # one output again: no list, no group
    (spec,) = dialog.specs()
    assert (spec.dest_dir, spec.convert.to, spec.group) == (str(dest), "exr", None)
    dialog.reject()


def test_rendition_folders_are_checked_before_queue(qtbot: Any, window: MainWindow, plate: Path,
                                                   tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "proxy").write_text("a file where the proxies would go")
    dialog = open_convert(window, plate, dest)
    choose(qtbot, dialog.findChild(QComboBox, "presetCombo"), INGEST)
    assert error_text(dialog) == f"Rendition 2 (JPG into {dest / 'proxy'}): The destination {dest / 'proxy'} is a file, not a folder."
    assert not dialog.ok_button.isEnabled()
    select_row(qtbot, dialog, 1)
    dialog.convert_group.folder_edit.setText(str(plate / "proxy"))
    assert "inside the source folder" in error_text(dialog)
    dialog.convert_group.folder_edit.setText("jpg")
    assert error_text(dialog) == "" and dialog.ok_button.isEnabled()
    # A farm runs each task on its own: the renditions could not share their decode there.
    where = dialog.run_on.where
    where.setCurrentIndex(next(i for i in range(where.count()) if where.itemData(i) is not None))
    assert "Several renditions are made from one decode on this computer" in error_text(dialog)
    dialog.reject()


def test_several_outputs_saved_as_a_preset_come_back(qtbot: Any, window: MainWindow, plate: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from vfxcopy.core.presets import get_outputs

    monkeypatch.setattr(new_job, "ask_preset_name", lambda parent, suggestion: "Dailies: EXR + proxies")
    dialog = open_convert(window, plate, tmp_path / "out")
    group = dialog.convert_group
    group.compression_combo.setEditText("piz")
    qtbot.mouseClick(dialog.findChild(QPushButton, "addRenditionButton"), Qt.MouseButton.LeftButton)
    group.folder_edit.setText("proxy")
    group.format_combo.setCurrentIndex(group.format_combo.findText("jpg"))
    group.compression_combo.setEditText("")
    qtbot.mouseClick(dialog.findChild(QPushButton, "savePresetButton"), Qt.MouseButton.LeftButton)
    presets = dialog.findChild(QComboBox, "presetCombo")
    assert presets.currentData() == "Dailies: EXR + proxies"
    assert presets.currentText() == "Dailies: EXR + proxies (2 outputs)"
    saved = get_outputs("Dailies: EXR + proxies")  # persisted in the config folder
    assert [(o.folder, o.options.to, o.options.compression) for o in saved] == [("", "exr", "piz"), ("proxy", "jpg", None)]
    dialog.reject()

    later = open_convert(window, plate, tmp_path / "out2")
    assert rows(later) == []
    choose(qtbot, later.findChild(QComboBox, "presetCombo"), "Dailies: EXR + proxies")
    specs = later.specs()
    assert [(s.dest_dir, s.convert.to, s.convert.compression) for s in specs] == [
        (str(tmp_path / "out2"), "exr", "piz"), (str(tmp_path / "out2" / "proxy"), "jpg", None)]
    # Changing one output makes it a custom set; the preset stays as saved.
    later.convert_group.quality_spin.setValue(70)
    assert later.findChild(QComboBox, "presetCombo").currentData() == ""
    assert all(s.convert.preset is None for s in later.specs())
    later.reject()


def test_cancel_one_rendition_and_the_others_complete(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    make_exr_sequence(tmp_path / "plates" / "sh020", head="sh020_plate_v001.", count=40, width=640, height=360)
    dest = tmp_path / "out"
    dialog = open_convert(window, tmp_path / "plates" / "sh020", dest)
    group = dialog.convert_group
    group.format_combo.setCurrentIndex(group.format_combo.findText("exr"))
    group.compression_combo.setEditText("piz")
    group.folder_edit.setText("master")
    qtbot.mouseClick(dialog.findChild(QPushButton, "addRenditionButton"), Qt.MouseButton.LeftButton)
    group.folder_edit.setText("proxy")
    group.format_combo.setCurrentIndex(group.format_combo.findText("tif"))
    group.compression_combo.setEditText("lzw")
    records = queue(qtbot, window, dialog, 2)
    qtbot.waitUntil(lambda: window.model.info(records[1]).done >= 1, timeout=WAIT_MS)
    window.select_jobs([records[1].job_id])
    menu = window.build_context_menu()
    shown = {a.objectName(): a.text() for a in menu.actions()}
    assert "actionCancel" in shown and shown["actionCancelGroup"] == "Cance&l All Renditions"
    next(a for a in menu.actions() if a.objectName() == "actionCancel").trigger()
    qtbot.waitUntil(lambda: all(r.result is not None for r in records), timeout=WAIT_MS)
    assert records[0].state is JobState.COMPLETED, records[0].result.message
    assert len(list((dest / "master").glob("*.exr"))) == 40
    assert records[1].state is JobState.CANCELLED
    assert 1 <= len(list((dest / "proxy").glob("*.tif"))) < 40
    assert not [p for p in (dest / "proxy").iterdir() if is_temp_name(p.name)]


def test_the_renditions_decode_each_frame_once(qtbot: Any, window: MainWindow, plate: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from vfxcopy.core.writers import shared_decode

    decoded: list[str] = []
    monkeypatch.setattr(shared_decode, "on_decode", decoded.append)
    window.runner.set_max_jobs(1)  # one job at a time: the renditions of one decode start together even so
    dialog = open_convert(window, plate, tmp_path / "ingest")
    choose(qtbot, dialog.findChild(QComboBox, "presetCombo"), INGEST)
    records = queue(qtbot, window, dialog, 3)
    qtbot.waitUntil(lambda: all(r.result is not None for r in records), timeout=WAIT_MS)
    assert [r.state for r in records] == [JobState.COMPLETED] * 3
    assert sorted(decoded) == sorted(str(p) for p in plate.glob("*.exr"))
