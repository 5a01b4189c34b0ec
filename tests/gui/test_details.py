"""The details pane on records filled by a real copy: header, failed frames, log, thumbnail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QPlainTextEdit, QStackedWidget, QTableView

from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import CopyOptions, Event, FrameStatus, JobSpec, JobState, LogMessage, VerifyMode
from vfxcopy.core.samples import make_exr_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.gui.details import DetailsPane
from vfxcopy.gui.frame_list import COL_ERROR, COL_FRAME, COL_PATH, COL_STATUS
from vfxcopy.gui.records import JobRecord


@pytest.fixture
def pane(qtbot) -> Iterator[DetailsPane]:
    pane = DetailsPane()
    qtbot.addWidget(pane)
    pane.resize(800, 500)
    pane.show()
    yield pane
    pane.shutdown(10000)


def copied_record(tmp_path: Path, count: int = 8, lose: tuple[int, ...] = (1003, 1006)) -> JobRecord:
    """A record fed with the events of a real copy in which the frames `lose` vanished after the scan."""
    paths = make_exr_sequence(tmp_path / "src", count=count, width=64, height=36)
    seq = find_sequence(paths[0], stat=True)
    for frame in lose:
        (tmp_path / "src" / f"shot_010.{frame}.exr").unlink()
    spec = JobSpec(source=seq, dest_dir=str(tmp_path / "dest"),
                   copy=CopyOptions(verify=VerifyMode.TRANSFER, fsync=False), origin="gui")
    events: list[Event] = []
    result = run_job(spec, report=events.append)
    record = JobRecord(spec)
    for event in events:
        record.apply(event)
    record.result = result
    record.state = result.state
    return record


def rows(view: QTableView) -> list[tuple[str, str, str, str]]:
    model = view.model()
    return [
        tuple(model.index(r, c).data() or "" for c in (COL_FRAME, COL_STATUS, COL_PATH, COL_ERROR))
        for r in range(model.rowCount())
    ]


def test_empty_state_when_nothing_is_selected(pane: DetailsPane) -> None:
    stack = pane.findChild(QStackedWidget)
    empty = pane.findChild(QLabel, "detailsEmpty")
    assert stack.currentWidget() is empty
    assert "Select a job" in empty.text()


def test_failed_frames_show_their_path_and_error(qtbot, pane: DetailsPane, tmp_path: Path) -> None:
    record = copied_record(tmp_path)
    assert record.state is JobState.FAILED or record.failed_frames  # the copy really lost two frames
    pane.show_record(record)

    assert "shot_010.####.exr" in pane.findChild(QLabel, "detailsTitle").text()
    summary = pane.findChild(QLabel, "detailsSummary").text()
    assert "Copy" in summary and "6/8 frames done" in summary and "2 failed" in summary
    assert str(tmp_path / "dest") in pane.findChild(QLabel, "detailsPaths").text()

    view = pane.findChild(QTableView, "frameTable")
    table = rows(view)
    assert len(table) == 8
    by_frame = {r[0]: r for r in table}
    assert by_frame["1001"][1] == "done"
    for frame in ("1003", "1006"):
        _, status, path, error = by_frame[frame]
        assert status == "failed"
        assert path.endswith(f"shot_010.{frame}.exr")
        assert error  # the engine's own message, shown as it is
    error_index = view.model().index([r[0] for r in table].index("1003"), COL_ERROR)
    assert error_index.data(Qt.ItemDataRole.ToolTipRole)

    failed_only = pane.findChild(QCheckBox, "failedOnlyCheck")
    qtbot.mouseClick(failed_only, Qt.MouseButton.LeftButton, pos=QPoint(6, failed_only.height() // 2))
    assert failed_only.isChecked()
    assert [r[0] for r in rows(view)] == ["1003", "1006"]
    qtbot.mouseClick(failed_only, Qt.MouseButton.LeftButton, pos=QPoint(6, failed_only.height() // 2))
    assert len(rows(view)) == 8


def test_log_lines_appear_and_refresh_appends_new_ones(pane: DetailsPane, tmp_path: Path) -> None:
    record = copied_record(tmp_path, count=4, lose=(1002,))
    pane.show_record(record)
    log = pane.findChild(QPlainTextEdit, "logView")
    text = log.toPlainText()
    assert record.log, "the engine logged nothing"
    for message in record.log:
        assert message.text.splitlines()[0] in text
    lines_before = log.blockCount()

    record.apply(LogMessage(record.job_id, "warning", "destination is nearly full"))
    pane.refresh()
    assert log.toPlainText().count("destination is nearly full") == 1
    assert log.blockCount() == lines_before + 1
    pane.refresh()  # nothing new: nothing appended twice
    assert log.blockCount() == lines_before + 1


def test_refresh_follows_a_running_record_and_failed_only_filters_live(qtbot, pane: DetailsPane, tmp_path: Path) -> None:
    finished = copied_record(tmp_path, count=6, lose=(1004,))
    # Replay the same real events into a fresh record step by step, as the model does while it runs.
    live = JobRecord(finished.spec)
    pane.show_record(live)
    summary = pane.findChild(QLabel, "detailsSummary")
    assert "Pending" in summary.text() and "0/6 frames done" in summary.text()
    failed_only = pane.findChild(QCheckBox, "failedOnlyCheck")
    qtbot.mouseClick(failed_only, Qt.MouseButton.LeftButton, pos=QPoint(6, failed_only.height() // 2))
    view = pane.findChild(QTableView, "frameTable")
    assert rows(view) == []

    assert finished.result is not None
    for frame_result in finished.result.frames:  # the rows keep only failures: replay the copy's results
        live.apply(frame_result)
    pane.refresh()
    assert [r[0] for r in rows(view)] == ["1004"]
    assert "5/6 frames done" in summary.text()


def test_switching_records_and_back_to_none(pane: DetailsPane, tmp_path: Path) -> None:
    first = copied_record(tmp_path / "a", count=3, lose=())
    second = copied_record(tmp_path / "b", count=5, lose=(1005,))
    pane.show_record(first)
    assert len(rows(pane.findChild(QTableView, "frameTable"))) == 3
    pane.show_record(second)
    assert len(rows(pane.findChild(QTableView, "frameTable"))) == 5
    assert str(tmp_path / "b") in pane.findChild(QLabel, "detailsPaths").text()
    log = pane.findChild(QPlainTextEdit, "logView").toPlainText()
    assert str(tmp_path / "a") not in log
    pane.show_record(None)
    assert pane.findChild(QStackedWidget).currentWidget() is pane.findChild(QLabel, "detailsEmpty")


def test_thumbnail_of_a_frame_is_shown(qtbot, pane: DetailsPane, tmp_path: Path) -> None:
    record = copied_record(tmp_path, count=4, lose=())
    pane.show_record(record)
    label = pane.findChild(QLabel, "detailsThumbnail")
    qtbot.waitUntil(lambda: not label.pixmap().isNull(), timeout=20000)
    image = label.pixmap().toImage()
    assert image.width() == label.width()  # 16:9 frame fitted to the label's width
    assert image.pixelColor(image.width() - 4, image.height() // 2) != image.pixelColor(2, image.height() // 2)


def test_many_frames_are_cheap(pane: DetailsPane, tmp_path: Path) -> None:
    from vfxcopy.core.sequence import Sequence

    seq = Sequence(str(tmp_path), "big.", ".exr", 4, tuple(range(1001, 1782)))
    record = JobRecord(JobSpec(source=seq, dest_dir=str(tmp_path / "out")))
    for i in range(0, 781, 3):
        record.frame_states[i] = FrameStatus.DONE
    pane.show_record(record)
    view = pane.findChild(QTableView, "frameTable")
    assert view.model().rowCount() == 781
    # One view for all rows, not a widget per frame.
    assert len(pane.findChildren(QLabel)) < 20


def test_ctrl_c_copies_the_selected_failed_frames(qtbot, pane: DetailsPane, tmp_path: Path) -> None:
    from PySide6.QtGui import QGuiApplication

    record = copied_record(tmp_path, count=5, lose=(1002, 1004))
    pane.show_record(record)
    failed_only = pane.findChild(QCheckBox, "failedOnlyCheck")
    qtbot.mouseClick(failed_only, Qt.MouseButton.LeftButton, pos=QPoint(6, failed_only.height() // 2))
    view = pane.findChild(QTableView, "frameTable")
    view.setFocus()
    view.selectAll()
    QGuiApplication.clipboard().clear()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    lines = QGuiApplication.clipboard().text().splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["1002", "failed"], ["1004", "failed"]]
    assert lines[0].split("\t")[2].endswith("shot_010.1002.exr")
    assert lines[0].split("\t")[3] == record.frame_results[1].error


def test_path_tooltip_names_source_and_destination(pane: DetailsPane, tmp_path: Path) -> None:
    record = copied_record(tmp_path, count=2, lose=())
    pane.show_record(record)
    model = pane.findChild(QTableView, "frameTable").model()
    tip = model.index(0, COL_PATH).data(Qt.ItemDataRole.ToolTipRole)
    assert f"Source: {tmp_path / 'src' / 'shot_010.1001.exr'}" in tip
    assert f"Destination: {tmp_path / 'dest' / 'shot_010.1001.exr'}" in tip


def test_a_single_file_job_shows_one_row(pane: DetailsPane, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.txt").write_text("camera report")
    seq = find_sequence(tmp_path / "src" / "notes.txt", stat=True)
    assert seq.is_single
    spec = JobSpec(source=seq, dest_dir=str(tmp_path / "dest"), copy=CopyOptions(fsync=False))
    events: list[Event] = []
    run_job(spec, report=events.append)
    record = JobRecord(spec)
    for event in events:
        record.apply(event)
    pane.show_record(record)
    assert rows(pane.findChild(QTableView, "frameTable")) == [
        ("—", "done", str(tmp_path / "src" / "notes.txt"), "")
    ]
    assert "1/1 frame done" in pane.findChild(QLabel, "detailsSummary").text()
    assert (tmp_path / "dest" / "notes.txt").read_text() == "camera report"
