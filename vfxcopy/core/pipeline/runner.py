"""The per-item pipeline every operation goes through.

    plan names -> conflict policy -> safe temp -> writer -> verify -> durable -> place -> account -> record

The pipeline alone owns naming, conflicts, temps and their cleanup, fsync, placing,
per-item errors and their wording, disk full (once per job), the job's final state
and message; recording is the listener's (the journal's FrameRecorder). A writer
(core/writers/) only produces bytes into the temp it is handed.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections.abc import Callable

from vfxcopy.core.errors import (
    DISK_FULL_ERRNOS,
    Cancelled,
    FrameError,
    JobError,
    StopRequested,
    VerificationError,
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
from vfxcopy.core.pipeline import place as placing
from vfxcopy.core.pipeline.conflicts import Action, decide
from vfxcopy.core.pipeline.durable import Committer, Error, Finished
from vfxcopy.core.pipeline.plan import choose_version, plan_items
from vfxcopy.core.pipeline.tally import Debug, Tally
from vfxcopy.core.pipeline.temps import TempArea, TempFile, locks_are_trustworthy, sweep
from vfxcopy.core.safety import NAME_MAX
from vfxcopy.core.writers.base import Item, Writer

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class DiskFull(Exception):
    pass


class StopOnError(Exception):
    pass


class JobLevelError(Exception):
    pass


class Worker:
    """The Context a writer sees: one per worker thread."""

    def __init__(self, run: Pipeline, worker: int) -> None:
        self.run = run
        self.worker = worker
        self.debug = run.debug
        self.bw_start = time.monotonic()
        self.bw_bytes = 0

    def check(self) -> None:
        run = self.run
        token = run.token
        if token.paused and not token.cancelled:
            run.tally.progress(JobState.PAUSED, "paused")
            paused_at = time.monotonic()
            token.check()  # blocks until resumed or cancelled
            self.bw_start += time.monotonic() - paused_at  # no burst after a pause
            run.tally.progress(JobState.RUNNING)
        if token.cancelled:
            run.note_cancel_seen()
        token.check()
        run.drain()

    def add_bytes(self, n: int) -> None:
        self.run.tally.add_bytes(self.worker, n)
        limit = self.run.spec.copy.bwlimit
        if limit:
            self.bw_bytes += n
            ahead = self.bw_bytes / limit - (time.monotonic() - self.bw_start)
            if ahead > 0 and self.run.token.wait(ahead):
                raise Cancelled()

    def log(self, level: str, text: str) -> None:
        self.run.tally.log(level, text)

    def temp_path(self, temp: TempFile) -> str:
        assert self.run.temps is not None
        return self.run.temps.path(temp.name)

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        return self.run.token.on_cancel(callback)


class Pipeline:
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
        self.tally = Tally(spec.job_id, report, self.writer.unit)
        self.dest_dir = spec.dest_dir
        self.dest_fd = -1
        self.temps: TempArea | None = None
        self.committer: Committer | None = None
        self.preparer: object | None = None
        self.items: list[Item] = []
        self.existing: set[str] | None = None
        self.dir_sync_error: str | None = None
        self.next_item = 0
        self.queue_lock = threading.Lock()
        self.outcome: BaseException | None = None

    # -- the run --
    def run(self) -> JobResult:
        state, message = JobState.RUNNING, ""
        try:
            self.open_destination()
            self.plan()
            if self.before is not None:
                self.before(self.tally)
            self.tally.progress()
            self.run_items()
            if self.outcome is not None:
                raise self.outcome
            state, message = self.complete()
        except Cancelled:
            self.note_cancel_seen()
            state, message = JobState.CANCELLED, self.tally.cancelled_message()
            self.abort()
        except StopRequested:
            self.finish_committer_quietly()
            left = self.tally.total - len(self.tally.results)
            last = self.last_settled_frame()
            state = JobState.CANCELLED if left else JobState.COMPLETED
            message = self.tally.stopped_message(last) if left else ""
        except DiskFull as exc:
            # Said once: the job's message (each failed frame carries its own short line).
            self.finish_committer_quietly()
            state, message = JobState.FAILED, str(exc)
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
        return self.result(state, message)

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

    def dest_path(self, name: str) -> str:
        return os.path.join(self.dest_dir, name)

    def last_settled_frame(self) -> int | None:
        done = [r for r in self.tally.results.values() if r.status in (FrameStatus.DONE, FrameStatus.SKIPPED)]
        return max(done, key=lambda r: r.index).frame if done else None

    # -- before any byte moves --
    def open_destination(self) -> None:
        try:
            os.makedirs(self.dest_dir, exist_ok=True)
            self.dest_fd = os.open(self.dest_dir, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC)
        except OSError as exc:
            raise JobLevelError(
                explain(exc, self.dest_dir, "destination").replace(": ", ": cannot open the folder: ", 1)
            ) from exc
        # Temporaries of runs that died here: this job's own (a retry, a resume), and on a local
        # file system, where a live run's lock is seen, any job's dead temp folder. Old plain temp
        # files of other jobs and shared storage are left to recovery and `vfxcopy clean`.
        sweep(self.dest_dir, self.spec.job_id, min_age=0)
        if locks_are_trustworthy(self.dest_dir):
            sweep(self.dest_dir, files=False)
        try:
            self.temps = TempArea(self.dest_fd, self.spec.job_id)
        except OSError as exc:
            if exc.errno in DISK_FULL_ERRNOS:
                raise JobLevelError(disk_full_message(self.dest_dir, "the job", None)) from exc
            raise JobLevelError(
                explain(exc, self.dest_dir, "destination").replace(": ", ": cannot write in the folder: ", 1)
            ) from exc

    def plan(self) -> None:
        spec = self.spec
        try:
            self.items = plan_items(spec, self.writer.kind == "movie")
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
        # One listing instead of a stat per item: only names seen here are checked against
        # the policy. A file created later is still never clobbered: placing refuses it.
        try:
            self.existing = set(os.listdir(self.dest_fd))
        except OSError:
            self.existing = None
        # Copies overlap the fsync of item N with copying N+1 (measured: 1.47x cp+sync).
        # Conversions are CPU-bound: each worker fsyncs its own frame, so results come at once.
        if self.opts.fsync and self.opts.verify.value != "full" and self.writer.kind == "copy":
            self.committer = Committer(
                spec.job_id, self.dest_fd, self.place_finished, self.discard, lambda: self.token.cancelled,
                self.set_dir_sync_error,
            )
        if self.workers == 1 and self.existing is not None and self.writer.kind == "copy":
            from vfxcopy.core.writers.copy import Preparer

            self.preparer = Preparer.start(self, self.items)

    def set_dir_sync_error(self, text: str) -> None:
        self.dir_sync_error = text

    # -- the items --
    def run_items(self) -> None:
        if self.workers == 1 or len(self.items) <= 1:
            self.work(Worker(self, 0), self.writer)
            return
        threads = [
            threading.Thread(target=self.work_guarded, args=(Worker(self, i),), daemon=True,
                             name=f"vfxcopy-{self.spec.job_id}-{i}")
            for i in range(min(self.workers, len(self.items)))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def work_guarded(self, ctx: Worker) -> None:
        try:
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
        Worker(self, -1).check()

    def check_item_boundary(self) -> None:
        self.check()
        if self.token.stop_requested:
            raise StopRequested()

    def new_result(self, item: Item, status: FrameStatus, **kw: object) -> FrameResult:
        return FrameResult(
            job_id=self.spec.job_id, index=item.index, frame=item.frame, source=item.src,
            dest=self.dest_path(item.name), status=status, size=item.size, **kw,  # type: ignore[arg-type]
        )

    def fail(self, item: Item, error: str, started: float) -> None:
        self.finish_item(item, self.new_result(item, FrameStatus.FAILED, error=error,
                                               elapsed=time.monotonic() - started))
        self.tally.log("error", error)
        if self.opts.stop_on_error:
            raise StopOnError(f"stopped at the first error: {error}")

    def skip(self, item: Item, started: float, source_hash: str | None = None) -> None:
        self.finish_item(item, self.new_result(
            item, FrameStatus.SKIPPED, hash=source_hash,
            hash_algo=self.opts.hash_algo.value if source_hash else None, elapsed=time.monotonic() - started,
        ))

    def finish_item(self, item: Item, result: FrameResult, committed: bool = False) -> None:
        """Account an item's outcome; a movie's outcome is every input frame's."""
        if item.frames is None:
            self.tally.finish(result, item.size, committed=committed)
            return
        for index, frame, src in item.frames:
            per = FrameResult(self.spec.job_id, index, frame, src, result.dest, result.status,
                              error=result.error, elapsed=result.elapsed)
            self.tally.finish(per, 0, progress=False)
        self.tally.bytes_accounted += item.size
        self.tally.progress()

    def fail_disk_full(self, item: Item, exc: OSError, started: float) -> None:
        msg = disk_full_message(self.dest_dir, f"{self.writer.unit} {item.frame}", item.size)
        error = explain(exc, self.dest_path(item.name), "destination")
        self.finish_item(item, self.new_result(item, FrameStatus.FAILED, error=error,
                                               elapsed=time.monotonic() - started))
        raise DiskFull(msg) from exc

    def do_item(self, item: Item, ctx: Worker, writer: Writer) -> None:
        started = time.monotonic()
        self.tally.begin(ctx.worker, self.new_result(item, FrameStatus.RUNNING))
        try:
            self._do_item(item, ctx, writer, started)
        finally:
            self.tally.end(ctx.worker)
            if self.preparer is not None:
                self.preparer.release(item)  # type: ignore[attr-defined]

    def _do_item(self, item: Item, ctx: Worker, writer: Writer, started: float) -> None:
        try:
            st = writer.source_check(item)
        except FrameError as exc:
            return self.fail(item, exc.message, started)
        except OSError as exc:
            return self.fail(item, explain(exc, item.src, "source"), started)
        dest_full = self.dest_path(item.name)
        if len(os.fsencode(item.name)) > NAME_MAX:
            return self.fail(item, explain(OSError(errno.ENAMETOOLONG, "long"), dest_full, "destination"), started)
        dst: os.stat_result | None = None
        if self.existing is None or item.name in self.existing:
            try:
                dst = os.stat(item.name, dir_fd=self.dest_fd, follow_symlinks=False)
            except FileNotFoundError:
                dst = None
            except OSError as exc:
                return self.fail(item, explain(exc, dest_full, "destination"), started)
        decision = decide(self.policy_for(item), st, dst, dest_full, self.spec.names is not None)
        source_hash: str | None = None
        if decision.action is Action.COMPARE:
            assert dst is not None
            try:
                same, source_hash = writer.identical(item, st, self.dest_fd, ctx)
            except OSError as exc:
                return self.fail(item, explain(exc, item.src, "source"), started)
            if same is True:
                return self.skip(item, started, source_hash)
            if same is False:
                return self.fail(item, decision.message, started)
            decision = decision.after_write()  # only the written file can be compared (pixels)
        elif decision.action is Action.SKIP:
            return self.skip(item, started)
        elif decision.action is Action.FAIL:
            return self.fail(item, decision.message, started)
        for attempt in range(writer.verify_attempts):
            try:
                self.write_item(item, st, ctx, writer, decision.action, started)
                return None
            except VerificationError as exc:
                if attempt + 1 < writer.verify_attempts:
                    ctx.log("warning", f"{exc.message}; retrying once")
                    continue
                return self.fail(item, exc.message, started)
            except FrameError as exc:
                return self.fail(item, exc.message, started)
            except placing.PlaceConflict as exc:
                if self.policy_for(item) is ConflictPolicy.SKIP:
                    return self.skip(item, started)
                return self.fail(item, str(exc), started)
            except OSError as exc:
                side = getattr(exc, "vfx_side", "destination")
                if exc.errno in DISK_FULL_ERRNOS and side != "source":
                    self.fail_disk_full(item, exc, started)
                return self.fail(item, explain(exc, item.src if side == "source" else dest_full, side), started)
        return None

    def policy_for(self, item: Item) -> ConflictPolicy:
        choices = self.spec.conflict_choices
        if choices and item.name in choices:
            return ConflictPolicy(choices[item.name])
        return self.opts.on_conflict

    def write_item(
        self, item: Item, st: os.stat_result, ctx: Worker, writer: Writer, action: Action, started: float
    ) -> None:
        assert self.temps is not None
        temps = self.temps
        temp: TempFile | None = None
        if self.preparer is not None:
            temp = self.preparer.take_temp(item)  # type: ignore[attr-defined]
        if temp is None:
            if writer.creates_by_path:
                temp = temps.reserve(item.index, writer.temp_suffix)
            else:
                mode = stat.S_IMODE(st.st_mode) & 0o777 if self.opts.preserve else 0o666
                temp = temps.new_file(item.index, mode, writer.temp_suffix)
        handed_over = False
        try:
            written = writer.write(item, st, temp, ctx)
            if temp.fd < 0:  # written by path: open what the library made, without following links
                temp.fd = os.open(temp.name, os.O_RDONLY | _O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0),
                                  dir_fd=temps.fd)
                temp.written = os.fstat(temp.fd).st_size
            result = self.new_result(item, FrameStatus.DONE, hash=written.hash, hash_algo=written.hash_algo)
            fin = Finished(item, temp, result, action is Action.OVERWRITE, action is Action.WRITE_COMPARE,
                           self.policy_for(item) is ConflictPolicy.SKIP, started)
            if self.committer is not None:
                if item.size <= (64 << 20):
                    placing.start_writeback(temp.fd)
                self.tally.hand_over(ctx.worker, item.size)
                try:
                    self.committer.submit(fin)
                except BaseException:
                    self.tally.committing -= item.size
                    raise
                handed_over = True
                return
            if self.opts.fsync:
                placing.fsync_interruptible(temp.fd, temp.written, ctx.check)
            writer.verify(item, temp, written, ctx)
            try:
                self.place_finished(fin)
            except placing.PlaceConflict:
                if not fin.skip_on_conflict:
                    raise
                self.discard(temp)  # the file there is the same (or the policy is 'skip')
                self.tally.end(ctx.worker)
                self.tally.finish(self.new_result(item, FrameStatus.SKIPPED, elapsed=time.monotonic() - started),
                                  item.size)
                return
            self.close_fd(temp)
            result.elapsed = time.monotonic() - started
            self.tally.end(ctx.worker)
            if written.frames is not None:
                for fr in written.frames:
                    fr.dest = result.dest
                    self.tally.finish(fr, 0, progress=False)
                self.tally.bytes_accounted += item.size
                self.tally.progress()
            else:
                self.tally.finish(result, item.size)
        except BaseException:
            if not handed_over:
                self.discard(temp)
            raise

    def place_finished(self, fin: Finished) -> None:
        """Rename a finished temp to its final name (no clobber unless overwriting)."""
        assert self.temps is not None
        dest = fin.result.dest
        try:
            placing.place(fin.temp.name, self.temps.fd, fin.item.name, self.dest_fd, dest, fin.overwrite)
        except placing.PlaceConflict:
            if fin.compare and self.writer.identical_after(self.temps.path(fin.temp.name), dest):
                fin.skip_on_conflict = True
            elif fin.compare:
                raise placing.PlaceConflict(FrameError(
                    dest, "exists and differs", "choose overwrite, rename or skip to decide what happens to it"
                ).message) from None
            raise
        fin.temp.placed = True
        self.temps.forget(fin.temp)

    # -- temps --
    def close_fd(self, temp: TempFile) -> None:
        from vfxcopy.core.pipeline.temps import close_temp_fd

        close_temp_fd(temp)

    def discard(self, temp: TempFile) -> None:
        if self.temps is None:
            return
        debug = self.debug
        removed = self.temps.discard(temp, close=not temp.submitted or temp.fd >= 0,
                                     on_closed=debug.closed if debug is not None else None)
        if removed and debug is not None and debug.temp_unlinked is None:
            debug.temp_unlinked = time.monotonic()

    # -- the committer's results --
    def drain(self) -> None:
        committer = self.committer
        if committer is None:
            return
        stop: Exception | None = None
        for fin, error in committer.take_done():  # record every one before stopping
            if error is None:
                self.tally.finish(fin.result, fin.item.size, committed=True)
                continue
            stop = stop or self.commit_failed(fin, error)
        if stop is not None:
            raise stop

    def commit_failed(self, fin: Finished, error: Error) -> Exception | None:
        res = fin.result
        res.status = FrameStatus.FAILED
        res.hash = res.hash_algo = None
        if error[1] in DISK_FULL_ERRNOS:
            res.error = error[0]
            self.tally.finish(res, fin.item.size, committed=True)
            return DiskFull(disk_full_message(self.dest_dir, f"{self.writer.unit} {fin.item.frame}", fin.item.size))
        res.error = error[0]
        self.tally.finish(res, fin.item.size, committed=True)
        self.tally.log("error", error[0])
        if self.opts.stop_on_error:
            return StopOnError(f"stopped at the first error: {error[0]}")
        return None

    # -- ends --
    def finish_committer_quietly(self) -> None:
        """A clean stop: items already complete are still put in place; nothing else is left."""
        if self.committer is not None:
            try:
                self.committer.finish(self.token.check)
                self.drain()
                if self.dest_fd >= 0:
                    os.fsync(self.dest_fd)
            except (Cancelled, DiskFull, StopOnError, OSError):
                pass
        self.abort()

    def abort(self) -> None:
        """Cancel path: remove every temp not yet in place; items already placed count as done."""
        if self.preparer is not None:
            self.preparer.stop()  # type: ignore[attr-defined]
        if self.committer is not None:
            for fin, error in self.committer.abort():
                if error is not None:
                    fin.result.status = FrameStatus.FAILED
                    fin.result.error = error[0]
                self.tally.finish(fin.result, fin.item.size, committed=True)
        if self.temps is not None:
            for temp in self.temps.open_temps():
                if not temp.submitted:
                    self.discard(temp)
                else:
                    self.temps.unlink(temp)  # the committer closes its fd

    def close(self) -> None:
        temps, dest_fd = self.temps, self.dest_fd
        self.dest_fd = -1

        def release() -> None:
            if temps is not None:
                temps.close()
            if dest_fd >= 0:
                os.close(dest_fd)

        if self.committer is not None:
            # A cancelled run's committer may still be fsyncing one temp: the names go now,
            # the folders' fds when it is done (an fd closed under it could be reused).
            if temps is not None:
                temps.remove_all()
            self.committer.call_at_exit(release)
        else:
            release()
