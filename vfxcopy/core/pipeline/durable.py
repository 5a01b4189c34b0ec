"""The committer: fsync finished temps in order, place them, fsync the folder per batch.

Overlaps the (slow) fsync of item N with writing items N+1...; what waits in the
queue is taken as one batch: a batch of many items is made durable with one syncfs
of the destination's file system instead of an fsync each (20,000 small frames on
ext4: 20,000 journal commits become a few hundred), then placed. Small items are
gathered (the thread is woken by SYNCFS_MIN_ITEMS of them, by WAKE_BYTES, at the
end, or after GATHER_S), not woken for each one: a wake-up per 200-byte frame cost
the copying thread more than the frame. The names placed after one syncfs are made
durable by the next one (or by an fsync of the folder when the stream pauses), so a
batch costs one journal commit, not two. A worker drains `take_done()` and reports,
so that results reach the listener in one stream, in the order the items settled.
On cancel, `abort()` stops every placement; a placement is atomic with respect to
`abort()` (one lock), so an item is either in place and reported done, or gone.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections import deque
from collections.abc import Callable

from vfxcopy.core.errors import Cancelled, explain
from vfxcopy.core.jobs import FrameResult, FrameStatus
from vfxcopy.core.pipeline.place import _LIBC, PlaceConflict
from vfxcopy.core.pipeline.temps import TempFile, close_quietly
from vfxcopy.core.writers.base import Item

# Finished temps waiting for fsync, at most. 5,000 frames of 200 bytes on a journaled ext4, in
# process: 32 kept the copying thread waiting for room after every batch (0.58 s), 128 does not
# (0.45 s). Each holds its file open: all the committers of the process (a window runs up to 64
# jobs at once) hold a quarter of its open-file limit at most, one each at least.
COMMIT_QUEUE_ITEMS = 128
COMMIT_QUEUE_BYTES = 512 << 20
DIR_FSYNC_BATCH = 64  # placements between two fsyncs of the folder

SYNCFS_MIN_ITEMS = 16  # a batch this big is made durable with one syncfs (fewer: an fsync each)
# Queued bytes that wake the thread at once: a big item's fsync starts now. Items below it are
# gathered too, up to SYNCFS_MIN_ITEMS, and share one syncfs: 781 frames of 800 KB on this ext4
# (their writeback started as each is handed over) took 0.88 s in process with a wake at 256 KiB
# (an fsync each, a journal commit and a cache flush each), 0.74 s with 16 MiB (10 rounds,
# alternating; `cp -r && sync` 1.07 s).
WAKE_BYTES = 16 << 20
# A few small items wait at most this long for more to share their syncfs. 5,000 frames of 200
# bytes on this ext4 (about 0.6 ms to create each): 3 ms gave 200 syncfs + 1,100 fsyncs (journal
# commits), 20 ms 300 syncfs + 60 fsyncs (a committer woken per item: 40 + 4,650).
GATHER_S = 0.02
BATCH_MAX_ITEMS = 256  # items taken from the queue at once, at most
BATCH_MAX_BYTES = 64 << 20

Error = tuple[str, int | None]  # message, errno

_SYNCFS = getattr(_LIBC, "syncfs", None) if _LIBC else None
if _SYNCFS is not None:
    _SYNCFS.argtypes = [ctypes.c_int]
    _SYNCFS.restype = ctypes.c_int


_LIVE: set[Committer] = set()  # committers whose thread runs (they share the open-file budget)
_LIVE_LOCK = threading.Lock()


OPEN_FILES_WANTED = 65536  # the open-file limit a process that copies raises its own to, where allowed


def open_file_limit() -> int:
    """This process's open-file limit, raised first (once) towards OPEN_FILES_WANTED.

    Many systems start programs with a soft limit of 1,024 open files and a far higher hard
    limit: a window running several jobs at once, each with finished files waiting for the
    disk and sources opened ahead, could reach 1,024 and fail items "Too many open files".
    Raising the soft limit up to the hard one is what the hard limit allows any program to do.
    """
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < OPEN_FILES_WANTED:
            wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)
            if wanted > soft:
                resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
                soft = wanted
    except (ImportError, OSError, ValueError):
        return 1024
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class Finished:
    """A complete temp handed to the committer: fsync, place, report (compared by identity: the
    committer looks items up in its lists)."""

    __slots__ = ("item", "temp", "result", "overwrite", "compare", "skip_on_conflict", "same_skips", "same_bytes",
                 "started")

    def __init__(self, item: Item, temp: TempFile, result: FrameResult, overwrite: bool, compare: bool,
                 skip_on_conflict: bool, started: float, same_skips: bool = False) -> None:
        self.item = item
        self.temp = temp
        self.result = result
        self.overwrite = overwrite
        self.compare = compare  # on a taken name: skip if identical (skip-identical), else fail
        self.skip_on_conflict = skip_on_conflict  # on a taken name: skip (policy 'skip')
        # Policy skip-identical, the name free when planned: taken meanwhile (another run placing the
        # same frame) by an identical file, the item is skipped; by another, it fails as taken.
        self.same_skips = same_skips
        self.same_bytes = False  # the file there was found byte for byte this temp's
        self.started = started

    def skipped(self) -> None:
        """The name was taken (by the same file, or policy 'skip'): the item is skipped. The file
        there is not this temp, so its size and mtime are not the result's to record, nor its
        hash unless the file there holds the same bytes."""
        result = self.result
        result.status = FrameStatus.SKIPPED
        if not self.same_bytes:
            result.hash = result.hash_algo = None
        result.dest_stat = None  # the journal stats the file that is there


class Committer:
    def __init__(
        self,
        job_id: str,
        dest_fd: int,
        place: Callable[[Finished], None],
        discard: Callable[[TempFile], None],
        cancelled: Callable[[], bool],
        on_dir_sync_error: Callable[[str], None],
        *,
        syncfs: bool = True,
    ) -> None:
        self.dest_fd = dest_fd
        self.place = place
        self.discard = discard
        self.cancelled = cancelled
        self.on_dir_sync_error = on_dir_sync_error
        # Submitted items in order, None at the end of the stream. One lock for the queue, the
        # lists below and both conditions: a queue.Queue cost a lock and a notify of its own per
        # item (20,000 small frames: 0.1 s of the copying thread's time).
        self.queue: deque[Finished | None] = deque()
        self.queued_bytes = 0  # of the items in `queue`
        self.lock = threading.Lock()
        # A placement and its record, against abort(); guards `placed` and `dirty` (taken before
        # `lock`). Not `lock` itself: the copying thread's submit never waits behind a rename.
        self.place_lock = threading.Lock()
        self.space = threading.Condition(self.lock)
        self.ready = threading.Condition(self.lock)
        self.waiting = False  # the thread waits for the next item: submit wakes it
        self.pending: list[Finished] = []  # submitted, not yet placed
        self.pending_bytes = 0
        # Settled since the first placement whose name is not durable yet (placed, or skipped or
        # failed after it): reported once the folder is synced, in this order.
        self.placed: list[tuple[Finished, Error | None]] = []
        self.done: list[tuple[Finished, Error | None]] = []
        self.aborted = False
        self.dirty = False
        self.exited = False
        # Not on a network file system: there syncfs only writes back this machine's cache
        # (FUSE passes it on to virtiofs alone), it does not make the server store anything.
        self.syncfs_ok = syncfs
        self.open_budget = 0  # a quarter of the process's open-file limit, found when first needed
        with _LIVE_LOCK:
            _LIVE.add(self)
        self.at_exit: list[Callable[[], None]] = []
        self.thread = threading.Thread(target=self.loop, daemon=True, name=f"vfxcopy-commit-{job_id}")
        self.thread.start()

    def submit(self, fin: Finished) -> None:
        with self.space:
            while len(self.pending) >= COMMIT_QUEUE_ITEMS or (self.pending and (
                self.pending_bytes + fin.item.size > COMMIT_QUEUE_BYTES or self.files_full()
            )):
                self.space.wait(0.005)
                if self.cancelled():
                    raise Cancelled()  # the caller discards this temp: it is not ours yet
            self.pending.append(fin)
            self.pending_bytes += fin.item.size
            fin.temp.submitted = True
            self._put(fin)

    def files_full(self) -> bool:
        """Whether the committers of the process hold their share of its open files (a quarter)."""
        if len(self.pending) < COMMIT_QUEUE_ITEMS // 8 and len(_LIVE) == 1:
            return False  # alone and with few: no need to count (nor to load `resource`: 0.6 ms)
        if not self.open_budget:
            self.open_budget = open_file_limit() // 4
        return sum(len(c.pending) for c in tuple(_LIVE)) >= self.open_budget

    def _put(self, fin: Finished | None) -> None:
        """Queue `fin` (None: the end) and wake the thread if it waits and the batch is worth it
        (called under the lock)."""
        self.queue.append(fin)
        if fin is not None:
            self.queued_bytes += fin.item.size
        # The first item also wakes it: it then gathers for GATHER_S at most. Woken only by a full
        # batch, a slow source (a network, --bwlimit) left items written but unplaced until 16 came.
        if self.waiting and (fin is None or self.aborted or len(self.queue) >= SYNCFS_MIN_ITEMS
                             or self.queued_bytes >= WAKE_BYTES or len(self.queue) == 1):
            self.ready.notify()

    def _batch_due(self) -> bool:
        queue = self.queue
        return (len(queue) >= SYNCFS_MIN_ITEMS or queue[-1] is None or self.aborted
                or self.queued_bytes >= WAKE_BYTES)

    def take_done(self) -> list[tuple[Finished, Error | None]]:
        if not self.done:  # called twice per item: most calls find nothing (a stale read is seen next time)
            return []
        with self.lock:
            out, self.done = self.done, []
        return out

    def finish(self, check: Callable[[], None]) -> None:
        """Wait for everything submitted to be placed and the folder fsynced; cancellable."""
        with self.lock:
            self._put(None)
        while self.thread.is_alive():
            self.thread.join(0.005)
            check()

    def abort(self) -> list[tuple[Finished, Error | None]]:
        """No more placements; returns the items already settled (placed, skipped, failed)."""
        with self.place_lock, self.lock:
            self.aborted = True
            self.space.notify_all()
            settled = self.done + self.placed
            self.done, self.placed = [], []
            self._put(None)
        return settled

    def call_at_exit(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the thread has exited (now, if it has): closing the folders it uses."""
        with self.lock:
            if not self.exited:
                self.at_exit.append(callback)
                return
        callback()

    def flush_dir(self) -> None:
        if not self.dirty:
            return
        try:
            os.fsync(self.dest_fd)
        except OSError as exc:
            self.on_dir_sync_error(str(exc))  # the files are on disk; the run's last fsync retries
        self.names_durable()

    def names_durable(self) -> None:
        """Every name placed so far is durable (the folder was fsynced, or the file system synced)."""
        with self.place_lock, self.lock:
            self.dirty = False
            if not self.aborted:
                self.done.extend(self.placed)
                self.placed = []

    def settle(self, fin: Finished, error: Error | None) -> None:
        """`fin` ended without a placement of its own (skipped, failed): it is reported after the
        placements before it, in order (called under place_lock)."""
        if self.placed:
            self.placed.append((fin, error))
            return
        with self.lock:
            self.done.append((fin, error))

    def sync_batch(self, batch: list[Finished]) -> dict[int, Error]:
        """Make every temp of `batch` durable; the errors by position (none: all are on disk).

        One syncfs for a big batch: it writes back and commits everything of the file
        system, ours included, like `sync` (the syscall reports write-back errors since
        Linux 5.8). If it fails, or for a few items, each temp gets its own fsync, which
        also says which one failed.
        """
        if len(batch) >= SYNCFS_MIN_ITEMS and _SYNCFS is not None and self.syncfs_ok:
            dirty = self.dirty
            if _SYNCFS(self.dest_fd) == 0:
                if dirty:  # the names placed before it are durable too: no fsync of the folder for them
                    self.names_durable()
                return {}
            self.syncfs_ok = False  # not here: an fsync each from now on
        errors: dict[int, Error] = {}
        for i, fin in enumerate(batch):
            if self.aborted:
                break
            try:
                os.fsync(fin.temp.fd)
            except OSError as exc:
                errors[i] = (explain(exc, fin.result.dest, "destination"), exc.errno)
        return errors

    def commit_one(self, fin: Finished, error: Error | None = None) -> None:
        """Place one durable temp (or record why it could not be made durable)."""
        dest = fin.result.dest
        placed_now = False
        with self.place_lock:
            if not self.aborted and error is None:
                try:
                    self.place(fin)
                    placed_now = True
                except PlaceConflict as exc:
                    if fin.skip_on_conflict:
                        fin.skipped()
                        self.settle(fin, None)
                    else:
                        error = (str(exc), None)
                except OSError as exc:
                    error = (explain(exc, dest, "destination"), exc.errno)
            if placed_now:
                fin.result.elapsed = time.monotonic() - fin.started
                self.placed.append((fin, None))
                self.dirty = True
            elif not self.aborted and error is not None:
                self.settle(fin, error)
        self.release(fin)
        if placed_now:
            close_quietly(fin.temp.fd)
            fin.temp.fd = -1
        else:
            self.discard(fin.temp)

    def release(self, fin: Finished) -> None:
        """`fin` no longer takes room in the queue: a copying thread waiting for room goes on."""
        with self.lock:
            if fin in self.pending:
                self.pending.remove(fin)
                self.pending_bytes -= fin.item.size
            self.space.notify_all()

    def next_batch(self) -> tuple[list[Finished], bool]:
        """The next batch (waiting for it) of what is queued; True at the end of the stream."""
        gathered = False
        while True:
            flush = False
            with self.lock:
                if self.queue and (gathered or self._batch_due()):
                    batch: list[Finished] = []
                    size, ending = 0, False
                    while self.queue and len(batch) < BATCH_MAX_ITEMS and size < BATCH_MAX_BYTES:
                        fin = self.queue.popleft()
                        if fin is None:
                            ending = True
                            break
                        batch.append(fin)
                        size += fin.item.size
                    self.queued_bytes -= size
                    return batch, ending
                if not self.queue and self.dirty:
                    flush = True  # the stream pauses: the names placed so far are made durable now
                else:
                    self.waiting = True
                    if self.queue:  # a few small items: wait a little for more to share their syncfs
                        self.ready.wait(GATHER_S)
                        gathered = True
                    else:
                        self.ready.wait()
                    self.waiting = False
            if flush:
                self.flush_dir()

    def loop(self) -> None:
        try:
            while True:
                batch, ending = self.next_batch()
                if self.aborted:
                    for fin in batch:
                        self.drop(fin)
                    if ending:
                        break
                    continue
                try:
                    errors = self.sync_batch(batch)
                except Exception as exc:  # noqa: BLE001 - a bug must fail the items, not lose them
                    errors = dict.fromkeys(range(len(batch)), (f"unexpected error {exc!r}", None))
                for i, fin in enumerate(batch):
                    if self.aborted:
                        self.drop(fin)
                        continue
                    try:
                        self.commit_one(fin, errors.get(i))
                    except Exception as exc:  # noqa: BLE001 - a bug must fail the item, not lose it silently
                        with self.place_lock:
                            if not self.aborted:
                                self.settle(fin, (f"{fin.item.src}: unexpected error {exc!r}", None))
                        self.release(fin)
                        self.discard(fin.temp)
                    if len(self.placed) >= DIR_FSYNC_BATCH:
                        self.flush_dir()
                if ending:
                    break
            self.flush_dir()
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)
            with self.lock:
                self.exited = True
                callbacks, self.at_exit = self.at_exit, []
            for callback in callbacks:
                callback()

    def drop(self, fin: Finished) -> None:
        self.release(fin)
        self.discard(fin.temp)
