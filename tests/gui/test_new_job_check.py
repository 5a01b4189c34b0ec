"""The New job dialog's Check step with real defective EXRs: background pre-flight per sequence, and its policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPushButton, QTabWidget, QTreeWidget

from vfxcopy.core.jobs import JobState
from vfxcopy.core.preflight import parse_policy
from vfxcopy.core.preflight.samples import make_defective_exr_sequence
from vfxcopy.core.samples import make_exr_sequence
from vfxcopy.core.seqfind import scan
from vfxcopy.core.sequence import Sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.dialogs.new_job import NewJobDialog
from vfxcopy.gui.dialogs.sequence_list import COL_CHECK, COL_SEQUENCE
from vfxcopy.gui.main_window import MainWindow
from vfxcopy.gui.settings import AppSettings

WAIT_MS = 30_000


@pytest.fixture
def plates(tmp_path: Path) -> list[Sequence]:
    """A plate with a truncated, an empty and an undecodable frame (and outliers), and a clean one."""
    make_defective_exr_sequence(tmp_path / "src", head="bad_plate.")
    make_exr_sequence(tmp_path / "src", head="clean_plate.", count=16, width=64, height=48)
    return sorted(scan([tmp_path / "src"], stat=True), key=lambda s: s.head)


@pytest.fixture
def dialog(qtbot: Any, plates: list[Sequence]) -> Iterator[NewJobDialog]:
    made = NewJobDialog(plates, AppSettings())
    qtbot.addWidget(made)
    made.show()
    yield made
    made.check.shutdown(WAIT_MS)
    made._loader.shutdown(WAIT_MS)


def pick(combo: QComboBox, key: str) -> None:
    index = combo.findData(key)
    assert index >= 0
    combo.setCurrentIndex(index)


def wait_checked(qtbot: Any, dialog: NewJobDialog) -> None:
    qtbot.waitUntil(lambda: dialog.check.pending() == 0, timeout=WAIT_MS)


def test_check_runs_as_soon_as_sequences_are_dropped_and_shows_a_word_per_sequence(
        qtbot: Any, dialog: NewJobDialog) -> None:
    listed = dialog.findChild(QTreeWidget, "sequenceList")
    tabs = dialog.findChild(QTabWidget, "sequenceTabs")
    # Nothing was pressed: the check started with the dialog.
    wait_checked(qtbot, dialog)
    items = {listed.topLevelItem(r).text(COL_SEQUENCE): listed.topLevelItem(r) for r in range(2)}
    assert items["clean_plate.####.exr"].text(COL_CHECK) == "OK"
    # Truncated, empty and undecodable are broken; the outliers and the gap are the other findings.
    bad = items["bad_plate.####.exr"]
    assert bad.text(COL_CHECK) == "3 broken, 8 other"
    for kind in ("truncated", "empty", "undecodable", "resolution", "gap"):
        assert kind in bad.toolTip(COL_CHECK), bad.toolTip(COL_CHECK)
    qtbot.waitUntil(lambda: "finding" in tabs.tabText(1))
    # The Check tab lists each finding under its sequence, with the frame number.
    tabs.setCurrentIndex(1)
    tree = dialog.check.view.tree()
    bad_item = next(tree.topLevelItem(r) for r in range(2) if tree.topLevelItem(r).text(0).startswith("bad_plate"))
    children = [bad_item.child(i).text(0) for i in range(bad_item.childCount())]
    assert "1003  truncated" in children and "1004  empty" in children


def test_refuse_policy_keeps_queue_disabled_until_the_broken_frames_are_left_out(
        qtbot: Any, dialog: NewJobDialog, tmp_path: Path) -> None:
    dialog.findChild(QLineEdit, "destinationEdit").setText(str(tmp_path / "out"))
    ok = dialog.findChild(QPushButton, "okButton")
    wait_checked(qtbot, dialog)
    assert ok.isEnabled()  # off by default: the job does no pre-flight
    assert all(spec.preflight is None for spec in dialog.specs())
    pick(dialog.findChild(QComboBox, "preflightCombo"), "refuse")
    error = dialog.findChild(QLabel, "errorLabel").text()
    assert not ok.isEnabled()
    assert "refuses bad_plate.####.exr" in error and "1 empty" in error and "1 truncated" in error
    assert "clean_plate" not in error
    # Frames 1015-1016 hold no broken frame: the job may go, carrying its policy to the engine.
    dialog.findChild(QLineEdit, "framesEdit").setText("1015-1016")
    assert ok.isEnabled(), dialog.findChild(QLabel, "errorLabel").text()
    specs = dialog.specs()
    assert specs and all(s.preflight == parse_policy("all=warn,duplicate=ignore,broken=refuse") for s in specs)
    # Warn lets every frame through.
    dialog.findChild(QLineEdit, "framesEdit").setText("")
    pick(dialog.findChild(QComboBox, "preflightCombo"), "warn")
    assert ok.isEnabled()


def test_window_queues_with_the_policy_and_the_engine_warns_about_the_findings(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompts, "ask", lambda *a, **k: True)
    make_defective_exr_sequence(tmp_path / "src", head="bad_plate.")
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    try:
        dialog = win.add_paths([tmp_path / "src" / "bad_plate.1001.exr"])
        assert isinstance(dialog, NewJobDialog)
        dialog.findChild(QLineEdit, "destinationEdit").setText(str(tmp_path / "out"))
        pick(dialog.findChild(QComboBox, "preflightCombo"), "warn")
        wait_checked(qtbot, dialog)
        dialog.findChild(QPushButton, "okButton").click()
        qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=WAIT_MS)
        record = win.model.record_at(0)
        qtbot.waitUntil(lambda: win.model.record_at(0).state.finished, timeout=WAIT_MS)
        assert record.spec.preflight == parse_policy("all=warn,duplicate=ignore")
        assert record.state is JobState.COMPLETED
        logged = "\n".join(m.text for m in record.log)
        assert "pre-flight truncated" in logged and "bad_plate.1003.exr" in logged
        # The choice is remembered for the next dialog.
        assert AppSettings().value("new_job/preflight") == "warn"
    finally:
        win.shutdown(WAIT_MS)
