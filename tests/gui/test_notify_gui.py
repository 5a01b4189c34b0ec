"""The window's notifications: the Settings group writes the shared notify.* settings; a job's end runs the hook."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QPlainTextEdit

from vfxcopy.core import config
from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import CancelToken, CopyOptions, JobSpec
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.sequence import resolve
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
