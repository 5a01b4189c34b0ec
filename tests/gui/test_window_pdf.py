"""The window's default handover PDF: laid out by a child process, beside the delivery; cancellable mid-layout."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vfxcopy.core import pdf_child
from vfxcopy.core.jobs import JobSpec, JobState
from vfxcopy.core.samples import make_exr_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.main_window import MainWindow

WAIT_MS = 60_000


@pytest.fixture
def window(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setattr(prompts, "ask", lambda *args, **kwargs: True)  # "Cancel this job?" Yes
    pdf_child.retire(wait=True)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.shutdown(WAIT_MS)
    pdf_child.retire(wait=True)


def _spec(win: MainWindow, src: Path, dest: Path) -> JobSpec:
    """A job as the window queues it: its settings' copy options (the PDF on), fsync off for the test's speed."""
    options = dataclasses.replace(win.settings.copy_options(), fsync=False)
    assert options.pdf_report  # the window's default: report.pdf = window
    return JobSpec(find_sequence(next(src.iterdir()), stat=True), str(dest), copy=options)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_window_job_hands_over_a_pdf_laid_out_by_a_child(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    make_exr_sequence(tmp_path / "src", count=4)
    (job_id,) = window.submit_specs([_spec(window, tmp_path / "src", tmp_path / "delivery" / "shot_010")])
    record = window.model.record_for(job_id)
    assert record is not None
    qtbot.waitUntil(lambda: record.state.finished, timeout=WAIT_MS)
    assert record.state is JobState.COMPLETED
    (pdf,) = (tmp_path / "delivery").glob("shot_010_vfxcopy_report_*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    child = pdf_child._child
    assert child is not None and child.proc.pid != os.getpid() and _alive(child.proc.pid)  # waiting for the next


def test_cancel_from_the_context_menu_while_the_pdf_is_laid_out(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for frame in range(1001, 4001):  # a PDF that takes about a second to lay out
        (src / f"plate.{frame}.dpx").write_bytes(b"%d" % frame)
    dest = tmp_path / "delivery" / "plates"
    (job_id,) = window.submit_specs([_spec(window, src, dest)])
    record = window.model.record_for(job_id)
    assert record is not None
    qtbot.waitUntil(lambda: bool(list((dest / "ascmhl").glob("*.html"))) or record.state.finished, timeout=WAIT_MS)
    qtbot.wait(200)  # the HTML and CSV are written: the PDF is being laid out
    child = pdf_child._child
    assert child is not None and not record.state.finished
    window.select_jobs([job_id])
    menu = window.build_context_menu()
    (cancel,) = [a for a in menu.actions() if a.objectName() == "actionCancel"]
    cancel.trigger()
    qtbot.waitUntil(lambda: record.state.finished, timeout=500)  # 50-70 ms here: the layout is killed, not waited for
    assert record.state is JobState.CANCELLED
    assert record.result is not None and "cancelled while writing the job report" in record.result.message
    qtbot.waitUntil(lambda: not _alive(child.proc.pid), timeout=1_000)
    assert not list((tmp_path / "delivery").glob("*.pdf"))
    assert len(list(dest.glob("plate.*.dpx"))) == 3000  # the frames and the manifest stand
