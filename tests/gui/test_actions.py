"""Actions: definitions, which apply to a selection, and what they do in the real window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QApplication, QCheckBox, QMessageBox

from vfxcopy.core.jobs import CopyOptions, JobSpec, JobState
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.actions import DEFINITIONS, ActionId
from vfxcopy.gui.job_model import COLUMN_INDEX
from vfxcopy.gui.main_window import MainWindow
from vfxcopy.gui.settings import AppSettings

WAIT_MS = 30_000


@pytest.fixture
def window(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setattr(prompts, "ask", lambda *a, **k: True)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shutdown(WAIT_MS)


def spec_for(paths: list[Path], dest: Path, **copy: Any) -> JobSpec:
    copy.setdefault("fsync", False)
    return JobSpec(find_sequence(paths[0], stat=True), str(dest), copy=CopyOptions(**copy))


def action(win: MainWindow, object_name: str) -> QAction:
    found = win.findChild(QAction, object_name)
    assert found is not None, object_name
    return found


def status(win: MainWindow, job_id: str) -> str:
    return str(win.model.index(win.model.row_of(job_id), COLUMN_INDEX["status"]).data())


def shown_in_menu(win: MainWindow) -> set[str]:
    menu = win.build_context_menu()
    names = {a.objectName() for a in menu.actions() if a.objectName()}
    for a in menu.actions():
        if a.menu() is not None:
            names |= {b.objectName() for b in a.menu().actions()}
    return names


def test_every_action_has_its_object_name_text_tooltip_and_a_unique_shortcut(window: MainWindow) -> None:
    shortcuts: list[str] = []
    for action_id in ActionId:
        a = action(window, action_id.value)
        assert a.text() and a.toolTip()
        if DEFINITIONS[action_id].icon:
            assert not a.icon().isNull(), action_id
        if not a.shortcut().isEmpty():
            shortcuts.append(a.shortcut().toString())
    assert len(shortcuts) == len(set(shortcuts))
    for name in ("actionCancel", "actionCancelAll", "actionPause", "actionResume", "actionRetry", "actionRemove"):
        assert window.findChild(QAction, name) is not None
    assert window.findChild(object, "jobTable") is not None
    assert window.findChild(object, "detailsPane") is not None


def test_menu_and_toolbar_follow_the_selection(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=6, size=512 * 1024)
    quick = make_byte_sequence(tmp_path / "quick", head="quick.", count=2, size=1024)
    done_id, slow_id = window.submit_specs([spec_for(quick, tmp_path / "q"),
                                            spec_for(src, tmp_path / "s", bwlimit=1024 * 1024)])
    done = window.model.record_for(done_id)
    qtbot.waitUntil(lambda: done is not None and done.state is JobState.COMPLETED, timeout=WAIT_MS)
    slow = window.model.record_for(slow_id)
    qtbot.waitUntil(lambda: slow is not None and slow.state is JobState.RUNNING, timeout=WAIT_MS)

    window.select_jobs([done_id])
    assert shown_in_menu(window) >= {"actionRunAgain", "actionRemove", "actionRevealDest", "actionCopyPathNuke"}
    assert not shown_in_menu(window) & {"actionCancel", "actionPause", "actionResume", "actionRetry"}
    assert action(window, "actionRemove").isEnabled() and not action(window, "actionCancel").isEnabled()

    window.select_jobs([slow_id])
    names = shown_in_menu(window)
    assert {"actionCancel", "actionPause", "actionStopAfterFrame"} <= names
    assert not names & {"actionRemove", "actionRunAgain", "actionResume"}
    assert action(window, "actionCancelAll").isEnabled()

    # A mixed selection shows what applies to any row; Remove acts on the finished rows only.
    window.select_jobs([done_id, slow_id])
    assert {"actionCancel", "actionRemove"} <= shown_in_menu(window)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Delete)
    assert window.model.row_of(done_id) == -1
    assert window.model.row_of(slow_id) == 0


def test_pause_and_resume_from_the_toolbar(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=6, size=512 * 1024)
    (job_id,) = window.submit_specs([spec_for(src, tmp_path / "d", bwlimit=2 * 1024 * 1024)])
    record = window.model.record_for(job_id)
    assert record is not None
    qtbot.waitUntil(lambda: record.state is JobState.RUNNING, timeout=WAIT_MS)
    window.select_jobs([job_id])
    action(window, "actionPause").trigger()
    assert status(window, job_id) == "Paused"
    assert action(window, "actionResume").isEnabled() and not action(window, "actionPause").isEnabled()
    qtbot.wait(300)
    assert status(window, job_id) == "Paused"  # late progress from the worker does not undo it
    action(window, "actionResume").trigger()
    assert status(window, job_id) == "Running"
    qtbot.waitUntil(lambda: record.state is JobState.COMPLETED, timeout=WAIT_MS)


def test_stop_after_frame_from_the_context_menu_keeps_whole_frames(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    src = make_byte_sequence(tmp_path / "src", count=6, size=1024 * 1024)
    dest = tmp_path / "d"
    (job_id,) = window.submit_specs([spec_for(src, dest, bwlimit=2 * 1024 * 1024)])
    record = window.model.record_for(job_id)
    assert record is not None
    # A frame in flight: the one that is let finish.
    qtbot.waitUntil(lambda: record.progress is not None and record.progress.bytes_done > 0, timeout=WAIT_MS)
    window.select_jobs([job_id])
    menu = window.build_context_menu()
    stop = next(a for a in menu.actions() if a.objectName() == "actionStopAfterFrame")
    stop.trigger()
    assert status(window, job_id) == "Stopping after frame…"
    assert "actionStopAfterFrame" not in shown_in_menu(window)  # asked once is enough
    qtbot.waitUntil(lambda: record.state.finished, timeout=WAIT_MS)
    written = sorted(dest.glob("plate.*.exr"))
    assert 1 <= len(written) < 6, (record.result, record.frame_states)
    assert all(p.read_bytes() == (tmp_path / "src" / p.name).read_bytes() for p in written)
    assert not [p for p in dest.iterdir() if p.name.startswith(".vfxcopy-")]


def test_start_next_moves_a_pending_job_to_the_front(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    window.runner.set_max_jobs(1)
    started: list[str] = []
    window.runner.job_started.connect(started.append)
    src = make_byte_sequence(tmp_path / "src", count=3, size=256 * 1024)
    first, second, urgent = window.submit_specs(
        [spec_for(src, tmp_path / f"d{i}", bwlimit=1024 * 1024) for i in range(3)])
    window.select_jobs([urgent])
    assert "actionStartNext" in shown_in_menu(window)
    action(window, "actionStartNext").trigger()
    assert window.runner.pending_ids() == [urgent, second]
    qtbot.waitUntil(lambda: len(started) >= 2, timeout=WAIT_MS)
    assert started[:2] == [first, urgent]
    window.select_jobs([first])
    assert "actionStartNext" not in shown_in_menu(window)


def test_cancel_all_cancels_running_and_pending(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    window.runner.set_max_jobs(1)
    src = make_byte_sequence(tmp_path / "src", count=4, size=512 * 1024)
    ids = window.submit_specs([spec_for(src, tmp_path / f"d{i}", bwlimit=1024 * 1024) for i in range(3)])
    qtbot.waitUntil(lambda: window.runner.running_count == 1, timeout=WAIT_MS)
    action(window, "actionCancelAll").trigger()
    assert status(window, ids[1]) == "Cancelled" and status(window, ids[2]) == "Cancelled"
    qtbot.waitUntil(lambda: status(window, ids[0]) == "Cancelled", timeout=WAIT_MS)
    # The row shows Cancelled from the engine's last progress event; the runner frees the
    # slot a moment later, when the worker returns (after recording the job in the journal).
    qtbot.waitUntil(lambda: not action(window, "actionCancelAll").isEnabled(), timeout=WAIT_MS)


def test_copy_path_in_three_syntaxes_and_reveal_folders(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=3, size=1024)
    dest = tmp_path / "out"
    (job_id,) = window.submit_specs([spec_for(src, dest)])
    record = window.model.record_for(job_id)
    qtbot.waitUntil(lambda: record is not None and record.state is JobState.COMPLETED, timeout=WAIT_MS)
    window.select_jobs([job_id])
    clipboard = QGuiApplication.clipboard()
    expected = {
        "actionCopyPathNuke": f"{dest}/plate.####.exr",
        "actionCopyPathHoudini": f"{dest}/plate.$F4.exr",
        "actionCopyPathPrintf": f"{dest}/plate.%04d.exr",
    }
    for name, text in expected.items():
        action(window, name).trigger()
        assert clipboard.text() == text

    opened: list[str] = []
    window.open_folder = lambda path: opened.append(path) or True
    action(window, "actionRevealSource").trigger()
    action(window, "actionRevealDest").trigger()
    assert opened == [str(tmp_path / "src"), str(dest)]

    window.table.clearSelection()
    window.select_jobs([job_id])
    window.splitter.setSizes([700, 0])  # details pane collapsed
    action(window, "actionShowDetails").trigger()
    assert window.splitter.sizes()[1] > 100
    assert window.details.record is record  # type: ignore[attr-defined]


def test_ask_dont_ask_again_is_remembered(qtbot: Any, qapp: Any) -> None:
    settings = AppSettings()
    assert settings.confirm_cancel is True
    seen: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        seen.append(box.text())
        check = box.findChild(QCheckBox)
        assert check is not None and check.text() == "Don't ask again"
        check.setChecked(True)
        ok = next(b for b in box.buttons() if b.text() == "Cancel Job")
        ok.click()

    QTimer.singleShot(100, answer)
    assert prompts.ask(None, "Cancel", "Cancel this job?", ok_text="Cancel Job", cancel_text="Keep Running",
                       dont_ask_key="confirm_cancel", settings=settings) is True
    assert seen == ["Cancel this job?"]
    assert AppSettings().confirm_cancel is False  # the settings dialog's checkbox shows it
    # Asked again: answered yes without a dialog (a dialog would block this test until its timeout).
    assert prompts.ask(None, "Cancel", "Cancel this job?", ok_text="Cancel Job",
                       dont_ask_key="confirm_cancel", settings=settings) is True


def test_ask_answered_no_returns_false_and_keeps_asking(qtbot: Any, qapp: Any) -> None:
    settings = AppSettings()

    def answer() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        next(b for b in box.buttons() if b.text() == "Keep Running").click()

    QTimer.singleShot(100, answer)
    assert prompts.ask(None, "Cancel", "Cancel this job?", ok_text="Cancel Job", cancel_text="Keep Running",
                       dont_ask_key="confirm_cancel", settings=settings) is False
    assert settings.confirm_cancel is True
