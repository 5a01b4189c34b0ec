"""Before Qt starts on X11: are the system libraries of Qt's xcb platform there? If not, say which
packages to install (Qt itself names only the first missing one, then aborts with a core dump).

    python -m vfxcopy.gui.platform_check      # exit 0: fine; 3: something is missing (printed)

Imports no Qt: it must run where Qt cannot.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

# Debian/Ubuntu package -> the library Qt's xcb platform plugin loads from it.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor0": "libxcb-cursor.so.0",
    "libxcb-icccm4": "libxcb-icccm.so.4",
    "libxcb-keysyms1": "libxcb-keysyms.so.1",
    "libxcb-image0": "libxcb-image.so.0",
    "libxcb-randr0": "libxcb-randr.so.0",
    "libxcb-render-util0": "libxcb-render-util.so.0",
    "libxcb-shape0": "libxcb-shape.so.0",
    "libxcb-xfixes0": "libxcb-xfixes.so.0",
    "libxcb-xkb1": "libxcb-xkb.so.1",
    "libxkbcommon-x11-0": "libxkbcommon-x11.so.0",
    "libxkbcommon0": "libxkbcommon.so.0",
    "libx11-xcb1": "libX11-xcb.so.1",
    "libegl1": "libEGL.so.1",
    "libgl1": "libGL.so.1",
    "libfontconfig1": "libfontconfig.so.1",
    "libdbus-1-3": "libdbus-1.so.3",
    "libglib2.0-0": "libglib-2.0.so.0",
}
APT_LINE = "sudo apt-get install -y " + " ".join(XCB_LIBRARIES)
# The same libraries elsewhere (package names of those distributions).
OTHER_SYSTEMS = (
    "Fedora/RHEL: sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms xcb-util-image "
    "xcb-util-renderutil libxkbcommon-x11 mesa-libEGL mesa-libGL fontconfig dbus-libs glib2\n"
    "Arch: sudo pacman -S xcb-util-cursor xcb-util-wm xcb-util-keysyms xcb-util-image "
    "xcb-util-renderutil libxkbcommon-x11 libglvnd fontconfig\n"
    "Without a display (a farm node, CI): QT_QPA_PLATFORM=offscreen"
)


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def needs_xcb(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """True when Qt would start its xcb platform: Linux, not offscreen/minimal/wayland."""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if chosen:
        return chosen == "xcb"
    # Qt 6 picks wayland under a Wayland session and falls back to xcb (XWayland) otherwise.
    return not env.get("WAYLAND_DISPLAY")


def missing_packages(loads: Callable[[str], bool] = _loads) -> list[str]:
    """The packages whose library cannot be loaded here."""
    return [package for package, soname in XCB_LIBRARIES.items() if not loads(soname)]


def report(missing: list[str]) -> str:
    """What to tell the user: the missing packages and the exact command that installs them."""
    return (
        "vfxcopy: the window cannot start: Qt's X11 (xcb) platform needs system libraries that are "
        f"missing here: {', '.join(missing)}.\n\n"
        "On Debian/Ubuntu:\n"
        f"  sudo apt-get install -y {' '.join(missing)}\n\n"
        f"{OTHER_SYSTEMS}\n"
    )


def main(environ: Mapping[str, str] | None = None, loads: Callable[[str], bool] = _loads) -> int:
    if not needs_xcb(environ):
        return 0
    missing = missing_packages(loads)
    if not missing:
        return 0
    print(report(missing), file=sys.stderr, end="")
    return 3


if __name__ == "__main__":
    sys.exit(main())
