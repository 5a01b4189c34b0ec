"""The Settings dialog's Notifications group: desktop messages, notification URLs, which ends, a hook command."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QLineEdit, QPlainTextEdit, QWidget

from vfxcopy.core import config

WHEN_LABELS = (("always", "Every job's end"), ("failed", "Only jobs that fail"), ("never", "Never"))


class NotifyGroup(QGroupBox):
    """Edits the notify.* settings (the file `vfxcopy copy` reads too); nothing is written until apply()."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Notifications", parent)
        self.setObjectName("notifyGroup")
        values = config.load(migrate=False)
        form = QFormLayout(self)
        self.desktop_check = QCheckBox("A desktop message when a job ends while the window is in the background")
        self.desktop_check.setObjectName("notifyDesktopCheck")
        self.desktop_check.setChecked(values.flag("notify.desktop"))
        form.addRow("", self.desktop_check)
        self.urls_edit = QPlainTextEdit("\n".join(values.strings("notify.urls")))
        self.urls_edit.setObjectName("notifyUrlsEdit")
        self.urls_edit.setPlaceholderText("One apprise URL a line: mailto://user:pass@mail.example.com, "
                                          "slack://…, msteams://…, json://host/path")
        self.urls_edit.setFixedHeight(58)
        self.urls_edit.setTabChangesFocus(True)
        self.urls_edit.setToolTip("E-mail, chat and webhook messages through apprise (vfxcopy[notify]); "
                                  "the command line sends to the same URLs.")
        form.addRow("Send to &URLs:", self.urls_edit)
        self.when_combo = QComboBox()
        self.when_combo.setObjectName("notifyWhenCombo")
        for key, label in WHEN_LABELS:
            self.when_combo.addItem(label, key)
        self.when_combo.setCurrentIndex(max(0, self.when_combo.findData(values.text("notify.when"))))
        form.addRow("&Tell the URLs and hook of:", self.when_combo)
        self.hook_edit = QLineEdit(values.text("notify.on_complete"))
        self.hook_edit.setObjectName("notifyHookEdit")
        self.hook_edit.setPlaceholderText("A command that reads the job's JSON on standard input (optional)")
        form.addRow("Hook co&mmand:", self.hook_edit)

    def urls(self) -> list[str]:
        return [line.strip() for line in self.urls_edit.toPlainText().splitlines() if line.strip()]

    def error(self) -> str:
        """Why the values cannot be saved, '' when they can."""
        for url in self.urls():
            if "://" not in url:
                return f"Notification URL {url!r} has no scheme (e.g. mailto://, slack://, json://)."
        return ""

    def apply(self) -> None:
        config.update({
            "notify.desktop": self.desktop_check.isChecked(),
            "notify.urls": self.urls(),
            "notify.when": str(self.when_combo.currentData()),
            "notify.on_complete": self.hook_edit.text().strip(),
        })
