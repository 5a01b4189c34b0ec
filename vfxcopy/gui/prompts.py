"""The one place the window asks or tells the user something; tests monkeypatch these functions.

Call them through the module (`prompts.ask(...)`, never `from prompts import ask`) so
that a test's `monkeypatch.setattr(prompts, "ask", ...)` reaches every caller.
"""

from __future__ import annotations

from typing import Any, Protocol

from PySide6.QtWidgets import QCheckBox, QMainWindow, QMessageBox, QSystemTrayIcon, QWidget


class SettingsLike(Protocol):
    """What `ask` needs from AppSettings: untyped get/set by key."""

    def value(self, key: str, default: Any = None) -> Any: ...

    def set_value(self, key: str, value: Any) -> None: ...


def _as_bool(value: Any, default: bool) -> bool:
    # QSettings' INI backend hands bools back as the strings "true"/"false".
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off", "")
    return bool(value)


def should_ask(dont_ask_key: str | None, settings: SettingsLike | None) -> bool:
    """False when the user ticked "Don't ask again" for this question earlier."""
    if dont_ask_key is None or settings is None:
        return True
    return _as_bool(settings.value(dont_ask_key, True), True)


def _default_settings() -> SettingsLike | None:
    try:
        from vfxcopy.gui.settings import AppSettings
    except ImportError:
        return None
    settings: SettingsLike = AppSettings()
    return settings


def ask(
    parent: QWidget | None,
    title: str,
    text: str,
    *,
    ok_text: str = "OK",
    cancel_text: str = "Cancel",
    dont_ask_key: str | None = None,
    settings: SettingsLike | None = None,
    informative: str = "",
) -> bool:
    """A yes/no question; True when the user chose `ok_text`.

    With `dont_ask_key`, a "Don't ask again" box is shown; the key holds a bool in the
    settings meaning "ask this question" (e.g. "confirm_cancel"); once the user ticks the
    box and answers yes, later calls return True without asking.
    """
    if dont_ask_key is not None and settings is None:
        settings = _default_settings()
    if not should_ask(dont_ask_key, settings):
        return True
    box = QMessageBox(parent)
    box.setObjectName("askBox")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(title)
    box.setText(text)
    if informative:
        box.setInformativeText(informative)
    ok_button = box.addButton(ok_text, QMessageBox.ButtonRole.AcceptRole)
    cancel_button = box.addButton(cancel_text, QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(cancel_button)
    box.setEscapeButton(cancel_button)
    check: QCheckBox | None = None
    if dont_ask_key is not None and settings is not None:
        check = QCheckBox("Don't ask again")
        box.setCheckBox(check)
    box.exec()
    accepted = box.clickedButton() is ok_button
    if accepted and check is not None and check.isChecked() and settings is not None and dont_ask_key:
        settings.set_value(dont_ask_key, False)
    box.deleteLater()
    return accepted


def inform(parent: QWidget | None, title: str, text: str, *, level: str = "info", details: str = "") -> None:
    """A message the user must acknowledge (level: info, warning, error)."""
    icons = {
        "info": QMessageBox.Icon.Information,
        "warning": QMessageBox.Icon.Warning,
        "error": QMessageBox.Icon.Critical,
    }
    box = QMessageBox(parent)
    box.setObjectName("informBox")
    box.setIcon(icons.get(level, QMessageBox.Icon.Information))
    box.setWindowTitle(title)
    box.setText(text)
    if details:
        box.setDetailedText(details)
    box.exec()
    box.deleteLater()


def notify(
    parent: QWidget | None,
    title: str,
    text: str,
    *,
    tray: QSystemTrayIcon | None = None,
    level: str = "info",
) -> None:
    """A desktop notification: a tray balloon where a tray exists, else the status bar."""
    if tray is not None and QSystemTrayIcon.isSystemTrayAvailable() and tray.isVisible():
        icon = {
            "info": QSystemTrayIcon.MessageIcon.Information,
            "warning": QSystemTrayIcon.MessageIcon.Warning,
            "error": QSystemTrayIcon.MessageIcon.Critical,
        }.get(level, QSystemTrayIcon.MessageIcon.Information)
        tray.showMessage(title, text, icon, 8000)
        return
    window = parent.window() if parent is not None else None
    if isinstance(window, QMainWindow):
        window.statusBar().showMessage(f"{title}: {text}", 10000)
