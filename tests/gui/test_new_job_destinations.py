"""Several destinations from one read in the window: the New job dialog's "Also copy to" rows, one job per
destination sharing a group, the refusals, the conflict question per destination, and cancel per row or group."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QMenu, QPushButton, QScrollArea, QToolButton

from vfxcopy.core.jobs import ConflictPolicy, JobState, Operation, is_temp_name
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.adding import sequences_for_paths
from vfxcopy.gui.dialogs import conflict_dialog, new_job
from vfxcopy.gui.dialogs.new_job import NewJobDialog
from vfxcopy.gui.job_model import COLUMN_INDEX
from vfxcopy.gui.main_window import MainWindow
from vfxcopy.gui.records import JobRecord

WAIT_MS = 30_000


@pytest.fixture
def window(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setattr(prompts, "ask", lambda *args, **kwargs: True)  # "Cancel this job?": yes

    def no_inform(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"unexpected message box: {args[1:3]}")

    monkeypatch.setattr(prompts, "inform", no_inform)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shutdown(WAIT_MS)  # no worker may outlive the test


class Picker:
    """Stands in for the folder picker: hands out the folders the test chose, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folders: list[str] = []
        monkeypatch.setattr(new_job, "choose_folder", self)

    def __call__(self, parent: Any, start: str) -> str | None:
        return self.folders.pop(0) if self.folders else None


@pytest.fixture
def picker(monkeypatch: pytest.MonkeyPatch) -> Picker:
    return Picker(monkeypatch)


def open_dialog(window: MainWindow, src: Path, dest: Path) -> NewJobDialog:
    dialog = window.open_new_job_dialog(sequences_for_paths([src]))
    assert isinstance(dialog, NewJobDialog)
    dialog.destination_edit.setText(str(dest))
    return dialog


def add_destinations(qtbot: Any, dialog: NewJobDialog, picker: Picker, *folders: Path) -> None:
    """Click "Add Destination…" once per folder, choosing it in the (stand-in) folder picker."""
    button = dialog.findChild(QPushButton, "addDestinationButton")
    assert button is not None and button.isVisible()
    for folder in folders:
        picker.folders.append(str(folder))
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def also_edits(dialog: NewJobDialog) -> list[QLineEdit]:
    return [e for e in dialog.also.findChildren(QLineEdit, "alsoEdit") if e.isVisibleTo(dialog)]


def error_text(dialog: NewJobDialog) -> str:
    label = dialog.findChild(QLabel, "errorLabel")
    return label.text() if label.isVisibleTo(dialog) else ""


def queue(qtbot: Any, window: MainWindow, dialog: NewJobDialog, count: int) -> list[JobRecord]:
    """Press Queue and wait for the rows the dialog's jobs became."""
    assert dialog.ok_button.isEnabled(), error_text(dialog)
    before = window.model.rowCount()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.rowCount() == before + count, timeout=WAIT_MS)
    return window.model.records()[before:]


def cell(window: MainWindow, record: JobRecord, column: str, role: Any = Qt.ItemDataRole.DisplayRole) -> str:
    return str(window.model.index(window.model.row_of(record.job_id), COLUMN_INDEX[column]).data(role))


def temps_in(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if is_temp_name(p.name)] if folder.exists() else []


def context_menu(window: MainWindow, record: JobRecord) -> QMenu:
    window.select_jobs([record.job_id])
    return window.build_context_menu()


def trigger(menu: QMenu, object_name: str) -> None:
    for action in menu.actions():
        if action.objectName() == object_name:
            assert action.isEnabled() and action.isVisible()
            action.trigger()
            return
    raise AssertionError(f"{object_name} not in the context menu: {[a.objectName() for a in menu.actions()]}")


def test_two_more_destinations_queue_three_jobs_of_one_group_and_every_frame_lands_at_each(
    qtbot: Any, window: MainWindow, picker: Picker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vfxcopy.core.writers import fanout

    shared_reads: list[tuple[int, int]] = []  # (item, offset) of each chunk read once for the whole group
    monkeypatch.setattr(fanout, "before_shared_chunk", lambda index, offset: shared_reads.append((index, offset)))
    # One job at a time: a group is one read, so its members start together even so.
    window.runner.set_max_jobs(1)
    events: list[str] = []
    window.runner.job_started.connect(lambda job_id: events.append("started"))
    window.runner.job_finished.connect(lambda result: events.append("finished"))
    frames = make_byte_sequence(tmp_path / "card" / "A001", head="A001_C003.", count=8, size=48 * 1024)
    work, backup, client = tmp_path / "work", tmp_path / "backup_drive", tmp_path / "client"
    dialog = open_dialog(window, tmp_path / "card" / "A001", work)
    add_destinations(qtbot, dialog, picker, backup, client)
    assert [e.text() for e in also_edits(dialog)] == [str(backup), str(client)]
    summary = dialog.findChild(QLabel, "summaryLabel").text()
    assert summary.startswith("3 jobs · 8 frames") and "to 3 destinations, read once" in summary

    records = queue(qtbot, window, dialog, 3)
    groups = {r.spec.group for r in records}
    assert len(groups) == 1 and None not in groups
    assert [r.spec.dest_dir for r in records] == [str(work), str(backup), str(client)]
    assert len({r.job_id for r in records}) == 3
    qtbot.waitUntil(lambda: all(r.state is JobState.COMPLETED for r in records), timeout=WAIT_MS)
    for folder in (work, backup, client):
        for frame in frames:
            assert (folder / frame.name).read_bytes() == frame.read_bytes()
        assert temps_in(folder) == []
    # The three started together, so each frame was read from the card once for all of them.
    qtbot.waitUntil(lambda: len(events) == 6, timeout=WAIT_MS)
    assert events == ["started"] * 3 + ["finished"] * 3
    assert sorted(shared_reads) == [(i, 0) for i in range(8)]

    # The table says which destination each row is, and the rows' tooltips name the others.
    # The part of the path that tells them apart comes first: a narrow column elides the middle.
    assert [cell(window, r, "destination") for r in records] == ["1/3 · …/work", "2/3 · …/backup_drive",
                                                                  "3/3 · …/client"]
    tip = cell(window, records[1], "destination", Qt.ItemDataRole.ToolTipRole)
    assert "Destination 2 of 3 from one read" in tip and str(work) in tip and str(client) in tip
    assert "Destination 1 of 3" in cell(window, records[0], "sequence", Qt.ItemDataRole.ToolTipRole)
    # So does the details pane of the selected one.
    window.select_jobs([records[2].job_id])
    note = window.details.findChild(QLabel, "detailsGroup")
    assert note.isVisibleTo(window.details)
    assert note.text() == f"Destination 3 of 3 from one read · also: {work}, {backup}"
    # Every destination is offered again next time.
    assert {str(work), str(backup), str(client)} <= set(window.settings.recent_destinations)
    assert window.settings.recent_destinations[0] == str(work)


def test_a_job_on_its_own_is_not_a_group(qtbot: Any, window: MainWindow, picker: Picker, tmp_path: Path) -> None:
    make_byte_sequence(tmp_path / "src", count=3, size=4096)
    dialog = open_dialog(window, tmp_path / "src", tmp_path / "out")
    add_destinations(qtbot, dialog, picker, tmp_path / "backup")
    remove = dialog.also.findChild(QToolButton, "alsoRemoveButton")
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    assert also_edits(dialog) == []
    (record,) = queue(qtbot, window, dialog, 1)
    assert record.spec.group is None and record.spec.dest_dir == str(tmp_path / "out")
    qtbot.waitUntil(lambda: record.state is JobState.COMPLETED, timeout=WAIT_MS)
    assert cell(window, record, "destination") == str(tmp_path / "out")
    assert not (tmp_path / "backup").exists()
    assert not window.details.findChild(QLabel, "detailsGroup").isVisibleTo(window.details)


@pytest.mark.parametrize("case", ["twice", "main", "link", "file", "inside", "relative", "empty"])
def test_refused_destinations_are_said_in_the_dialog_and_queue_waits(
    qtbot: Any, window: MainWindow, picker: Picker, tmp_path: Path, case: str
) -> None:
    src = tmp_path / "src"
    make_byte_sequence(src, count=3, size=4096)
    main, backup = tmp_path / "main", tmp_path / "backup"
    main.mkdir()
    dialog = open_dialog(window, src, main)
    add_destinations(qtbot, dialog, picker, backup)
    assert dialog.ok_button.isEnabled()
    edit = dialog.also.add_destination()  # a second row, typed into
    if case == "twice":
        qtbot.keyClicks(edit, str(backup) + "/")
        expected = f"The destination {backup} is given twice"
    elif case == "main":
        qtbot.keyClicks(edit, str(main))
        expected = f"The destination {main} is given twice"
    elif case == "link":
        os.symlink(main, tmp_path / "main_link")
        qtbot.keyClicks(edit, str(tmp_path / "main_link"))
        expected = f"The destination {tmp_path / 'main_link'} is the same folder as {main}"
    elif case == "file":
        (tmp_path / "notes.txt").write_text("not a folder")
        qtbot.keyClicks(edit, str(tmp_path / "notes.txt"))
        expected = f"The destination {tmp_path / 'notes.txt'} is a file, not a folder."
    elif case == "inside":
        qtbot.keyClicks(edit, str(src / "copies"))
        expected = f"The destination {src / 'copies'} is inside the source folder"
    elif case == "relative":
        qtbot.keyClicks(edit, "backup2")
        expected = "(backup2 is relative)"
    else:
        expected = "An “Also copy to” row is empty"
    assert expected in error_text(dialog)
    assert not dialog.ok_button.isEnabled()
    assert expected in dialog.ok_button.toolTip()
    dialog.accept()  # Enter, or a script: refused the same way
    assert dialog.isVisible() and window.model.rowCount() == 0
    # Removing the row clears the refusal.
    rows = dialog.also.findChildren(QToolButton, "alsoRemoveButton")
    qtbot.mouseClick([r for r in rows if r.isVisibleTo(dialog)][-1], Qt.MouseButton.LeftButton)
    assert error_text(dialog) == "" and dialog.ok_button.isEnabled()
    dialog.reject()


def test_several_destinations_run_on_this_computer(qtbot: Any, window: MainWindow, picker: Picker,
                                                   tmp_path: Path) -> None:
    make_byte_sequence(tmp_path / "src", count=3, size=4096)
    dialog = open_dialog(window, tmp_path / "src", tmp_path / "main")
    add_destinations(qtbot, dialog, picker, tmp_path / "backup")
    farm = next(i for i in range(dialog.run_on.where.count()) if dialog.run_on.where.itemData(i) is not None)
    dialog.run_on.where.setCurrentIndex(farm)
    assert "Several destinations are copied from one read on this computer" in error_text(dialog)
    assert not dialog.ok_button.isEnabled()
    dialog.run_on.where.setCurrentIndex(0)
    assert dialog.ok_button.isEnabled()
    dialog.reject()


def test_a_conversion_has_no_also_rows(qtbot: Any, window: MainWindow, picker: Picker, tmp_path: Path) -> None:
    make_byte_sequence(tmp_path / "src", count=3, size=4096)
    dialog = open_dialog(window, tmp_path / "src", tmp_path / "main")
    add_destinations(qtbot, dialog, picker, tmp_path / "backup")
    assert len(dialog.specs()) == 2
    dialog.operation_combo.setCurrentIndex(dialog.operation_combo.findData(Operation.CONVERT))
    assert not dialog.also.isVisibleTo(dialog) and not dialog.also_label.isVisibleTo(dialog)
    specs = dialog.specs()
    assert [(s.dest_dir, s.group) for s in specs] == [(str(tmp_path / "main"), None)]
    dialog.operation_combo.setCurrentIndex(dialog.operation_combo.findData(Operation.COPY))
    assert dialog.also.isVisibleTo(dialog) and len(dialog.specs()) == 2  # the rows were kept
    dialog.reject()


def test_files_already_there_are_asked_about_for_each_destination(
    qtbot: Any, window: MainWindow, picker: Picker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = make_byte_sequence(tmp_path / "src", count=4, size=8192)
    main, backup, client = tmp_path / "main", tmp_path / "backup", tmp_path / "client"
    for folder in (backup, client):
        folder.mkdir()
        (folder / frames[1].name).write_bytes(b"an older delivery")
    asked: list[str] = []

    def ask_conflicts(parent: Any, spec: Any, conflicts: list[Any], other_jobs: int = 0) -> Any:
        asked.append(spec.dest_dir)
        assert [c.name for c in conflicts] == [frames[1].name]
        if spec.dest_dir == str(client):
            return None  # "Don't Queue" for this destination only
        return conflict_dialog.ConflictAnswer(ConflictPolicy.OVERWRITE)

    monkeypatch.setattr(conflict_dialog, "ask_conflicts", ask_conflicts)
    dialog = open_dialog(window, tmp_path / "src", main)
    add_destinations(qtbot, dialog, picker, backup, client)
    records = queue(qtbot, window, dialog, 2)
    assert asked == [str(backup), str(client)]  # the main destination had nothing in the way
    assert [r.spec.dest_dir for r in records] == [str(main), str(backup)]
    assert records[0].spec.group == records[1].spec.group is not None
    assert records[1].spec.copy.on_conflict is ConflictPolicy.OVERWRITE
    assert records[0].spec.copy.on_conflict is not ConflictPolicy.OVERWRITE
    qtbot.waitUntil(lambda: all(r.state is JobState.COMPLETED for r in records), timeout=WAIT_MS)
    for frame in frames:
        assert (main / frame.name).read_bytes() == frame.read_bytes()
        assert (backup / frame.name).read_bytes() == frame.read_bytes()
    assert (client / frames[1].name).read_bytes() == b"an older delivery"
    assert sorted(p.name for p in client.iterdir()) == [frames[1].name]


def slow_group(qtbot: Any, window: MainWindow, picker: Picker, tmp_path: Path) -> tuple[list[Path], list[Path],
                                                                                        list[JobRecord]]:
    """Three destinations of 12 frames of 256 KiB at 1 MiB/s each: about 3 s, long enough to cancel in."""
    frames = make_byte_sequence(tmp_path / "src", count=12, size=256 * 1024)
    folders = [tmp_path / "dest1", tmp_path / "dest2", tmp_path / "dest3"]
    dialog = open_dialog(window, tmp_path / "src", folders[0])
    dialog.fsync_check.setChecked(False)
    dialog.bwlimit_edit.setText("1M")
    add_destinations(qtbot, dialog, picker, *folders[1:])
    records = queue(qtbot, window, dialog, 3)
    qtbot.waitUntil(lambda: all(window.model.info(r).done >= 1 for r in records), timeout=WAIT_MS)
    return frames, folders, records


def test_cancel_one_destination_and_the_others_complete(qtbot: Any, window: MainWindow, picker: Picker,
                                                        tmp_path: Path) -> None:
    frames, folders, records = slow_group(qtbot, window, picker, tmp_path)
    menu = context_menu(window, records[1])
    shown = {a.objectName(): a.text() for a in menu.actions()}
    assert "actionCancel" in shown and shown["actionCancelGroup"] == "Cance&l All Destinations"
    trigger(menu, "actionCancel")
    qtbot.waitUntil(lambda: records[1].state is JobState.CANCELLED, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: records[0].result is not None and records[2].result is not None, timeout=WAIT_MS)
    assert records[0].state is JobState.COMPLETED and records[2].state is JobState.COMPLETED
    for folder in (folders[0], folders[2]):
        assert sorted(p.name for p in folder.glob("plate.*")) == [f.name for f in frames]
        for frame in frames:
            assert (folder / frame.name).read_bytes() == frame.read_bytes()
    # The cancelled destination keeps whole frames only, and no temporary.
    assert temps_in(folders[1]) == []
    kept = sorted(folders[1].glob("plate.*.exr"))
    assert 1 <= len(kept) < len(frames)
    for path in kept:
        assert path.read_bytes() == (tmp_path / "src" / path.name).read_bytes()
    assert cell(window, records[1], "status") == "Cancelled"


def test_cancel_all_destinations_cancels_the_group_only(qtbot: Any, window: MainWindow, picker: Picker,
                                                        tmp_path: Path) -> None:
    other_src = make_byte_sequence(tmp_path / "other", head="other.", count=3, size=4096)
    frames, folders, records = slow_group(qtbot, window, picker, tmp_path)
    dialog = open_dialog(window, tmp_path / "other", tmp_path / "other_out")
    (other,) = queue(qtbot, window, dialog, 1)
    assert "actionCancelGroup" not in [a.objectName() for a in context_menu(window, other).actions()]
    trigger(context_menu(window, records[2]), "actionCancelGroup")
    qtbot.waitUntil(lambda: all(r.state is JobState.CANCELLED for r in records), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: other.state is JobState.COMPLETED, timeout=WAIT_MS)
    for folder in folders:
        assert temps_in(folder) == []
        assert len(list(folder.glob("plate.*.exr"))) < len(frames)
    assert sorted(p.name for p in (tmp_path / "other_out").glob("other.*")) == [p.name for p in other_src]


def test_run_again_keeps_destinations_together_only_when_run_again_together(
    qtbot: Any, window: MainWindow, picker: Picker, tmp_path: Path
) -> None:
    make_byte_sequence(tmp_path / "src", count=3, size=4096)
    dialog = open_dialog(window, tmp_path / "src", tmp_path / "main")
    add_destinations(qtbot, dialog, picker, tmp_path / "backup")
    first = queue(qtbot, window, dialog, 2)
    qtbot.waitUntil(lambda: all(r.state is JobState.COMPLETED for r in first), timeout=WAIT_MS)

    window.select_jobs([r.job_id for r in first])
    again = [window.model.record_for(i) for i in window.run_again_selected()]
    assert len(again) == 2 and all(r is not None for r in again)
    assert again[0].spec.group == again[1].spec.group not in (None, first[0].spec.group)
    assert [r.spec.dest_dir for r in again] == [str(tmp_path / "main"), str(tmp_path / "backup")]
    assert cell(window, again[1], "destination") == "2/2 · …/backup"
    qtbot.waitUntil(lambda: all(r.state is JobState.COMPLETED for r in again), timeout=WAIT_MS)

    window.select_jobs([first[1].job_id])
    (alone,) = [window.model.record_for(i) for i in window.run_again_selected()]
    assert alone is not None and alone.spec.group is None
    assert cell(window, alone, "destination") == str(tmp_path / "backup")
    # The first run's rows still count two destinations, not three.
    assert cell(window, first[1], "destination") == "2/2 · …/backup"
    qtbot.waitUntil(lambda: alone.state is JobState.COMPLETED, timeout=WAIT_MS)


def test_the_destination_column_leaves_out_what_a_group_shares(qtbot: Any, window: MainWindow, picker: Picker,
                                                               tmp_path: Path) -> None:
    make_byte_sequence(tmp_path / "src", count=2, size=4096)
    drives = [tmp_path / "mnt" / drive / "show" / "day_012" for drive in ("raid_work", "shuttle_A", "lto")]
    dialog = open_dialog(window, tmp_path / "src", drives[0])
    add_destinations(qtbot, dialog, picker, *drives[1:], drives[0] / "extra")
    records = queue(qtbot, window, dialog, 4)
    # A narrow column elides the middle of its text: what differs comes first.
    assert [cell(window, r, "destination") for r in records] == [
        "1/4 · …/raid_work/show/day_012", "2/4 · …/shuttle_A/show/day_012", "3/4 · …/lto/show/day_012",
        "4/4 · …/raid_work/show/day_012/extra"]
    qtbot.waitUntil(lambda: all(r.state is JobState.COMPLETED for r in records), timeout=WAIT_MS)
    window.select_jobs([records[3].job_id])
    window.remove_selected()
    assert [cell(window, r, "destination") for r in records[:3]] == ["1/3 · …/raid_work/…", "2/3 · …/shuttle_A/…",
                                                                     "3/3 · …/lto/…"]
    qtbot.waitUntil(lambda: all(r.state is JobState.COMPLETED for r in records), timeout=WAIT_MS)


def test_the_dialog_grows_with_its_rows_and_stays_on_the_screen(qtbot: Any, window: MainWindow, picker: Picker,
                                                                tmp_path: Path) -> None:
    make_byte_sequence(tmp_path / "src", count=2, size=4096)
    dialog = open_dialog(window, tmp_path / "src", tmp_path / "main")
    qtbot.waitExposed(dialog)
    screen = dialog.screen().availableGeometry()
    add_destinations(qtbot, dialog, picker, *(tmp_path / f"copy{n}" for n in range(6)))
    edits = also_edits(dialog)
    assert len(edits) == 6
    assert edits[-1].toolTip() == str(tmp_path / "copy5")
    assert screen.contains(dialog.frameGeometry()), (dialog.frameGeometry(), screen)
    # Every row can be reached: the options scroll when the screen is too short for them all.
    scroll = dialog.findChild(QScrollArea, "optionsScroll")
    scroll.ensureWidgetVisible(dialog.also.add_button)
    qtbot.waitUntil(lambda: dialog.also.add_button.visibleRegion().boundingRect().height()
                    == dialog.also.add_button.height())
    assert len(dialog.specs()) == 7


def test_a_dropped_tree_goes_whole_to_each_destination(qtbot: Any, window: MainWindow, picker: Picker,
                                                       delivery_tree: Path, tmp_path: Path) -> None:
    from PySide6.QtCore import QMimeData, QPoint, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    from vfxcopy.core.tree import is_litter

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(delivery_tree))])
    copy = Qt.DropAction.CopyAction
    QApplication.sendEvent(window, QDragEnterEvent(QPoint(200, 200), copy, mime, Qt.MouseButton.LeftButton,
                                                   Qt.KeyboardModifier.NoModifier))
    QApplication.sendEvent(window, QDropEvent(QPointF(200, 200), copy, mime, Qt.MouseButton.LeftButton,
                                              Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: window.new_job_dialog is not None, timeout=WAIT_MS)
    dialog = window.new_job_dialog
    assert isinstance(dialog, NewJobDialog)
    work, backup = tmp_path / "work", tmp_path / "backup"
    dialog.destination_edit.setText(str(work))
    add_destinations(qtbot, dialog, picker, backup)
    records = queue(qtbot, window, dialog, 2)
    assert all(r.spec.tree is not None for r in records) and records[0].spec.group == records[1].spec.group
    qtbot.waitUntil(lambda: all(r.result is not None for r in records), timeout=WAIT_MS)
    assert [r.state for r in records] == [JobState.COMPLETED] * 2, [r.result.message for r in records]
    for dest in (work, backup):
        for folder, dirs, names in os.walk(delivery_tree):
            rel = Path(folder).relative_to(delivery_tree)
            for name in dirs:
                assert (dest / rel / name).exists() or (dest / rel / name).is_symlink()
            for name in names:
                source = Path(folder) / name
                copied = dest / rel / name
                if is_litter(name):
                    assert not copied.exists()
                elif source.is_symlink():
                    assert os.readlink(copied) == os.readlink(source)
                else:
                    assert copied.read_bytes() == source.read_bytes(), copied


@pytest.mark.parametrize("retry", [False, True], ids=["run-again", "retry-failed"])
def test_a_destination_that_fills_up_fails_alone_and_runs_again_on_its_own(
    qtbot: Any, window: MainWindow, picker: Picker, tmpfs_mount: Any, tmp_path: Path, retry: bool
) -> None:
    frames = make_byte_sequence(tmp_path / "src", count=8, size=256 * 1024)
    small = tmpfs_mount("3m")
    filler = small / "old_render.bin"
    filler.write_bytes(b"\0" * (2300 * 1024))  # room left for three frames of eight
    work = tmp_path / "work"
    dialog = open_dialog(window, tmp_path / "src", work)
    dialog.fsync_check.setChecked(False)
    add_destinations(qtbot, dialog, picker, small / "backup")
    records = queue(qtbot, window, dialog, 2)
    qtbot.waitUntil(lambda: all(r.result is not None for r in records), timeout=WAIT_MS)
    assert records[0].state is JobState.COMPLETED and not window.model.info(records[0]).failed
    assert sorted(p.name for p in work.glob("plate.*")) == [f.name for f in frames]
    full = records[1]
    assert window.model.info(full).failed >= 1
    assert cell(window, full, "status").startswith(("Failed", "Completed,"))
    assert temps_in(small / "backup") == []
    errors = " ".join(r.error or "" for r in full.failed_frames).lower()
    assert "space" in errors or "full" in errors, errors
    assert "run the job again" in (full.result.message or "")
    # Room made: Retry Failed Frames (or Run Again) on that row completes that destination, alone:
    # the frames the full disk stopped it before are retried too, not only the one that failed.
    filler.unlink()
    window.select_jobs([full.job_id])
    (retry_id,) = window.retry_selected() if retry else window.run_again_selected()
    again = window.model.record_for(retry_id)
    assert again is not None and again.spec.group is None and again.spec.dest_dir == str(small / "backup")
    qtbot.waitUntil(lambda: again.result is not None, timeout=WAIT_MS)
    assert again.state is JobState.COMPLETED
    for frame in frames:
        assert (small / "backup" / frame.name).read_bytes() == frame.read_bytes()


def test_a_destination_short_of_space_is_warned_about_on_its_own_before_queueing(
    qtbot: Any, window: MainWindow, picker: Picker, tmp_path: Path
) -> None:
    """A small backup drive beside a big working disk: the summary warns for the small one only,
    naming it, its free space and what the copy needs (a real 1 MiB tmpfs as the drive)."""
    import subprocess

    small = tmp_path / "small_drive"
    small.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        make_byte_sequence(tmp_path / "card" / "A001", head="A001_C003.", count=8, size=300 * 1024)
        dialog = open_dialog(window, tmp_path / "card" / "A001", tmp_path / "work")
        add_destinations(qtbot, dialog, picker, small)
        warning = dialog.findChild(QLabel, "warningLabel")
        qtbot.waitUntil(lambda: warning.isVisibleTo(dialog), timeout=WAIT_MS)
        assert warning.text() == f"Only 1.0 MiB free at {small} for 2.3 MiB."
        summary = dialog.findChild(QLabel, "summaryLabel").text()
        assert summary == "2 jobs · 8 frames · 2.3 MiB · to 2 destinations, read once"
        assert dialog.ok_button.isEnabled()  # a warning, not a refusal: the pre-flight says the rest
        dialog.reject()
    finally:
        subprocess.run(["umount", str(small)], check=False)
