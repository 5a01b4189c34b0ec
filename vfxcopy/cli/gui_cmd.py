"""`vfxcopy gui [PATHS...]` and `vfxcopy demo`: open the window (Qt is imported only here, when run)."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_OK, EXIT_USAGE = 0, 2


def _add_quit_after(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quit-after", type=float, metavar="SECONDS", default=None,
        help="cancel any jobs and quit after SECONDS (for scripts and screenshots)",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gui = sub.add_parser(
        "gui",
        help="open the window (the default with no command)",
        description="Open the job window. PATHS (frames or folders) are added as if dropped on it.",
    )
    gui.add_argument("paths", nargs="*", metavar="PATH", help="frame or folder to add")
    _add_quit_after(gui)
    gui.set_defaults(func=run_gui)

    demo = sub.add_parser(
        "demo",
        help="open the window with sample jobs running",
        description=(
            "Write a sample EXR sequence into a temporary folder, open the window and queue a "
            "bandwidth-limited copy (try Cancel on it) and a proxy conversion of it."
        ),
    )
    _add_quit_after(demo)
    demo.set_defaults(func=run_demo)


def _no_display() -> bool:
    return (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
        and not os.environ.get("QT_QPA_PLATFORM")
    )


def _open(paths: list[str], demo: bool, quit_after: float | None) -> int:
    import importlib.util

    if importlib.util.find_spec("PySide6") is None:
        # The base install is the headless tool: the command line names the extra to install.
        raise ModuleNotFoundError("No module named 'PySide6'", name="PySide6")
    if _no_display():
        print("vfxcopy: no display found (set DISPLAY, or QT_QPA_PLATFORM=offscreen for scripts)",
              file=sys.stderr)
        return EXIT_USAGE
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        print(f"vfxcopy: {missing[0]}: no such file or folder", file=sys.stderr)
        return EXIT_USAGE
    # Qt without its xcb libraries names the first missing one and aborts with a core dump:
    # check them all first (no Qt imported yet) and print the line that installs them.
    from vfxcopy.gui import platform_check

    code = platform_check.main()
    if code:
        return code
    from vfxcopy.gui.app import main

    return main(paths=paths, demo=demo, quit_after=quit_after)


def run_gui(args: argparse.Namespace) -> int:
    return _open(list(args.paths), demo=False, quit_after=args.quit_after)


def run_demo(args: argparse.Namespace) -> int:
    return _open([], demo=True, quit_after=args.quit_after)
