"""Job history in the window: survives a restart, Clear History, and resuming a job a crash interrupted."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QAction

from vfxcopy.core.jobs import CopyOptions, FrameStatus, JobSpec, JobState, is_temp_name
from vfxcopy.core.journal import Journal
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.job_model import COLUMN_INDEX
from vfxcopy.gui.main_window import MainWindow

WAIT_MS = 30_000
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def windows(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MainWindow]]:
    monkeypatch.setattr(prompts, "ask", lambda *a, **k: True)
    made: list[MainWindow] = []
    yield made
    for win in made:
        win.shutdown(WAIT_MS)


def open_window(qtbot: Any, windows: list[MainWindow]) -> MainWindow:
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    windows.append(win)
    return win


def action(win: MainWindow, name: str) -> QAction:
    found = win.findChild(QAction, name)
    assert found is not None, name
    return found


def status(win: MainWindow, job_id: str) -> str:
    return str(win.model.index(win.model.row_of(job_id), COLUMN_INDEX["status"]).data())


def test_finished_jobs_survive_a_restart_until_history_is_cleared(
    qtbot: Any, windows: list[MainWindow], tmp_path: Path
) -> None:
    src = make_byte_sequence(tmp_path / "src", count=5, size=4096)
    first = open_window(qtbot, windows)
    spec = JobSpec(find_sequence(src[0]), str(tmp_path / "out"), copy=CopyOptions(fsync=False))
    (job_id,) = first.submit_specs([spec])
    qtbot.waitUntil(lambda: status(first, job_id) == "Completed", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: first.runner.running_count == 0, timeout=WAIT_MS)
    first.close()

    second = open_window(qtbot, windows)
    record = second.model.record_for(job_id)
    assert record is not None, "the finished job is not in the new window"
    assert record.state is JobState.COMPLETED and status(second, job_id) == "Completed"
    assert record.frame_states == [FrameStatus.DONE] * 5
    assert record.spec.dest_dir == str(tmp_path / "out") and record.spec.origin == "gui"
    assert record.result is not None and record.result.bytes_done == 5 * 4096
    # The row keeps counts; the details pane reads every frame's result (hashes too) from the journal.
    second.select_jobs([job_id])
    frames = second.details.frame_model
    qtbot.waitUntil(lambda: frames.loaded_count == 5, timeout=WAIT_MS)
    first_frame = frames.result(0)
    assert first_frame is not None and first_frame.hash  # the hashes the copy computed
    assert second.runner.running_count + second.runner.pending_count == 0  # history, not queued again
    assert record.log and "completed" in record.log[0].text  # the Log tab of a history row is not empty

    # The verified copy's HTML report opens from the history row.
    shown: list[str] = []
    assert second.history is not None
    second.history.open_url = lambda url: shown.append(url.toLocalFile()) or True
    second.select_jobs([job_id])
    action(second, "actionOpenReport").trigger()
    assert shown == [str(tmp_path / "out" / "ascmhl" / f"vfxcopy_report_{job_id}.html")]

    clear = action(second, "actionClearHistory")
    assert clear in [a for m in second.menuBar().actions() if m.menu() for a in m.menu().actions()]
    clear.trigger()
    assert second.model.rowCount() == 0
    second.close()

    third = open_window(qtbot, windows)
    assert third.model.rowCount() == 0
    with Journal() as journal:
        assert journal.history() == []
    assert sorted(p.name for p in (tmp_path / "out").glob("*.exr")) == [p.name for p in src]  # files stay


CRASH = """
import os, sys
from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import CopyOptions, FrameResult, FrameStatus, JobSpec
from vfxcopy.core.journal import Journal
from vfxcopy.core.seqfind import find_sequence
spec = JobSpec(find_sequence(sys.argv[1]), sys.argv[2], copy=CopyOptions(fsync=False), origin="gui")
seen = 0
def report(event):
    global seen
    if isinstance(event, FrameResult) and event.status is FrameStatus.DONE:
        seen += 1
        if seen == 4:
            os._exit(0)  # the machine goes down in the middle of the job
run_job(spec, report=report, journal=Journal())
"""


def test_a_job_a_crash_interrupted_shows_and_resumes_in_the_window(
    qtbot: Any, windows: list[MainWindow], tmp_path: Path
) -> None:
    src = make_byte_sequence(tmp_path / "src", count=10, size=8192)
    dest = tmp_path / "out"
    crash = subprocess.run([sys.executable, "-c", CRASH, str(src[0]), str(dest)], cwd=REPO,
                           env=os.environ.copy(), capture_output=True, text=True, timeout=60)
    assert crash.returncode == 0, crash.stderr
    in_place = {p.name: p.stat().st_ino for p in dest.iterdir() if p.suffix == ".exr" and not is_temp_name(p.name)}
    assert 4 <= len(in_place) < 10

    win = open_window(qtbot, windows)
    (record,) = win.model.records()
    assert record.state is JobState.INTERRUPTED and status(win, record.job_id) == "Interrupted"

    win.select_jobs([record.job_id])
    action(win, "actionResumeInterrupted").trigger()
    qtbot.waitUntil(lambda: status(win, record.job_id) == "Completed", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: win.runner.running_count == 0, timeout=WAIT_MS)  # the worker has returned
    assert win.model.rowCount() == 1
    for path in src:
        assert (dest / path.name).read_bytes() == path.read_bytes()
    for name, inode in in_place.items():
        assert (dest / name).stat().st_ino == inode, f"{name} was copied again"
    assert not [n for n in os.listdir(dest) if is_temp_name(n)]
    with Journal() as journal:
        job = journal.get_job(record.job_id)
        assert job is not None and job.state is JobState.COMPLETED and job.frames_done == 10
        # Frames in place before the crash but not yet journaled were compared, not copied again.
        assert job.counts.get("skipped", 0) == len(in_place) - len(
            [f for f in journal.frames(job.job_id) if f.status is FrameStatus.DONE and Path(f.dest).name in in_place])
