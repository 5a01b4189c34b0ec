"""The real main window offscreen: drops, queue to completion, cancel, close guard, retry, notifications."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLabel, QMenu, QTreeWidget, QWidget

from vfxcopy.core.jobs import ConflictPolicy, CopyOptions, JobSpec, JobState, is_temp_name
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.job_model import COLUMN_INDEX
from vfxcopy.gui.main_window import HEADER_KEY, MainWindow, sequences_for_paths
from vfxcopy.gui.settings import AppSettings

WAIT_MS = 30_000


class Asked:
    """Records the questions the window asked and answers them."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, parent: Any, title: str, text: str, **kwargs: Any) -> bool:
        self.calls.append((text, kwargs))
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
def window(qtbot: Any, asked: Asked) -> Iterator[MainWindow]:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    # No worker thread may outlive the test.
    win.shutdown(WAIT_MS)


def spec_for(paths: list[Path], dest: Path, **copy: Any) -> JobSpec:
    copy.setdefault("fsync", False)
    return JobSpec(find_sequence(paths[0], stat=True), str(dest), copy=CopyOptions(**copy))


def cell(win: MainWindow, job_id: str, column: str) -> str:
    row = win.model.row_of(job_id)
    return str(win.model.index(row, COLUMN_INDEX[column]).data())


def temps_in(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if is_temp_name(p.name)] if folder.exists() else []


def context_menu_action(win: MainWindow, job_ids: list[str], object_name: str) -> tuple[QMenu, list[str]]:
    """Select rows and build the real context menu; returns it and the objectNames it shows."""
    win.select_jobs(job_ids)
    menu = win.build_context_menu()
    names = [a.objectName() for a in menu.actions() if not a.isSeparator()]
    for sub in menu.findChildren(QMenu):
        names += [a.objectName() for a in sub.actions()]
    return menu, names


def trigger_from_menu(menu: QMenu, object_name: str) -> None:
    for action in menu.actions():
        if action.objectName() == object_name:
            assert action.isEnabled() and action.isVisible()
            action.trigger()
            return
    raise AssertionError(f"{object_name} not in the context menu")


def test_drop_of_a_frame_and_a_folder_opens_new_job_dialog_with_whole_sequences(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    plate = make_byte_sequence(tmp_path / "a", head="plate.", count=8, size=2048)
    make_byte_sequence(tmp_path / "b", head="comp.", start=1, count=5, size=2048, tail=".dpx")
    mime = QMimeData()
    # One frame from the middle of plate, and a whole folder.
    mime.setUrls([QUrl.fromLocalFile(str(plate[3])), QUrl.fromLocalFile(str(tmp_path / "b"))])
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(QPoint(200, 200), actions, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(200, 200), actions, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted()

    qtbot.waitUntil(lambda: window.new_job_dialog is not None, timeout=WAIT_MS)
    dialog = window.new_job_dialog
    assert dialog is not None and dialog.objectName() == "newJobDialog" and dialog.isVisible()
    found = {(s.head, s.frames[0], s.frames[-1], len(s.frames)) for s in window.last_dropped}
    assert found == {("plate.", 1001, 1008, 8), ("comp.", 1, 5, 5)}
    listed = dialog.findChild(QTreeWidget, "sequenceList")
    assert listed is not None and listed.topLevelItemCount() == 2
    names = " ".join(listed.topLevelItem(i).text(0) for i in range(2))
    assert "plate.####.exr" in names and "comp.####.dpx" in names

    # Queue from the dialog: both sequences become rows and complete.
    dialog.destination_edit.setText(str(tmp_path / "out"))  # type: ignore[attr-defined]
    dialog.ok_button.click()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: all(r.state is JobState.COMPLETED for r in window.model.records()),
                    timeout=WAIT_MS)
    assert (tmp_path / "out" / "plate.1001.exr").read_bytes() == plate[0].read_bytes()
    assert len(list((tmp_path / "out").glob("comp.*.dpx"))) == 5


def test_a_dropped_folder_of_sub_folders_brings_the_sequences_inside(tmp_path: Path) -> None:
    make_byte_sequence(tmp_path / "sh010" / "plates", head="bg.", count=3, size=1024)
    make_byte_sequence(tmp_path / "sh010" / "renders", head="fg.", count=4, size=1024)
    found = sequences_for_paths([tmp_path / "sh010"])
    assert sorted((s.head, len(s.frames)) for s in found) == [("bg.", 3), ("fg.", 4)]
    # Every frame of a sequence dropped at once: one sequence, not one per frame.
    frames = make_byte_sequence(tmp_path / "many", count=50, size=512)
    assert [(s.head, len(s.frames)) for s in sequences_for_paths(frames)] == [("plate.", 50)]


def test_queue_shows_progress_then_completed(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=16, size=256 * 1024)
    dest = tmp_path / "dst"
    # About 2 s at 2 MiB/s: long enough to see the job part-way.
    (job_id,) = window.submit_specs([spec_for(paths, dest, bwlimit=2 * 1024 * 1024)])
    assert window.model.rowCount() == 1
    record = window.model.record_for(job_id)
    assert record is not None
    qtbot.waitUntil(lambda: record.state is JobState.RUNNING and 0 < window.model.info(record).done < 16,
                    timeout=WAIT_MS)
    assert cell(window, job_id, "status") == "Running"
    assert "running" in window.status_label.text() and "1 running" in window.status_label.text()
    window.select_jobs([job_id])
    summary = window.details.findChild(QLabel, "detailsSummary")
    qtbot.waitUntil(lambda: record.state is JobState.COMPLETED, timeout=WAIT_MS)
    assert cell(window, job_id, "status") == "Completed"
    # The details pane follows the selected row as it changes (throttled).
    if summary is not None:
        qtbot.waitUntil(lambda: "Completed" in summary.text(), timeout=WAIT_MS)
    assert cell(window, job_id, "frames") == "16/16"
    assert cell(window, job_id, "progress") == "100%"
    for p in paths:
        assert (dest / p.name).read_bytes() == p.read_bytes()
    assert temps_in(dest) == []


def test_cancel_from_context_menu_mid_file_leaves_no_temp_and_spares_other_jobs(
    qtbot: Any, window: MainWindow, asked: Asked, tmp_path: Path
) -> None:
    big = make_byte_sequence(tmp_path / "big", count=6, size=3 * 1024 * 1024)
    small = make_byte_sequence(tmp_path / "small", head="small.", count=10, size=200 * 1024)
    dest_big, dest_small = tmp_path / "out_big", tmp_path / "out_small"
    # 1.5 s per big frame; the small job takes about 2 s, alongside.
    slow_id, other_id = window.submit_specs([
        spec_for(big, dest_big, bwlimit=2 * 1024 * 1024),
        spec_for(small, dest_small, bwlimit=1024 * 1024),
    ])
    slow = window.model.record_for(slow_id)
    assert slow is not None
    # Wait until the first frame is in place and the second is being written.
    qtbot.waitUntil(lambda: window.model.info(slow).done >= 1 and bool(temps_in(dest_big)), timeout=WAIT_MS)

    menu, shown = context_menu_action(window, [slow_id], "actionCancel")
    assert "actionCancel" in shown and "actionPause" in shown
    assert "actionResume" not in shown and "actionRemove" not in shown and "actionRetry" not in shown
    trigger_from_menu(menu, "actionCancel")
    assert asked.calls and asked.calls[0][1].get("dont_ask_key") == "confirm_cancel"
    if slow.state is not JobState.CANCELLED:
        assert cell(window, slow_id, "status") == "Cancelling…"

    qtbot.waitUntil(lambda: slow.state is JobState.CANCELLED, timeout=WAIT_MS)
    assert cell(window, slow_id, "status") == "Cancelled"
    assert temps_in(dest_big) == []
    done = sorted(p.name for p in dest_big.glob("plate.*.exr"))
    assert 1 <= len(done) < 6
    for name in done:  # finished frames stay, whole
        assert (dest_big / name).read_bytes() == (tmp_path / "big" / name).read_bytes()

    other = window.model.record_for(other_id)
    assert other is not None
    qtbot.waitUntil(lambda: other.state is JobState.COMPLETED, timeout=WAIT_MS)
    assert len(list(dest_small.glob("small.*.exr"))) == 10


def test_cancel_of_a_pending_job_never_starts_it(qtbot: Any, qapp: Any, asked: Asked, tmp_path: Path) -> None:
    AppSettings().jobs_at_once = 1
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    try:
        assert win.runner.max_jobs == 1
        started: list[str] = []
        win.runner.job_started.connect(started.append)
        src = make_byte_sequence(tmp_path / "src", count=4, size=512 * 1024)
        first, second = win.submit_specs([
            spec_for(src, tmp_path / "one", bwlimit=1024 * 1024),
            spec_for(src, tmp_path / "two"),
        ])
        qtbot.waitUntil(lambda: first in started, timeout=WAIT_MS)
        assert cell(win, second, "status") == "Pending"
        assert "1 running" in win.status_label.text() and "1 pending" in win.status_label.text()

        menu, shown = context_menu_action(win, [second], "actionCancel")
        assert "actionCancel" in shown and "actionPause" not in shown
        trigger_from_menu(menu, "actionCancel")
        assert cell(win, second, "status") == "Cancelled"  # at once: nothing to wait for
        first_record = win.model.record_for(first)
        assert first_record is not None
        qtbot.waitUntil(lambda: first_record.state is JobState.COMPLETED, timeout=WAIT_MS)
        assert second not in started
        assert not (tmp_path / "two").exists()
    finally:
        win.shutdown(WAIT_MS)


def test_close_guard_keeps_jobs_on_no_and_cancels_them_on_yes(
    qtbot: Any, window: MainWindow, asked: Asked, tmp_path: Path
) -> None:
    src = make_byte_sequence(tmp_path / "src", count=8, size=1024 * 1024)
    dests = [tmp_path / "d1", tmp_path / "d2"]
    ids = window.submit_specs([spec_for(src, d, bwlimit=1024 * 1024) for d in dests])
    records = [window.model.record_for(i) for i in ids]
    qtbot.waitUntil(lambda: all(r is not None and r.state is JobState.RUNNING for r in records),
                    timeout=WAIT_MS)

    asked.answer = False
    assert window.close() is False
    assert window.isVisible()
    assert asked.calls[-1][0] == "2 jobs are running — cancel them and quit?"
    before = [window.model.info(r).bytes_done for r in records if r is not None]
    qtbot.waitUntil(lambda: [window.model.info(r).bytes_done for r in records if r is not None] != before,
                    timeout=WAIT_MS)
    assert all(r is not None and r.state is JobState.RUNNING for r in records)

    asked.answer = True
    assert window.close() is True
    assert not window.isVisible()
    assert window.runner.running_count == 0
    assert all(r is not None and r.state is JobState.CANCELLED for r in records)
    for d in dests:
        assert temps_in(d) == []
        assert len(list(d.glob("plate.*.exr"))) < 8


def test_retry_failed_frames_queues_only_those_and_completes(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    src = make_byte_sequence(tmp_path / "src", count=6, size=32 * 1024)
    dest = tmp_path / "dst"
    dest.mkdir()
    clash = dest / "plate.1003.exr"
    clash.write_bytes(b"a different file with the same name")
    (job_id,) = window.submit_specs([spec_for(src, dest, on_conflict=ConflictPolicy.SKIP_IDENTICAL)])
    record = window.model.record_for(job_id)
    assert record is not None
    qtbot.waitUntil(lambda: record.state.finished, timeout=WAIT_MS)
    assert cell(window, job_id, "frames") == "5/6" and cell(window, job_id, "status") == "Failed (1 frame)"
    assert [r.frame for r in record.failed_frames] == [1003]
    assert clash.read_bytes() == b"a different file with the same name"  # never overwritten

    clash.unlink()
    menu, shown = context_menu_action(window, [job_id], "actionRetry")
    assert {"actionRetry", "actionRunAgain", "actionRemove"} <= set(shown)
    assert "actionCancel" not in shown and "actionPause" not in shown
    trigger_from_menu(menu, "actionRetry")
    assert window.model.rowCount() == 2
    retry = window.model.record_at(1)
    assert retry.job_id != job_id and retry.spec.selected_frames() == [1003]
    assert retry.spec.copy.on_conflict is ConflictPolicy.SKIP_IDENTICAL
    qtbot.waitUntil(lambda: retry.state is JobState.COMPLETED, timeout=WAIT_MS)
    assert cell(window, retry.job_id, "frames") == "1/1"
    assert clash.read_bytes() == src[2].read_bytes()


def test_finished_job_notifies_when_window_is_not_active(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    notes: list[tuple[str, str]] = []
    window.notify = lambda parent, title, text, **kw: notes.append((title, text))
    other = QWidget()  # another top-level window takes the focus away
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    qtbot.waitUntil(lambda: not window.isActiveWindow(), timeout=5000)
    src = make_byte_sequence(tmp_path / "src", count=3, size=4096)
    dest = tmp_path / "dst"
    dest.mkdir()
    (dest / "plate.1002.exr").write_bytes(b"clash")
    ok_id, bad_id = window.submit_specs([
        spec_for(src, tmp_path / "fine"),
        spec_for(src, dest, on_conflict=ConflictPolicy.FAIL),
    ])
    qtbot.waitUntil(lambda: len(notes) == 2, timeout=WAIT_MS)
    titles = sorted(t for t, _ in notes)
    assert titles == ["Job completed", "Job failed"]
    assert any("1 frame failed" in text for _, text in notes)


def test_default_notify_falls_back_to_the_status_bar(qtbot: Any, window: MainWindow) -> None:
    prompts.notify(window, "Job completed", "plate.####.exr 1001-1010", tray=None)
    assert "plate.####.exr" in window.statusBar().currentMessage()


def test_header_state_is_saved_and_restored(qtbot: Any, asked: Asked) -> None:
    first = MainWindow()
    qtbot.addWidget(first)
    first.table.setColumnWidth(COLUMN_INDEX["status"], 333)
    first.table.horizontalHeader().moveSection(COLUMN_INDEX["status"], 0)
    first.close()
    assert AppSettings().value(HEADER_KEY) is not None
    second = MainWindow()
    qtbot.addWidget(second)
    header = second.table.horizontalHeader()
    assert header.sectionSize(COLUMN_INDEX["status"]) == 333
    assert header.visualIndex(COLUMN_INDEX["status"]) == 0
