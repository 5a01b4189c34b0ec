"""Watch folders dialog: add, edit, enable/disable and remove rules; see what each did last."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vfxcopy.core.framenames import parse_frames
from vfxcopy.core.jobs import JobSpec, Operation
from vfxcopy.core.presets import list_presets
from vfxcopy.core.watch import DEFAULT_SETTLE, DESTINATION_TOKENS, WatchError, WatchRule
from vfxcopy.gui import prompts
from vfxcopy.gui.forms import form_row
from vfxcopy.gui.watch_service import WatchService

ERROR_COLOUR = "#e5534b"
COLUMNS = ("On", "Name", "Folder", "Job", "Destination", "Last activity")
COL_ON, COL_NAME, COL_FOLDER, COL_JOB, COL_DEST, COL_ACTIVITY = range(len(COLUMNS))
COPY_LABEL = "Copy"


def _ago(then: float, now: float | None = None) -> str:
    seconds = max(0, int((now or time.time()) - then))
    if seconds < 60:
        return "just now" if seconds < 5 else f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(then))


def job_text(rule: WatchRule) -> str:
    return f"Convert → {rule.preset}" if rule.operation is Operation.CONVERT else COPY_LABEL


class RuleEditor(QDialog):
    """One rule's fields; OK stays disabled while the rule could not work, with the reason shown."""

    def __init__(self, rule: WatchRule | None, taken_names: set[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("watchRuleEditor")
        self.setWindowTitle("Edit watch rule" if rule else "New watch rule")
        self._taken = taken_names
        self._original = rule
        rule = rule or WatchRule("", "", "")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        layout.addLayout(form)

        self.name_edit = QLineEdit(rule.name)
        self.name_edit.setObjectName("ruleName")
        self.name_edit.setPlaceholderText("e.g. Plates from the farm")
        form_row(form, "&Name:", self.name_edit)

        self.folder_edit = QLineEdit(rule.folder)
        self.folder_edit.setObjectName("ruleFolder")
        form_row(form, "&Watch folder:", self.folder_edit,
                 self._with_browse(self.folder_edit, "ruleFolderBrowse", "Folder to watch"))
        self.recursive_check = QCheckBox("Include sub-folders")
        self.recursive_check.setObjectName("ruleRecursive")
        self.recursive_check.setChecked(rule.recursive)
        form.addRow("", self.recursive_check)

        self.include_edit = QLineEdit(", ".join(rule.include))
        self.include_edit.setObjectName("ruleInclude")
        self.include_edit.setPlaceholderText("all image files (or e.g. *.exr, dpx)")
        form_row(form, "&Files:", self.include_edit)

        self.operation_combo = QComboBox()
        self.operation_combo.setObjectName("ruleOperation")
        self.operation_combo.addItem(COPY_LABEL, None)
        for name in list_presets():
            self.operation_combo.addItem(f"Convert → {name}", name)
        if rule.operation is Operation.CONVERT and rule.preset:
            index = self.operation_combo.findData(rule.preset)
            if index < 0:  # a preset deleted since: keep it visible so the problem shows
                self.operation_combo.addItem(f"Convert → {rule.preset}", rule.preset)
                index = self.operation_combo.count() - 1
            self.operation_combo.setCurrentIndex(index)
        form_row(form, "&Job:", self.operation_combo)

        self.dest_edit = QLineEdit(rule.destination)
        self.dest_edit.setObjectName("ruleDestination")
        self.dest_edit.setToolTip("Tokens: " + ", ".join("{" + t + "}" for t in DESTINATION_TOKENS)
                                  + "\n{date} is YYYY-MM-DD, {parent} the sequence's folder name")
        self.dest_edit.setPlaceholderText("/mnt/delivery/{date}/{head}")
        form_row(form, "&Destination:", self.dest_edit,
                 self._with_browse(self.dest_edit, "ruleDestBrowse", "Destination folder"))

        self.settle_spin = QDoubleSpinBox()
        self.settle_spin.setObjectName("ruleSettle")
        self.settle_spin.setRange(0.1, 3600.0)
        self.settle_spin.setDecimals(1)
        self.settle_spin.setSuffix(" s")
        self.settle_spin.setValue(rule.settle if rule.name else DEFAULT_SETTLE)
        self.settle_spin.setToolTip("A sequence has landed when no frame was added or grew for this long.")
        form_row(form, "&Settle time:", self.settle_spin)

        self.expected_edit = QLineEdit(
            f"{rule.expected_range[0]}-{rule.expected_range[1]}" if rule.expected_range else "")
        self.expected_edit.setObjectName("ruleExpected")
        self.expected_edit.setPlaceholderText("optional, e.g. 1001-1100: queue as soon as complete")
        form_row(form, "&Expected frames:", self.expected_edit)

        self.polling_check = QCheckBox("Poll (network mounts that send no change events)")
        self.polling_check.setObjectName("rulePolling")
        self.polling_check.setChecked(rule.polling)
        form.addRow("", self.polling_check)
        self.enabled_check = QCheckBox("Enabled")
        self.enabled_check.setObjectName("ruleEnabled")
        self.enabled_check.setChecked(rule.enabled)
        form.addRow("", self.enabled_check)

        self.problems_label = QLabel()
        self.problems_label.setObjectName("ruleProblems")
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet(f"color: {ERROR_COLOUR}")
        layout.addWidget(self.problems_label)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.setObjectName("ruleButtons")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        for edit in (self.name_edit, self.folder_edit, self.include_edit, self.dest_edit, self.expected_edit):
            edit.textChanged.connect(self._validate)
        self.operation_combo.currentIndexChanged.connect(self._validate)
        self.settle_spin.valueChanged.connect(self._validate)
        self._validate()

    def _with_browse(self, edit: QLineEdit, name: str, title: str) -> QWidget:
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        button = QPushButton("Browse…")
        button.setObjectName(name)
        button.clicked.connect(lambda: self._browse(edit, title))
        row.addWidget(button)
        return box

    def _browse(self, edit: QLineEdit, title: str) -> None:
        # The field's folder when it names one, else the home folder (not the process's cwd).
        start = edit.text().split("{")[0].strip() or os.path.expanduser("~")
        folder = QFileDialog.getExistingDirectory(self, title, start)
        if folder:
            edit.setText(folder)

    def rule(self) -> WatchRule:
        """The rule as the fields describe it (may have problems; see `problems()`)."""
        preset = self.operation_combo.currentData()
        include = [p.strip() for p in self.include_edit.text().replace(";", ",").split(",") if p.strip()]
        return WatchRule(
            name=self.name_edit.text().strip(),
            folder=self.folder_edit.text().strip(),
            destination=self.dest_edit.text().strip(),
            recursive=self.recursive_check.isChecked(),
            include=include,
            operation=Operation.CONVERT if preset else Operation.COPY,
            preset=preset or None,
            settle=float(self.settle_spin.value()),
            expected_range=self._expected_range(),
            polling=self.polling_check.isChecked(),
            enabled=self.enabled_check.isChecked(),
            process_existing=self._original.process_existing if self._original else True,
        )

    def _expected_range(self) -> tuple[int, int] | None:
        text = self.expected_edit.text().strip()
        if not text:
            return None
        try:
            frames = parse_frames(text)
        except ValueError:
            return None
        return (frames[0], frames[-1]) if frames else None

    def problems(self) -> list[str]:
        rule = self.rule()
        out = rule.problems()
        if rule.name and rule.name in self._taken:
            out.insert(0, f"a rule named {rule.name!r} exists already")
        if self.expected_edit.text().strip() and rule.expected_range is None:
            out.append("expected frames not understood: use e.g. 1001-1100")
        if rule.preset and rule.preset not in list_presets():
            out.append(f"the preset {rule.preset!r} no longer exists; choose another job")
        return out

    @Slot()
    def _validate(self, *_args: Any) -> None:
        problems = self.problems()
        self.problems_label.setText("\n".join(problems))
        self.problems_label.setVisible(bool(problems))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not problems)
        ok.setToolTip(problems[0] if problems else "")


class WatchDialog(QDialog):
    """Lists the rules of a WatchService; every change is saved and applied at once."""

    def __init__(self, service: WatchService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("watchDialog")
        self.setWindowTitle("Watch folders")
        self.resize(900, 360)
        self.service = service
        self.editor: RuleEditor | None = None
        layout = QVBoxLayout(self)
        hint = QLabel("Sequences that land in a watched folder are queued once they are complete: "
                      "no new or growing frame for the settle time.")
        hint.setWordWrap(True)
        layout.addWidget(hint)

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("watchRuleTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_ON, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        for col, width in ((COL_NAME, 150), (COL_FOLDER, 200), (COL_JOB, 140), (COL_DEST, 200)):
            self.table.setColumnWidth(col, width)
        layout.addWidget(self.table, 1)

        row = QHBoxLayout()
        self.add_button = self._button("&Add…", "watchAddButton", self.add_rule, row)
        self.edit_button = self._button("&Edit…", "watchEditButton", self.edit_selected, row)
        self.toggle_button = self._button("Disa&ble", "watchToggleButton", self.toggle_selected, row)
        self.remove_button = self._button("&Remove", "watchRemoveButton", self.remove_selected, row)
        row.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.setObjectName("watchCloseButtons")
        close.rejected.connect(self.reject)
        row.addWidget(close)
        layout.addLayout(row)

        self._filling = False
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _i: self.edit_selected())
        service.rules_changed.connect(self.refresh)
        service.activity_changed.connect(self._on_activity)
        # "2 min ago" must not stay "just now" while the dialog is open.
        self._age_timer = QTimer(self)
        self._age_timer.setInterval(20_000)
        self._age_timer.timeout.connect(self._refresh_activity)
        self._age_timer.start()
        self.refresh()

    def _button(self, text: str, name: str, slot: Any, row: QHBoxLayout) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(lambda _checked=False: slot())
        row.addWidget(button)
        return button

    # -- the table --
    @Slot()
    def refresh(self) -> None:
        selected = self.selected_name()
        self._filling = True
        try:
            rules = self.service.rules
            self.table.setRowCount(len(rules))
            for n, rule in enumerate(rules):
                on = QTableWidgetItem()
                on.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled
                            | Qt.ItemFlag.ItemIsSelectable)
                on.setCheckState(Qt.CheckState.Checked if rule.enabled else Qt.CheckState.Unchecked)
                on.setData(Qt.ItemDataRole.UserRole, rule.name)
                on.setToolTip("Watching" if rule.enabled else "Disabled")
                self.table.setItem(n, COL_ON, on)
                self._set_text(n, COL_NAME, rule.name)
                self._set_text(n, COL_FOLDER, rule.folder + (" (and sub-folders)" if rule.recursive else ""),
                               rule.folder)
                self._set_text(n, COL_JOB, job_text(rule))
                self._set_text(n, COL_DEST, rule.destination)
                self._set_activity(n, rule.name)
                if rule.name == selected:
                    self.table.selectRow(n)
        finally:
            self._filling = False
        self._update_buttons()

    def _set_text(self, row: int, col: int, text: str, tooltip: str | None = None) -> None:
        item = QTableWidgetItem(text)
        item.setToolTip(tooltip or text)
        self.table.setItem(row, col, item)

    def _set_activity(self, row: int, name: str) -> None:
        activity = self.service.activity.get(name)
        error = self.service.errors.get(name)
        if activity is None:
            text = "—"
            tooltip = ""
        else:
            text = f"{activity.text} ({_ago(activity.time)})"
            tooltip = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(activity.time)) + "\n" + activity.text
        item = QTableWidgetItem(text)
        item.setToolTip(tooltip)
        if error:
            item.setForeground(Qt.GlobalColor.red)
        self.table.setItem(row, COL_ACTIVITY, item)

    @Slot()
    def _refresh_activity(self) -> None:
        for rule in self.service.rules:
            self._on_activity(rule.name)

    @Slot(str)
    def _on_activity(self, name: str) -> None:
        row = self.row_of(name)
        if row >= 0:
            self._filling = True
            try:
                self._set_activity(row, name)
            finally:
                self._filling = False

    def row_of(self, name: str) -> int:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, COL_ON)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == name:
                return row
        return -1

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), COL_ON)
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def select_rule(self, name: str) -> None:
        row = self.row_of(name)
        if row >= 0:
            self.table.selectRow(row)

    def activity_text(self, name: str) -> str:
        row = self.row_of(name)
        item = self.table.item(row, COL_ACTIVITY) if row >= 0 else None
        return item.text() if item is not None else ""

    @Slot()
    def _update_buttons(self) -> None:
        name = self.selected_name()
        rule = self.service.rule(name) if name else None
        for button in (self.edit_button, self.toggle_button, self.remove_button):
            button.setEnabled(rule is not None)
        self.toggle_button.setText("Ena&ble" if rule is not None and not rule.enabled else "Disa&ble")

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != COL_ON:
            return
        name = str(item.data(Qt.ItemDataRole.UserRole))
        enabled = item.checkState() == Qt.CheckState.Checked
        # After this signal returns: applying it refills the table, which deletes `item`.
        QTimer.singleShot(0, self, lambda: self.service.set_enabled(name, enabled))

    # -- actions --
    def add_rule(self) -> RuleEditor:
        return self._open_editor(None)

    def edit_selected(self) -> RuleEditor | None:
        name = self.selected_name()
        rule = self.service.rule(name) if name else None
        if rule is None:
            return None
        return self._open_editor(rule)

    def _open_editor(self, rule: WatchRule | None) -> RuleEditor:
        taken = {r.name for r in self.service.rules if rule is None or r.name != rule.name}
        editor = RuleEditor(WatchRule.from_dict(rule.to_dict()) if rule else None, taken, self)
        editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        old_name = rule.name if rule else None

        def finished(code: int) -> None:
            if self.editor is editor:
                self.editor = None
            if code != QDialog.DialogCode.Accepted:
                return
            new = editor.rule()
            try:
                if old_name is None:
                    self.service.add_rule(new)
                else:
                    self.service.replace_rule(old_name, new)
            except WatchError as exc:
                prompts.inform(self, "Watch folders", str(exc), level="error")
                return
            self.select_rule(new.name)

        editor.finished.connect(finished)
        self.editor = editor
        editor.open()
        return editor

    def toggle_selected(self) -> None:
        name = self.selected_name()
        rule = self.service.rule(name) if name else None
        if rule is not None:
            self.service.set_enabled(rule.name, not rule.enabled)

    def remove_selected(self) -> bool:
        name = self.selected_name()
        if name is None:
            return False
        if not prompts.ask(self, "Remove watch rule", f"Stop watching and remove the rule {name!r}?",
                           ok_text="Remove Rule", cancel_text="Keep",
                           informative="Jobs it queued stay in the list; no file is touched."):
            return False
        self.service.remove_rule(name)
        return True


class WatchFolders:
    """What a main window gets: the service, its File › Watch Folders… action and the dialog opener."""

    def __init__(self, window: QMainWindow, submit: Callable[[list[JobSpec]], object], settings: Any) -> None:
        self.window = window
        self.service = WatchService(settings, submit, window)
        runner = getattr(window, "runner", None)
        if runner is not None:
            runner.job_finished.connect(self.service.on_job_finished)
        self.dialog: WatchDialog | None = None
        self.action = QAction("&Watch Folders…", window)
        self.action.setObjectName("actionWatchFolders")
        self.action.setToolTip("Folders whose finished sequences are copied or converted automatically")
        self.action.triggered.connect(lambda _checked=False: self.open_dialog())
        menus: dict[str, QMenu] = getattr(window, "menus", {})
        file_menu = menus.get("file")
        if file_menu is None:
            window.menuBar().addAction(self.action)
        else:
            quit_action = next((a for a in file_menu.actions() if a.objectName() == "actionQuit"), None)
            if quit_action is not None:
                file_menu.insertAction(quit_action, self.action)
                file_menu.insertSeparator(quit_action)
            else:
                file_menu.addAction(self.action)

    def open_dialog(self) -> WatchDialog:
        """Show the dialog (one at a time, non-modal: jobs keep running behind it)."""
        if self.dialog is None:
            dialog = WatchDialog(self.service, self.window)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.finished.connect(lambda _code: self._forget(dialog))
            self.dialog = dialog
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def _forget(self, dialog: WatchDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def shutdown(self) -> None:
        self.service.shutdown()


def install_watch_folders(window: QMainWindow, submit: Callable[[list[JobSpec]], object],
                          settings: Any) -> WatchFolders:
    """Give a main window its watch folders; the enabled rules are watched from now on."""
    folders = WatchFolders(window, submit, settings)
    folders.service.start()
    return folders
