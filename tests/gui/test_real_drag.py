"""A real drag from another process under Xvfb: the drag source is told CopyAction, never MoveAction.

The source offers Copy|Move with Move as its default (what a file manager proposes with
Shift held); xdotool moves the pointer as a person would. Skipped where Xvfb or xdotool
is missing (apt-get install xvfb xdotool).
"""

from __future__ import annotations

import os
import queue
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vfxcopy.core.samples import make_byte_sequence

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not shutil.which("Xvfb") or not shutil.which("xdotool"),
    reason="needs Xvfb and xdotool (apt-get install xvfb xdotool)",
)

SOURCE = r'''
import sys
from PySide6.QtCore import QMimeData, Qt, QTimer, QUrl
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QApplication, QLabel

app = QApplication(sys.argv)

class Source(QLabel):
    def mousePressEvent(self, event):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(sys.argv[1])])
        drag = QDrag(self)
        drag.setMimeData(mime)
        result = drag.exec(Qt.DropAction.CopyAction | Qt.DropAction.MoveAction, Qt.DropAction.MoveAction)
        print("RESULT", result.name, flush=True)
        # Stay up: the target fetches the dropped data from the source after this returns
        # (a file manager keeps running too). The test ends this process.

label = Source("drag me")
label.setGeometry(20, 20, 200, 150)
label.show()
QTimer.singleShot(60_000, app.quit)  # never outlive a broken test
print("READY", flush=True)
app.exec()
'''

TARGET = r'''
import sys
from vfxcopy.gui.app import make_app
from vfxcopy.gui.main_window import MainWindow

app = make_app()
window = MainWindow()

def dropped(paths):
    print("DROPPED", *paths, flush=True)
    app.quit()

window.add_paths = dropped
window.setGeometry(400, 20, 800, 500)
window.show()
print("READY", flush=True)
app.exec()
window.shutdown()
'''


class Lines:
    """A child process's output lines, read on a thread so that waiting for one can time out."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def wait(self, prefix: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no {prefix} line from {self.proc.args} in {timeout} s")


def _answers(env: dict[str, str]) -> bool:
    return subprocess.run(["xdotool", "getmouselocation"], env=env, capture_output=True).returncode == 0


@pytest.fixture
def display():  # type: ignore[no-untyped-def]
    """A private Xvfb server on a free display number well above the usual :0 and :99."""
    for number in random.sample(range(300, 900), 20):
        if os.path.exists(f"/tmp/.X{number}-lock") or os.path.exists(f"/tmp/.X11-unix/X{number}"):
            continue
        server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env = dict(os.environ, DISPLAY=f":{number}")
        deadline = time.monotonic() + 15
        while server.poll() is None and not _answers(env) and time.monotonic() < deadline:
            time.sleep(0.1)
        if server.poll() is None and _answers(env):
            yield f":{number}"
            server.terminate()
            server.wait(10)
            return
        server.kill()
        server.wait(10)
    pytest.skip("Xvfb did not start")


def test_a_drag_from_another_application_is_answered_with_copy(tmp_path: Path, display: str) -> None:
    frames = make_byte_sequence(tmp_path / "src", count=3, size=1024)
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb",
               VFXCOPY_DATA_DIR=str(tmp_path / "data"), VFXCOPY_CONFIG_DIR=str(tmp_path / "config"))
    (tmp_path / "source.py").write_text(SOURCE)
    (tmp_path / "target.py").write_text(TARGET)
    run = {"env": env, "stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL, "text": True}
    target = subprocess.Popen([sys.executable, str(tmp_path / "target.py")], **run)  # type: ignore[call-overload]
    source = subprocess.Popen([sys.executable, str(tmp_path / "source.py"), str(frames[1])], **run)  # type: ignore[call-overload]
    target_out, source_out = Lines(target), Lines(source)
    try:
        try:
            target_out.wait("READY")
            source_out.wait("READY")
        except AssertionError:
            pytest.skip("the Qt xcb platform did not start here (missing libxcb-* libraries?)")
        time.sleep(1.0)  # both windows mapped

        def xdo(*args: str) -> None:
            subprocess.run(["xdotool", *args], env=env, check=True, timeout=10)

        xdo("mousemove", "100", "90")
        xdo("mousedown", "1")
        # Move in steps, as a hand does: the drag starts after a few pixels, then enters the window.
        for x, y in ((110, 95), (130, 100), (200, 120), (400, 200), (600, 250), (780, 280), (800, 300)):
            xdo("mousemove", str(x), str(y))
            time.sleep(0.15)
        xdo("mouseup", "1")
        result = source_out.wait("RESULT", timeout=20)
        dropped = target_out.wait("DROPPED", timeout=20)
    finally:
        for proc in (source, target):
            proc.kill()
            proc.wait(10)
    assert result == "RESULT CopyAction"  # a file manager would delete the originals after MoveAction
    assert dropped == f"DROPPED {frames[1]}"
    assert all(p.exists() for p in frames)
