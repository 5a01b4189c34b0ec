"""Farm jobs in the window: Run on in the New job dialog, a farm row fed by the scheduler and the results
folder, Cancel shown as "Cancelling… (farm)" until the sweep is done, Retry requeueing failed chunks only;
with a scripted backend object for the states, and for real with OpenJD tasks run here (openjd-sessions)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomllib
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTabWidget,
)

from vfxcopy.core.farm.plan import FarmJob
from vfxcopy.core.jobs import FrameStatus, JobState, is_temp_name, temp_name
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.actions import ActionId
from vfxcopy.gui.dialogs.new_job import NewJobDialog
from vfxcopy.gui.dialogs.settings_dialog import SettingsDialog
from vfxcopy.gui.farm_settings import FarmSettings
from vfxcopy.gui.job_model import COLUMN_INDEX
from vfxcopy.gui.main_window import MainWindow
from vfxcopy.gui.settings import AppSettings

WAIT_MS = 30_000


class ScriptedFarm:
    """A backend object whose scheduler states the test sets: what submit/cancel/retry were asked."""

    name = "slurm"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.chunk_states: list[str] = []
        self.job: FarmJob | None = None

    def submit(self, job: FarmJob) -> dict[str, Any]:
        self.job = job
        self.calls.append("submit")
        self.chunk_states = ["pending"] * len(job.steps[0].chunks)
        return {"slurm_jobs": ["41"]}

    def status(self, job: FarmJob) -> dict[str, Any]:
        chunks = []
        for i, (chunk, state) in enumerate(zip(job.steps[0].chunks, self.chunk_states, strict=True)):
            counts = {"done": chunk.count} if state == "completed" else ({"failed": 1} if state == "failed" else {})
            chunks.append({"step": "main", "index": i, "frames": chunk.frames_arg, "state": state,
                           "scheduler": state, "counts": counts})
        states = set(self.chunk_states)
        overall = ("completed" if states == {"completed"} else "running" if states & {"running", "pending"}
                   else "failed" if "failed" in states else "cancelled")
        total = sum(c.count for c in job.steps[0].chunks)
        return {"job_id": job.job_id, "state": overall, "chunks": chunks,
                "frames": {"total": total, "done": 0, "skipped": 0, "failed": 0}}

    def cancel(self, job: FarmJob) -> None:
        self.calls.append("cancel")

    def retry(self, job: FarmJob) -> dict[str, Any]:
        self.calls.append("retry:" + ",".join(str(i) for i, s in enumerate(self.chunk_states) if s != "completed"))
        self.chunk_states = ["completed" if s == "completed" else "pending" for s in self.chunk_states]
        return {"slurm_jobs": ["42"]}


@pytest.fixture
def window(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setattr(prompts, "ask", lambda *a, **k: True)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    win.farm.timer.setInterval(50)
    yield win
    win.shutdown(WAIT_MS)


def status(win: MainWindow, job_id: str) -> str:
    return str(win.model.index(win.model.row_of(job_id), COLUMN_INDEX["status"]).data())


def farm_dialog(qtbot: Any, win: MainWindow, src: Path, dest: Path, backend: str, chunk: int) -> NewJobDialog:
    dialog = win.add_paths([src])
    assert isinstance(dialog, NewJobDialog)
    dialog.findChild(QLineEdit, "destinationEdit").setText(str(dest))
    combo = dialog.findChild(QComboBox, "runOnCombo")
    assert combo.isVisible()
    combo.setCurrentIndex(combo.findData(backend))
    spin = dialog.findChild(QSpinBox, "farmChunkSpin")
    assert spin.isVisible()
    spin.setValue(chunk)
    return dialog


def test_a_farm_row_follows_the_scheduler_cancels_until_swept_and_retries_failed_chunks(
        qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    farm = ScriptedFarm()
    seen: list[tuple[str, dict[str, Any]]] = []
    window.farm.backend_factory = lambda name, options: seen.append((name, options)) or farm
    src = make_byte_sequence(tmp_path / "src", count=10, size=2048)
    dest = tmp_path / "out"
    dialog = farm_dialog(qtbot, window, src[0], dest, "slurm", 4)
    dialog.findChild(QLineEdit, "farmPartitionEdit").setText("render")
    dialog.findChild(QPushButton, "okButton").click()
    qtbot.waitUntil(lambda: farm.calls == ["submit"], timeout=WAIT_MS)
    [(name, options)] = seen
    assert name == "slurm" and options["chunk"] == 4 and options["partition"] == "render"
    assert farm.job is not None and [c.frames_arg for c in farm.job.steps[0].chunks] == ["1001-1004", "1005-1008",
                                                                                        "1009-1010"]
    job_id = farm.job.job_id
    assert window.selected_records()[0].job_id == job_id  # the new row is selected
    qtbot.waitUntil(lambda: status(window, job_id) == "Farm: 3 tasks queued", timeout=WAIT_MS)

    farm.chunk_states = ["running", "pending", "pending"]
    qtbot.waitUntil(lambda: status(window, job_id) == "Farm 0/3 · 1 running", timeout=WAIT_MS)
    record = window.model.record_for(job_id)
    assert record is not None and record.state is JobState.RUNNING
    assert record.frame_states[:4] == [FrameStatus.RUNNING] * 4 and record.frame_states[4] is FrameStatus.PENDING
    farm.chunk_states = ["completed", "running", "pending"]
    qtbot.waitUntil(lambda: status(window, job_id) == "Farm 1/3 · 1 running", timeout=WAIT_MS)
    # The details list the tasks: one line per chunk with the scheduler's state.
    window.select_jobs([job_id])
    tabs = window.details.findChild(QTabWidget, "detailsTabs")
    chunks = window.details.findChild(QTableWidget, "farmChunkTable")
    qtbot.waitUntil(lambda: tabs.isTabVisible(2) and chunks.rowCount() == 3
                    and chunks.item(1, 2) is not None and chunks.item(1, 2).text() == "running", timeout=WAIT_MS)
    assert [chunks.item(r, 1).text() for r in range(3)] == ["1001-1004", "1005-1008", "1009-1010"]
    assert chunks.item(0, 2).text() == "completed" and chunks.item(0, 3).text() == "4 / 0"
    assert tabs.tabText(2) == "Farm tasks (1/3)"
    # Pause makes no sense for a farm task; Cancel does.
    window.select_jobs([job_id])
    assert window.actions_by_id[ActionId.CANCEL].isEnabled()
    assert not window.actions_by_id[ActionId.PAUSE].isEnabled()

    # A task's temporary file is still there when the scheduler has stopped every task.
    dest.mkdir(exist_ok=True)
    partial = dest / temp_name(job_id, 0)
    partial.write_bytes(b"half a frame")
    assert window.cancel_jobs([job_id], confirm=False) == 1
    qtbot.waitUntil(lambda: "cancel" in farm.calls, timeout=WAIT_MS)
    assert status(window, job_id) == "Cancelling… (farm)"
    farm.chunk_states = ["completed", "cancelled", "cancelled"]
    qtbot.wait(300)  # several polls: the partial file keeps the row cancelling
    assert status(window, job_id) == "Cancelling… (farm)" and not record.state.finished
    tip = window.model.index(window.model.row_of(job_id), COLUMN_INDEX["status"]).data(Qt.ItemDataRole.ToolTipRole)
    assert "next checks in" in tip and "(1 partial file now)" in tip
    partial.unlink()  # the task's sweep
    qtbot.waitUntil(lambda: status(window, job_id) == "Cancelled (farm)", timeout=WAIT_MS)

    # Retry Failed Frames: only the chunks that did not complete go back to the scheduler.
    window.select_jobs([job_id])
    window._update_actions()
    assert window.actions_by_id[ActionId.RETRY].isEnabled()
    farm.calls.clear()
    window.actions_by_id[ActionId.RETRY].trigger()
    qtbot.waitUntil(lambda: farm.calls == ["retry:1,2"], timeout=WAIT_MS)
    farm.chunk_states = ["completed", "completed", "completed"]
    qtbot.waitUntil(lambda: status(window, job_id) == "Completed (farm)", timeout=WAIT_MS)
    assert window.model.rowCount() == 1  # the same row, not a new job


def test_a_rename_policy_cannot_go_to_the_farm(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=3, size=1024)
    dialog = farm_dialog(qtbot, window, src[0], tmp_path / "out", "slurm", 2)
    conflict = dialog.findChild(QComboBox, "conflictCombo")
    conflict.setCurrentIndex(conflict.findData("rename"))
    assert not dialog.findChild(QPushButton, "okButton").isEnabled()
    assert "Farm tasks cannot pick new versions" in dialog.findChild(QLabel, "errorLabel").text()
    dialog.findChild(QComboBox, "runOnCombo").setCurrentIndex(0)  # this computer
    assert dialog.findChild(QPushButton, "okButton").isEnabled()
    dialog.reject()


def test_farm_settings_are_kept_in_the_shared_settings_file_and_feed_run_on(
        qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    combo = dialog.findChild(QComboBox, "farmBackendCombo")
    combo.setCurrentIndex(combo.findData("slurm"))
    dialog.findChild(QLineEdit, "farmPartitionEdit").setText("comp")
    dialog.findChild(QSpinBox, "farmChunkSpin").setValue(25)
    rules = dialog.findChild(QPlainTextEdit, "farmPathMapEdit")
    rules.setPlainText("/mnt/projects\n")
    assert not dialog.findChild(QPushButton, "okButton").isEnabled()
    assert "Path mapping" in dialog.findChild(QLabel, "errorLabel").text()
    rules.setPlainText("/mnt/projects=/net/projects\n")
    dialog.findChild(QPushButton, "okButton").click()
    assert FarmSettings.load() == FarmSettings("slurm", "comp", 25, ["/mnt/projects=/net/projects"])
    # The same [farm] table `vfxcopy farm submit` reads.
    from vfxcopy.core import config

    written = tomllib.loads(Path(config.config_path()).read_text("utf-8"))["farm"]
    assert written == {"backend": "slurm", "partition": "comp", "chunk": 25,
                       "path_map": ["/mnt/projects=/net/projects"]}
    # The New job dialog starts from them, and sends the path rules with the job.
    src = make_byte_sequence(tmp_path / "src", count=3, size=1024)
    new = farm_dialog(qtbot, window, src[0], tmp_path / "out", "slurm", 25)
    assert new.findChild(QLineEdit, "farmPartitionEdit").text() == "comp"
    options = new.farm_options()
    assert options is not None and options["path_map"] == ["/mnt/projects=/net/projects"]
    new.reject()


@pytest.mark.slow
def test_openjd_tasks_on_this_computer_cancel_with_nothing_partial_then_retry_completes(
        qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=6, size=64 * 1024)
    dest = tmp_path / "out"
    dialog = farm_dialog(qtbot, window, src[0], dest, "openjd-local", 2)
    # Slow enough to cancel mid-chunk: 64 KiB frames at 40 KiB/s.
    dialog.findChild(QLineEdit, "bwlimitEdit").setText("40K")
    dialog.findChild(QPushButton, "okButton").click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=WAIT_MS)
    record = window.model.record_at(0)
    job_id = record.job_id
    qtbot.waitUntil(lambda: record.farm is not None and record.farm.tasks_running == 1, timeout=60_000)
    assert window.cancel_jobs([job_id], confirm=False) == 1
    assert status(window, job_id) == "Cancelling… (farm)"
    qtbot.waitUntil(lambda: record.state.finished, timeout=60_000)
    assert status(window, job_id) == "Cancelled (farm)"
    assert not [p.name for p in dest.iterdir() if is_temp_name(p.name)]
    done_before = {p.name: p.stat().st_ino for p in dest.glob("plate.*")}
    assert len(done_before) < 6

    # Retry runs only what is missing; the finished frames keep their inode.
    window.select_jobs([job_id])
    window._update_actions()
    assert window.actions_by_id[ActionId.RETRY].isEnabled()
    window.actions_by_id[ActionId.RETRY].trigger()
    qtbot.waitUntil(lambda: status(window, job_id) == "Completed (farm)", timeout=120_000)
    assert sorted(p.name for p in dest.glob("plate.*")) == sorted(p.name for p in src)
    assert all((dest / name).stat().st_ino == ino for name, ino in done_before.items())
    assert record.frame_states == [FrameStatus.DONE] * 6 or set(record.frame_states) <= {
        FrameStatus.DONE, FrameStatus.SKIPPED}
