"""Screenshots of the window as artists see it: the job table in every state, the New job dialog with 30
sequences, the conflict dialog, the Settings dialog and the file dialog.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python tools/screenshot.py [--out DIR] [--readme]

Real jobs on generated sequences (nothing is faked in the table). Under an X server
(Xvfb) with a window manager (openbox is started when it is installed) the whole screen
is captured with ImageMagick's `import -window root`, frames and all; without one (the
offscreen platform) each window is grabbed with QWidget.grab(). `--readme` also writes
docs/screenshot.png (the table). The window is maximized: run it at 1024×700 and 1600×1000.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QCheckBox, QFileDialog, QWidget

from vfxcopy.core.jobs import ConflictPolicy, CopyOptions, JobSpec, JobState, Operation
from vfxcopy.core.samples import make_byte_sequence, make_exr_sequence
from vfxcopy.core.seqfind import find_sequence, scan
from vfxcopy.gui import prompts
from vfxcopy.gui.app import make_app
from vfxcopy.gui.main_window import MainWindow
from vfxcopy.gui.records import JobRecord

REPO = Path(__file__).resolve().parent.parent
# A copy killed half-way (the machine went down): the next window lists it as interrupted.
CRASH = """
import os, sys
from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import CopyOptions, FrameResult, FrameStatus, JobSpec
from vfxcopy.core.journal import Journal
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
frames = make_byte_sequence(sys.argv[1], head="sh070_bg_v004.", count=40, size=64 * 1024)
spec = JobSpec(find_sequence(frames[0]), sys.argv[2],
               copy=CopyOptions(fsync=False, bwlimit=512 * 1024), origin="gui")
seen = 0
def report(event):
    global seen
    if isinstance(event, FrameResult) and event.status is FrameStatus.DONE:
        seen += 1
        if seen == 20:
            os._exit(0)
run_job(spec, report=report, journal=Journal())
"""


def interrupted_job(root: Path) -> None:
    """Run a copy in another process that dies after 20 of 40 frames (recorded in the journal)."""
    subprocess.run([sys.executable, "-c", CRASH, str(root / "show" / "plates" / "sh070_bg"),
                    str(root / "show" / "delivery" / "sh070")], check=True)


def build_jobs(root: Path) -> dict[str, JobSpec]:
    plates = root / "show" / "plates"
    comp = make_exr_sequence(plates / "sh010_comp_v003", head="sh010_comp_v003.", count=48, width=640, height=360)
    bg = make_exr_sequence(plates / "sh020_bg_v001", head="sh020_bg_v001.", count=24, width=320, height=180)
    scan_ = make_byte_sequence(plates / "sh030_scan", head="sh030_scan.", count=200, size=256 * 1024, tail=".dpx")
    fg = make_byte_sequence(plates / "sh040_fg", head="sh040_fg_v002.", count=60, size=256 * 1024)
    # Big frames: "stop after the current frame" stays visible while one is in flight.
    raw = make_byte_sequence(plates / "sh060_raw", head="sh060_raw.", count=12, size=6 * 1024 * 1024,
                             tail=".ari")
    ref = make_byte_sequence(plates / "sh050_ref", head="sh050_ref.", count=96, size=128 * 1024, tail=".tif")
    out = root / "show" / "delivery" / "client_review_2026-11-30" / "exr_linear_acescg"
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
        "running": spec(scan_, out / "sh030", copy=CopyOptions(bwlimit=slow // 3)),
        "paused": spec(fg, out / "sh040", copy=CopyOptions(bwlimit=slow)),
        "stopping": spec(raw, root / "show" / "backup" / "sh060", copy=CopyOptions(bwlimit=slow // 3)),
    }
    from vfxcopy.core.presets import get_preset

    jobs["converting"] = spec(comp, out / "sh010_proxies", operation=Operation.CONVERT,
                              convert=get_preset("Half-res sRGB JPEG proxies"))
    return jobs


def pending_spec(root: Path) -> JobSpec:
    seq = find_sequence(next((root / "show" / "plates" / "sh030_scan").iterdir()), stat=True)
    return JobSpec(seq, str(root / "show" / "backup" / "sh030"), origin="gui")


def thirty_sequences(root: Path) -> list:
    folder = root / "show" / "incoming" / "2026-11-30_vendor_drop"
    for i in range(30):
        shot = f"sh{(i + 1) * 10:03d}"
        if i % 3 == 0:
            make_exr_sequence(folder / shot, head=f"{shot}_comp_v00{i % 7 + 1}.", count=4, width=160, height=90)
        else:
            paths = make_byte_sequence(folder / shot, head=f"{shot}_plate_v001.", count=12 + i, size=2048,
                                       tail=".dpx" if i % 2 else ".exr")
            if i % 5 == 1:
                paths[4].unlink()  # a gap: shown as missing
    return sorted(scan([folder], stat=True, recursive=True), key=lambda s: s.head)


class Shooter:
    """Captures the screen (X server) or a widget (offscreen) into numbered files."""

    def __init__(self, out: Path, tag: str) -> None:
        self.out = out
        self.tag = tag
        self.x11 = bool(os.environ.get("DISPLAY")) and shutil.which("import") is not None \
            and QApplication.platformName() == "xcb"
        self.made: list[Path] = []

    def settle(self, ms: int = 700) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def shoot(self, name: str, widget: QWidget) -> Path:
        path = self.out / f"{name}-{self.tag}.png"
        widget.raise_()
        widget.activateWindow()
        self.settle()
        if self.x11:
            subprocess.run(["import", "-window", "root", str(path)], check=True)
        else:
            widget.window().grab().save(str(path))
        print(f"saved {path}")
        self.made.append(path)
        return path


def wait_until(check: Callable[[], bool], seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the screenshot scene did not come about in time")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.02)


def start_window_manager() -> subprocess.Popen[bytes] | None:
    if not os.environ.get("DISPLAY") or shutil.which("openbox") is None:
        return None
    wm = subprocess.Popen(["openbox"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return wm


@contextmanager
def window_session(
    out: Path, before: Callable[[Path], None] | None = None
) -> Iterator[tuple[MainWindow, Path, Shooter]]:
    """The window, maximized, for screenshots: settings and journal in a throw-away folder (no
    history from earlier runs), prompts answered yes, a window manager under X; the window, the
    scene's folder (`root`) and all of it are removed afterwards. `before(root)` runs before the
    window opens (e.g. a job it should find interrupted)."""
    config = tempfile.mkdtemp(prefix="vfxcopy-shot-config-")
    os.environ["VFXCOPY_CONFIG_DIR"] = config
    os.environ["VFXCOPY_DATA_DIR"] = os.path.join(config, "data")
    root = Path(tempfile.mkdtemp(prefix="vfxcopy-"))
    prompts.ask = lambda *args, **kwargs: True  # type: ignore[assignment]  # the screenshot answers yes
    wm = None
    try:
        if before is not None:
            before(root)
        wm = start_window_manager()
        app = make_app()
        screen = app.primaryScreen().size()
        shooter = Shooter(out, f"{screen.width()}x{screen.height()}")
        window = MainWindow()
        window.showMaximized()
        try:
            shooter.settle(500)
            yield window, root, shooter
        finally:
            window.shutdown()
            window.hide()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(config, ignore_errors=True)
        if wm is not None:
            wm.terminate()


def table_scene(window: MainWindow, root: Path, shooter: Shooter) -> None:
    jobs = build_jobs(root)
    window.settings.jobs_at_once = len(jobs)
    window.runner.set_max_jobs(len(jobs))
    ids = {name: window.submit_specs([spec])[0] for name, spec in jobs.items()}

    def record(name: str):  # type: ignore[no-untyped-def]
        found = window.model.record_for(ids[name])
        assert found is not None
        return found

    def fraction(name: str) -> float:
        return window.model.info(record(name)).fraction

    wait_until(lambda: fraction("cancelled") > 0.35)
    window.cancel_jobs([ids["cancelled"]], confirm=False)
    wait_until(lambda: fraction("paused") > 0.45)
    window.runner.pause(ids["paused"])
    window.model.token_changed(ids["paused"])
    wait_until(lambda: fraction("stopping") > 0.02)
    window.stop_after_frame(ids["stopping"])
    wait_until(lambda: record("cancelled").state is JobState.CANCELLED
               and record("failed").state.finished and record("completed").state.finished
               and record("converting").state.finished)
    # Slots full: one more job waits as pending.
    window.runner.set_max_jobs(max(1, window.runner.running_count))
    window.submit_specs([pending_spec(root)])
    window.select_jobs([ids["failed"]])
    window.show_details()
    check = window.details.findChild(QCheckBox, "failedOnlyCheck")
    if check is not None:
        check.setChecked(True)
    shooter.settle(1500)  # a second of bytes: the speeds are shown
    shooter.shoot("table", window)


def check_scene(window: MainWindow, root: Path, shooter: Shooter) -> None:
    """The New job dialog's Check step on a plate with broken frames, the refuse policy, Run on a farm."""
    from vfxcopy.core.preflight.samples import make_defective_exr_sequence

    folder = root / "show" / "incoming" / "2026-11-30_scan_drop"
    make_defective_exr_sequence(folder / "sh110", head="sh110_plate_v001.", width=320, height=180)
    for shot in ("sh120", "sh130"):
        make_exr_sequence(folder / shot, head=f"{shot}_plate_v001.", count=16, width=320, height=180)
    seqs = sorted(scan([folder], stat=True, recursive=True), key=lambda s: s.head)
    dialog = window.open_new_job_dialog(seqs)
    assert dialog is not None
    dialog.destination_edit.setText(str(root / "show" / "delivery" / "scan_ingest"))
    dialog.preflight_combo.setCurrentIndex(dialog.preflight_combo.findData("refuse"))
    dialog.run_on.where.setCurrentIndex(dialog.run_on.where.findData("slurm"))
    dialog.run_on.chunk.setValue(8)
    dialog.run_on.partition.setText("render")
    wait_until(lambda: dialog.check.pending() == 0)
    shooter.settle(2000)  # thumbnails
    shooter.shoot("new_job_check", dialog)
    dialog.sequence_tabs.setCurrentIndex(1)
    tree = dialog.check.view.tree()
    tree.expandItem(tree.topLevelItem(0))
    tree.setColumnWidth(0, 260)
    shooter.shoot("new_job_check_tab", dialog)
    dialog.reject()


def farm_scene(window: MainWindow, root: Path, shooter: Shooter) -> None:
    """A farm job (OpenJD tasks run here by openjd-sessions) as a row beside a local job, with its chunks."""
    plates = root / "show" / "plates" / "sh210_bg"
    frames = make_byte_sequence(plates, head="sh210_bg_v002.", count=24, size=512 * 1024)
    local = make_byte_sequence(root / "show" / "plates" / "sh220_fg", head="sh220_fg_v001.", count=60,
                               size=512 * 1024)
    slow = CopyOptions(bwlimit=1024 * 1024, fsync=False)
    farm_spec = JobSpec(find_sequence(frames[0], stat=True), str(root / "show" / "delivery" / "farm" / "sh210"),
                        copy=slow, origin="gui")
    [farm_id] = window.submit_farm([farm_spec], {"backend": "openjd-local", "chunk": 4, "max_running": None,
                                                 "partition": None, "path_map": []})
    window.submit_specs([JobSpec(find_sequence(local[0], stat=True), str(root / "show" / "delivery" / "sh220"),
                                 copy=slow, origin="gui")])

    def farm_record():  # type: ignore[no-untyped-def]
        return window.model.record_for(farm_id)

    wait_until(lambda: farm_record().farm is not None and farm_record().farm.tasks_done >= 2
               and farm_record().farm.tasks_running >= 1, seconds=180)
    window.select_jobs([farm_id])
    window.show_details()
    shooter.settle(600)
    window.details.tabs.setCurrentIndex(2)  # Farm tasks
    shooter.settle(600)
    shooter.shoot("farm", window)
    # The moment after Cancel: asked, the tasks not yet confirmed stopped (the next status read
    # is held back a few seconds so that table and details show the same moment).
    window.farm.timer.setInterval(8000)
    window.farm.timer.start()
    window.cancel_jobs([farm_id], confirm=False)
    shooter.shoot("farm_cancelling", window)


def tree_scene(window: MainWindow, root: Path, shooter: Shooter) -> None:
    """A vendor delivery folder dropped on the window: one tree job, then its items in the details."""
    delivery = root / "show" / "incoming" / "vendor_delivery_0412"
    make_exr_sequence(delivery / "sh010" / "plates" / "bg01", head="sh010_bg01.", count=12, width=320, height=180)
    make_exr_sequence(delivery / "sh010" / "plates" / "fg01", head="sh010_fg01.", count=8, width=320, height=180)
    make_byte_sequence(delivery / "sh020" / "comp" / "v003", head="sh020_comp_v003.", count=10, size=64 * 1024)
    (delivery / "sh010" / "ref").mkdir(parents=True)
    (delivery / "sh010" / "ref" / "edit_ref.mov").write_bytes(os.urandom(300_000))
    (delivery / "sh010" / "plates" / "bg01" / "bg01.cdl").write_text("<ColorDecisionList/>\n")
    (delivery / "delivery.edl").write_text("TITLE: vendor_delivery_0412\n")
    os.mkfifo(delivery / "sh020" / "comp" / "render_progress.fifo")  # left behind by a render: never copied, said
    loose = make_exr_sequence(root / "show" / "incoming" / "loose", head="sh030_ref.", count=6, width=320, height=180)
    dialog = window.add_paths([delivery, loose[0]])
    assert dialog is not None
    dialog.destination_edit.setText(str(root / "show" / "ingest" / "vendor_delivery_0412"))  # type: ignore[attr-defined]
    shooter.settle(1500)
    shooter.shoot("new_job_tree", dialog)
    earlier = {window.model.record_at(r).job_id for r in range(window.model.rowCount())}
    dialog.accept()

    def scene_jobs() -> list[JobRecord]:  # this scene's two jobs (the table scene leaves one of its own paused)
        records = (window.model.record_at(r) for r in range(window.model.rowCount()))
        return [record for record in records if record.job_id not in earlier]

    wait_until(lambda: len(jobs := scene_jobs()) >= 2 and all(record.state.finished for record in jobs))
    tree_row = next(r for r in range(window.model.rowCount()) if window.model.record_at(r).spec.tree is not None)
    window.select_jobs([window.model.record_at(tree_row).job_id])
    window.show_details()
    shooter.settle(800)
    shooter.shoot("tree_details", window)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "shots")
    parser.add_argument("--readme", action="store_true", help="also write docs/screenshot.png")
    parser.add_argument("--only", default="table,new_job,new_job_check,farm,tree,conflict,settings,file_dialog")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(","))
    with window_session(args.out, interrupted_job if "table" in only else None) as (window, root, shooter):
        if "table" in only:
            table_scene(window, root, shooter)
        if "new_job" in only:
            dialog = window.open_new_job_dialog(thirty_sequences(root))
            assert dialog is not None
            dialog.destination_edit.setText(str(root / "show" / "delivery" / "vendor_2026-11-30"))
            shooter.settle(2500)  # thumbnails of the rows in sight
            shooter.shoot("new_job", dialog)
            dialog.reject()
        if "new_job_check" in only:
            check_scene(window, root, shooter)
        if "farm" in only:
            farm_scene(window, root, shooter)
        if "tree" in only:
            tree_scene(window, root, shooter)
        if "conflict" in only:
            from vfxcopy.gui.conflicts import find_conflicts
            from vfxcopy.gui.dialogs.conflict_dialog import ConflictDialog

            bg = root / "show" / "plates" / "sh020_bg_v001"
            if not bg.is_dir():
                make_exr_sequence(bg, head="sh020_bg_v001.", count=24, width=320, height=180)
            seq = find_sequence(next(bg.iterdir()), stat=True)
            dest = root / "show" / "delivery" / "conflicts"
            dest.mkdir(parents=True, exist_ok=True)
            for frame in list(seq.frames)[:14]:
                (dest / f"sh020_bg_v001.{frame:04d}.exr").write_bytes(b"an older render" * (frame % 7 + 1))
            shutil.copy(seq.path(seq.frames[2]), dest / f"sh020_bg_v001.{seq.frames[2]:04d}.exr")
            (dest / f"sh020_bg_v001.{seq.frames[2]:04d}.exr").write_bytes(seq.path(seq.frames[5]).read_bytes())
            spec = JobSpec(seq, str(dest))
            conflict = ConflictDialog(spec, find_conflicts(spec), other_jobs=2, parent=window)
            conflict.select_names([f"sh020_bg_v001.{seq.frames[2]:04d}.exr"])
            conflict.choose_selected(ConflictPolicy.OVERWRITE)
            conflict.list.setCurrentItem(conflict.list.topLevelItem(2))
            conflict.open()
            shooter.settle(2000)
            shooter.shoot("conflict", conflict)
            conflict.reject()
        if "settings" in only:
            from vfxcopy.gui.dialogs.settings_dialog import SettingsDialog

            settings = SettingsDialog(window.settings, window)
            settings.open()
            shooter.shoot("settings", settings)
            settings.reject()
        if "file_dialog" in only:
            files = QFileDialog(window, "Add image sequences", str(root / "show" / "plates"))
            files.setOption(QFileDialog.Option.DontUseNativeDialog, True)
            files.setFileMode(QFileDialog.FileMode.ExistingFiles)
            files.open()
            shooter.shoot("file_dialog", files)
            files.reject()
        if args.readme and shooter.made:
            table = next((p for p in shooter.made if p.name.startswith("table")), None)
            if table is not None:
                shutil.copy(table, REPO / "docs" / "screenshot.png")
                print(f"saved {REPO / 'docs' / 'screenshot.png'}")
    return 0 if shooter.made else 1


if __name__ == "__main__":
    sys.exit(main())
