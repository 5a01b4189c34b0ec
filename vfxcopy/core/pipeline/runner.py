"""The per-item pipeline every operation goes through.

    plan names -> conflict policy -> safe temp -> writer -> verify -> durable -> place -> account -> record

The pipeline alone owns naming, conflicts, temps and their cleanup, fsync, placing,
per-item errors and their wording, disk full (once per job), the job's final state
and message; recording is the listener's (the journal's FrameRecorder). A writer
(core/writers/) only produces bytes into the temp it is handed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from vfxcopy.core.errors import (
    DISK_FULL_ERRNOS,
    Cancelled,
    JobError,
    StopRequested,
    disk_full_message,
    explain,
)
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    Reporter,
)
from vfxcopy.core.pipeline.context import DiskFull, JobLevelError, StopOnError, Worker
from vfxcopy.core.pipeline.destfolder import (
    fs_type,
    is_shared_fs,
    locks_are_trustworthy,
    make_folder,
    sweep_listed,
)
from vfxcopy.core.pipeline.durable import Committer
from vfxcopy.core.pipeline.place import NoReplace
from vfxcopy.core.pipeline.plan import choose_version, plan_items
from vfxcopy.core.pipeline.settle import Settling
from vfxcopy.core.pipeline.steps import ItemSteps
from vfxcopy.core.pipeline.tally import Debug, Tally
from vfxcopy.core.pipeline.temps import TempArea
from vfxcopy.core.pipeline.treeparts import Folders
from vfxcopy.core.writers.base import Item, Writer

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    # Imported where a job of a group joins it (run_items): a job of its own never needs it.
    from vfxcopy.core.writers.fanout import Member

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
SHARED_FS_COPY_WORKERS = 8  # items in flight per copy on a network file system


class Pipeline(Settling, ItemSteps):
    def __init__(
        self,
        spec: JobSpec,
        token: CancelToken,
        report: Reporter,
        writers: Callable[[], Writer],
        *,
        workers: int = 1,
        debug: Debug | None = None,
        on_planned: Callable[[JobSpec], None] | None = None,
        before: Callable[[Tally], None] | None = None,
    ) -> None:
        self.spec = spec
        self.opts = spec.copy
        self.token = token
        self.debug = debug
        self.make_writer = writers
        self.writer = writers()
        self.workers = max(1, workers)
        self.on_planned = on_planned
        self.before = before
        self.tally = Tally(spec.job_id, report, "file" if spec.tree is not None else self.writer.unit)
        if self.writer.kind != "copy":
            self.tally.progress_every = 0.0  # few, slow items: every step of one is worth showing
        self.dest_dir = spec.dest_dir
        self.dest_fd = -1
        self.temps: TempArea | None = None
        self.folders: Folders | None = None
        self.committer: Committer | None = None
        self.preparer: object | None = None
        self.items: list[Item] = []
        self.existing: set[str] | None = None
        self.dir_sync_error: str | None = None
        self.next_item = 0
        self.queue_lock = threading.Lock()
        self.outcome: BaseException | None = None
        self.checker: Worker | None = None
        self.fanout: Member | None = None
        self.stat_temps = False  # see plan
        self.dest_fs = ""  # the destination's file system type (open_destination)

    # -- the run --
    def run(self) -> JobResult:
        state, message = JobState.RUNNING, ""
        try:
            self.plan_names()
            self.open_destination()
            self.plan()
            if self.before is not None:
                self.before(self.tally)
            self.join_group()
            self.tally.progress()
            self.run_items()
            if self.outcome is not None:
                raise self.outcome
            state, message = self.complete()
        except Cancelled:
            self.note_cancel_seen()
            self.abort()  # first: the items the committer placed before the cancel count in the message
            state, message = JobState.CANCELLED, self.tally.cancelled_message()
        except StopRequested:
            self.finish_committer_quietly()
            left = self.tally.total - len(self.tally.results)
            last = self.last_settled_frame()
            state = JobState.CANCELLED if left else JobState.COMPLETED
            message = self.tally.stopped_message(last) if left else ""
        except DiskFull as exc:
            # Said once, for the job (each failed frame carries its own short line).
            self.finish_committer_quietly()
            state, message = JobState.FAILED, str(exc)
            self.tally.log("error", message)
        except StopOnError as exc:
            self.finish_committer_quietly()
            state, message = JobState.FAILED, str(exc)
        except JobLevelError as exc:
            self.abort()
            state, message = JobState.FAILED, str(exc)
            self.tally.log("error", message)
        except BaseException:
            self.abort()
            raise
        finally:
            self.close()
        result = self.result(state, message)
        # What points back at the run (the workers, the preparer, the committer's callbacks)
        # goes now, so the run and its writer's buffers are freed when the job ends, not at the
        # next full garbage collection (which holds up a window's GUI thread).
        self.checker = self.preparer = self.committer = None
        self.fanout = None
        return result

    def result(self, state: JobState, message: str) -> JobResult:
        tally = self.tally
        frames: list[FrameResult] = []
        for item in self.items:
            for index, frame, src in item.frames or [(item.index, item.frame, item.src)]:
                res = tally.results.get(index)
                if res is None:
                    status = FrameStatus.PENDING
                    if state is JobState.CANCELLED and tally.current is not None and tally.current.index == index:
                        status = FrameStatus.CANCELLED
                    res = FrameResult(self.spec.job_id, index, frame, src, self.dest_path(item.name), status)
                frames.append(res)
        result = tally.result(state, message, frames)
        if self.debug is not None:
            self.debug.returned = time.monotonic()
        return result

    def complete(self) -> tuple[JobState, str]:
        if self.preparer is not None:
            self.preparer.stop()  # type: ignore[attr-defined]
            self.preparer = None
        if self.committer is not None:
            self.committer.finish(self.check)
            self.drain()
        if self.dest_fd >= 0 and self.opts.fsync:
            try:
                os.fsync(self.dest_fd)
                self.dir_sync_error = None
            except OSError as exc:
                self.dir_sync_error = str(exc)
            if self.folders is not None:
                self.dir_sync_error = self.folders.fsync_all() or self.dir_sync_error
        failed = self.tally.failed
        lost = self.tally.total - len(self.tally.results)  # a bug, never expected: do not call it done
        if failed:
            only = [r for r in self.tally.results.values() if r.error]
            if len(self.items) == 1 and only:  # one file, one movie: its own words
                return JobState.FAILED, only[0].error or ""
            return JobState.FAILED, self.tally.failed_message()
        if lost:
            return JobState.FAILED, f"{lost} items were not written (internal error)"
        if self.dir_sync_error:
            return JobState.FAILED, (
                f"{self.dest_dir}: could not make the new names durable ({self.dir_sync_error}); "
                "the files are complete, check the destination disk"
            )
        return JobState.COMPLETED, ""

    def note_cancel_seen(self) -> None:
        if self.debug is not None and self.debug.cancel_seen is None:
            self.debug.cancel_seen = time.monotonic()

    def last_settled_frame(self) -> int | None:
        done = [r for r in self.tally.results.values() if r.status in (FrameStatus.DONE, FrameStatus.SKIPPED)]
        return max(done, key=lambda r: r.index).frame if done else None

    # -- before any byte moves --
    def open_destination(self) -> None:
        try:
            created = make_folder(self.dest_dir)
            self.dest_fd = os.open(self.dest_dir, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC)
        except OSError as exc:
            raise JobLevelError(
                explain(exc, self.dest_dir, "destination").replace(": ", ": cannot open the folder: ", 1)
            ) from exc
        self.dest_fs = fs_type(self.dest_dir)
        # The folder is read once, here, for the sweep below and for the conflict checks (plan):
        # on a network file system each listing is several round trips. One this run has just
        # made holds nothing yet: it is not read at all.
        try:
            names = [] if created else os.listdir(self.dest_fd)
        except OSError:
            self.existing = None
        else:
            # Temporaries of runs that died here: this job's own (a retry, a resume), and on a local
            # file system, where a live run's lock is seen, any job's dead temp folder. Old plain temp
            # files of other jobs and shared storage are left to recovery and `vfxcopy clean`.
            gone = set(sweep_listed(self.dest_fd, names, self.spec.job_id, min_age=0))
            if names and locks_are_trustworthy(self.dest_dir, self.dest_fs):
                gone.update(sweep_listed(self.dest_fd, [n for n in names if n not in gone], files=False))
            self.existing = set(names) - gone
        try:
            self.temps = TempArea(self.dest_fd, self.spec.job_id)
        except OSError as exc:
            if exc.errno in DISK_FULL_ERRNOS:
                raise JobLevelError(disk_full_message(self.dest_dir, "the job", None)) from exc
            raise JobLevelError(
                explain(exc, self.dest_dir, "destination").replace(": ", ": cannot write in the folder: ", 1)
            ) from exc
        if self.spec.tree is not None:
            from vfxcopy.core.tree import spec_folders

            self.folders = Folders(self.dest_fd, self.dest_dir)
            if self.existing is not None:  # the root, read (or made) above: not listed again
                self.folders.listings[""] = self.existing
            try:
                self.folders.make(spec_folders(self.spec))
            except JobError as exc:
                raise JobLevelError(str(exc)) from exc

    def plan_names(self) -> None:
        """The items and their unversioned names (a job that cannot start still lists its frames)."""
        try:
            if self.spec.tree is not None and self.spec.names is None and self.opts.on_conflict is ConflictPolicy.RENAME:
                raise JobError(f"{self.dest_dir}: policy 'rename' is not available for a folder tree; "
                               "choose skip, skip-identical, overwrite or fail")
            self.items = plan_items(self.spec, self.writer.kind == "movie")
        except JobError as exc:
            raise JobLevelError(str(exc)) from exc
        self.tally.total = sum(len(item.frames) if item.frames else 1 for item in self.items)

    def plan(self) -> None:
        spec = self.spec
        try:
            note = choose_version(spec, self.items, self.dest_fd)
        except JobError as exc:
            raise JobLevelError(str(exc)) from exc
        if note:
            self.tally.log("info", note)
        if spec.names is None:
            spec.names = [item.name for item in self.items]
            if self.on_planned is not None:
                self.on_planned(spec)
        tally = self.tally
        tally.total = sum(len(item.frames) if item.frames else 1 for item in self.items)
        tally.bytes_total = sum(item.size for item in self.items)
        # self.existing (open_destination's listing) instead of a stat per item: only names seen
        # there are checked against the policy. A file created later is still never clobbered:
        # placing refuses it.
        copy = self.writer.kind == "copy"
        dest_fs = self.dest_fs if copy else ""
        # On a network file system every create, write, fsync, rename and close is a round trip
        # to the server: several items in flight overlap them (sshfs, 200 x 200 KB: 1 item at a
        # time took 2.4x cp -r). Each worker then fsyncs and places its own items.
        shared = copy and (is_shared_fs(dest_fs) or is_shared_fs(fs_type(spec.source.directory or ".")))
        # A written temp's size and mtime (for the journal) come from one fstat of the open temp,
        # not from a stat of the placed file by the journal's thread. On a network file system
        # only when the source's times are put on the temp (--preserve): that is the last change
        # of its mtime, and the fstat after it is answered from the attributes that setting them
        # brought back (sshfs: no round trip; the same size and mtime as a stat of the placed
        # file later, test_network_fs). Without it, the journal stats the path once it is placed.
        self.stat_temps = copy and (not is_shared_fs(dest_fs) or self.opts.preserve)
        # renameat2(RENAME_NOREPLACE) until the destination refuses it once (sshfs: every time,
        # a lookup round trip each, under the file system's rename lock), then link + unlink
        # directly; refused already when the run's temp folder was named: not asked at all.
        self.noreplace = NoReplace(self.temps.renameat2 if self.temps is not None else True)
        if shared and self.workers == 1 and len(self.items) > 1:
            self.workers = SHARED_FS_COPY_WORKERS
            if self.temps is not None and is_shared_fs(dest_fs):
                # A create or a removal holds its folder's lock for its round trips: the items in
                # flight each get a sub-folder of the run's temp folder instead of queueing in one.
                self.temps.lanes = self.workers
        # Copies overlap the fsync of item N with copying N+1 (measured: 1.47x cp+sync).
        # Conversions are CPU-bound: each worker fsyncs its own frame, so results come at once.
        # Not in memory (tmpfs): an fsync there returns at once, and a second thread only competes
        # for the interpreter (20,000 small frames: 49 us of CPU a frame with it, 41 without).
        if (self.opts.fsync and self.opts.verify.value != "full" and copy and self.workers == 1
                and dest_fs not in ("tmpfs", "ramfs")):
            self.committer = Committer(
                spec.job_id, self.dest_fd, self.place_finished, self.discard, lambda: self.token.cancelled,
                self.set_dir_sync_error, syncfs=not is_shared_fs(dest_fs),
            )
        # Opening ahead pays only where creating a file is slow: the copying thread watches how long
        # its creates take and starts the preparer if they are (steps.watch_create).
        self.watch_creates = self.workers == 1 and self.existing is not None and copy and len(self.items) > 1
        self.create_times = []

    def join_group(self) -> None:
        """Share each item's read with the other destinations of the group (copies)."""
        spec = self.spec
        if spec.group is not None and self.writer.kind == "copy":
            from vfxcopy.core.writers import fanout

            existing = self.existing
            # The items this destination will most likely write (its name is free): the group's
            # reader reads them ahead, before the members ask (not those a re-run skips).
            wanted = [item for item in self.items if existing is None or item.name not in existing]
            self.fanout = fanout.join(spec.group, spec.job_id, wanted, self.writer)  # type: ignore[arg-type]

    def set_dir_sync_error(self, text: str) -> None:
        self.dir_sync_error = text

    # -- the items --
    def run_items(self) -> None:
        if self.workers == 1 or len(self.items) <= 1:
            self.work(Worker(self, 0), self.writer)
            return
        # The workers begin together: with quick items the first one started took them all while
        # the others were still being started (the interpreter lock passes slowly to a new thread).
        go = threading.Event()
        threads = [
            threading.Thread(target=self.work_guarded, args=(Worker(self, i), go), daemon=True,
                             name=f"vfxcopy-{self.spec.job_id}-{i}")
            for i in range(min(self.workers, len(self.items)))
        ]
        try:
            for t in threads:
                t.start()
        finally:
            go.set()
        for t in threads:
            t.join()

    def work_guarded(self, ctx: Worker, go: threading.Event | None = None) -> None:
        try:
            if go is not None:
                go.wait()
            self.work(ctx, self.make_writer())
        except BaseException as exc:  # noqa: BLE001 - handed to the run's thread, raised there
            with self.queue_lock:
                if self.outcome is None or isinstance(self.outcome, StopRequested):
                    self.outcome = exc
            if not isinstance(exc, (StopRequested, Cancelled)):
                self.token.stop_after_frame()  # the other workers stop at their next item

    def take(self) -> Item | None:
        with self.queue_lock:
            if self.outcome is not None or self.next_item >= len(self.items):
                return None
            item = self.items[self.next_item]
            self.next_item += 1
            return item

    def work(self, ctx: Worker, writer: Writer) -> None:
        while True:
            self.check_item_boundary()
            item = self.take()
            if item is None:
                return
            self.do_item(item, ctx, writer)

    def check(self) -> None:
        if self.checker is None:
            self.checker = Worker(self, -1)  # one for the run, not one per item
        self.checker.check()

    def check_item_boundary(self) -> None:
        self.check()
        if self.token.stop_requested:
            raise StopRequested()
