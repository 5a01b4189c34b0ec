"""A folder tree dropped on the window is one job (one row), copied whole; the details list its sequences and files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QLineEdit, QPushButton, QTableView, QTreeWidget

from vfxcopy.core.jobs import FrameStatus, JobState, is_temp_name
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.tree import is_litter
from vfxcopy.gui import prompts
from vfxcopy.gui.details import DetailsPane
from vfxcopy.gui.dialogs.new_job import NewJobDialog
from vfxcopy.gui.main_window import MainWindow

WAIT_MS = 30_000


@pytest.fixture
def window(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setattr(prompts, "ask", lambda *a, **k: True)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shutdown(WAIT_MS)


def drop(window: MainWindow, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(QPoint(200, 200), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    event = QDropEvent(QPointF(200, 200), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    assert event.isAccepted()


def files_under(root: Path) -> dict[str, bytes]:
    out = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            # OS litter (.DS_Store, ._*) stays behind by default, as with `vfxcopy copy`.
            if not path.is_symlink() and "ascmhl" not in path.parts and not is_litter(name):
                out[str(path.relative_to(root))] = path.read_bytes()
    return out


def test_a_dropped_tree_is_one_job_copied_whole_with_per_item_status_in_the_details(
        qtbot: Any, window: MainWindow, delivery_tree: Path, tmp_path: Path) -> None:
    loose = make_byte_sequence(tmp_path / "loose", head="extra.", count=3, size=1024)
    drop(window, [delivery_tree, loose[0]])
    qtbot.waitUntil(lambda: window.new_job_dialog is not None, timeout=WAIT_MS)
    dialog = window.new_job_dialog
    assert isinstance(dialog, NewJobDialog)
    listed = dialog.findChild(QTreeWidget, "sequenceList")
    rows = [listed.topLevelItem(i).text(0) for i in range(listed.topLevelItemCount())]
    # The loose sequence, then the tree as ONE row (not its five sequences).
    assert len(rows) == 2 and rows[0].startswith("extra.")
    # bg01, fg01, comp v003; the .mov, .wav, sidecars, EDL, notes and links are files.
    assert rows[1].startswith("delivery/  (folder tree: 3 sequences · 10 files · ") and "folders" in rows[1], rows[1]
    dest = tmp_path / "out"
    dialog.findChild(QLineEdit, "destinationEdit").setText(str(dest))
    # A tree cannot be converted.
    operation = dialog.findChild(QComboBox, "operationCombo")
    operation.setCurrentIndex(1)
    assert "folder tree is copied as it is" in dialog.findChild(QLabel, "errorLabel").text()
    operation.setCurrentIndex(0)
    assert "2 jobs" in dialog.findChild(QLabel, "summaryLabel").text()
    dialog.findChild(QPushButton, "okButton").click()

    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: all(window.model.record_at(r).state.finished for r in range(2)), timeout=WAIT_MS)
    tree_record = next(window.model.record_at(r) for r in range(2) if window.model.record_at(r).spec.tree)
    assert tree_record.state is JobState.COMPLETED
    # Byte for byte, layout kept, links reproduced as links, empty folders kept.
    assert files_under(dest) == {**files_under(delivery_tree), **{p.name: p.read_bytes() for p in loose}}
    assert os.readlink(dest / "shot_010" / "current.cdl") == "plates/bg01/bg01.cdl"
    assert (dest / "empty" / "nested_empty").is_dir()
    assert not [n for _f, _d, names in os.walk(dest) for n in names if is_temp_name(n)]

    # The details: one line per item, named by its sequence and frame (or its path), with its status.
    window.select_jobs([tree_record.job_id])
    details = window.details
    assert isinstance(details, DetailsPane)
    model = details.findChild(QTableView, "frameTable").model()
    qtbot.waitUntil(lambda: model.rowCount() == len(tree_record.frame_states), timeout=WAIT_MS)
    labels = [model.index(r, 0).data() for r in range(model.rowCount())]
    statuses = {model.index(r, 1).data() for r in range(model.rowCount())}
    bg01 = [label for label in labels if label.startswith("shot_010/plates/bg01/plate.")]
    assert len(bg01) == 6 and bg01[0].endswith("#.exr  1001"), bg01
    assert "delivery.edl" in labels and "shot_010/ref/edit_ref.mov" in labels
    assert "shot_010/current.cdl (link)" in labels
    assert statuses <= {FrameStatus.DONE.value, FrameStatus.SKIPPED.value}
    assert model.headerData(0, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole).startswith("Item")
    qtbot.waitUntil(lambda: "folder tree" in details.findChild(QLabel, "detailsSummary").text())


def test_a_folder_without_sub_folders_still_lists_its_sequences(
        qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    make_byte_sequence(tmp_path / "flat", head="a.", count=3, size=512)
    make_byte_sequence(tmp_path / "flat", head="b.", count=2, size=512)
    dialog = window.add_paths([tmp_path / "flat"])
    assert isinstance(dialog, NewJobDialog)
    listed = dialog.findChild(QTreeWidget, "sequenceList")
    assert sorted(listed.topLevelItem(i).text(0) for i in range(listed.topLevelItemCount()))[0].startswith("a.")
    assert listed.topLevelItemCount() == 2
    dialog.reject()


def test_a_fifo_in_a_dropped_tree_is_said_to_be_left_out(qtbot: Any, window: MainWindow, delivery_tree: Path) -> None:
    from vfxcopy.gui.dialogs.sequence_list import COL_CHECK

    os.mkfifo(delivery_tree / "shot_010" / "plates" / "bg01" / "plate.1099.exr")
    dialog = window.add_paths([delivery_tree])
    assert isinstance(dialog, NewJobDialog)
    listed = dialog.findChild(QTreeWidget, "sequenceList")
    row = listed.topLevelItem(0)
    assert row.text(COL_CHECK) == "1 item left out: not files"
    assert row.toolTip(COL_CHECK).endswith("1 item is not a file or a folder and is not copied: "
                                            "shot_010/plates/bg01/plate.1099.exr (a FIFO)")
    dialog.reject()
