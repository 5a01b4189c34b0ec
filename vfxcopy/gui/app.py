"""QApplication setup (name, icon, style sheet) and `main()` that opens the window."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from vfxcopy import __version__
from vfxcopy.gui.resources import DarkStyle, app_icon, dark_palette, style_sheet
from vfxcopy.gui.settings import APPLICATION, ORGANIZATION


def make_app(argv: Sequence[str] | None = None) -> QApplication:
    """The process's QApplication (created once), named and styled for vfxcopy."""
    existing = QApplication.instance()
    created = not isinstance(existing, QApplication)
    if isinstance(existing, QApplication):
        app = existing
    else:
        app = QApplication(list(argv) if argv is not None else [sys.argv[0] if sys.argv else "vfxcopy"])
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName("vfxcopy")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("vfxcopy")
    app.setWindowIcon(app_icon())
    if created:
        # Restyling an application that already has widgets (a host app, a test session)
        # re-polishes all of them and can crash on ones being deleted: only style our own.
        # The same look on every platform: Fusion, a dark palette for what Fusion draws itself
        # (indicators, arrows) and light standard icons (the file dialog), then the style sheet.
        app.setStyle(DarkStyle("Fusion"))
        app.setPalette(dark_palette())
        app.setStyleSheet(style_sheet())
    return app


def settle_heap() -> int:
    """Once the window is up: collect the start-up garbage, then keep what is left out of later collections.

    The cyclic collector holds the GIL for a whole collection, whichever thread runs it, so
    a full one is a stall of the GUI thread. The ~40,000 objects of Qt's wrappers, the
    modules and the window live as long as the process: frozen (gc.freeze) they are no
    longer walked by every full collection that the jobs' own objects set off (measured:
    a full collection of the idle window 11-19 ms, 0 after freezing). Returns how many were frozen.
    """
    import gc

    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


# How often a thread running Python hands the interpreter lock to one waiting for it (Python's
# default: 5 ms). The GUI thread takes the lock for every Python call Qt makes while it paints
# (each row's data, each delegate). While a job's thread laid out its PDF report in pure Python,
# each such call waited up to 5 ms: the 10 ms timer of bench_ui --lifecycle fired 137-214 ms late
# at p99, 37 ms with 1 ms. The PDF is now laid out by a child process (core/pdf_child.py): 5 ms
# and 1 ms measured alike (p99 8 and 26 ms against 23 and 23 ms); kept, as the job threads still
# run Python (the copy loop, the journal) beside the painting.
GUI_SWITCH_INTERVAL_S = 0.001


def keep_gui_responsive() -> None:
    """Hand the interpreter lock to the GUI thread sooner (see GUI_SWITCH_INTERVAL_S)."""
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)


def main(
    paths: Sequence[str | os.PathLike[str]] | None = None,
    demo: bool = False,
    quit_after: float | None = None,
    on_ready: Callable[[object], None] | None = None,
) -> int:
    """Open the window; `paths` are treated as dropped. Returns the exit code."""
    app = make_app()
    from vfxcopy.gui.main_window import MainWindow

    demo_root = None
    if demo:
        from vfxcopy.gui.demo import make_demo_root

        # The demo is a sandbox: its jobs go to a journal of their own, so that the
        # user's history is neither shown above the demo's jobs nor filled with them.
        demo_root = make_demo_root()
        os.environ["VFXCOPY_DATA_DIR"] = str(demo_root / "data")
    window = MainWindow()
    window.show()
    settle_heap()
    keep_gui_responsive()
    cleanup: Callable[[], None] | None = None
    if demo_root is not None:
        from vfxcopy.gui.demo import start_demo

        cleanup = start_demo(window, root=demo_root)
    if paths:
        dropped = [os.fspath(p) for p in paths]
        QTimer.singleShot(0, lambda: window.add_paths(dropped))
    if on_ready is not None:
        on_ready(window)
    if quit_after is not None:
        # For scripts and tests: quit as if the user closed the window and said yes.
        def quit_now() -> None:
            window.shutdown()
            window.hide()
            app.quit()

        QTimer.singleShot(int(quit_after * 1000), quit_now)
    try:
        code = app.exec()
    finally:
        if window.active_job_count():
            window.shutdown()
        if cleanup is not None:
            cleanup()
        import gc

        gc.unfreeze()  # a host that goes on (a test session) collects the window's objects again
    return int(code)
