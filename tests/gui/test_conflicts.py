"""The conflict question: asked once per job about existing different files; the answer reaches the job's spec
(on_conflict for all, conflict_choices per name) and the engine acts on it; Retry asks the same."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QComboBox, QPushButton, QTreeWidget

from vfxcopy.core.jobs import ConflictPolicy, CopyOptions, JobResult, JobSpec, JobState
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.conflicts import find_conflicts
from vfxcopy.gui.dialogs import conflict_dialog
from vfxcopy.gui.dialogs.conflict_dialog import ConflictAnswer, ConflictDialog, apply_answer
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


def plate_job(tmp_path: Path, **copy: Any) -> tuple[JobSpec, list[Path], Path]:
    """Six frames to copy; the destination already holds two older, different versions of 1002 and 1004."""
    src = make_byte_sequence(tmp_path / "src", count=6, size=8192)
    dest = tmp_path / "dest"
    dest.mkdir()
    for frame in (1002, 1004):
        (dest / f"plate.{frame}.exr").write_bytes(b"an older render")
    copy.setdefault("fsync", False)
    return JobSpec(find_sequence(src[0], stat=True), str(dest), copy=CopyOptions(**copy)), src, dest


def test_conflicts_list_only_existing_different_files(tmp_path: Path) -> None:
    spec, src, dest = plate_job(tmp_path)
    same = dest / "plate.1001.exr"
    same.write_bytes(src[0].read_bytes())
    os.utime(same, (src[0].stat().st_atime, src[0].stat().st_mtime))  # an earlier copy of this frame
    conflicts = find_conflicts(spec)
    assert [c.name for c in conflicts] == ["plate.1002.exr", "plate.1004.exr"]
    assert conflicts[0].dest_size == len(b"an older render") and conflicts[0].source_size == 8192


def test_dialog_lists_the_files_and_its_choices_reach_the_spec(qtbot: Any, tmp_path: Path) -> None:
    spec, _src, _dest = plate_job(tmp_path)
    conflicts = find_conflicts(spec)
    dialog = ConflictDialog(spec, conflicts, other_jobs=2)
    qtbot.addWidget(dialog)
    dialog.show()
    listed = dialog.findChild(QTreeWidget, "conflictList")
    assert listed.topLevelItemCount() == 2
    row = listed.topLevelItem(0)
    assert row.text(0) == "plate.1002.exr" and "15 B" in row.text(1) and "8.0 KiB" in row.text(2)
    # Skip 1004 only, overwrite everything else.
    dialog.select_names(["plate.1004.exr"])
    qtbot.mouseClick(dialog.findChild(QPushButton, "conflictChoose_skip"), Qt.MouseButton.LeftButton)
    combo = dialog.findChild(QComboBox, "conflictDefaultCombo")
    combo.setCurrentIndex(combo.findData(ConflictPolicy.OVERWRITE.value))
    assert [listed.topLevelItem(i).text(3) for i in range(2)] == ["Overwrite", "Skip"]
    other_jobs = dialog.findChild(QCheckBox, "conflictOtherJobsCheck")
    assert other_jobs.isVisible() and "2 other jobs" in other_jobs.text()
    qtbot.mouseClick(other_jobs, Qt.MouseButton.LeftButton, pos=QPoint(6, other_jobs.height() // 2))
    assert other_jobs.isChecked()
    answer = dialog.answer()
    assert answer.policy is ConflictPolicy.OVERWRITE
    assert answer.choices == {"plate.1004.exr": ConflictPolicy.SKIP} and answer.for_other_jobs
    changed = apply_answer(spec, answer, conflicts)
    assert changed.copy.on_conflict is ConflictPolicy.OVERWRITE
    assert changed.conflict_choices == {"plate.1004.exr": "skip"}
    assert spec.copy.on_conflict is ConflictPolicy.SKIP_IDENTICAL and spec.conflict_choices is None  # untouched
    # Keep both versions the whole job (one sequence, one new version): no per-file exceptions then.
    combo.setCurrentIndex(combo.findData(ConflictPolicy.RENAME.value))
    assert not dialog.findChild(QPushButton, "conflictChoose_skip").isEnabled()
    assert [listed.topLevelItem(i).text(3) for i in range(2)] == ["Keep both", "Keep both"]
    assert dialog.answer().choices == {} and dialog.answer().policy is ConflictPolicy.RENAME


def test_queueing_asks_once_per_job_and_overwrite_all_goes_through_the_engine(
    qtbot: Any, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, src, dest = plate_job(tmp_path)
    asked: list[tuple[str, list[str], int]] = []

    def answer(parent: Any, job: JobSpec, conflicts: list[Any], other_jobs: int) -> ConflictAnswer:
        asked.append((job.job_id, [c.name for c in conflicts], other_jobs))
        return ConflictAnswer(ConflictPolicy.OVERWRITE)

    monkeypatch.setattr(conflict_dialog, "ask_conflicts", answer)
    (job_id,) = window.queue_specs([spec])
    assert asked == [(spec.job_id, ["plate.1002.exr", "plate.1004.exr"], 0)]
    record = window.model.record_for(job_id)
    assert record is not None and record.spec.copy.on_conflict is ConflictPolicy.OVERWRITE
    qtbot.waitUntil(lambda: record.state.finished, timeout=WAIT_MS)
    assert record.state is JobState.COMPLETED and not record.failed_frames
    assert all((dest / p.name).read_bytes() == p.read_bytes() for p in src)  # the old renders replaced


def test_keep_both_writes_the_whole_job_under_a_new_version(
    qtbot: Any, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, src, dest = plate_job(tmp_path)
    monkeypatch.setattr(conflict_dialog, "ask_conflicts", lambda *a: ConflictAnswer(ConflictPolicy.RENAME))
    (job_id,) = window.queue_specs([spec])
    record = window.model.record_for(job_id)
    assert record is not None
    qtbot.waitUntil(lambda: record.result is not None, timeout=WAIT_MS)
    assert record.state is JobState.COMPLETED
    assert (dest / "plate.1002.exr").read_bytes() == b"an older render"  # both kept
    assert sorted(p.name for p in dest.glob("plate_v2.*.exr")) == [f"plate_v2.{p.name.split('.')[1]}.exr" for p in src]


def test_declining_queues_nothing_and_one_answer_serves_the_other_jobs(
    qtbot: Any, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _src, dest = plate_job(tmp_path)
    second = JobSpec(first.source, str(dest), frames=[1004, 1005], copy=CopyOptions(fsync=False))
    calls: list[int] = []
    monkeypatch.setattr(conflict_dialog, "ask_conflicts", lambda *a: calls.append(a[3]) or None)
    assert window.queue_specs([first]) == [] and window.model.rowCount() == 0

    def skip_for_all(parent: Any, job: JobSpec, conflicts: list[Any], other_jobs: int) -> ConflictAnswer:
        calls.append(other_jobs)
        return ConflictAnswer(ConflictPolicy.SKIP, for_other_jobs=True)

    monkeypatch.setattr(conflict_dialog, "ask_conflicts", skip_for_all)
    ids = window.queue_specs([first, second])
    assert calls == [0, 1]  # asked once, about the first job, offering the answer for one other job
    specs = [window.model.record_for(i).spec for i in ids]  # type: ignore[union-attr]
    assert [s.copy.on_conflict for s in specs] == [ConflictPolicy.SKIP, ConflictPolicy.SKIP]


def test_retry_failed_frames_offers_the_same_choice(
    qtbot: Any, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, src, dest = plate_job(tmp_path)
    window.settings.confirm_overwrite = False  # queue as asked, no question: the frames fail
    (job_id,) = window.queue_specs([spec])
    record = window.model.record_for(job_id)
    assert record is not None
    qtbot.waitUntil(lambda: record.result is not None, timeout=WAIT_MS)  # the runner has let it go
    assert sorted(r.frame for r in record.failed_frames) == [1002, 1004]

    window.settings.confirm_overwrite = True
    asked: list[list[str]] = []

    def keep_both_for_one(parent: Any, job: JobSpec, conflicts: list[Any], other_jobs: int) -> ConflictAnswer:
        asked.append([c.name for c in conflicts])
        return ConflictAnswer(ConflictPolicy.OVERWRITE, {"plate.1004.exr": ConflictPolicy.SKIP})

    monkeypatch.setattr(conflict_dialog, "ask_conflicts", keep_both_for_one)
    window.select_jobs([job_id])
    retry_action = window.actions_by_id[next(a for a in window.actions_by_id if a.value == "actionRetry")]
    assert retry_action.isEnabled()
    retry_action.trigger()
    assert asked == [["plate.1002.exr", "plate.1004.exr"]]
    retry = window.selected_records()
    assert len(retry) == 1 and retry[0].job_id != job_id  # the new job is selected
    assert retry[0].spec.selected_frames() == [1002, 1004]
    assert retry[0].spec.copy.on_conflict is ConflictPolicy.OVERWRITE
    assert retry[0].spec.conflict_choices == {"plate.1004.exr": "skip"}


def test_from_the_new_job_dialog_through_the_real_conflict_dialog_to_the_files(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    from PySide6.QtWidgets import QApplication, QLineEdit

    _spec, src, dest = plate_job(tmp_path)
    dialog = window.add_paths([src[0]])
    assert dialog is not None
    qtbot.keyClicks(dialog.findChild(QLineEdit, "destinationEdit"), str(dest))
    answered: list[list[str]] = []

    def answer_the_question() -> None:
        asking = QApplication.activeModalWidget()
        if not isinstance(asking, ConflictDialog):
            QTimer.singleShot(50, answer_the_question)
            return
        listed = asking.findChild(QTreeWidget, "conflictList")
        answered.append([listed.topLevelItem(i).text(0) for i in range(listed.topLevelItemCount())])
        asking.select_names(["plate.1004.exr"])
        qtbot.mouseClick(asking.findChild(QPushButton, "conflictChoose_skip"), Qt.MouseButton.LeftButton)
        combo = asking.findChild(QComboBox, "conflictDefaultCombo")
        combo.setCurrentIndex(combo.findData(ConflictPolicy.OVERWRITE.value))
        qtbot.mouseClick(asking.findChild(QPushButton, "conflictQueueButton"), Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, answer_the_question)
    qtbot.mouseClick(dialog.findChild(QPushButton, "okButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=WAIT_MS)
    assert answered == [["plate.1002.exr", "plate.1004.exr"]]
    record = window.model.record_at(0)
    assert record.spec.copy.on_conflict is ConflictPolicy.OVERWRITE
    assert record.spec.conflict_choices == {"plate.1004.exr": "skip"}
    assert window.selected_records() == [record]
    qtbot.waitUntil(lambda: record.result is not None, timeout=WAIT_MS)
    assert (dest / "plate.1002.exr").read_bytes() == src[1].read_bytes()  # overwritten, as answered for all
    assert (dest / "plate.1004.exr").read_bytes() == b"an older render"  # skipped, as answered for this one
    assert record.state is JobState.COMPLETED and not record.failed_frames


def test_retry_reuses_the_names_the_first_run_chose(window: MainWindow, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from vfxcopy.core.jobs import FrameResult, FrameStatus
    from vfxcopy.gui.records import JobRecord

    spec, _src, dest = plate_job(tmp_path)
    # The first run kept both under a new version (the rename policy): the names it recorded.
    spec.names = [f"plate_v2.{f}.exr" for f in spec.selected_frames()]
    record = JobRecord(spec)
    window.model.add_record(record)
    # A job's result lists every frame: here all written but 1004.
    frames = [FrameResult(spec.job_id, i, f, "s", str(dest / f"plate_v2.{f}.exr"),
                          FrameStatus.FAILED if f == 1004 else FrameStatus.DONE, error="x" if f == 1004 else None)
              for i, f in enumerate(spec.selected_frames())]
    window.model.finish(JobResult(spec.job_id, JobState.FAILED, frames=frames))
    window.settings.confirm_overwrite = False
    window.select_jobs([spec.job_id])
    (retry_id,) = window.retry_selected()
    retry = window.model.record_for(retry_id)
    assert retry is not None and retry.spec.frames == [1004] and retry.spec.names == ["plate_v2.1004.exr"]
