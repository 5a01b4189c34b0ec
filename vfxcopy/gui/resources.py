"""Icons and the style sheet, loaded from the package data in vfxcopy/resources/."""

from __future__ import annotations

from functools import cache
from importlib import resources

from PySide6.QtGui import QIcon


def _resource_dir() -> resources.abc.Traversable:
    return resources.files("vfxcopy") / "resources"


@cache
def icon(name: str) -> QIcon:
    """`name` without extension, e.g. "cancel"; an empty icon if the file is missing."""
    path = _resource_dir() / "icons" / f"{name}.svg"
    if not path.is_file():
        return QIcon()
    # Installed wheels and editable installs both keep package data as real files.
    return QIcon(str(path))


def app_icon() -> QIcon:
    return icon("vfxcopy")


def style_sheet() -> str:
    path = _resource_dir() / "style.qss"
    return path.read_text(encoding="utf-8") if path.is_file() else ""
