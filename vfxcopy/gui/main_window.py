"""MainWindow: job table, details pane, menus, toolbar, status bar and close guard; adding jobs and the job
actions live in adding.py and job_actions.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QByteArray, QModelIndex, QPoint, Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent, QResizeEvent
from PySide6.QtWidgets import QDialog, QLabel, QMenu, QSplitter, QSystemTrayIcon, QWidget

from vfxcopy.core.jobs import JobResult, JobState
from vfxcopy.core.naming import dest_sequence  # noqa: F401 - Copy Path's source of names, re-exported
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.units import format_rate, plural
from vfxcopy.gui import prompts, window_menus
from vfxcopy.gui.actions import ActionId, applicable, build_actions
from vfxcopy.gui.adding import AddJobs, sequences_for_paths  # noqa: F401 - re-exported for callers
from vfxcopy.gui.details import DetailsPane
from vfxcopy.gui.farm_jobs import FarmJobs
from vfxcopy.gui.history import install_history, journaled_run, open_window_journal
from vfxcopy.gui.job_actions import JobActions, open_folder
from vfxcopy.gui.job_model import JobSortProxy, JobTableModel
from vfxcopy.gui.job_notices import JobNotices
from vfxcopy.gui.job_table import JobTableView
from vfxcopy.gui.records import JobRecord
from vfxcopy.gui.resources import app_icon
from vfxcopy.gui.runner import JobRunner
from vfxcopy.gui.settings import AppSettings

# The header's key changed with adaptive widths: an old saved state would bring back fixed ones.
HEADER_KEY = "window/job_table_header_v2"
GEOMETRY_KEY = "window/geometry"
SPLITTER_KEY = "window/splitter"
SHUTDOWN_WAIT_MS = 60_000
TOOLBAR_TEXT_WIDTH = 1240
WINDOW_WIDE = (ActionId.ADD, ActionId.ADD_FOLDER, ActionId.SETTINGS, ActionId.QUIT, ActionId.ABOUT,
               ActionId.SELECT_ALL, ActionId.CANCEL_ALL)


class MainWindow(AddJobs, JobActions):
    """The job queue. Tests drive it through its widgets, actions and a few small methods."""

    table: JobTableView

    def __init__(self, settings: AppSettings | None = None, runner: JobRunner | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("vfxcopy")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setMinimumSize(800, 500)
        self.settings = settings or AppSettings()
        # The job journal (history, crash recovery, resume): see gui/history.py.
        self.journal = open_window_journal()
        self.runner = runner or JobRunner(self.settings.jobs_at_once, self, run=journaled_run(self.journal))
        # The model reads pause, cancel and stop from the runner's tokens: one home for them.
        self.model = JobTableModel(self, token_of=self.runner.token)
        # Farm jobs are rows of the same model, followed through their scheduler (gui/farm_jobs.py).
        self.farm = FarmJobs(self.model, self)
        self.proxy = JobSortProxy(self)
        self.proxy.setSourceModel(self.model)
        # Replaceable hooks (tests, embedding): the desktop notification and the folder opener.
        self.notify: Callable[..., None] = prompts.notify
        self.open_folder: Callable[[str], bool] = open_folder
        # Notification URLs and the hook of the shared settings, told off the GUI thread.
        self.notices = JobNotices(self)
        self.notices.problem.connect(self._on_notice_problem)
        self.last_dropped: list[Sequence] = []
        self.new_job_dialog: QDialog | None = None
        self._closing = False
        self._details_job_id: str | None = None  # the job the details pane shows

        self.actions_by_id = build_actions(self)
        self.table = JobTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # this session's jobs first, in order
        self.progress_delegate = self.table.progress_delegate
        self.details: QWidget = DetailsPane(self, group_of=self.model.group_records, journal=self.journal)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(True)
        self.setCentralWidget(self.splitter)
        self.menus: dict[str, QMenu] = {}
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.tray = self._build_tray()
        self._connect()
        self._restore_state()
        self._update_actions()
        # File › Watch Folders…; jobs from rules come in through submit_specs (origin "watch:<rule>").
        from vfxcopy.gui.dialogs.watch_dialog import install_watch_folders

        self.watch_folders: Any = install_watch_folders(self, self.submit_specs, self.settings)
        # Jobs › Resume Interrupted Job, Clear History; rows for finished jobs of earlier sessions.
        self.history = install_history(self, self.journal)

    # -- construction --
    def _build_menus(self) -> None:
        window_menus.build_menus(self)

    def _build_toolbar(self) -> None:
        self.toolbar = window_menus.build_toolbar(self)

    def _build_status_bar(self) -> None:
        self.status_label = QLabel(self)
        self.status_label.setObjectName("statusJobs")
        self.statusBar().addPermanentWidget(self.status_label)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(500)
        self._status_timer.timeout.connect(self._update_status)
        self._update_status()

    def _build_tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        tray = QSystemTrayIcon(app_icon(), self)
        tray.setToolTip("vfxcopy")
        tray.activated.connect(self._bring_to_front)
        tray.show()
        return tray

    @Slot()
    def _bring_to_front(self, *_args: Any) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def _connect(self) -> None:
        a = self.actions_by_id
        handlers = window_menus.action_handlers(self)
        handlers.setdefault(ActionId.CANCEL_GROUP, self.cancel_groups_selected)
        for action_id, handler in handlers.items():
            a[action_id].triggered.connect(lambda _checked=False, h=handler: h())

        self.runner.job_submitted.connect(self._on_submitted)
        self.runner.job_started.connect(self.model.mark_started)
        self.runner.job_event.connect(self.model.apply_events)
        self.runner.job_finished.connect(self._on_finished)
        self.runner.job_paused.connect(self.model.token_changed)
        self.runner.counts_changed.connect(self._on_counts)

        self.table.customContextMenuRequested.connect(self._show_context_menu)
        self.table.doubleClicked.connect(lambda _index: self.show_details())
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.model.dataChanged.connect(self._on_data_changed)
        self.model.rowsAboutToBeRemoved.connect(self._on_rows_about_to_be_removed)
        self.model.rowsRemoved.connect(self._on_rows_removed)
        # The details pane repaints at most a few times a second, whatever the job rate.
        self._details_timer = QTimer(self)
        self._details_timer.setSingleShot(True)
        self._details_timer.setInterval(250)
        self._details_timer.timeout.connect(self._refresh_details)
        self._actions_timer = QTimer(self)
        self._actions_timer.setSingleShot(True)
        self._actions_timer.setInterval(100)
        self._actions_timer.timeout.connect(self._update_actions)

    # -- settings persistence --
    def _restore_state(self) -> None:
        geometry = self.settings.value(GEOMETRY_KEY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 760)
        header = self.settings.value(HEADER_KEY)
        if isinstance(header, QByteArray) and not header.isEmpty():
            self.table.horizontalHeader().restoreState(header)
        self.table.fit_columns()
        splitter = self.settings.value(SPLITTER_KEY)
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        else:
            self.splitter.setSizes([440, 320])

    def save_state(self) -> None:
        self.settings.set_value(HEADER_KEY, self.table.horizontalHeader().saveState())
        self.settings.set_value(GEOMETRY_KEY, self.saveGeometry())
        self.settings.set_value(SPLITTER_KEY, self.splitter.saveState())

    # -- selection: actions act on the rows the user sees selected --
    def selected_records(self) -> list[JobRecord]:
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [self.model.record_at(self.proxy.mapToSource(i).row()) for i in rows]

    @Slot()
    def _on_selection_changed(self, *_args: Any) -> None:
        self._update_actions()
        records = self.selected_records()
        self._show_in_details(records[0] if len(records) == 1 else None)

    def _show_in_details(self, record: JobRecord | None) -> None:
        self._details_job_id = record.job_id if record is not None else None
        assert isinstance(self.details, DetailsPane)
        self.details.show_record(record)

    @Slot()
    def _refresh_details(self) -> None:
        assert isinstance(self.details, DetailsPane)
        self.details.refresh()

    @Slot(QModelIndex, QModelIndex)
    def _on_data_changed(self, top_left: QModelIndex, _bottom_right: QModelIndex, *_roles: Any) -> None:
        # Job state changes can change which actions apply; coalesce into one update.
        if not self._actions_timer.isActive():
            self._actions_timer.start()
        shown = self._details_job_id
        if shown is not None and self.model.row_of(shown) == top_left.row():
            if not self._details_timer.isActive():
                self._details_timer.start()

    @Slot(QModelIndex, int, int)
    def _on_rows_about_to_be_removed(self, _parent: QModelIndex, first: int, last: int) -> None:
        # A removed job leaves nothing behind: the bar's painted segments go with its row.
        self.progress_delegate.forget(self.model.record_at(row).job_id for row in range(first, last + 1))

    @Slot()
    def _on_rows_removed(self, *_args: Any) -> None:
        if self._details_job_id is not None and self.model.row_of(self._details_job_id) < 0:
            self._show_in_details(None)
        self._update_actions()

    def _update_actions(self) -> None:
        records = self.selected_records()
        applies = applicable(records)
        for action_id in ActionId:
            if action_id in WINDOW_WIDE:
                continue
            self.actions_by_id[action_id].setEnabled(action_id in applies)
        self.actions_by_id[ActionId.CANCEL_ALL].setEnabled(self.active_job_count() > 0)
        self.name_group_action(records)

    # -- context menu --
    def build_context_menu(self) -> QMenu:
        """The menu for the current selection: only the actions that apply to it."""
        return window_menus.build_context_menu(self)

    @Slot(QPoint)
    def _show_context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isSelected(index):
            self.table.selectRow(index.row())
        if not self.selected_records():
            return
        menu = self.build_context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    # -- runner feedback --
    @Slot(object)
    def _on_submitted(self, spec: Any) -> None:
        self.model.add_spec(spec)
        self._update_actions()

    @Slot(object)
    def _on_finished(self, result: JobResult) -> None:
        self.model.finish(result)
        self._update_actions()
        self._update_status()
        if self._closing or result.state is JobState.CANCELLED:
            return
        finished = self.model.record_for(result.job_id)
        if finished is not None:
            self.notices.job_finished(finished.spec, result)
        if not self.isActiveWindow() and self.notices.desktop_wanted():
            record = self.model.record_for(result.job_id)
            name = record.spec.display_name() if record else result.job_id
            failed = len(result.failed)
            if result.state is JobState.COMPLETED and not failed:
                self.notify(self, "Job completed", name, tray=self.tray)
            else:
                detail = f"{plural(failed, 'frame')} failed" if failed else (result.message or result.state.value)
                self.notify(self, "Job failed", f"{name}: {detail}", tray=self.tray, level="error")

    @Slot(str)
    def _on_notice_problem(self, text: str) -> None:
        self.statusBar().showMessage(f"Notification: {text}", 15000)

    @Slot(int, int)
    def _on_counts(self, running: int, pending: int) -> None:
        if running + pending and not self._status_timer.isActive():
            self._status_timer.start()
        self._update_status()
        self._update_actions()

    def status_text(self) -> str:
        """'2 running · 1 paused · 3 pending · 210.4 MiB/s' (zero counts left out, except running)."""
        totals = self.model.totals()
        parts = [f"{totals.running} running"]
        if totals.paused:
            parts.append(f"{totals.paused} paused")
        parts.append(f"{totals.pending} pending")
        if totals.bytes_per_s > 0:
            parts.append(format_rate(totals.bytes_per_s))
        return "   ·   ".join(parts)

    def _update_status(self) -> None:
        self.status_label.setText(self.status_text())
        if not self.active_job_count():
            self._status_timer.stop()

    # -- closing --
    def active_job_count(self) -> int:
        # OpenJD tasks run here by the window stop with it; a real farm's jobs go on without it.
        return self.runner.running_count + self.runner.pending_count + self.farm.local_count()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        # Below this width the toolbar's texts would push its last buttons out of sight.
        style = (Qt.ToolButtonStyle.ToolButtonTextBesideIcon if event.size().width() >= TOOLBAR_TEXT_WIDTH
                 else Qt.ToolButtonStyle.ToolButtonIconOnly)
        if self.toolbar.toolButtonStyle() != style:
            self.toolbar.setToolButtonStyle(style)

    def closeEvent(self, event: QCloseEvent) -> None:
        count = self.active_job_count()
        if count:
            them = "it" if count == 1 else "them"
            if not prompts.ask(self, "Quit vfxcopy",
                               f"{plural(count, 'job is', 'jobs are')} running — cancel {them} and quit?",
                               ok_text="Cancel Jobs and Quit" if count > 1 else "Cancel Job and Quit",
                               cancel_text="Keep Running",
                               informative="Partial files are removed; finished frames stay."):
                event.ignore()
                return
        self.shutdown()
        event.accept()

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Cancel everything and wait for the workers; True if they all returned in time."""
        self._closing = True
        if getattr(self, "watch_folders", None) is not None:
            self.watch_folders.shutdown()  # stop watching first: no new jobs while closing
        active = self.active_job_count()
        self.runner.cancel_all()
        self.farm.shutdown()
        # Nothing running: nothing to wait for (a pool wait still costs a poll interval).
        done = self.runner.wait(timeout_ms) if active else True
        assert isinstance(self.details, DetailsPane)
        self.details.shutdown(2000)
        self._status_timer.stop()
        self.save_state()
        if self.tray is not None:
            self.tray.hide()
        return done
