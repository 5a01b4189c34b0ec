"""The GUI thread does no per-frame work it does not show: removing finished jobs does not load each into the details."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vfxcopy.core.jobs import CopyOptions, JobSpec
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.details import DetailsPane
from vfxcopy.gui.main_window import MainWindow

WAIT_MS = 30_000


def test_removing_selected_finished_jobs_shows_none_of_them_in_the_details(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompts, "ask", lambda *a, **k: True)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    try:
        frames = make_byte_sequence(tmp_path / "src", count=300, size=256)
        seq = find_sequence(frames[0], stat=True)
        ids = win.submit_specs([JobSpec(seq, str(tmp_path / f"out{i}"), copy=CopyOptions(fsync=False))
                                for i in range(4)])
        qtbot.waitUntil(lambda: all(win.model.record_for(i).state.finished for i in ids), timeout=WAIT_MS)
        details = win.details
        assert isinstance(details, DetailsPane)
        shown: list[str] = []
        real = details.show_record
        monkeypatch.setattr(details, "show_record",
                            lambda record: (shown.append(record.job_id) if record else None, real(record))[1])
        win.select_jobs(ids)
        assert win.remove_selected() == 4
        # The details follow the selection synchronously (selectionChanged). Before: each removal moved the selection to the next row and loaded its 300 frames.
        assert shown == [] and win.model.rowCount() == 0 and details.record is None
    finally:
        win.shutdown(WAIT_MS)
