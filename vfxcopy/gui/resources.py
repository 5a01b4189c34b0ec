"""Icons, the dark palette and the style sheet, loaded from the package data in vfxcopy/resources/."""

from __future__ import annotations

from functools import cache
from importlib import resources

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QProxyStyle, QStyle, QStyleOption, QWidget


def _resource_dir() -> resources.abc.Traversable:
    return resources.files("vfxcopy") / "resources"


@cache
def icon(name: str) -> QIcon:
    """`name` without extension, e.g. "cancel" or "ui/arrow-up"; an empty icon if the file is missing."""
    path = _resource_dir() / "icons" / f"{name}.svg"
    if not path.is_file():
        return QIcon()
    # Installed wheels and editable installs both keep package data as real files.
    return QIcon(str(path))


def app_icon() -> QIcon:
    return icon("vfxcopy")


def style_sheet() -> str:
    """The style sheet, with @ICONS@ pointing at the package's icon folder (arrows, check marks)."""
    path = _resource_dir() / "style.qss"
    if not path.is_file():
        return ""
    icons = str(_resource_dir() / "icons" / "ui").replace("\\", "/")
    return path.read_text(encoding="utf-8").replace("@ICONS@", icons)


# Colours of the dark theme: the palette and the style sheet use the same ones.
DARK: dict[QPalette.ColorRole, str] = {
    QPalette.ColorRole.Window: "#1f2328",
    QPalette.ColorRole.WindowText: "#d7dde4",
    QPalette.ColorRole.Base: "#15181c",
    QPalette.ColorRole.AlternateBase: "#20242a",
    QPalette.ColorRole.Text: "#d7dde4",
    QPalette.ColorRole.Button: "#2c3239",
    QPalette.ColorRole.ButtonText: "#d7dde4",
    QPalette.ColorRole.BrightText: "#ffffff",
    QPalette.ColorRole.Highlight: "#2f5d8a",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.ToolTipBase: "#262b31",
    QPalette.ColorRole.ToolTipText: "#e6ebf0",
    QPalette.ColorRole.PlaceholderText: "#7d8590",
    QPalette.ColorRole.Link: "#6cb6ff",
    QPalette.ColorRole.Light: "#3d454f",
    QPalette.ColorRole.Midlight: "#343b43",
    QPalette.ColorRole.Mid: "#2a3037",
    QPalette.ColorRole.Dark: "#15181c",
    QPalette.ColorRole.Shadow: "#0b0d10",
}
DISABLED: dict[QPalette.ColorRole, str] = {
    QPalette.ColorRole.WindowText: "#6b737d",
    QPalette.ColorRole.Text: "#6b737d",
    QPalette.ColorRole.ButtonText: "#6b737d",
}


def dark_palette() -> QPalette:
    """Fusion draws what the style sheet does not (indicators, arrows, the file dialog) from these."""
    palette = QPalette()
    for role, colour in DARK.items():
        palette.setColor(role, QColor(colour))
    for role, colour in DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(colour))
    return palette


# Standard icons that Fusion draws dark on dark (the file dialog's tool buttons): ours are light.
_STANDARD_ICONS: dict[QStyle.StandardPixmap, str] = {
    QStyle.StandardPixmap.SP_ArrowBack: "ui/arrow-left",
    QStyle.StandardPixmap.SP_ArrowLeft: "ui/arrow-left",
    QStyle.StandardPixmap.SP_ArrowForward: "ui/arrow-right",
    QStyle.StandardPixmap.SP_ArrowRight: "ui/arrow-right",
    QStyle.StandardPixmap.SP_ArrowUp: "ui/arrow-up",
    QStyle.StandardPixmap.SP_ArrowDown: "ui/arrow-down",
    QStyle.StandardPixmap.SP_FileDialogBack: "ui/arrow-left",
    QStyle.StandardPixmap.SP_FileDialogToParent: "ui/folder-up",
    QStyle.StandardPixmap.SP_FileDialogNewFolder: "ui/folder-new",
    QStyle.StandardPixmap.SP_FileDialogListView: "ui/view-list",
    QStyle.StandardPixmap.SP_FileDialogDetailedView: "ui/view-detail",
}


class DarkStyle(QProxyStyle):
    """Fusion with light standard icons where Fusion's own would vanish on the dark background."""

    def standardIcon(self, standard: QStyle.StandardPixmap, option: QStyleOption | None = None,
                     widget: QWidget | None = None) -> QIcon:
        name = _STANDARD_ICONS.get(standard)
        if name is not None:
            found = icon(name)
            if not found.isNull():
                return found
        return super().standardIcon(standard, option, widget)
