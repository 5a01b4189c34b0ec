"""The steps every item goes through, in one place for every operation."""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
import time

from vfxcopy.core.errors import (
    DISK_FULL_ERRNOS,
    FrameError,
    VerificationError,
    disk_full_message,
    explain,
)
from vfxcopy.core.jobs import (
    ConflictPolicy,
    FrameResult,
    FrameStatus,
)
from vfxcopy.core.pipeline import place as placing
from vfxcopy.core.pipeline.conflicts import Action, Decision, decide
from vfxcopy.core.pipeline.context import DiskFull, StopOnError, Worker
from vfxcopy.core.pipeline.durable import Finished
from vfxcopy.core.pipeline.state import RunState
from vfxcopy.core.pipeline.temps import TempFile, close_temp_fd, temp_mode
from vfxcopy.core.pipeline.treeparts import copy_link, is_tree_link
from vfxcopy.core.roundtrips import is_shared_fs
from vfxcopy.core.safety import NAME_MAX
from vfxcopy.core.writers.base import Item, Writer

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
# With fsync on, an item this big starts its writeback as it goes to the committer (the later
# fsync then waits less); a smaller one is made durable with the others of its batch (syncfs).
WRITEBACK_START_BYTES = 64 * 1024
CREATE_WINDOW = 32  # timed creates between two looks at how long creating a temp takes
CREATE_SAMPLE_EVERY = 4  # one item in this many has its create timed (each look at the thread's CPU
# time is a system call)
CREATE_SLOW_S = 100e-6  # a window's median create this slow (CPU time) starts the preparer
EXACT_TIMES_AFTER = 3  # temps that kept the source's mtime to the nanosecond before temp_stat trusts it


class ItemSteps(RunState):
    """The per-item pipeline: source checks, conflict policy, temp, writer, verify, durable, place, account.

    Mixed into Pipeline (runner.py), which owns the run's state (state.py).
    """

    next_item: int  # the next item a worker takes (runner.take)
    exact_times = 0  # items whose temp kept the source's mtime exactly (temp_stat)
    inexact_times = False  # one did not: never trusted in this run

    def locate(self, item: Item) -> tuple[int, str]:
        """The fd of the folder `item` is placed in, and its name there."""
        if self.folders is None:
            return self.dest_fd, item.name
        return self.folders.locate(item.name)

    def dest_path(self, name: str) -> str:
        # os.path.join for a relative name, spelled out: three calls per item (20,000 small frames: 50 ms)
        folder = self.dest_dir
        if name.startswith("/") or not folder:
            return os.path.join(folder, name)
        return f"{folder}{name}" if folder.endswith("/") else f"{folder}/{name}"

    def discard(self, temp: TempFile) -> None:
        raise NotImplementedError

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
        tally = self.tally
        tally.begin(ctx.worker, item)
        try:
            self._do_item(item, ctx, writer, started)
        finally:
            tally.end(ctx.worker)
            if self.preparer is not None:
                self.preparer.release(item)  # type: ignore[attr-defined]
            if ctx.fanout is not None:
                ctx.fanout.settle(item.index)  # the group's other destinations need not wait for it

    def _do_item(self, item: Item, ctx: Worker, writer: Writer, started: float) -> None:
        if self.folders is not None and is_tree_link(item) and copy_link(self, item, started):
            return None
        try:
            st = writer.source_check(item)
        except FrameError as exc:
            return self.fail(item, exc.message, started)
        except OSError as exc:
            return self.fail(item, explain(exc, item.src, "source"), started)
        dest_full = self.dest_path(item.name)
        dest_fd, base = self.locate(item)
        # A name of at most NAME_MAX // 4 characters cannot be longer than NAME_MAX bytes (UTF-8).
        if len(base) > NAME_MAX // 4 and len(os.fsencode(base)) > NAME_MAX:
            return self.fail(item, explain(OSError(errno.ENAMETOOLONG, "long"), dest_full, "destination"), started)
        dst: os.stat_result | None = None
        if (self.folders.might_exist(item.name) if self.folders is not None
                else self.existing is None or item.name in self.existing):
            try:
                dst = os.stat(base, dir_fd=dest_fd, follow_symlinks=False)
            except FileNotFoundError:
                dst = None
            except OSError as exc:
                return self.fail(item, explain(exc, dest_full, "destination"), started)
        policy = self.policy_for(item)
        decision = decide(policy, st, dst, dest_full, self.spec.names is not None)
        if (decision.action in (Action.SKIP, Action.FAIL) and dst is not None and stat.S_ISREG(dst.st_mode)
                and self.gone_on_server(dest_fd, base)):
            decision = Decision(Action.WRITE)  # not there after all: written (placing never clobbers)
        source_hash: str | None = None
        if decision.action is Action.COMPARE:
            assert dst is not None
            try:
                here = item if base == item.name else dataclasses.replace(item, name=base)
                same, source_hash = writer.identical(here, st, dest_fd, ctx)
            except OSError as exc:
                if getattr(exc, "vfx_side", "destination") == "source":
                    return self.fail(item, explain(exc, item.src, "source"), started)
                if exc.errno != errno.ENOENT:
                    return self.fail(item, explain(exc, dest_full, "destination"), started)
                same, decision = None, Decision(Action.WRITE)  # gone since it was seen: the name is free
            if same is True:
                return self.skip(item, started, source_hash)
            if same is False:
                return self.fail(item, decision.message, started)
            if decision.action is Action.COMPARE:
                decision = decision.after_write()  # only the written file can be compared (pixels)
        elif decision.action is Action.SKIP:
            return self.skip(item, started)
        elif decision.action is Action.FAIL:
            return self.fail(item, decision.message, started)
        for attempt in range(writer.verify_attempts):
            try:
                self.write_item(item, st, ctx, writer, decision.action, started, dest_full, policy)
                return None
            except VerificationError as exc:
                if attempt + 1 < writer.verify_attempts:
                    ctx.log("warning", f"{exc.message}; retrying once")
                    continue
                return self.fail(item, exc.message, started)
            except FrameError as exc:
                return self.fail(item, exc.message, started)
            except placing.PlaceConflict as exc:
                if policy is ConflictPolicy.SKIP and not isinstance(exc, placing.GoneOnServer):
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
        self, item: Item, st: os.stat_result, ctx: Worker, writer: Writer, action: Action, started: float,
        dest: str, policy: ConflictPolicy,
    ) -> None:
        """Temp, writer, (verify, durable, place | hand to the committer), account: one FrameResult an item.

        `dest` and `policy`: the item's final path and conflict policy, as _do_item worked them out."""
        assert self.temps is not None
        temps = self.temps
        temp: TempFile | None = None
        if self.preparer is not None:
            temp = self.preparer.take_temp(item)  # type: ignore[attr-defined]
        if temp is None:
            if writer.creates_by_path:
                temp = temps.reserve(item.index, writer.temp_suffix)
            elif self.watch_creates and not item.index % CREATE_SAMPLE_EVERY:
                began = time.thread_time()
                temp = temps.new_file(item.index, temp_mode(st, self.opts.preserve), writer.temp_suffix)
                self.watch_create(time.thread_time() - began)
            else:
                temp = temps.new_file(item.index, temp_mode(st, self.opts.preserve), writer.temp_suffix)
        handed_over = False
        tally = self.tally
        try:
            written = writer.write(item, st, temp, ctx)
            if temp.fd < 0:  # written by path: open what the library made, without following links
                temp.fd = os.open(temp.name, os.O_RDONLY | _O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0),
                                  dir_fd=temps.fd)
                temp.written = os.fstat(temp.fd).st_size
                temp.uncounted = temp.written  # what the library wrote counts as written when the item ends
            # The item's one result: it is what the committer fills in, places and reports.
            result = FrameResult(self.spec.job_id, item.index, item.frame, item.src, dest, FrameStatus.DONE,
                                 item.size, written.hash, written.hash_algo)
            source = written.source
            if source is not None:  # what the journal records to tell later whether both are unchanged
                result.src_stat = (source.st_size, source.st_mtime_ns)
                if self.stat_temps:  # one fstat of the open temp now, not a stat by path later
                    result.dest_stat = self.temp_stat(temp, source)
            fin = Finished(item, temp, result, action is Action.OVERWRITE, action is Action.WRITE_COMPARE,
                           policy is ConflictPolicy.SKIP, started,
                           same_skips=policy is ConflictPolicy.SKIP_IDENTICAL and action is Action.WRITE)
            committer = self.committer
            if committer is not None:
                if item.size >= WRITEBACK_START_BYTES and item.size <= (64 << 20):
                    placing.start_writeback(temp.fd)
                tally.hand_over(ctx.worker, item.size, temp.uncounted)
                temp.uncounted = 0
                try:
                    committer.submit(fin)
                except BaseException:
                    tally.committing -= item.size
                    raise
                handed_over = True
                return
            if self.opts.fsync:
                placing.fsync_interruptible(temp.fd, temp.written, ctx.check)
            writer.verify(item, temp, written, ctx)
            # Closed before it is placed: where placing is link + unlink (sshfs), unlinking the
            # name of a file still open made FUSE rename it to .fuse_hidden first and remove it
            # at close: two more round trips to the server per item.
            close_temp_fd(temp)
            try:
                self.place_finished(fin)
            except placing.PlaceConflict:
                if not fin.skip_on_conflict:
                    raise
                self.discard(temp)  # the file there is the same (or the policy is 'skip')
                fin.skipped()
                result.elapsed = time.monotonic() - started
                tally.finish(result, item.size, worker=ctx.worker, written=temp.uncounted)
                return
            result.elapsed = time.monotonic() - started
            if written.frames is not None:
                tally.end(ctx.worker)
                for fr in written.frames:
                    fr.dest = result.dest
                    tally.finish(fr, 0, progress=False)
                tally.bytes_accounted += item.size
                tally.progress()
            else:
                tally.finish(result, item.size, worker=ctx.worker, written=temp.uncounted)
        except BaseException:
            if not handed_over:
                self.discard(temp)
            raise

    def watch_create(self, took: float) -> None:
        """Start the preparer (sources and temps opened ahead, writers/prepare.py) once creating a
        temp is slow: the median of CREATE_WINDOW creates (one item in CREATE_SAMPLE_EVERY is timed)
        took CREATE_SLOW_S or more of this thread's CPU time. CPU time, not the clock: a create that
        waited for the interpreter lock behind another job's thread (a window runs several at
        once) is not a slow one, and the median: a page fault or an interrupt does not make one.

        Creating a file costs about 12 us on a journaled ext4 and 6 us on tmpfs: there a second
        thread only competes for the interpreter (5,000 frames of 200 bytes: 0.47 s without it,
        0.69 s with it). On an ext4 without a journal, after thousands of deletes, each create
        scans the inodes freed in the last minutes: 600 us on this machine's disk once a few
        dozen frames are in, while the first ones take 45 us; there the preparer's thread does
        that on the other core (781 frames of 800 KB through the CLI: 0.74 s without it, 0.58 s
        with it).
        """
        times = self.create_times
        times.append(took)
        if len(times) < CREATE_WINDOW:
            return
        slow = sorted(times)[len(times) // 2] >= CREATE_SLOW_S
        times.clear()
        if slow:
            self.watch_creates = False
            from vfxcopy.core.writers.prepare import Preparer

            # The items not taken yet (the copying thread took this one and those before it).
            self.preparer = Preparer.start(self, self.items[self.next_item:])  # type: ignore[arg-type]

    def gone_on_server(self, dest_fd: int, name: str) -> bool:
        """Whether a name the destination's file system says is taken is in fact free: on a network
        file system only, where the client's cache can still show a file removed from another machine
        (sshfs keeps names 20 s, NFS up to a minute). Opening it asks the server; a local file
        system's answer stands. A skip or a conflict rests on a file that is really there."""
        if not is_shared_fs(self.dest_fs):
            return False
        try:
            fd = os.open(name, os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW | _O_NONBLOCK, dir_fd=dest_fd)
        except FileNotFoundError:
            return True
        except OSError:
            return False  # there, whatever it is (a link, a folder, unreadable)
        os.close(fd)
        return False

    def temp_stat(self, temp: TempFile, source: os.stat_result) -> tuple[int, int]:
        """A written temp's (size, mtime in ns), as the journal records them.

        With --preserve the temp's mtime is the source's, set last: once the destination has
        kept it to the nanosecond for a few items (not every file system keeps nanoseconds: FAT
        keeps 2 s, NTFS 100 ns), it is taken as written, without an fstat per item (20,000 small
        frames: 50 ms). Only a time with digits below the microsecond counts as proof.
        """
        if self.exact_times >= EXACT_TIMES_AFTER and not self.inexact_times:
            return temp.written, source.st_mtime_ns
        made = os.fstat(temp.fd)
        if self.opts.preserve and self.writer.kind == "copy":
            if made.st_mtime_ns != source.st_mtime_ns or made.st_size != temp.written:
                self.inexact_times = True  # not kept exactly here: an fstat per item for good
            elif source.st_mtime_ns % 1000:
                self.exact_times += 1
        return made.st_size, made.st_mtime_ns

    def place_finished(self, fin: Finished) -> None:
        """Rename a finished temp to its final name (no clobber unless overwriting)."""
        assert self.temps is not None
        dest = fin.result.dest
        dest_fd, base = self.locate(fin.item)
        try:
            self.place_on_server(fin, dest_fd, base)
        except placing.GoneOnServer:
            raise
        except placing.PlaceConflict:
            if (fin.compare or fin.same_skips) and self.writer.identical_after(
                    self.temps.path(fin.temp.name), dest, lambda: self.token.cancelled):
                fin.skip_on_conflict = True
                fin.same_bytes = self.writer.kind == "copy"
            elif fin.compare:
                raise placing.PlaceConflict(FrameError(
                    dest, "exists and differs", "choose overwrite, rename or skip to decide what happens to it"
                ).message) from None
            raise
        fin.temp.placed = True
        self.temps.forget(fin.temp)

    def place_on_server(self, fin: Finished, dest_fd: int, base: str) -> None:
        """placing.place, where a network file system's cache may show a name that is gone from the
        server: asking the server (gone_on_server's open) refreshes the cache, and the temp is placed
        once more; still refused while nothing is there: GoneOnServer (a failure, never a skip)."""
        assert self.temps is not None
        for _attempt in range(2):
            try:
                placing.place(fin.temp.name, self.temps.fd, base, dest_fd, fin.result.dest, fin.overwrite,
                              self.noreplace)
                return
            except placing.PlaceConflict:
                if not self.gone_on_server(dest_fd, base):
                    raise
        fin.skip_on_conflict = False
        raise placing.GoneOnServer(FrameError(
            fin.result.dest, "could not be placed: the network file system's cache still shows a file of "
            "this name, which is gone from the server (removed from another machine a moment ago)",
            "run the job again in a minute; nothing was replaced").message)

    # -- temps --
