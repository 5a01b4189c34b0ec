"""The window's job journal: journaled runs, earlier sessions' jobs as rows, Clear History, Resume, Open Report."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication

from vfxcopy.core.errors import JobError
from vfxcopy.core.jobs import (
    CancelToken,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Reporter,
)
from vfxcopy.core.journal import Journal, JournalError, JournalJob
from vfxcopy.gui.records import JobRecord, keeps

if TYPE_CHECKING:
    from vfxcopy.gui.worker import RunFn

HISTORY_LIMIT = 100  # rows from earlier sessions loaded at start (100 jobs of 1000 frames: ~0.4 s)
RESUMABLE = (JobState.INTERRUPTED, JobState.CANCELLED, JobState.FAILED)


def open_window_journal() -> Journal | None:
    """The default journal, crashed jobs marked interrupted; None if it cannot be opened."""
    try:
        journal = Journal()
        journal.recover()
        return journal
    except (JournalError, OSError, sqlite3.Error):
        return None  # the window works without history; jobs are then not resumable


def journaled_run(journal: Journal | None) -> RunFn | None:
    """The runner's engine call with every job recorded; a job the journal can resume is resumed."""
    if journal is None:
        return None

    def run(spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
        from vfxcopy.core.engine import run_job
        from vfxcopy.core.resume import resume_job

        try:
            known = journal.get_job(spec.job_id)
            if known is not None and known.state in RESUMABLE and known.frames_done:
                return resume_job(spec.job_id, journal, token, report)
            return run_job(spec, token, report, journal=journal)
        finally:
            # Each job runs in a thread of its own, which opened its own SQLite connection: it ends
            # with the job (measured: one connection and its page cache kept per job until the window closed).
            journal.release_connection()

    return run


def record_from_journal(journal: Journal, job: JournalJob) -> JobRecord:
    """A finished table row for a job of an earlier session."""
    record = JobRecord(job.spec, state=job.state, created=job.created, started=job.started, finished=job.finished)
    record.frame_states = journal.frame_states(job.job_id, len(record.frame_states))
    # Like a live row: failures stay in memory, the rest is read when the details pane shows it.
    frames = [fr for fr in (jf.to_result() for jf in journal.frames(job.job_id, problems_only=True)) if keeps(fr)]
    for fr in frames:
        record.frame_results[fr.index] = fr
    elapsed = (job.finished - job.started) if job.finished and job.started else 0.0
    record.result = JobResult(job.job_id, job.state, frames, bytes_done=job.bytes_done, elapsed=elapsed,
                              message=job.message)
    # The journal keeps no log lines: rebuild what the log said that matters (the end, the errors).
    when = job.finished or job.started or job.created
    record.log.append(LogMessage(job.job_id, "info", f"From the job journal: {job.state.value}"
                                 + (f" — {job.message}" if job.message else ""), when))
    for fr in frames:
        if fr.status is FrameStatus.FAILED and fr.error:
            record.log.append(LogMessage(job.job_id, "error", f"frame {fr.frame}: {fr.error}", when))
    return record


class JobHistory(QObject):
    """Keeps the journal in step with the window's queue and shows earlier sessions' jobs."""

    def __init__(self, window: Any, journal: Journal) -> None:
        super().__init__(window)
        self.window = window
        self.journal = journal
        runner = window.runner
        runner.job_submitted.connect(self._on_submitted)
        runner.job_finished.connect(self._on_finished)
        self.clear_action = QAction("Clear &History", window)
        self.clear_action.setObjectName("actionClearHistory")
        self.clear_action.setToolTip("Remove finished jobs from the list and from the job journal (files stay)")
        self.clear_action.triggered.connect(self.clear)
        self.resume_action = QAction("Resume &Interrupted Job", window)
        self.resume_action.setObjectName("actionResumeInterrupted")
        self.resume_action.setToolTip("Finish the selected interrupted jobs: only frames not yet done are copied")
        self.resume_action.triggered.connect(self.resume_selected)
        self.report_action = QAction("Open Job R&eport", window)
        self.report_action.setObjectName("actionOpenReport")
        self.report_action.setToolTip("Open the HTML report a verified copy wrote beside its ASC MHL manifest")
        self.report_action.triggered.connect(self.open_reports)
        # Replaceable (tests): how a report is shown.
        self.open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl
        menu = getattr(window, "menus", {}).get("jobs")
        if menu is not None:
            menu.addSeparator()
            menu.addAction(self.resume_action)
            menu.addAction(self.report_action)
            menu.addAction(self.clear_action)
        self.load()

    def load(self) -> int:
        """Add rows for finished jobs of earlier sessions (newest first, below the live ones)."""
        try:
            jobs = self.journal.history(HISTORY_LIMIT)
            records = [record_from_journal(self.journal, job) for job in jobs
                       if self.window.model.record_for(job.job_id) is None]
        except (sqlite3.Error, JournalError):
            return 0
        self.window.model.add_records(records)
        return len(records)

    @Slot(object)
    def _on_submitted(self, spec: JobSpec) -> None:
        # Pending jobs are in the journal at once: a crash leaves the whole queue resumable.
        known = self.journal.get_job(spec.job_id)
        if known is None:
            self.journal.add_job(spec)

    @Slot(object)
    def _on_finished(self, result: JobResult) -> None:
        known = self.journal.get_job(result.job_id)
        if known is not None and known.state is JobState.PENDING:
            # Dropped before it ran (or run by a runner without the journal): record how it ended.
            self.journal.set_state(result.job_id, result.state, result.message)

    def clear(self) -> int:
        """Forget finished jobs: table rows and journal entries (running and pending jobs stay)."""
        model = self.window.model
        for record in [r for r in model.records() if r.state.finished]:
            model.remove_job(record.job_id)
        return self.journal.clear_history()

    def resume_selected(self) -> list[str]:
        """Queue the selected interrupted (or cancelled/failed) jobs again under their own id."""
        ids = []
        for record in self.window.selected_records():
            if record.state not in RESUMABLE or self.window.runner.is_active(record.job_id):
                continue
            try:
                job = self.journal.get_job(record.job_id)
            except (sqlite3.Error, JournalError):
                job = None
            if job is None:
                continue
            self.window.model.remove_job(record.job_id)
            ids.append(self.window.runner.submit(job.spec))
        if ids:
            self.window.show_jobs(ids)
        else:
            self.window.statusBar().showMessage(
                "Nothing to resume: select an interrupted, cancelled or failed job that is not queued.", 8000)
        return ids


    def open_reports(self) -> list[str]:
        """Open the job report of each selected finished job that has one; returns their paths."""
        from vfxcopy.core.report import report_paths

        opened: list[str] = []
        failed: list[str] = []
        records = self.window.selected_records()
        for record in records:
            html, _csv = report_paths(record.spec)
            if not (record.state.finished and os.path.exists(html)):
                continue
            if self.open_url(QUrl.fromLocalFile(html)):
                opened.append(html)
            else:
                # No browser registered for file URLs: give the path to open by hand.
                QGuiApplication.clipboard().setText(str(html))
                failed.append(str(html))
        bar = self.window.statusBar()
        if failed:
            bar.showMessage(f"Cannot open the report {failed[0]}: no program is set up to open it; "
                            "the path is on the clipboard.", 12000)
        elif not opened:
            what = "Select a finished job first." if not records else "Reports are written by verified copies."
            bar.showMessage(f"No job report to open. {what}", 8000)
        return opened


def install_history(window: Any, journal: Journal | None) -> JobHistory | None:
    """Wire the journal into `window` (no-op without a journal)."""
    if journal is None:
        return None
    try:
        return JobHistory(window, journal)
    except (JobError, JournalError, sqlite3.Error):
        return None

