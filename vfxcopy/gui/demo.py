"""`vfxcopy demo`: sample EXR frames in a temporary folder, then a slow copy and a proxy conversion queued."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from vfxcopy.core.jobs import CopyOptions, JobSpec, Operation
from vfxcopy.core.seqfind import find_sequence

DEMO_FRAMES = 300
DEMO_SIZE = (640, 360)
DEMO_CYCLE = 24  # distinct frames; the ramp animation loops every second at 24 fps
# The copy is slowed to about this long so that a new user can try Cancel on it.
DEMO_COPY_SECONDS = 30.0
PROXY_PRESET = "Half-res sRGB JPEG proxies"


def make_demo_frames(folder: Path, count: int, cycle: int = DEMO_CYCLE) -> list[Path]:
    """Real EXR frames: one `cycle` rendered with OpenImageIO, then looped to `count` frames.

    Rendering every frame takes many seconds on a busy machine; a looping
    animation gets the demo's jobs into the table within a second or two.
    """
    from vfxcopy.core.samples import make_exr_sequence

    width, height = DEMO_SIZE
    head, start = "shot_010_comp_v003.", 1001
    rendered = make_exr_sequence(folder, head=head, start=start, count=min(cycle, count),
                                 width=width, height=height)
    paths = list(rendered)
    for i in range(len(rendered), count):
        target = folder / f"{head}{start + i:04d}.exr"
        shutil.copyfile(rendered[i % len(rendered)], target)
        paths.append(target)
    return paths


def demo_specs(first_frame: Path, root: Path) -> list[JobSpec]:
    """A bandwidth-limited copy, and a proxy conversion once conversion is available."""
    seq = find_sequence(first_frame, stat=True)
    total = seq.total_size or 0
    bwlimit = max(64 * 1024, int(total / DEMO_COPY_SECONDS))
    specs = [JobSpec(seq, str(root / "delivery" / "shot_010"), copy=CopyOptions(bwlimit=bwlimit), origin="demo")]
    try:
        import vfxcopy.core.convert  # noqa: F401 - only to know whether conversion exists
        from vfxcopy.core.presets import get_preset

        options = get_preset(PROXY_PRESET)
    except (ImportError, KeyError):
        return specs
    specs.append(JobSpec(seq, str(root / "proxies" / "shot_010"), operation=Operation.CONVERT,
                         convert=options, origin="demo"))
    return specs


class _Maker(QObject):
    """Carries the background thread's result to the GUI thread (a queued signal)."""

    ready = Signal(object)  # list[Path] or an exception


def make_demo_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="vfxcopy-demo-"))


def start_demo(window: object, count: int | None = None, root: Path | None = None) -> Callable[[], None]:
    """Make the frames off the GUI thread, then queue the demo jobs; returns the clean-up function.

    Everything lives under `root` (a new temporary folder by default), removed by the clean-up.
    """
    from vfxcopy.gui.main_window import MainWindow

    count = count or DEMO_FRAMES
    assert isinstance(window, MainWindow)
    root = root or make_demo_root()
    src = root / "plates" / "shot_010"
    maker = _Maker()  # not a child of the window: it may outlive it until the thread ends
    window.statusBar().showMessage(f"Making {count} sample EXR frames in {root}…")

    @Slot(object)
    def ready(result: object) -> None:
        if isinstance(result, BaseException):
            window.statusBar().showMessage(f"Could not make the sample frames: {result}", 15000)
            return
        assert isinstance(result, list) and result
        window.statusBar().showMessage(f"Demo: {len(result)} frames in {src}", 10000)
        window.submit_specs(demo_specs(sorted(result)[0], root), select=True)

    maker.ready.connect(ready)

    def work() -> None:
        result: object
        try:
            result = make_demo_frames(src, count)
        except Exception as exc:  # noqa: BLE001 - reported in the status bar instead of a dead thread
            result = exc
        maker.ready.emit(result)

    thread = threading.Thread(target=work, name="vfxcopy-demo-frames", daemon=True)
    thread.start()

    def cleanup() -> None:
        thread.join()
        maker.ready.disconnect(ready)
        shutil.rmtree(root, ignore_errors=True)

    return cleanup
