"""Which Qt plugins and translations the bundle keeps; used by the PySide6 hook overrides next to it."""

from __future__ import annotations

import re
from pathlib import PurePath

# The Qt modules vfxcopy imports; the spec excludes the others. A new one used
# by the window must be added here (tests/packaging checks the imports).
QT_MODULES = ("QtCore", "QtGui", "QtWidgets", "QtSvg")

# Plugin type -> allowed file name prefixes (None keeps the whole type). Types
# not listed are dropped: EGL/KMS device integrations, Wayland compositor and
# shell pieces, TLS backends, SQL drivers, print support, touch input, ...
QT_PLUGINS_KEEP: dict[str, tuple[str, ...] | None] = {
    # xcb: X11 and XWayland desktops; offscreen: headless runs (CI, farm nodes);
    # minimal: last resort; qwindows and libqcocoa on the other platforms.
    "platforms": ("libqxcb.", "libqoffscreen.", "libqminimal.", "qwindows.", "qoffscreen.", "qminimal.", "libqcocoa."),
    # SVG for the icons; JPEG for thumbnails; ICO/ICNS for the app icon itself.
    "imageformats": ("libqsvg.", "libqjpeg.", "libqico.", "libqicns.", "qsvg.", "qjpeg.", "qico.", "qicns."),
    "iconengines": None,
    "platforminputcontexts": None,
    "xcbglintegrations": None,
    "styles": None,
    # The portal theme gives native file dialogs on Flatpak-era and Wayland
    # desktops; the GTK theme would drag the system's GTK stack into the bundle.
    "platformthemes": ("libqxdgdesktopportal.",),
}


def plugin_wanted(dest_dir: str, source: str) -> bool:
    """Whether a collected file (destination folder in the bundle, source path) is a plugin we keep."""
    parts = PurePath(dest_dir).parts
    if "plugins" not in parts:
        return True
    kinds = parts[parts.index("plugins") + 1 :]
    if not kinds:
        return True
    allowed = QT_PLUGINS_KEEP.get(kinds[0], ())
    return allowed is None or PurePath(source).name.startswith(allowed)


# qt_de.qm (the catalogue that includes the others) and qtbase_pt_BR.qm, not qt_help_de.qm.
_BASE_TRANSLATION = re.compile(r"qt(base)?_[a-z]{2,3}(_[A-Z]{2})?\.qm")


def translation_wanted(dest_dir: str, source: str) -> bool:
    """Only Qt's base translations: the other catalogues belong to modules we do not ship."""
    if "translations" not in PurePath(dest_dir).parts:
        return True
    return _BASE_TRANSLATION.fullmatch(PurePath(source).name) is not None


def qt6_dependencies(hook_file: str) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
    """PyInstaller's own Qt collection for the hook's module, filtered before dependency analysis runs."""
    from PyInstaller.utils.hooks.qt import add_qt6_dependencies

    hiddenimports, binaries, datas = add_qt6_dependencies(hook_file)
    binaries = [(src, dest) for src, dest in binaries if plugin_wanted(dest, src)]
    datas = [(src, dest) for src, dest in datas if translation_wanted(dest, src)]
    return hiddenimports, binaries, datas
