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
    Cancelled,
    StopRequested,
)
from vfxcopy.core.jobs import (
    CancelToken,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    Reporter,
)
from vfxcopy.core.pipeline.context import DiskFull, JobLevelError, StopOnError, Worker
from vfxcopy.core.pipeline.durable import Committer
from vfxcopy.core.pipeline.prepare import Preparing
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


class Pipeline(Settling, ItemSteps, Preparing):
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
