"""The window's notifications: the Settings group writes the shared notify.* settings; a job's end runs the hook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QPlainTextEdit

from vfxcopy.core import config
from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import CancelToken, CopyOptions, JobSpec, JobState
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence, resolve
from vfxcopy.gui.dialogs.notify_fields import NotifyGroup
from vfxcopy.gui.job_notices import JobNotices


def test_the_notifications_group_writes_what_the_command_line_reads(qtbot) -> None:  # type: ignore[no-untyped-def]
    group = NotifyGroup()
    qtbot.addWidget(group)
    group.show()
    desktop = group.findChild(QCheckBox, "notifyDesktopCheck")
    assert desktop.isChecked()
    qtbot.mouseClick(desktop, Qt.MouseButton.LeftButton, pos=desktop.rect().center())
    urls = group.findChild(QPlainTextEdit, "notifyUrlsEdit")
    qtbot.keyClicks(urls, "json://127.0.0.1:8080/hook")
    qtbot.keyClick(urls, Qt.Key.Key_Return)
    qtbot.keyClicks(urls, "mailto://ops@127.0.0.1")
    when = group.findChild(QComboBox, "notifyWhenCombo")
    when.setCurrentIndex(when.findData("failed"))
    qtbot.keyClicks(group.findChild(QLineEdit, "notifyHookEdit"), "ingest-done --job -")
    assert group.error() == ""
    group.apply()
    settings = config.load()
    assert settings.strings("notify.urls") == ["json://127.0.0.1:8080/hook", "mailto://ops@127.0.0.1"]
    assert settings.text("notify.when") == "failed" and settings.flag("notify.desktop") is False
    assert settings.text("notify.on_complete") == "ingest-done --job -"
    again = NotifyGroup()
    qtbot.addWidget(again)
    assert again.findChild(QComboBox, "notifyWhenCombo").currentData() == "failed"
    assert again.urls() == ["json://127.0.0.1:8080/hook", "mailto://ops@127.0.0.1"]


def test_a_url_without_a_scheme_is_refused(qtbot) -> None:  # type: ignore[no-untyped-def]
    group = NotifyGroup()
    qtbot.addWidget(group)
    qtbot.keyClicks(group.findChild(QPlainTextEdit, "notifyUrlsEdit"), "ops@example.com")
    assert "no scheme" in group.error()


def test_a_finished_job_runs_the_hook_off_the_gui_thread(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_byte_sequence(tmp_path / "src", count=2, size=100)
    (seq,) = resolve([str(tmp_path / "src")])
    spec = JobSpec(source=seq, dest_dir=str(tmp_path / "out"), copy=CopyOptions(fsync=False), origin="gui")
    result = run_job(spec, CancelToken(), lambda event: None)
    notices = JobNotices()
    assert notices.job_finished(spec, result) is False  # nothing set: nothing started
    out = tmp_path / "hook.json"
    config.set_value("notify.on_complete", f"cat > {out}; exit 4")
    problems: list[str] = []
    notices.problem.connect(problems.append)
    with qtbot.waitSignal(notices.done, timeout=20000) as done:
        assert notices.job_finished(spec, result) is True
    assert done.args == [spec.job_id]
    job = json.loads(out.read_text())
    assert job["job_id"] == spec.job_id and job["state"] == "completed" and job["spec"]["origin"] == "gui"
    assert problems == [f"hook 'cat > {out}; exit 4' exited 4"]


@pytest.fixture
def window(qtbot, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from vfxcopy.gui import prompts
    from vfxcopy.gui.main_window import MainWindow

    monkeypatch.setattr(prompts, "ask", lambda *args, **kwargs: True)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shutdown(30_000)


def test_a_job_ending_in_the_window_runs_the_settings_hook(qtbot, window: Any, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "hook.json"
    config.set_value("notify.on_complete", f"cat > {out}")
    src = make_byte_sequence(tmp_path / "src", count=2, size=100)
    (job_id,) = window.submit_specs([JobSpec(find_sequence(src[0], stat=True), str(tmp_path / "out"),
                                             copy=CopyOptions(fsync=False))])
    qtbot.waitUntil(lambda: out.exists() and out.stat().st_size > 0, timeout=30_000)
    qtbot.waitUntil(lambda: json.loads(out.read_text() or "{}").get("job_id") == job_id, timeout=10_000)
    job = json.loads(out.read_text())
    assert job["state"] == "completed" and job["frames_done"] == 2


def test_desktop_messages_follow_the_setting(qtbot, window: Any, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QWidget

    notes: list[str] = []
    window.notify = lambda parent, title, text, **kw: notes.append(title)
    other = QWidget()  # another top-level window takes the focus away
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    qtbot.waitUntil(lambda: not window.isActiveWindow(), timeout=5000)
    # The offscreen platform may hand the focus back to the window while its jobs update the table
    # (under load the second job then ended "active" and said nothing): it stays in the background here.
    window.isActiveWindow = lambda: False
    config.set_value("notify.desktop", False)
    src = make_byte_sequence(tmp_path / "src", count=2, size=100)
    (job_id,) = window.submit_specs([JobSpec(find_sequence(src[0], stat=True), str(tmp_path / "a"),
                                             copy=CopyOptions(fsync=False))])
    # The job's last progress event shows it completed before the window handles its end (which is
    # where a message is sent): wait for that end, or the first job's message may come after the switch.
    record = window.model.record_for(job_id)
    qtbot.waitUntil(lambda: record.state is JobState.COMPLETED and record.result is not None, timeout=30_000)
    assert notes == []
    config.set_value("notify.desktop", True)
    (job_id,) = window.submit_specs([JobSpec(find_sequence(src[0], stat=True), str(tmp_path / "b"),
                                             copy=CopyOptions(fsync=False))])
    qtbot.waitUntil(lambda: bool(notes), timeout=30_000)
    assert notes == ["Job completed"]


def test_settings_dialog_has_the_notifications_group(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QPushButton

    from vfxcopy.gui.dialogs.settings_dialog import SettingsDialog
    from vfxcopy.gui.settings import AppSettings

    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.show()
    urls = dialog.findChild(QPlainTextEdit, "notifyUrlsEdit")
    ok = dialog.findChild(QPushButton, "okButton")
    qtbot.keyClicks(urls, "not a url")
    assert not ok.isEnabled() and "no scheme" in dialog.error_label.text()
    urls.clear()
    qtbot.keyClicks(urls, "json://127.0.0.1:9/x")
    assert ok.isEnabled()
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert config.load().strings("notify.urls") == ["json://127.0.0.1:9/x"]
