"""MainWindow: job table, details pane, menus, toolbar, status bar, drop target and close guard."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QModelIndex, QPoint, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import (
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QPainter,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QSplitter,
    QSystemTrayIcon,
    QTableView,
    QWidget,
)

from vfxcopy import __version__
from vfxcopy.core.jobs import JobResult, JobSpec, JobState, Operation, new_job_id
from vfxcopy.core.sequence import Sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.actions import CONTEXT_MENU, ActionId, applicable, build_actions, records_for
from vfxcopy.gui.delegates import ProgressDelegate
from vfxcopy.gui.history import install_history, journaled_run, open_window_journal
from vfxcopy.gui.job_model import COLUMN_INDEX, COLUMNS, JobSortProxy, JobTableModel, human_bytes
from vfxcopy.gui.records import JobRecord
from vfxcopy.gui.resources import app_icon
from vfxcopy.gui.runner import JobRunner
from vfxcopy.gui.settings import AppSettings

HEADER_KEY = "window/job_table_header"
GEOMETRY_KEY = "window/geometry"
SPLITTER_KEY = "window/splitter"
SHUTDOWN_WAIT_MS = 60_000


def open_folder(path: str) -> bool:
    """Show a folder in the desktop's file manager (tests replace this)."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def sequences_for_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Sequence]:
    """What a drop means: each dropped frame brings its whole sequence, each folder its sequences."""
    from vfxcopy.core.sequence import find_sequence, scan

    found: list[Sequence] = []
    covered: set[str] = set()
    keys: set[tuple[str, str, str, int]] = set()

    def add(seq: Sequence) -> None:
        key = (seq.directory, seq.head, seq.tail, seq.padding)
        if key in keys:
            return
        keys.add(key)
        found.append(seq)
        covered.update(str(p) for p in seq.paths())

    for raw in paths:
        path = os.path.abspath(os.fspath(raw))
        if os.path.isdir(path):
            # A shot folder often holds only sub-folders (plates/, renders/): look inside then.
            found_here = scan([path], stat=True) or scan([path], stat=True, recursive=True)
            for seq in found_here:
                add(seq)
        elif path not in covered and os.path.lexists(path):
            # Selecting all 300 frames in a file manager drops 300 paths: one scan is enough.
            add(find_sequence(path, stat=True))
    return found


def dest_sequence(spec: JobSpec) -> Sequence:
    """Where a job's frames land, as a Sequence (for Copy path)."""
    src = spec.source
    head = spec.rename_head if spec.rename_head is not None else src.head
    tail = src.tail
    if spec.operation is Operation.CONVERT and spec.convert is not None and not src.is_single:
        tail = "." + spec.convert.to.lower()
    frames = tuple(f + spec.offset for f in spec.selected_frames()) if not src.is_single else ()
    return Sequence(spec.dest_dir, head, tail, src.padding, frames)


class JobTableView(QTableView):
    """The job list; paints a hint while empty so a first-time user knows to drop files."""

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is not None and model.rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                self.viewport().rect(),
                Qt.AlignmentFlag.AlignCenter,
                "Drop image sequences or folders here\nor use File › Add… (Ctrl+O)",
            )
            painter.end()


def _make_details_pane(parent: QWidget) -> QWidget:
    try:
        from vfxcopy.gui.details import DetailsPane
    except ImportError:
        # The details pane is optional at this layer: the table works without it.
        placeholder = QWidget(parent)
        placeholder.setObjectName("detailsPane")
        return placeholder
    pane: QWidget = DetailsPane(parent)
    pane.setObjectName("detailsPane")
    return pane


def _install_watch_folders(window: MainWindow) -> Any:
    try:
        from vfxcopy.gui.dialogs.watch_dialog import install_watch_folders
    except ImportError:
        return None  # the window works without watch folders
    return install_watch_folders(window, window.submit_specs, window.settings)


class MainWindow(QMainWindow):
    """The job queue. Tests drive it through its widgets, actions and a few small methods."""

    def __init__(self, settings: AppSettings | None = None, runner: JobRunner | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("vfxcopy")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.settings = settings or AppSettings()
        # The job journal (history, crash recovery, resume): see gui/history.py.
        self.journal = open_window_journal()
        self.runner = runner or JobRunner(self.settings.jobs_at_once, self, run=journaled_run(self.journal))
        self.model = JobTableModel(self)
        self.proxy = JobSortProxy(self)
        self.proxy.setSourceModel(self.model)
        # Replaceable hooks (tests, embedding): the desktop notification and the folder opener.
        self.notify: Callable[..., None] = prompts.notify
        self.open_folder: Callable[[str], bool] = open_folder
        self.last_dropped: list[Sequence] = []
        self.new_job_dialog: QDialog | None = None
        self._closing = False
        self._details_job_id: str | None = None  # the job the details pane shows

        self.actions_by_id = build_actions(self)
        self._build_table()
        self.details = _make_details_pane(self)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(True)
        self.setCentralWidget(self.splitter)
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.tray = self._build_tray()
        self._connect()
        self._restore_state()
        self._update_actions()
        # File › Watch Folders…; jobs from rules come in through submit_specs (origin "watch:<rule>").
        self.watch_folders = _install_watch_folders(self)
        # Jobs › Resume Interrupted Job, Clear History; rows for finished jobs of earlier sessions.
        self.history = install_history(self, self.journal)

    # -- construction --
    def _build_table(self) -> None:
        table = JobTableView(self)
        table.setObjectName("jobTable")
        table.setModel(self.proxy)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setSortingEnabled(True)
        table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # insertion order until the user sorts
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(28)
        header = table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for n, column in enumerate(COLUMNS):
            table.setColumnWidth(n, column.width)
        self.progress_delegate = ProgressDelegate(table)
        table.setItemDelegateForColumn(COLUMN_INDEX["progress"], self.progress_delegate)
        self.table = table

    def _build_menus(self) -> None:
        a = self.actions_by_id
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(a[ActionId.ADD])
        file_menu.addSeparator()
        file_menu.addAction(a[ActionId.QUIT])
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(a[ActionId.SELECT_ALL])
        copy_menu = edit_menu.addMenu("Copy Path")
        for action_id in (ActionId.COPY_PATH_NUKE, ActionId.COPY_PATH_HOUDINI, ActionId.COPY_PATH_PRINTF):
            copy_menu.addAction(a[action_id])
        edit_menu.addSeparator()
        edit_menu.addAction(a[ActionId.SETTINGS])
        jobs_menu = bar.addMenu("&Jobs")
        for group in CONTEXT_MENU:
            for action_id in group:
                if action_id.name.startswith("COPY_PATH"):
                    continue
                jobs_menu.addAction(a[action_id])
                if action_id is ActionId.CANCEL:
                    jobs_menu.addAction(a[ActionId.CANCEL_ALL])
            jobs_menu.addSeparator()
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(a[ActionId.ABOUT])
        # Menu-bar actions are window-wide shortcuts; Delete must not steal keys from dialogs.
        a[ActionId.REMOVE].setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.table.addAction(a[ActionId.REMOVE])

    def _build_toolbar(self) -> None:
        a = self.actions_by_id
        toolbar = self.addToolBar("Jobs")
        toolbar.setObjectName("mainToolBar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action_id in (ActionId.ADD, None, ActionId.CANCEL, ActionId.CANCEL_ALL, ActionId.PAUSE,
                          ActionId.RESUME, None, ActionId.RETRY, ActionId.REMOVE, None, ActionId.SETTINGS):
            if action_id is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(a[action_id])
        self.toolbar = toolbar

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
        handlers: dict[ActionId, Callable[[], Any]] = {
            ActionId.ADD: self.add_from_file_dialog,
            ActionId.SETTINGS: self.open_settings,
            ActionId.QUIT: self.close,
            ActionId.ABOUT: self.show_about,
            ActionId.CANCEL: self.cancel_selected,
            ActionId.CANCEL_ALL: self.cancel_all,
            ActionId.STOP_AFTER_FRAME: lambda: self._for_selected(ActionId.STOP_AFTER_FRAME,
                                                                  self.stop_after_frame),
            ActionId.PAUSE: lambda: self._for_selected(ActionId.PAUSE, self.runner.pause),
            ActionId.RESUME: lambda: self._for_selected(ActionId.RESUME, self.runner.resume),
            ActionId.START_NEXT: self.start_next_selected,
            ActionId.RETRY: self.retry_selected,
            ActionId.RUN_AGAIN: self.run_again_selected,
            ActionId.REMOVE: self.remove_selected,
            ActionId.REVEAL_SOURCE: lambda: self.reveal_selected(source=True),
            ActionId.REVEAL_DEST: lambda: self.reveal_selected(source=False),
            ActionId.COPY_PATH_NUKE: lambda: self.copy_paths("nuke"),
            ActionId.COPY_PATH_HOUDINI: lambda: self.copy_paths("houdini"),
            ActionId.COPY_PATH_PRINTF: lambda: self.copy_paths("printf"),
            ActionId.SHOW_DETAILS: self.show_details,
            ActionId.SELECT_ALL: self.table.selectAll,
        }
        for action_id, handler in handlers.items():
            a[action_id].triggered.connect(lambda _checked=False, h=handler: h())

        self.runner.job_submitted.connect(self._on_submitted)
        self.runner.job_started.connect(self.model.mark_started)
        self.runner.job_event.connect(self.model.apply_events)
        self.runner.job_finished.connect(self._on_finished)
        self.runner.job_paused.connect(self.model.set_paused)
        self.runner.counts_changed.connect(self._on_counts)

        self.table.customContextMenuRequested.connect(self._show_context_menu)
        self.table.doubleClicked.connect(lambda _index: self.show_details())
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.model.dataChanged.connect(self._on_data_changed)
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
        splitter = self.settings.value(SPLITTER_KEY)
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        else:
            self.splitter.setSizes([520, 240])

    def save_state(self) -> None:
        self.settings.set_value(HEADER_KEY, self.table.horizontalHeader().saveState())
        self.settings.set_value(GEOMETRY_KEY, self.saveGeometry())
        self.settings.set_value(SPLITTER_KEY, self.splitter.saveState())

    # -- selection --
    def selected_records(self) -> list[JobRecord]:
        rows = sorted({self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.record_at(r) for r in rows]

    def select_jobs(self, job_ids: Iterable[str]) -> None:
        """Select rows by job id (automation and tests)."""
        from PySide6.QtCore import QItemSelection, QItemSelectionModel

        selection = QItemSelection()
        for job_id in job_ids:
            row = self.model.row_of(job_id)
            if row < 0:
                continue
            left = self.proxy.mapFromSource(self.model.index(row, 0))
            right = self.proxy.mapFromSource(self.model.index(row, len(COLUMNS) - 1))
            selection.select(left, right)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().select(selection, flags)

    @Slot()
    def _on_selection_changed(self, *_args: Any) -> None:
        self._update_actions()
        records = self.selected_records()
        self._show_in_details(records[0] if len(records) == 1 else None)

    def _show_in_details(self, record: JobRecord | None) -> None:
        self._details_job_id = record.job_id if record is not None else None
        show = getattr(self.details, "show_record", None)
        if show is not None:
            show(record)

    @Slot()
    def _refresh_details(self) -> None:
        refresh = getattr(self.details, "refresh", None)
        if refresh is not None:
            refresh()

    @Slot(QModelIndex, QModelIndex)
    def _on_data_changed(self, top_left: QModelIndex, _bottom_right: QModelIndex, *_roles: Any) -> None:
        # Job state changes can change which actions apply; coalesce into one update.
        if not self._actions_timer.isActive():
            self._actions_timer.start()
        shown = self._details_job_id
        if shown is not None and self.model.row_of(shown) == top_left.row():
            if not self._details_timer.isActive():
                self._details_timer.start()

    @Slot()
    def _on_rows_removed(self, *_args: Any) -> None:
        if self._details_job_id is not None and self.model.row_of(self._details_job_id) < 0:
            self._show_in_details(None)
        self._update_actions()

    def _update_actions(self) -> None:
        records = self.selected_records()
        applies = applicable(records)
        for action_id in ActionId:
            if action_id in (ActionId.ADD, ActionId.SETTINGS, ActionId.QUIT, ActionId.ABOUT,
                             ActionId.SELECT_ALL, ActionId.CANCEL_ALL):
                continue
            self.actions_by_id[action_id].setEnabled(action_id in applies)
        active = self.runner.running_count + self.runner.pending_count
        self.actions_by_id[ActionId.CANCEL_ALL].setEnabled(active > 0)

    # -- context menu --
    def build_context_menu(self) -> QMenu:
        """The menu for the current selection: only the actions that apply to it."""
        self._update_actions()
        applies = applicable(self.selected_records())
        menu = QMenu(self.table)
        menu.setObjectName("jobContextMenu")
        for group in CONTEXT_MENU:
            shown = [a for a in group if a in applies]
            if not shown:
                continue
            if not menu.isEmpty():
                menu.addSeparator()
            if shown[0].name.startswith("COPY_PATH"):
                sub = menu.addMenu("Copy Path")
                sub.setObjectName("copyPathMenu")
                for action_id in shown:
                    sub.addAction(self.actions_by_id[action_id])
                continue
            for action_id in shown:
                menu.addAction(self.actions_by_id[action_id])
        return menu

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

    # -- adding jobs --
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        # Leave the drag-and-drop machinery before scanning and opening a dialog.
        QTimer.singleShot(0, lambda: self.add_paths(paths))

    def add_paths(self, paths: Iterable[str | os.PathLike[str]]) -> QDialog | None:
        """Paths from a drop, the command line or File › Add…: find sequences, ask how to queue them."""
        try:
            sequences = sequences_for_paths(paths)
        except OSError as exc:
            prompts.inform(self, "Cannot add", f"{exc.filename or ''}: {exc.strerror or exc}", level="error")
            return None
        self.last_dropped = sequences
        if not sequences:
            self.statusBar().showMessage("No files found in what was dropped.", 6000)
            return None
        return self.open_new_job_dialog(sequences)

    def open_new_job_dialog(self, sequences: list[Sequence]) -> QDialog | None:
        """Open the New job dialog (non-blocking); accepted specs are queued."""
        try:
            from vfxcopy.gui.dialogs.new_job import NewJobDialog
        except ImportError:
            self.statusBar().showMessage(
                f"Found {len(sequences)} sequence(s); the New job dialog is not available.", 6000)
            return None
        dialog = NewJobDialog(sequences, self.settings, self)
        dialog.setObjectName("newJobDialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def finished(code: int) -> None:
            if code == QDialog.DialogCode.Accepted:
                self.submit_specs(dialog.specs())
            if self.new_job_dialog is dialog:
                self.new_job_dialog = None

        dialog.finished.connect(finished)
        self.new_job_dialog = dialog
        dialog.open()
        return dialog

    def add_from_file_dialog(self) -> None:
        paths, _filter = QFileDialog.getOpenFileNames(
            self, "Add image sequences", "", "Images (*.exr *.dpx *.tif *.tiff *.png *.jpg *.jpeg);;All files (*)")
        if paths:
            self.add_paths(paths)

    def submit_specs(self, specs: Iterable[JobSpec]) -> list[str]:
        ids = []
        for spec in specs:
            if not spec.origin:
                spec.origin = "gui"
            ids.append(self.runner.submit(spec))
        return ids

    @Slot(object)
    def _on_submitted(self, spec: JobSpec) -> None:
        self.model.add_spec(spec)
        self._update_actions()

    # -- job actions --
    def _for_selected(self, action_id: ActionId, fn: Callable[[str], object]) -> None:
        for record in records_for(action_id, self.selected_records()):
            fn(record.job_id)
        self._update_actions()

    def stop_after_frame(self, job_id: str) -> bool:
        """Let the frame in flight finish, then end the job (no partial frame, no prompt)."""
        if not self.runner.stop_after_frame(job_id):
            return False
        self.model.set_stopping(job_id)
        return True

    def _confirm_cancel(self, count: int) -> bool:
        text = "Cancel this job?" if count == 1 else f"Cancel these {count} jobs?"
        return prompts.ask(
            self, "Cancel", text, ok_text="Cancel Jobs" if count > 1 else "Cancel Job",
            cancel_text="Keep Running", dont_ask_key="confirm_cancel", settings=self.settings,
            informative="Frames already copied stay; the frame in flight is removed.")

    def cancel_jobs(self, job_ids: list[str], *, confirm: bool = True) -> int:
        """Cancel jobs by id (running: token set, shown as Cancelling…; pending: dropped)."""
        if not job_ids:
            return 0
        if confirm and not self._confirm_cancel(len(job_ids)):
            return 0
        count = 0
        for job_id in job_ids:
            if self.runner.is_running(job_id):
                self.model.set_cancelling(job_id)
            if self.runner.cancel(job_id):
                count += 1
        self._update_actions()
        return count

    def cancel_selected(self) -> int:
        return self.cancel_jobs([r.job_id for r in records_for(ActionId.CANCEL, self.selected_records())])

    def cancel_all(self) -> int:
        ids = self.runner.running_ids() + self.runner.pending_ids()
        return self.cancel_jobs(ids)

    def start_next_selected(self) -> None:
        """Move the selected pending jobs to the front of the queue, keeping their order."""
        pending = records_for(ActionId.START_NEXT, self.selected_records())
        for record in reversed(pending):
            self.runner.move_pending(record.job_id, 0)

    def retry_selected(self) -> list[str]:
        specs = []
        for record in records_for(ActionId.RETRY, self.selected_records()):
            selected = record.spec.selected_frames()
            frames = sorted({selected[r.index] for r in record.failed_frames if 0 <= r.index < len(selected)})
            if frames:
                specs.append(dataclasses.replace(record.spec, frames=frames, job_id=new_job_id()))
        return self.submit_specs(specs)

    def run_again_selected(self) -> list[str]:
        specs = [dataclasses.replace(r.spec, job_id=new_job_id())
                 for r in records_for(ActionId.RUN_AGAIN, self.selected_records())]
        return self.submit_specs(specs)

    def remove_selected(self) -> int:
        removed = 0
        for record in records_for(ActionId.REMOVE, self.selected_records()):
            removed += self.model.remove_job(record.job_id)
        self._update_actions()
        return removed

    def reveal_selected(self, *, source: bool) -> None:
        folders: list[str] = []
        for record in self.selected_records():
            folder = record.spec.source.directory if source else record.spec.dest_dir
            if folder not in folders:
                folders.append(folder)
        for folder in folders[:8]:  # a big selection must not open dozens of windows
            if not Path(folder).is_dir():
                self.statusBar().showMessage(f"{folder}: folder does not exist (yet)", 6000)
                continue
            self.open_folder(folder)

    def copy_paths(self, syntax: str) -> str:
        lines = [dest_sequence(r.spec).pattern(syntax) for r in self.selected_records()]
        text = "\n".join(dict.fromkeys(lines))
        if text:
            QGuiApplication.clipboard().setText(text)
            self.statusBar().showMessage(f"Copied {text.splitlines()[0]}" +
                                         (f" and {len(lines) - 1} more" if len(lines) > 1 else ""), 4000)
        return text

    def show_details(self) -> None:
        records = self.selected_records()
        if not records:
            return
        sizes = self.splitter.sizes()
        if len(sizes) == 2 and sizes[1] < 120:
            total = sum(sizes) or 760
            self.splitter.setSizes([int(total * 0.6), int(total * 0.4)])
        self._show_in_details(records[0])

    def open_settings(self) -> None:
        try:
            from vfxcopy.gui.dialogs.settings_dialog import SettingsDialog
        except ImportError:
            self.statusBar().showMessage("The settings dialog is not available.", 6000)
            return
        dialog = SettingsDialog(self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.runner.set_max_jobs(self.settings.jobs_at_once))
        dialog.open()

    def show_about(self) -> None:
        prompts.inform(
            self, "About vfxcopy",
            f"vfxcopy {__version__}\n\nCopy and convert VFX image sequences as cancellable, "
            "verified jobs.\nMIT licence.")

    # -- runner feedback --
    @Slot(object)
    def _on_finished(self, result: JobResult) -> None:
        self.model.finish(result)
        self._update_actions()
        self._update_status()
        if self._closing or result.state is JobState.CANCELLED:
            return
        if not self.isActiveWindow():
            record = self.model.record_for(result.job_id)
            name = record.spec.display_name() if record else result.job_id
            failed = len(result.failed)
            if result.state is JobState.COMPLETED and not failed:
                self.notify(self, "Job completed", name, tray=self.tray)
            else:
                detail = f"{failed} frames failed" if failed else (result.message or result.state.value)
                self.notify(self, "Job failed", f"{name}: {detail}", tray=self.tray, level="error")

    @Slot(int, int)
    def _on_counts(self, running: int, pending: int) -> None:
        if running + pending and not self._status_timer.isActive():
            self._status_timer.start()
        self._update_status()
        self._update_actions()

    def _update_status(self) -> None:
        running, pending = self.runner.running_count, self.runner.pending_count
        _r, _p, speed = self.model.totals()
        parts = [f"{running} running", f"{pending} pending"]
        if speed > 0:
            parts.append(f"{human_bytes(speed)}/s")
        self.status_label.setText("   ·   ".join(parts))
        if not running and not pending:
            self._status_timer.stop()

    # -- closing --
    def active_job_count(self) -> int:
        return self.runner.running_count + self.runner.pending_count

    def closeEvent(self, event: QCloseEvent) -> None:
        count = self.active_job_count()
        if count:
            noun = "job is" if count == 1 else "jobs are"
            if not prompts.ask(self, "Quit vfxcopy", f"{count} {noun} running — cancel them and quit?",
                               ok_text="Cancel Jobs and Quit", cancel_text="Keep Running",
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
        for job_id in self.runner.running_ids():
            self.model.set_cancelling(job_id)
        self.runner.cancel_all()
        done = self.runner.wait(timeout_ms)
        shutdown_thumbs = getattr(self.details, "shutdown", None)
        if callable(shutdown_thumbs):
            shutdown_thumbs()
        self._status_timer.stop()
        self.save_state()
        if self.tray is not None:
            self.tray.hide()
        return done
