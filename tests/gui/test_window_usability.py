"""The window as artists use it: new rows in sight, drops answered as copies, failures said in the window,
one way of writing numbers and words, unique mnemonics that focus their field, a quick quit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QAbstractButton, QApplication, QDialog, QLabel, QMenu, QWidget

from vfxcopy.core.jobs import CopyOptions, JobResult, JobSpec, JobState
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.units import RateMeter, format_duration, format_rate, format_size, parse_size, plural
from vfxcopy.gui import adding, prompts
from vfxcopy.gui.columns import COLUMN_INDEX
from vfxcopy.gui.main_window import MainWindow
from vfxcopy.gui.records import JobRecord

WAIT_MS = 30_000


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    questions: list[str] = []

    def ask(parent: Any, title: str, text: str, **kwargs: Any) -> bool:
        questions.append(text)
        return True

    monkeypatch.setattr(prompts, "ask", ask)
    return questions


@pytest.fixture
def window(qtbot: Any, asked: list[str]) -> Iterator[MainWindow]:
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1024, 700)
    win.show()
    yield win
    win.shutdown(WAIT_MS)


def fake_seq(n: int, head: str = "plate.") -> Sequence:
    return Sequence("/shows/abc/src", head, ".exr", 4, tuple(range(1001, 1001 + n)))


# -- numbers and words --------------------------------------------------------------------------

def test_one_formatter_for_sizes_speeds_and_durations() -> None:
    assert format_size(512) == "512 B"
    assert format_size(50 * 1024 * 1024) == "50.0 MiB" == format_size(parse_size("50M"))  # as --bwlimit reads it
    assert format_size(1288490188) == "1.2 GiB" and format_size(300 * 1024 * 1024) == "300.0 MiB"
    assert format_size(None) == "—"
    assert format_rate(280 * 1024 * 1024) == "280.0 MiB/s" and format_rate(0) == "" and format_rate(None) == ""
    assert format_duration(75.2) == "1:15" and format_duration(3725) == "1:02:05" and format_duration(None) == ""


def test_plural_helper() -> None:
    assert plural(1, "frame") == "1 frame" and plural(2, "frame") == "2 frames" and plural(0, "frame") == "0 frames"
    assert plural(1, "job is", "jobs are") == "1 job is" and plural(3, "job is", "jobs are") == "3 jobs are"


def test_rate_meter_waits_for_a_second_then_follows_a_sliding_window() -> None:
    meter = RateMeter(window=4.0, min_span=1.0)
    meter.add(0, now=0.0)
    meter.add(300 << 20, now=0.2)  # the page cache swallows the first frames: 1.5 GiB/s for 0.2 s
    assert meter.rate is None and meter.eta(100) is None
    for t in range(1, 9):
        meter.add((300 << 20) + t * (100 << 20), now=0.2 + t)
    assert meter.rate == pytest.approx(100 << 20)  # the window slid past the burst
    assert meter.eta(250 << 20) == pytest.approx(2.5)
    meter.add(0, now=10.0)  # a restart is a new measurement
    assert meter.rate is None


def test_statuses_and_counts_read_right(window: MainWindow, asked: list[str]) -> None:
    record = JobRecord(JobSpec(fake_seq(6), "/shows/abc/dst"))
    window.model.add_record(record)
    window.model.finish(JobResult(record.job_id, JobState.FAILED, message="1 of 6 frames failed"))
    from vfxcopy.core.jobs import FrameResult, FrameStatus

    failed = FrameResult(record.job_id, 5, 1006, "s", "d", FrameStatus.FAILED, error="d: exists and differs")
    window.model.finish(JobResult(record.job_id, JobState.FAILED, frames=[failed], message="1 of 6 frames failed"))
    row = window.model.row_of(record.job_id)
    assert window.model.index(row, COLUMN_INDEX["status"]).data() == "Failed (1 frame)"
    assert window.model.index(row, COLUMN_INDEX["frames"]).data() == "0/6"
    window.select_jobs([record.job_id])
    summary = window.details.findChild(QLabel, "detailsSummary").text()  # type: ignore[union-attr]
    # The same count as the table, the message not repeated.
    assert "0/6 frames done" in summary and "1 failed" in summary and "1 of 6 frames failed" not in summary


def test_quit_question_is_singular_for_one_job(qtbot: Any, window: MainWindow, asked: list[str],
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_byte_sequence(tmp_path / "src", count=4, size=512 * 1024)
    window.submit_specs([JobSpec(find_sequence(src[0], stat=True), str(tmp_path / "d"),
                                 copy=CopyOptions(bwlimit=256 * 1024, fsync=False))])
    monkeypatch.setattr(prompts, "ask", lambda parent, title, text, **kw: asked.append(text) or False)
    window.close()
    assert asked == ["1 job is running — cancel it and quit?"]
    assert window.isVisible()


def test_quit_is_immediate_when_nothing_runs(qtbot: Any, asked: list[str]) -> None:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    started = time.monotonic()
    win.close()
    # Nothing to cancel or wait for: no pool wait, no thumbnail wait (it took 2.3 s).
    assert time.monotonic() - started < 1.0
    assert asked == []


# -- rows in sight --------------------------------------------------------------------------------

def test_new_jobs_are_selected_scrolled_to_and_listed_above_history(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    old = [JobRecord(JobSpec(fake_seq(3, f"old{i}."), "/x"), state=JobState.COMPLETED) for i in range(30)]
    window.model.add_records(old)
    for i in range(30):  # this session's finished jobs: more rows than the table shows at 1024×700
        window.model.add_record(JobRecord(JobSpec(fake_seq(3, f"today{i}."), "/x"), state=JobState.COMPLETED))
    window.select_jobs([old[0].job_id])
    src = make_byte_sequence(tmp_path / "src", count=3, size=4096)
    (job_id,) = window.queue_specs([JobSpec(find_sequence(src[0], stat=True), str(tmp_path / "d"),
                                            copy=CopyOptions(fsync=False))])
    row = window.model.row_of(job_id)
    assert row == 30  # after this session's rows, above every row of earlier sessions
    assert all(window.model.record_at(r).from_history for r in range(31, 61))
    assert [r.job_id for r in window.selected_records()] == [job_id]  # the old selection is gone
    index = window.proxy.mapFromSource(window.model.index(row, 0))
    assert window.table.viewport().rect().intersects(window.table.visualRect(index))  # scrolled into sight
    # A shortcut now acts on what the user sees selected.
    assert window.actions_by_id[next(a for a in window.actions_by_id if a.value == "actionShowDetails")].isEnabled()


def test_empty_table_has_no_horizontal_scrollbar_and_status_is_not_clipped(qtbot: Any, window: MainWindow) -> None:
    qtbot.waitExposed(window)
    assert not window.table.horizontalScrollBar().isVisible()
    header = window.table.horizontalHeader()
    assert header.length() <= window.table.viewport().width()
    status = COLUMN_INDEX["status"]
    metrics = window.table.fontMetrics()
    for text in ("Stopping after frame…", "Failed (12 frames)", "Completed, 12 failed"):
        assert metrics.horizontalAdvance(text) + 12 <= header.sectionSize(status)


# -- drops are copies -----------------------------------------------------------------------------

def _drag_events(mime: QMimeData, actions: Qt.DropAction) -> tuple[QDragEnterEvent, QDragMoveEvent, QDropEvent]:
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier
    return (QDragEnterEvent(QPoint(300, 300), actions, mime, buttons, mods),
            QDragMoveEvent(QPoint(300, 300), actions, mime, buttons, mods),
            QDropEvent(QPointF(300, 300), actions, mime, buttons, mods))


def test_a_drop_is_answered_as_a_copy_even_when_the_source_proposes_move(
    qtbot: Any, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_byte_sequence(tmp_path / "src", count=3, size=1024)
    added: list[list[str]] = []
    monkeypatch.setattr(window, "add_paths", lambda paths: added.append(list(paths)))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(src[0]))])
    # Shift held in a file manager proposes a move.
    for event in _drag_events(mime, Qt.DropAction.CopyAction | Qt.DropAction.MoveAction):
        assert event.proposedAction() in (Qt.DropAction.MoveAction, Qt.DropAction.CopyAction)
        QApplication.sendEvent(window, event)
        assert event.isAccepted() and event.dropAction() == Qt.DropAction.CopyAction
    qtbot.waitUntil(lambda: bool(added), timeout=WAIT_MS)
    assert added == [[str(src[0])]]
    for event in _drag_events(mime, Qt.DropAction.MoveAction):  # a move-only drag is refused
        QApplication.sendEvent(window, event)
        assert not event.isAccepted()
    link = _drag_events(mime, Qt.DropAction.LinkAction)[0]
    QApplication.sendEvent(window, link)
    assert link.isAccepted() and link.dropAction() == Qt.DropAction.LinkAction


# -- failures said in the window ------------------------------------------------------------------

def test_actions_that_cannot_work_say_so(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    assert window.copy_paths("nuke") == ""
    assert "Nothing to copy" in window.statusBar().currentMessage()
    (tmp_path / "dst").mkdir()
    record = JobRecord(JobSpec(fake_seq(3), str(tmp_path / "dst")), state=JobState.COMPLETED)
    window.model.add_record(record)
    window.select_jobs([record.job_id])
    window.open_folder = lambda path: False  # a desktop without a folder launcher
    assert window.reveal_selected(source=False) == []
    message = window.statusBar().currentMessage()
    assert "no file manager" in message and str(tmp_path / "dst") in message
    assert QGuiApplication.clipboard().text() == str(tmp_path / "dst")
    window.reveal_selected(source=True)
    assert "does not exist" in window.statusBar().currentMessage()
    assert window.copy_paths("nuke") == str(tmp_path / "dst" / "plate.####.exr")


def test_open_report_that_cannot_be_opened_says_so(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    from vfxcopy.core.report import report_paths

    assert window.history is not None
    record = JobRecord(JobSpec(fake_seq(3), str(tmp_path / "dst")), state=JobState.COMPLETED)
    html_name, _csv = report_paths(record.spec)
    html = Path(html_name)
    html.parent.mkdir(parents=True)
    html.write_text("<html></html>")
    window.model.add_record(record)
    window.history.open_url = lambda url: False
    assert window.history.open_reports() == []  # nothing selected
    assert "Select a finished job" in window.statusBar().currentMessage()
    window.select_jobs([record.job_id])
    assert window.history.open_reports() == []
    assert "Cannot open the report" in window.statusBar().currentMessage()
    assert QGuiApplication.clipboard().text() == str(html)
    assert window.history.resume_selected() == []  # a completed job has nothing to resume
    assert "Nothing to resume" in window.statusBar().currentMessage()


# -- keyboard -------------------------------------------------------------------------------------

def mnemonic(text: str) -> str | None:
    i = text.replace("&&", "").find("&")
    return text.replace("&&", "")[i + 1].lower() if i >= 0 else None


def labelled(dialog: QWidget) -> list[tuple[str, QWidget]]:
    """(mnemonic, widget it gives focus to or presses) for every visible label and button."""
    found: list[tuple[str, QWidget]] = []
    for label in dialog.findChildren(QLabel):
        key = mnemonic(label.text())
        if key and label.isVisibleTo(dialog):
            found.append((key, label.buddy()))
    for button in dialog.findChildren(QAbstractButton):
        key = mnemonic(button.text())
        if key and button.isVisibleTo(dialog):
            found.append((key, button))
    return found


def press_alt(qtbot: Any, dialog: QWidget, key: str) -> None:
    qtbot.keyClick(dialog.focusWidget() or dialog, key, Qt.KeyboardModifier.AltModifier)


def check_mnemonics(qtbot: Any, dialog: QDialog) -> None:
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=5000)
    pairs = labelled(dialog)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"mnemonics used twice: {sorted(k for k in keys if keys.count(k) > 1)}"
    for key, target in pairs:
        assert target is not None, f"Alt+{key} names no field"
        if isinstance(target, QAbstractButton) or not target.isEnabled():
            continue
        press_alt(qtbot, dialog, key)
        assert QApplication.focusWidget() is target, f"Alt+{key} focused {QApplication.focusWidget()}"


def test_new_job_dialog_mnemonics_are_unique_and_focus_their_field(qtbot: Any, tmp_path: Path) -> None:
    from vfxcopy.gui.dialogs.new_job import NewJobDialog
    from vfxcopy.gui.settings import AppSettings

    src = make_byte_sequence(tmp_path / "src", count=3, size=1024)
    dialog = NewJobDialog([find_sequence(src[0], stat=True)], AppSettings())
    qtbot.addWidget(dialog)
    check_mnemonics(qtbot, dialog)
    dialog.operation_combo.setCurrentIndex(1)  # the conversion options show up: still unique
    check_mnemonics(qtbot, dialog)
    dialog._loader.shutdown(5000)


def test_settings_watch_rule_and_conflict_dialog_mnemonics(qtbot: Any, tmp_path: Path) -> None:
    from vfxcopy.gui.conflicts import Conflict
    from vfxcopy.gui.dialogs.conflict_dialog import ConflictDialog
    from vfxcopy.gui.dialogs.settings_dialog import SettingsDialog
    from vfxcopy.gui.dialogs.watch_dialog import RuleEditor
    from vfxcopy.gui.settings import AppSettings

    dialogs: list[QDialog] = [SettingsDialog(AppSettings()), RuleEditor(None, set())]
    spec = JobSpec(fake_seq(2), str(tmp_path))
    dialogs.append(ConflictDialog(spec, [Conflict("plate.1001.exr", str(tmp_path / "plate.1001.exr"), None,
                                                  10, 0.0, None, None)]))
    for dialog in dialogs:
        qtbot.addWidget(dialog)
        check_mnemonics(qtbot, dialog)
        dialog.close()


def test_menus_have_unique_mnemonics_and_add_folder(window: MainWindow) -> None:
    for menu in [*window.menus.values(), *[m for m in window.menuBar().findChildren(QMenu)]]:
        keys = [mnemonic(a.text()) for a in menu.actions() if not a.isSeparator() and mnemonic(a.text())]
        assert len(keys) == len(set(keys)), f"{menu.title()}: {keys}"
    file_menu = [a.objectName() for a in window.menus["file"].actions()]
    assert "actionAdd" in file_menu and "actionAddFolder" in file_menu


def test_add_dialogs_start_in_home_then_the_last_folder(
    window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_byte_sequence(tmp_path / "shots" / "sh010", count=3, size=1024)
    starts: list[str] = []
    opened: list[list[str]] = []
    monkeypatch.setattr(window, "add_paths", lambda paths: opened.append(list(paths)))
    monkeypatch.setattr(adding, "choose_folder", lambda parent, start: starts.append(start) or str(src[0].parent))
    monkeypatch.setattr(adding, "choose_files", lambda parent, start: starts.append(start) or [str(src[1])])
    window.actions_by_id[next(a for a in window.actions_by_id if a.value == "actionAddFolder")].trigger()
    window.actions_by_id[next(a for a in window.actions_by_id if a.value == "actionAdd")].trigger()
    assert starts == [str(Path.home()), str(src[0].parent)]
    assert opened == [[str(src[0].parent)], [str(src[1])]]


def test_table_and_details_count_frames_alike_for_a_run_again_after_a_cancel(window: MainWindow) -> None:
    from vfxcopy.core.jobs import FrameResult, FrameStatus, Progress

    spec = JobSpec(fake_seq(6), "/shows/abc/dst")
    record = JobRecord(spec)
    window.model.add_record(record)
    window.model.mark_started(spec.job_id)
    # The frames the cancelled run had copied are found identical and skipped by the new run.
    window.model.apply_events(spec.job_id, [
        FrameResult(spec.job_id, i, 1001 + i, "s", "d", FrameStatus.SKIPPED) for i in range(2)
    ] + [Progress(spec.job_id, JobState.RUNNING, 6, frames_done=2, current_frame=1003)])
    # The frame in flight (1003, the third) is shown running; its index is found from its number.
    assert record.frame_states[:4] == [FrameStatus.SKIPPED] * 2 + [FrameStatus.RUNNING, FrameStatus.PENDING]
    window.select_jobs([spec.job_id])
    row = window.model.row_of(spec.job_id)
    assert window.model.index(row, COLUMN_INDEX["frames"]).data() == "2/6"
    window.details.refresh()  # type: ignore[attr-defined]
    summary = window.details.findChild(QLabel, "detailsSummary").text()  # type: ignore[union-attr]
    assert "2/6 frames done: 2 skipped" in summary
