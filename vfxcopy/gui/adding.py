"""How jobs come into the window: drops (always as copies), File › Add Files…/Add Folder…, the New job
dialog, and queueing with the conflict question; new rows are selected and scrolled to."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QDialog, QFileDialog, QMainWindow, QTableView

from vfxcopy.core.jobs import JobSpec
from vfxcopy.core.sequence import Sequence
from vfxcopy.gui import prompts
from vfxcopy.gui.columns import COLUMNS
from vfxcopy.gui.conflicts import find_conflicts

if TYPE_CHECKING:
    from vfxcopy.core.tree import Tree
    from vfxcopy.gui.farm_jobs import FarmJobs
    from vfxcopy.gui.job_model import JobSortProxy, JobTableModel
    from vfxcopy.gui.runner import JobRunner
    from vfxcopy.gui.settings import AppSettings

LAST_ADD_FOLDER_KEY = "window/last_add_folder"
IMAGE_FILTER = "Images (*.exr *.dpx *.tif *.tiff *.png *.jpg *.jpeg *.mov *.mp4);;All files (*)"


def sequences_for_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Sequence]:
    """What a drop means: each dropped frame brings its whole sequence, each folder its sequences."""
    from vfxcopy.core.seqfind import find_sequence, scan

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


def copy_drop_action(possible: Qt.DropAction) -> Qt.DropAction | None:
    """The action vfxcopy answers a drag with: Copy (or Link), never Move.

    A file manager deletes the originals after a drop answered with MoveAction.
    """
    if possible & Qt.DropAction.CopyAction:
        return Qt.DropAction.CopyAction
    if possible & Qt.DropAction.LinkAction:
        return Qt.DropAction.LinkAction
    return None


def choose_files(parent: Any, start: str) -> list[str]:
    """File › Add Files… (tests replace this; call it through the module)."""
    paths, _filter = QFileDialog.getOpenFileNames(parent, "Add image sequences", start, IMAGE_FILTER)
    return list(paths)


def choose_folder(parent: Any, start: str) -> str:
    """File › Add Folder… (tests replace this; call it through the module)."""
    return QFileDialog.getExistingDirectory(parent, "Add a folder of sequences", start)


class AddJobs(QMainWindow):
    """The MainWindow's side that takes jobs in (a base class: it uses the window's runner and model)."""

    runner: JobRunner
    farm: FarmJobs
    model: JobTableModel
    proxy: JobSortProxy
    table: QTableView
    settings: AppSettings
    last_dropped: list[Sequence]
    new_job_dialog: QDialog | None

    # -- drops --
    def _local_urls(self, event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> list[str]:
        return [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]

    def _accept_as_copy(self, event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> bool:
        action = copy_drop_action(event.possibleActions())
        if action is None or not self._local_urls(event):
            event.ignore()
            return False
        # Say so to the source: accepting the proposed action would answer "move" to a
        # file manager dragging with Shift held (or by default between some desktops).
        event.setDropAction(action)
        event.accept()
        return True

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self._accept_as_copy(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self._accept_as_copy(event)

    def dropEvent(self, event: QDropEvent) -> None:
        if not self._accept_as_copy(event):
            return
        paths = self._local_urls(event)
        # Leave the drag-and-drop machinery before scanning and opening a dialog.
        QTimer.singleShot(0, lambda: self.add_paths(paths))

    # -- File › Add Files…, Add Folder… --
    def _start_folder(self) -> str:
        last = self.settings.value(LAST_ADD_FOLDER_KEY)
        if isinstance(last, str) and os.path.isdir(last):
            return last
        return os.path.expanduser("~")

    def _remember_folder(self, path: str) -> None:
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        if folder:
            self.settings.set_value(LAST_ADD_FOLDER_KEY, folder)

    def add_from_file_dialog(self) -> None:
        from vfxcopy.gui import adding

        paths = adding.choose_files(self, self._start_folder())
        if paths:
            self._remember_folder(paths[0])
            self.add_paths(paths)

    def add_folder_from_dialog(self) -> None:
        from vfxcopy.gui import adding

        folder = adding.choose_folder(self, self._start_folder())
        if folder:
            self._remember_folder(folder)
            self.add_paths([folder])

    def add_paths(self, paths: Iterable[str | os.PathLike[str]]) -> QDialog | None:
        """Paths from a drop, the command line or File › Add…: find sequences, ask how to queue them.

        A folder with sub-folders is a tree: one job that copies it whole, as `vfxcopy copy` does.
        """
        from vfxcopy.gui.trees import split_trees

        try:
            trees, others = split_trees(paths)
            sequences = sequences_for_paths(others)
        except OSError as exc:
            prompts.inform(self, "Cannot add", f"{exc.filename or ''}: {exc.strerror or exc}", level="error")
            return None
        self.last_dropped = sequences
        if not sequences and not trees:
            self.statusBar().showMessage("No image sequences or files found there.", 8000)
            return None
        return self.open_new_job_dialog(sequences, trees)

    def open_new_job_dialog(self, sequences: list[Sequence], trees: list[Tree] | None = None) -> QDialog | None:
        """Open the New job dialog (non-blocking); accepted specs are queued after the conflict question."""
        from vfxcopy.gui.dialogs.new_job import NewJobDialog

        dialog = NewJobDialog(sequences, self.settings, self, trees=trees)
        dialog.setObjectName("newJobDialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def finished(code: int) -> None:
            if self.new_job_dialog is dialog:
                self.new_job_dialog = None
            if code == QDialog.DialogCode.Accepted:
                specs = dialog.specs()
                farm = dialog.farm_options()
                if farm is not None:
                    # A farm's tasks skip frames already there (the conflict policy): nothing to ask.
                    self.submit_farm(specs, farm)
                    return
                # After the dialog has gone: the conflict question is a dialog of its own.
                QTimer.singleShot(0, lambda: self.queue_specs(specs))

        dialog.finished.connect(finished)
        self.new_job_dialog = dialog
        dialog.open()
        return dialog

    # -- queueing --
    def queue_specs(self, specs: Iterable[JobSpec], *, ask: bool = True) -> list[str]:
        """Queue jobs a user asked for: ask once per job about files already at the destination,
        then select and show the new rows. Returns the queued job ids (none if the user declined)."""
        from vfxcopy.gui.dialogs import conflict_dialog

        specs = list(specs)
        answered: conflict_dialog.ConflictAnswer | None = None
        ready: list[JobSpec] = []
        asking = ask and self.settings.confirm_overwrite
        with_conflicts = [(s, find_conflicts(s)) if asking else (s, []) for s in specs]
        remaining = sum(1 for _s, c in with_conflicts if c)
        for spec, conflicts in with_conflicts:
            if conflicts:
                remaining -= 1
                answer = answered or conflict_dialog.ask_conflicts(self, spec, conflicts, remaining)
                if answer is None:
                    continue  # this job is not queued; the others still are
                if answer.for_other_jobs:
                    answered = answer
                spec = conflict_dialog.apply_answer(spec, answer, conflicts)
            ready.append(spec)
        return self.submit_specs(ready, select=True)

    def submit_farm(self, specs: Iterable[JobSpec], options: dict[str, Any]) -> list[str]:
        """Send jobs to a farm (Run on in the New job dialog): one row each, followed through the scheduler."""
        ids = self.farm.submit([s for s in specs], options)
        if ids:
            self.show_jobs(ids)
        return ids

    def submit_specs(self, specs: Iterable[JobSpec], *, select: bool = False) -> list[str]:
        """Queue jobs as they are (watch folders, scripts); `select` shows the new rows to the user."""
        specs = list(specs)
        for spec in specs:
            if not spec.origin:
                spec.origin = "gui"
        # In one step: the destinations of one read (JobSpec.group) must be pending together to start together.
        ids = self.runner.submit_all(specs)
        if select and ids:
            self.show_jobs(ids)
        return ids

    def show_jobs(self, job_ids: list[str]) -> None:
        """Select these rows and scroll the first into view (what the user just queued)."""
        self.select_jobs(job_ids)
        row = self.model.row_of(job_ids[0])
        if row >= 0:
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            self.table.scrollTo(index)
            self.table.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.table.setFocus()  # Delete, Ctrl+. and the arrows act on the new rows

    def select_jobs(self, job_ids: Iterable[str]) -> None:
        """Select rows by job id (automation and tests)."""
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
