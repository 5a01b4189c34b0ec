"""What the job actions do to the selected rows: cancel, pause, retry, run again, reveal, Copy Path…;
each says in the window when it could not do what was asked."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMainWindow, QSplitter, QTableView, QWidget

from vfxcopy import __version__
from vfxcopy.core.jobs import FrameStatus, JobSpec, JobState, Operation, new_job_id
from vfxcopy.core.naming import dest_pattern
from vfxcopy.core.units import plural
from vfxcopy.gui import prompts
from vfxcopy.gui.actions import DEFINITIONS, ActionId, records_for
from vfxcopy.gui.records import JobRecord

if TYPE_CHECKING:
    from vfxcopy.gui.farm_jobs import FarmJobs
    from vfxcopy.gui.job_model import JobTableModel
    from vfxcopy.gui.runner import JobRunner
    from vfxcopy.gui.settings import AppSettings

MESSAGE_MS = 8000
MAX_REVEAL = 8  # a big selection must not open dozens of file manager windows


def open_folder(path: str) -> bool:
    """Show a folder in the desktop's file manager; False when the desktop has no launcher for it."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def regroup(specs: list[JobSpec]) -> list[JobSpec]:
    """New jobs made from finished ones (retry, run again) read together only with each other: the
    members of one old group queued again share a fresh group id, a member queued alone reads alone."""
    from vfxcopy.gui.dialogs.new_job_specs import new_group_id

    counts: dict[str, int] = {}
    for spec in specs:
        if spec.group is not None:
            counts[spec.group] = counts.get(spec.group, 0) + 1
    fresh = {group: new_group_id() for group, n in counts.items() if n > 1}
    return [dataclasses.replace(spec, group=fresh.get(spec.group)) if spec.group is not None else spec
            for spec in specs]


class JobActions(QMainWindow):
    """The MainWindow's side that acts on selected jobs (a base class: it uses the window's parts)."""

    runner: JobRunner
    model: JobTableModel
    farm: FarmJobs
    table: QTableView
    settings: AppSettings
    splitter: QSplitter
    details: QWidget
    open_folder: Callable[[str], bool]
    actions_by_id: dict[ActionId, QAction]

    # provided by MainWindow / AddJobs
    def selected_records(self) -> list[JobRecord]:
        raise NotImplementedError

    def queue_specs(self, specs: list[JobSpec], *, ask: bool = True) -> list[str]:
        raise NotImplementedError

    def _update_actions(self) -> None:
        raise NotImplementedError

    def _show_in_details(self, record: JobRecord | None) -> None:
        raise NotImplementedError

    def say(self, text: str, ms: int = MESSAGE_MS) -> None:
        """A short message in the status bar: what an action did, or why it could not."""
        self.statusBar().showMessage(text, ms)

    # -- running jobs --
    def _for_selected(self, action_id: ActionId, fn: Callable[[str], object]) -> None:
        for record in records_for(action_id, self.selected_records()):
            fn(record.job_id)
            self.model.token_changed(record.job_id)
        self._update_actions()

    def stop_after_frame(self, job_id: str) -> bool:
        """Let the frame in flight finish, then end the job (no partial frame, no prompt)."""
        if not self.runner.stop_after_frame(job_id):
            return False
        self.model.token_changed(job_id)
        return True

    def _confirm_cancel(self, count: int) -> bool:
        text = "Cancel this job?" if count == 1 else f"Cancel these {count} jobs?"
        return prompts.ask(
            self, "Cancel", text, ok_text="Cancel Jobs" if count > 1 else "Cancel Job",
            cancel_text="Keep Running", dont_ask_key="confirm_cancel", settings=self.settings,
            informative="Frames already copied stay; the frame in flight is removed.")

    def cancel_jobs(self, job_ids: list[str], *, confirm: bool = True) -> int:
        """Cancel jobs by id (running: its token is cancelled, shown as Cancelling…; pending: dropped)."""
        if not job_ids:
            return 0
        if confirm and not self._confirm_cancel(len(job_ids)):
            return 0
        count = 0
        for job_id in job_ids:
            if self.runner.cancel(job_id) or self.farm.cancel(job_id):
                count += 1
            self.model.token_changed(job_id)
        self._update_actions()
        return count

    def cancel_selected(self) -> int:
        return self.cancel_jobs([r.job_id for r in records_for(ActionId.CANCEL, self.selected_records())])

    def cancel_groups_selected(self) -> int:
        """Cancel every job that reads one source with a selected job (all destinations or renditions)."""
        ids: list[str] = []
        for record in records_for(ActionId.CANCEL_GROUP, self.selected_records()):
            for member in self.model.group_records(record):
                if member.job_id not in ids and not member.state.finished and not member.cancelling:
                    ids.append(member.job_id)
        return self.cancel_jobs(ids)

    def name_group_action(self, records: list[JobRecord]) -> None:
        """"Cancel All Destinations" for copies, "Cancel All Renditions" for conversions of one decode."""
        grouped = [r for r in records if r.spec.group is not None]
        renditions = bool(grouped) and all(r.spec.operation is Operation.CONVERT for r in grouped)
        self.actions_by_id[ActionId.CANCEL_GROUP].setText(
            "Cance&l All Renditions" if renditions else DEFINITIONS[ActionId.CANCEL_GROUP].text)

    def cancel_all(self) -> int:
        # Pending first: a running job that ends meanwhile must not start one of them.
        local_farm = [job_id for job_id, entry in self.farm.entries.items() if entry.local_running]
        return self.cancel_jobs(self.runner.pending_ids() + self.runner.running_ids() + local_farm)

    def start_next_selected(self) -> None:
        """Move the selected pending jobs to the front of the queue, keeping their order."""
        pending = records_for(ActionId.START_NEXT, self.selected_records())
        for record in reversed(pending):
            self.runner.move_pending(record.job_id, 0)
        if pending:
            self.say(f"{plural(len(pending), 'job')} will start next.")

    # -- finished jobs --
    def retry_selected(self) -> list[str]:
        """A new job per selected job with only its failed frames; existing files are asked about."""
        specs = []
        farm_ids = []
        for record in records_for(ActionId.RETRY, self.selected_records()):
            if record.farm is not None:
                # The same farm job: only its chunks that did not complete are requeued.
                if self.farm.retry(record.job_id):
                    farm_ids.append(record.job_id)
                continue
            spec = record.spec
            selected = spec.selected_frames()
            indices = sorted({r.index for r in record.failed_frames if 0 <= r.index < len(selected)}
                             | not_reached(record, len(selected)))
            if not indices and not spec.source.is_single:
                continue
            frames = [selected[i] for i in indices] or spec.frames
            # The names the first run chose (a rename version included) are the retry's names too.
            names = spec.names
            if names is not None and len(names) == len(selected) and indices:
                names = [names[i] for i in indices]
            specs.append(dataclasses.replace(spec, frames=frames, job_id=new_job_id(), names=names,
                                             conflict_choices=None))
        if farm_ids:
            self._update_actions()
        return farm_ids + (self.queue_specs(regroup(specs)) if specs else [])

    def run_again_selected(self) -> list[str]:
        specs = [dataclasses.replace(r.spec, job_id=new_job_id(), names=None, conflict_choices=None)
                 for r in records_for(ActionId.RUN_AGAIN, self.selected_records())]
        return self.queue_specs(regroup(specs))

    def remove_selected(self) -> int:
        removed = 0
        records = records_for(ActionId.REMOVE, self.selected_records())
        if records:
            # Deselect first: each removed row would otherwise move the selection and show the
            # next job's 2,000 frames in the details pane, one after another (a 0.7 s stall).
            self.table.selectionModel().clear()
        for record in records:
            removed += self.model.remove_job(record.job_id)
        self._update_actions()
        return removed

    # -- the files of a job --
    def reveal_selected(self, *, source: bool) -> list[str]:
        """Open the source or destination folders; returns the ones opened."""
        folders: list[str] = []
        for record in self.selected_records():
            folder = record.spec.source.directory if source else record.spec.dest_dir
            if folder not in folders:
                folders.append(folder)
        opened: list[str] = []
        problems: list[str] = []
        for folder in folders[:MAX_REVEAL]:
            if not Path(folder).is_dir():
                problems.append(f"{folder} does not exist (yet)")
            elif self.open_folder(folder):
                opened.append(folder)
            else:
                # No file manager registered (a bare window manager, a remote session): give the path.
                QGuiApplication.clipboard().setText(folder)
                problems.append(f"no file manager could open {folder}; the path is on the clipboard")
        if problems:
            self.say("Cannot reveal: " + "; ".join(problems), 12000)
        return opened

    def copy_paths(self, syntax: str) -> str:
        """The destination of each selected job in `syntax` (nuke, houdini, printf) on the clipboard."""
        lines = list(dict.fromkeys(dest_pattern(r.spec, syntax) for r in self.selected_records()))
        text = "\n".join(lines)
        if not text:
            self.say("Nothing to copy: select a job first.")
            return ""
        QGuiApplication.clipboard().setText(text)
        more = f" and {plural(len(lines) - 1, 'more path')}" if len(lines) > 1 else ""
        self.say(f"Copied {lines[0]}{more}", 5000)
        return text

    def show_details(self) -> None:
        records = self.selected_records()
        if not records:
            self.say("Select a job to see its details.")
            return
        sizes = self.splitter.sizes()
        if len(sizes) == 2 and sizes[1] < 160:
            total = sum(sizes) or 760
            self.splitter.setSizes([int(total * 0.55), int(total * 0.45)])
        self._show_in_details(records[0])

    # -- dialogs --
    def open_settings(self) -> None:
        from vfxcopy.gui.dialogs.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.runner.set_max_jobs(self.settings.jobs_at_once))
        dialog.open()

    def show_about(self) -> None:
        prompts.inform(
            self, "About vfxcopy",
            f"vfxcopy {__version__}\n\nCopy and convert VFX image sequences as cancellable, "
            "verified jobs.\nMIT licence.")


def not_reached(record: JobRecord, count: int) -> set[int]:
    """The frames a failed job never got to (it stopped at a full disk or at the first error):
    retrying only the failed ones would leave them out and look finished."""
    if record.state is not JobState.FAILED:
        return set()
    return {i for i, s in enumerate(record.frame_states[:count]) if s in (FrameStatus.PENDING, FrameStatus.CANCELLED)}

