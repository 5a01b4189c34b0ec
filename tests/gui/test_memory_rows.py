"""Window memory: a job's row keeps counts and failures, not every frame; removing it lets everything go."""

from __future__ import annotations

import gc
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from vfxcopy.core.jobs import CopyOptions, FrameResult, FrameStatus, JobSpec, JobState, VerifyMode
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.frame_list import COL_ERROR, COL_PATH
from vfxcopy.gui.main_window import MainWindow

WAIT_MS = 60_000
FRAMES = 300
LOST = (1010, 1200)  # frames deleted after the scan: they fail, the others are copied


@pytest.fixture
def window(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setattr(prompts, "ask", lambda *a, **k: True)
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1200, 700)
    win.show()
    yield win
    win.shutdown(WAIT_MS)


def run_copy(qtbot: Any, window: MainWindow, tmp_path: Path) -> str:
    """A real verified copy of FRAMES frames in the window, two of them gone by the time they are read."""
    paths = make_byte_sequence(tmp_path / "src", count=FRAMES, size=2048)
    seq = find_sequence(paths[0], stat=True)
    for frame in LOST:
        (tmp_path / "src" / f"plate.{frame}.exr").unlink()
    spec = JobSpec(seq, str(tmp_path / "dest"), copy=CopyOptions(fsync=False, verify=VerifyMode.TRANSFER))
    (job_id,) = window.submit_specs([spec])
    qtbot.waitUntil(lambda: (r := window.model.record_for(job_id)) is not None and r.result is not None,
                    timeout=WAIT_MS)
    return job_id


def alive_results(job_id: str) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, FrameResult) and o.job_id == job_id)


def test_a_finished_row_keeps_its_failures_and_counts_not_every_frame(qtbot: Any, window: MainWindow,
                                                                      tmp_path: Path) -> None:
    job_id = run_copy(qtbot, window, tmp_path)
    record = window.model.record_for(job_id)
    assert record is not None and record.result is not None
    info = window.model.info(record)
    assert (info.total, info.done, info.failed) == (FRAMES, FRAMES - len(LOST), len(LOST))
    assert sorted(r.frame for r in record.failed_frames) == list(LOST)  # Retry Failed still knows them
    assert set(record.frame_results) == {r.index for r in record.failed_frames}
    assert [r.frame for r in record.result.frames] == list(LOST)
    assert record.frame_states.count(FrameStatus.DONE) == FRAMES - len(LOST)
    # Nothing else in the window holds the copied frames' results once the job is over.
    assert alive_results(job_id) == len(LOST)


def test_a_removed_job_leaves_nothing_behind(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    job_id = run_copy(qtbot, window, tmp_path)
    window.select_jobs([job_id])
    qtbot.waitUntil(lambda: window.details.frame_model.loaded_count == FRAMES, timeout=WAIT_MS)
    qtbot.wait(300)  # the bar painted, the details pane refreshed
    record = window.model.record_for(job_id)
    assert record is not None
    gone = weakref.ref(record)
    del record
    assert window.remove_selected() == 1
    qtbot.waitUntil(lambda: window.model.record_for(job_id) is None, timeout=WAIT_MS)
    assert window.details.frame_model.loaded_count == 0  # the pane let the journal's results go
    assert job_id not in window.progress_delegate._runs
    gc.collect()
    assert gone() is None, gc.get_referrers(gone())
    assert alive_results(job_id) == 0


def test_the_details_pane_reads_every_frame_of_a_finished_job_from_the_journal(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    job_id = run_copy(qtbot, window, tmp_path)
    window.select_jobs([job_id])
    frames = window.details.frame_model
    qtbot.waitUntil(lambda: frames.loaded_count == FRAMES, timeout=WAIT_MS)
    assert frames.rowCount() == FRAMES
    # A copied frame: its source, and where the journal says it landed (with its hash).
    tip = frames.index(0, COL_PATH).data(Qt.ItemDataRole.ToolTipRole)
    assert f"Destination: {tmp_path / 'dest'}" in tip
    landed = frames.result(0)
    assert landed is not None and landed.status is FrameStatus.DONE and landed.hash
    assert Path(landed.dest).is_file()
    # A lost frame: its error, as the row knew it.
    row = LOST[0] - 1001
    assert frames.status(row) is FrameStatus.FAILED
    assert frames.index(row, COL_ERROR).data()
    record = window.model.record_for(job_id)
    assert record is not None and record.state in (JobState.FAILED, JobState.COMPLETED)


def journal_files_open(window: MainWindow) -> int:
    """Open connections of this process to the window's journal: each holds the WAL file open.

    (Not the database file: SQLite keeps a closed connection's descriptor on it for reuse while
    another connection holds a lock.)"""
    assert window.journal is not None
    wal = os.path.realpath(window.journal.path) + "-wal"
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        count += target == wal
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count open files")
def test_finished_jobs_do_not_keep_journal_connections_open(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=20, size=1024)
    seq = find_sequence(paths[0], stat=True)
    before = journal_files_open(window)
    assert before > 0  # the window's own connection (history)
    specs = [JobSpec(seq, str(tmp_path / f"dest{i}"), copy=CopyOptions(fsync=False)) for i in range(4)]
    ids = window.submit_specs(specs)
    qtbot.waitUntil(lambda: all((r := window.model.record_for(i)) is not None and r.result is not None for i in ids),
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.runner.running_count == 0, timeout=WAIT_MS)
    # Each job's thread had a connection of its own; the journal's recorder threads close theirs when idle.
    qtbot.waitUntil(lambda: journal_files_open(window) <= before, timeout=10_000)
