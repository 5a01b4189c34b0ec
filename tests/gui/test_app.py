"""`vfxcopy gui PATHS` and `vfxcopy demo` through app.main, and the CLI staying Qt-free for other commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from vfxcopy.cli import main as cli_main
from vfxcopy.core.jobs import JobState, Operation
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.gui import app, prompts
from vfxcopy.gui.main_window import MainWindow


def test_cli_without_gui_commands_does_not_import_qt() -> None:
    code = (
        "import sys, vfxcopy.cli as c; c.build_parser(); "
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_gui_command_rejects_a_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli_main(["gui", str(tmp_path / "nope")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_paths_given_to_the_window_are_treated_as_dropped(qtbot: Any, qapp: Any, tmp_path: Path) -> None:
    frames = make_byte_sequence(tmp_path / "src", count=5, size=1024)
    seen: dict[str, Any] = {}

    def ready(window: object) -> None:
        assert isinstance(window, MainWindow)

        def look() -> None:
            seen["sequences"] = [(s.head, len(s.frames)) for s in window.last_dropped]
            dialog = window.new_job_dialog
            seen["dialog"] = dialog.objectName() if dialog is not None and dialog.isVisible() else None

        QTimer.singleShot(500, look)
        # The GUI thread gets the interpreter lock back within 1 ms of a busy job thread
        # (gui/app.py: GUI_SWITCH_INTERVAL_S).
        seen["switch interval"] = sys.getswitchinterval()

    default = sys.getswitchinterval()
    try:
        assert app.main(paths=[str(frames[2])], quit_after=1.0, on_ready=ready) == 0
    finally:
        sys.setswitchinterval(default)
    assert seen == {"sequences": [("plate.", 5)], "dialog": "newJobDialog", "switch interval": 0.001}


@pytest.mark.slow
def test_demo_queues_a_copy_still_running_ten_seconds_after_start(
    qtbot: Any, qapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prompts, "ask", lambda *a, **k: True)
    seen: dict[str, Any] = {}

    def ready(window: object) -> None:
        assert isinstance(window, MainWindow)

        def look() -> None:
            records = window.model.records()
            seen["rows"] = [(r.spec.operation, r.state) for r in records]
            seen["frames"] = records[0].frames_total if records else 0

        QTimer.singleShot(10_000, look)

    assert app.main(demo=True, quit_after=10.5, on_ready=ready) == 0
    rows = seen["rows"]
    assert rows[0] == (Operation.COPY, JobState.RUNNING)
    assert seen["frames"] == 300
    try:
        import vfxcopy.core.convert  # noqa: F401
    except ImportError:
        return
    assert rows[1][0] is Operation.CONVERT
