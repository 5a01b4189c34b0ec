"""Watch folders in the window: rules edited in the dialog, saved, watched; landed sequences become jobs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialogButtonBox

from vfxcopy.core.jobs import JobState
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.watch import WatchRule
from vfxcopy.gui import prompts
from vfxcopy.gui.dialogs.watch_dialog import COL_NAME, COL_ON, RuleEditor, WatchDialog
from vfxcopy.gui.job_model import COLUMN_INDEX
from vfxcopy.gui.main_window import MainWindow
from vfxcopy.gui.settings import AppSettings
from vfxcopy.gui.watch_service import RULES_KEY, load_rules, save_rules

WAIT_MS = 30_000


class Asked:
    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.texts: list[str] = []

    def __call__(self, parent: Any, title: str, text: str, **kwargs: Any) -> bool:
        self.texts.append(text)
        return self.answer


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Asked:
    answer = Asked(True)
    monkeypatch.setattr(prompts, "ask", answer)

    def no_inform(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"unexpected message box: {args[1:3]}")

    monkeypatch.setattr(prompts, "inform", no_inform)
    return answer


@pytest.fixture
def windows(qtbot: Any, asked: Asked) -> Iterator[list[MainWindow]]:
    """Main windows made by a test; all shut down (watchers and workers stopped) at the end."""
    made: list[MainWindow] = []
    yield made
    for win in made:
        win.shutdown(WAIT_MS)


def new_window(qtbot: Any, windows: list[MainWindow]) -> MainWindow:
    win = MainWindow()
    qtbot.addWidget(win)
    windows.append(win)
    win.show()
    return win


def open_dialog(win: MainWindow) -> WatchDialog:
    action = win.findChild(QAction, "actionWatchFolders")
    assert action is not None and action.isEnabled()
    action.trigger()
    dialog = win.findChild(WatchDialog, "watchDialog")
    assert dialog is not None and dialog.isVisible()
    return dialog


def fill(editor: RuleEditor, *, name: str, folder: Path, dest: str, settle: float = 0.5) -> None:
    editor.name_edit.setText(name)
    editor.folder_edit.setText(str(folder))
    editor.dest_edit.setText(dest)
    editor.settle_spin.setValue(settle)


def ok_button(editor: RuleEditor) -> Any:
    return editor.buttons.button(QDialogButtonBox.StandardButton.Ok)


def drop_in(folder: Path, count: int = 6, head: str = "plate.") -> list[Path]:
    """Frames renamed into the watched folder, as a finished delivery arrives."""
    staging = folder.parent / f"staging-{head}"
    moved = []
    for path in make_byte_sequence(staging, head=head, count=count, size=2048):
        target = folder / path.name
        os.replace(path, target)
        moved.append(target)
    return moved


def test_rule_added_in_the_dialog_is_saved_watched_and_its_jobs_show_its_name(
        qtbot: Any, windows: list[MainWindow], tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    out = tmp_path / "out"
    win = new_window(qtbot, windows)
    dialog = open_dialog(win)
    assert dialog.table.rowCount() == 0

    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    editor = dialog.editor
    assert editor is not None and editor.objectName() == "watchRuleEditor"
    assert not ok_button(editor).isEnabled()  # empty rule
    fill(editor, name="Farm plates", folder=inbox, dest=str(out / "{head}"))
    assert ok_button(editor).isEnabled(), editor.problems_label.text()
    qtbot.mouseClick(ok_button(editor), Qt.MouseButton.LeftButton)

    assert dialog.table.rowCount() == 1
    assert dialog.table.item(0, COL_NAME).text() == "Farm plates"
    assert dialog.table.item(0, COL_ON).checkState() == Qt.CheckState.Checked
    saved = load_rules(AppSettings())  # a fresh settings object reads the file
    assert [r.name for r in saved] == ["Farm plates"] and saved[0].settle == 0.5
    service = win.watch_folders.service
    assert service.is_watching("Farm plates")
    watcher = service.watcher("Farm plates")
    assert watcher is not None and watcher.wait_ready(30)

    frames = drop_in(inbox)
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=WAIT_MS)
    record = win.model.record_at(0)
    assert record.spec.origin == "watch:Farm plates"
    shown = str(win.model.index(0, COLUMN_INDEX["sequence"]).data())
    assert "Farm plates" in shown and "plate.####.exr" in shown
    qtbot.waitUntil(lambda: win.model.record_at(0).state is JobState.COMPLETED, timeout=WAIT_MS)
    for path in frames:
        assert (out / "plate" / path.name).read_bytes() == path.read_bytes()
    qtbot.waitUntil(lambda: "queued plate.####.exr" in dialog.activity_text("Farm plates"), timeout=WAIT_MS)
    assert win.model.rowCount() == 1  # one job for the sequence, not one per frame


def test_editor_explains_what_stops_a_rule(qtbot: Any, windows: list[MainWindow], tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    save_rules(AppSettings(), [WatchRule("Existing", str(inbox), str(tmp_path / "o"), enabled=False)])
    win = new_window(qtbot, windows)
    dialog = open_dialog(win)
    editor = dialog.add_rule()

    fill(editor, name="Loop", folder=inbox, dest=str(inbox / "copies"))
    assert not ok_button(editor).isEnabled()
    assert "inside the watched folder" in editor.problems_label.text()

    fill(editor, name="Existing", folder=inbox, dest=str(tmp_path / "elsewhere"))
    assert not ok_button(editor).isEnabled()
    assert "exists already" in editor.problems_label.text()

    fill(editor, name="Tokens", folder=inbox, dest=str(tmp_path / "{shot}"))
    assert "{shot}" in editor.problems_label.text() and not ok_button(editor).isEnabled()

    fill(editor, name="Range", folder=inbox, dest=str(tmp_path / "{date}"))
    editor.expected_edit.setText("ten to twenty")
    assert "expected frames" in editor.problems_label.text()
    editor.expected_edit.setText("1001-1100")
    assert ok_button(editor).isEnabled()
    assert editor.rule().expected_range == (1001, 1100)

    index = editor.operation_combo.findData("Half-res sRGB JPEG proxies")
    assert index > 0
    editor.operation_combo.setCurrentIndex(index)
    rule = editor.rule()
    assert rule.preset == "Half-res sRGB JPEG proxies" and rule.operation.value == "convert"
    editor.reject()
    assert len(load_rules(AppSettings())) == 1  # cancelled: nothing saved


def test_disable_enable_edit_and_remove(qtbot: Any, windows: list[MainWindow], asked: Asked,
                                       tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    save_rules(AppSettings(), [WatchRule("Renders", str(inbox), str(tmp_path / "a"), settle=2.0)])
    win = new_window(qtbot, windows)
    service = win.watch_folders.service
    assert service.is_watching("Renders")  # saved rules are watched as soon as the window opens
    dialog = open_dialog(win)
    assert dialog.table.rowCount() == 1

    # Untick "On": the watcher stops and the rule is saved disabled.
    dialog.table.item(0, COL_ON).setCheckState(Qt.CheckState.Unchecked)
    qtbot.waitUntil(lambda: not service.is_watching("Renders"), timeout=WAIT_MS)
    assert load_rules(AppSettings())[0].enabled is False
    qtbot.waitUntil(lambda: "disabled" in dialog.activity_text("Renders"), timeout=WAIT_MS)  # refilled after

    dialog.select_rule("Renders")
    assert dialog.toggle_button.text().replace("&", "") == "Enable"
    qtbot.mouseClick(dialog.toggle_button, Qt.MouseButton.LeftButton)
    assert service.is_watching("Renders") and load_rules(AppSettings())[0].enabled is True
    assert dialog.table.item(0, COL_ON).checkState() == Qt.CheckState.Checked

    dialog.select_rule("Renders")
    editor = dialog.edit_selected()
    assert editor is not None and editor.name_edit.text() == "Renders"
    assert editor.settle_spin.value() == 2.0
    editor.dest_edit.setText(str(tmp_path / "b" / "{parent}"))
    editor.recursive_check.setChecked(True)
    qtbot.mouseClick(ok_button(editor), Qt.MouseButton.LeftButton)
    saved = load_rules(AppSettings())[0]
    assert saved.destination == str(tmp_path / "b" / "{parent}") and saved.recursive
    watcher = service.watcher("Renders")
    assert watcher is not None and watcher.rule.destination == saved.destination  # restarted with the edit

    dialog.select_rule("Renders")
    assert dialog.remove_selected()
    assert "Renders" in asked.texts[-1]
    assert dialog.table.rowCount() == 0
    assert not service.is_watching("Renders")
    assert json.loads(AppSettings().value(RULES_KEY)) == []


def test_refused_removal_keeps_the_rule(qtbot: Any, windows: list[MainWindow], asked: Asked,
                                        tmp_path: Path) -> None:
    save_rules(AppSettings(), [WatchRule("Keep me", str(tmp_path), "/nowhere/{head}", enabled=False)])
    win = new_window(qtbot, windows)
    dialog = open_dialog(win)
    dialog.select_rule("Keep me")
    asked.answer = False
    assert not dialog.remove_selected()
    assert dialog.table.rowCount() == 1 and len(load_rules(AppSettings())) == 1


def test_rules_survive_a_new_window_and_handled_sequences_are_not_queued_again(
        qtbot: Any, windows: list[MainWindow], tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    out = tmp_path / "out"
    save_rules(AppSettings(), [WatchRule("Plates", str(inbox), str(out), settle=0.5)])
    first = new_window(qtbot, windows)
    drop_in(inbox, count=4)
    qtbot.waitUntil(lambda: first.model.rowCount() == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: first.model.record_at(0).state is JobState.COMPLETED, timeout=WAIT_MS)
    first_id = first.model.record_at(0).job_id
    first.shutdown(WAIT_MS)

    second = new_window(qtbot, windows)
    service = second.watch_folders.service
    assert service.is_watching("Plates")
    watcher = service.watcher("Plates")
    assert watcher is not None and watcher.wait_ready(30)
    assert watcher.known_frames() == 4
    qtbot.wait(1500)  # three settle times: a re-queue would have happened
    # Only the first window's finished job, shown as history from the journal; nothing new.
    assert [r.job_id for r in second.model.records()] == [first_id]
    assert second.runner.running_count + second.runner.pending_count == 0


def test_closing_the_window_mid_job_queues_the_sequence_again_next_time(
        qtbot: Any, windows: list[MainWindow], tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings = AppSettings()
    settings.bwlimit = 16 * 1024  # 16 KiB/s: the job is still running when the window closes
    save_rules(settings, [WatchRule("Plates", str(inbox), str(tmp_path / "out"), settle=0.5)])
    first = new_window(qtbot, windows)
    drop_in(inbox, count=6)
    qtbot.waitUntil(lambda: first.model.rowCount() == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: first.model.record_at(0).state is JobState.RUNNING, timeout=WAIT_MS)
    first.shutdown(WAIT_MS)
    assert first.model.record_at(0).state is JobState.CANCELLED
    first_id = first.model.record_at(0).job_id

    settings.bwlimit = None
    second = new_window(qtbot, windows)

    def requeued() -> list[Any]:  # rows other than the first window's job (shown as history)
        return [r for r in second.model.records() if r.job_id != first_id]

    qtbot.waitUntil(lambda: len(requeued()) == 1, timeout=WAIT_MS)
    assert requeued()[0].spec.origin == "watch:Plates"
    qtbot.waitUntil(lambda: requeued()[0].state is JobState.COMPLETED, timeout=WAIT_MS)
    assert sorted(p.name for p in (tmp_path / "out").glob("plate.*.exr")) == sorted(
        p.name for p in inbox.iterdir())


def test_what_a_stopped_watcher_said_late_does_not_overwrite_disabled(qtbot: Any, windows: list[MainWindow],
                                                                      tmp_path: Path) -> None:
    """A watcher's words reach the window through a queued signal. One that was disabled since
    ("disabled" shown) may still have a "watching" on its way; it must not replace "disabled",
    nor speak for the new watcher of the same rule once it is enabled again."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    save_rules(AppSettings(), [WatchRule("Renders", str(inbox), str(tmp_path / "a"), settle=2.0)])
    win = new_window(qtbot, windows)
    service = win.watch_folders.service
    old = service.watcher("Renders")
    assert old is not None and old.wait_ready(30)
    service.set_enabled("Renders", False)
    service._from_thread_activity(old.rule, "watching")  # said just before it stopped, delivered now
    qtbot.wait(100)
    assert service.activity["Renders"].text == "disabled"
    service.set_enabled("Renders", True)
    new = service.watcher("Renders")
    assert new is not None and new is not old and new.wait_ready(30)
    qtbot.waitUntil(lambda: service.activity["Renders"].text == "watching", timeout=WAIT_MS)  # the new one's
    service._from_thread_activity(old.rule, "rescan found 3 new or changed frames")
    qtbot.wait(100)
    assert service.activity["Renders"].text == "watching"
    service._from_thread_activity(new.rule, "rescan found 2 new or changed frames")  # the current one is heard
    qtbot.waitUntil(lambda: service.activity["Renders"].text.startswith("rescan found 2"), timeout=WAIT_MS)
