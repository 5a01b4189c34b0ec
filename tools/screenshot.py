"""Screenshot of the window with running, paused, pending, completed, failed and cancelled jobs.

    xvfb-run -s "-screen 0 1600x1000x24" python tools/screenshot.py [OUT.png]

Real jobs on generated sequences (nothing is faked in the table): the window is
grabbed with QWidget.grab(), which also works with QT_QPA_PLATFORM=offscreen.
Writes docs/screenshot.png by default.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QCheckBox

from vfxcopy.core.jobs import ConflictPolicy, CopyOptions, JobSpec, JobState, Operation
from vfxcopy.core.samples import make_byte_sequence, make_exr_sequence
from vfxcopy.core.sequence import find_sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.app import make_app
from vfxcopy.gui.main_window import MainWindow

REPO = Path(__file__).resolve().parent.parent


def build_jobs(root: Path) -> dict[str, JobSpec]:
    plates = root / "show" / "plates"
    comp = make_exr_sequence(plates / "sh010_comp_v003", head="sh010_comp_v003.", count=48, width=640, height=360)
    bg = make_exr_sequence(plates / "sh020_bg_v001", head="sh020_bg_v001.", count=24, width=320, height=180)
    scan = make_byte_sequence(plates / "sh030_scan", head="sh030_scan.", count=200, size=256 * 1024, tail=".dpx")
    fg = make_byte_sequence(plates / "sh040_fg", head="sh040_fg_v002.", count=120, size=256 * 1024)
    ref = make_byte_sequence(plates / "sh050_ref", head="sh050_ref.", count=96, size=128 * 1024, tail=".tif")
    out = root / "show" / "delivery"
    # The failed job: some destination frames exist with other content (skip-identical fails them).
    clash = out / "sh020"
    clash.mkdir(parents=True)
    for frame in (1007, 1008, 1015):
        (clash / f"sh020_bg_v001.{frame}.exr").write_bytes(b"an older render")
    slow = 3 * 1024 * 1024

    def spec(paths: list[Path], dest: Path, **kw: object) -> JobSpec:
        return JobSpec(find_sequence(paths[0], stat=True), str(dest), origin="gui", **kw)  # type: ignore[arg-type]

    jobs = {
        "completed": spec(comp, out / "sh010"),
        "failed": spec(bg, clash, copy=CopyOptions(on_conflict=ConflictPolicy.SKIP_IDENTICAL)),
        "cancelled": spec(ref, out / "sh050", copy=CopyOptions(bwlimit=slow)),
        "running": spec(scan, out / "sh030", copy=CopyOptions(bwlimit=2 * slow)),
        "paused": spec(fg, out / "sh040", copy=CopyOptions(bwlimit=slow)),
    }
    try:
        import vfxcopy.core.convert  # noqa: F401 - only to know whether conversion exists
        from vfxcopy.core.presets import get_preset

        jobs["converting"] = spec(comp, out / "sh010_proxies", operation=Operation.CONVERT,
                                  convert=get_preset("Half-res sRGB JPEG proxies"))
    except (ImportError, KeyError):
        pass
    return jobs


def pending_spec(root: Path) -> JobSpec:
    seq = find_sequence(next((root / "show" / "plates" / "sh030_scan").iterdir()), stat=True)
    return JobSpec(seq, str(root / "show" / "backup" / "sh030"), origin="gui")


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshot.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    config = tempfile.mkdtemp(prefix="vfxcopy-shot-config-")
    os.environ["VFXCOPY_CONFIG_DIR"] = config
    os.environ["VFXCOPY_DATA_DIR"] = os.path.join(config, "data")  # no history rows from earlier runs
    root = Path(tempfile.mkdtemp(prefix="vfxcopy-"))
    prompts.ask = lambda *args, **kwargs: True  # the screenshot answers yes to Cancel
    app = make_app()
    window = MainWindow()
    window.settings.jobs_at_once = 5
    window.runner.set_max_jobs(5)
    window.resize(1500, 860)
    window.show()
    jobs = build_jobs(root)
    ids = {name: window.submit_specs([spec])[0] for name, spec in jobs.items()}

    def record_state(name: str) -> JobState:
        record = window.model.record_for(ids[name])
        assert record is not None
        return record.state

    def fraction(name: str) -> float:
        record = window.model.record_for(ids[name])
        return window.model.info(record).fraction if record is not None else 0.0

    steps: list[tuple[Callable[[], bool], Callable[[], None]]] = [
        (lambda: fraction("cancelled") > 0.35, lambda: window.cancel_jobs([ids["cancelled"]])),
        (lambda: fraction("paused") > 0.45, lambda: window.runner.pause(ids["paused"])),
        (lambda: fraction("running") > 0.55 and record_state("cancelled") is JobState.CANCELLED
         and record_state("failed").finished and record_state("completed").finished
         and ("converting" not in ids or fraction("converting") > 0.3),
         lambda: None),
    ]
    done: list[bool] = []

    def tick() -> None:
        if steps and steps[0][0]():
            _check, act = steps.pop(0)
            act()
        if not steps and not done:
            done.append(True)
            # Slots full: one more job waits as pending.
            window.runner.set_max_jobs(max(1, window.runner.running_count))
            window.submit_specs([pending_spec(root)])
            window.select_jobs([ids["failed"]])
            window.show_details()
            window.splitter.setSizes([360, 400])
            check = window.details.findChild(QCheckBox, "failedOnlyCheck")
            if check is not None:
                check.setChecked(True)
            QTimer.singleShot(1500, shoot)

    def shoot() -> None:
        window.grab().save(str(out))
        print(f"saved {out}")
        window.shutdown()
        window.hide()
        app.quit()

    timer = QTimer()
    timer.setInterval(100)
    timer.timeout.connect(tick)
    timer.start()
    QTimer.singleShot(120_000, app.quit)  # never hang a script
    try:
        app.exec()
    finally:
        window.shutdown()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(config, ignore_errors=True)
    return 0 if out.exists() else 1


if __name__ == "__main__":
    sys.exit(main())
