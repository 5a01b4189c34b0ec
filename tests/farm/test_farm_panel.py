"""The window's farm pieces with real widgets: the Run on choice and a farm job's status panel."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from vfxcopy.core.farm.backends import OpenJDBackend
from vfxcopy.core.farm.task import ChunkResult, chunk_file_name, run_task, write_json_atomic
from vfxcopy.core.jobs import JobState, temp_name
from vfxcopy.gui.farm_panel import FarmJobPanel, RunOnChoice

WAIT_MS = 30_000


def test_run_on_choice(qtbot) -> None:
    choice = RunOnChoice()
    qtbot.addWidget(choice)
    choice.show()
    assert choice.farm_options() is None
    assert not choice.chunk.isVisible()
    combo = choice.findChild(type(choice.where), "runOnCombo")
    combo.setCurrentIndex(combo.findData("slurm"))
    assert choice.chunk.isVisible() and choice.note.isVisible()
    choice.chunk.setValue(25)
    choice.max_running.setValue(4)
    choice.partition.setText("render")
    assert choice.farm_options() == {"backend": "slurm", "chunk": 25, "max_running": 4, "partition": "render"}
    assert "next checks in" in choice.note.text()


def test_panel_shows_chunks_and_retry_runs_only_what_is_missing(qtbot, small_exrs: Path, tmp_path: Path,
                                                                farm) -> None:
    dest = tmp_path / "out"
    job = farm.farm_job(farm.convert_spec(small_exrs, dest), chunk=4)
    job.backend = "openjd"
    job.save()
    spec = job.spec("main")
    for chunk in job.steps[0].chunks[:2]:
        run_task(spec, chunk.first, chunk.last, emit=lambda line: None)
    panel = FarmJobPanel(job, OpenJDBackend())
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.status is not None, timeout=WAIT_MS)
    table = panel.table
    assert [table.item(r, 2).text() for r in range(table.rowCount())] == ["completed", "completed", "not run"]
    assert (panel.progress.value(), panel.progress.maximum()) == (8, 12)
    assert panel.retry_button.isEnabled() and not panel.cancel_button.isEnabled()
    inode = (dest / "shot_010.1001.jpg").stat().st_ino
    panel.retry_button.click()  # runs the missing chunk and the merge with the OpenJD runtime
    qtbot.waitUntil(lambda: panel.state.text().startswith("Completed"), timeout=WAIT_MS)
    assert panel.state.text() == "Completed: 12 of 12 frames"
    assert (dest / "shot_010.1001.jpg").stat().st_ino == inode
    assert (dest / "ascmhl").is_dir()


def test_cancel_shows_cancelling_until_the_partials_are_swept(qtbot, small_exrs: Path, tmp_path: Path,
                                                             farm) -> None:
    dest = tmp_path / "out"
    job = farm.farm_job(farm.convert_spec(small_exrs, dest), chunk=12)
    dest.mkdir(exist_ok=True)
    # A local OpenJD run in progress: a real process, its chunk record, and its temporary.
    runner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        job.backend = "openjd"
        job.scheduler["local_pid"] = runner.pid
        job.save()
        chunk = job.steps[0].chunks[0]
        record = ChunkResult(job.job_id, "main", chunk.first, chunk.last, state=JobState.RUNNING,
                             host=socket.gethostname(), pid=runner.pid)
        write_json_atomic(job.folder / chunk_file_name(chunk.first, chunk.last), record.to_dict())
        partial = dest / temp_name(f"{job.job_id}-c1001-abcdef", 3)
        partial.write_bytes(b"half a frame")
        panel = FarmJobPanel(job, OpenJDBackend(), refresh_ms=100)
        qtbot.addWidget(panel)
        qtbot.waitUntil(lambda: panel.state.text().startswith("Running"), timeout=WAIT_MS)
        assert panel.cancel_button.isEnabled()
        panel.cancel_button.click()
        assert runner.wait(10) != 0  # the run got its SIGTERM
        qtbot.waitUntil(lambda: panel.status is not None and panel.status["chunks"][0]["state"] == "interrupted",
                        timeout=WAIT_MS)
        assert panel.state.text().startswith("Cancelling… (farm)")  # a partial file is still there
        partial.unlink()  # what the sweep does
        qtbot.waitUntil(lambda: panel.state.text().startswith("Cancelled"), timeout=WAIT_MS)
        assert panel.retry_button.isEnabled() and not panel.cancel_button.isEnabled()
    finally:
        runner.kill()
        runner.wait()
