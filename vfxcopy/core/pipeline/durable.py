"""The committer: fsync finished temps in order, place them, fsync the folder per batch.

Overlaps the (slow) fsync of item N with writing items N+1...; a worker drains
`take_done()` and reports, so that results reach the listener in one stream. On
cancel, `abort()` stops every placement; a placement is atomic with respect to
`abort()` (one lock), so an item is either in place and reported done, or gone.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from vfxcopy.core.errors import Cancelled, explain
from vfxcopy.core.jobs import FrameResult, FrameStatus
from vfxcopy.core.pipeline.place import PlaceConflict
from vfxcopy.core.pipeline.temps import TempFile, close_quietly
from vfxcopy.core.writers.base import Item

COMMIT_QUEUE_ITEMS = 32  # finished temps waiting for fsync, at most
COMMIT_QUEUE_BYTES = 512 << 20
DIR_FSYNC_BATCH = 64  # placements between two fsyncs of the folder

Error = tuple[str, int | None]  # message, errno


@dataclass
class Finished:
    """A complete temp handed to the committer: fsync, place, report."""

    item: Item
    temp: TempFile
    result: FrameResult
    overwrite: bool
    compare: bool  # on a taken name: skip if identical (skip-identical), else fail
    skip_on_conflict: bool  # on a taken name: skip (policy 'skip')
    started: float


class Committer:
    def __init__(
        self,
        job_id: str,
        dest_fd: int,
        place: Callable[[Finished], None],
        discard: Callable[[TempFile], None],
        cancelled: Callable[[], bool],
        on_dir_sync_error: Callable[[str], None],
    ) -> None:
        self.dest_fd = dest_fd
        self.place = place
        self.discard = discard
        self.cancelled = cancelled
        self.on_dir_sync_error = on_dir_sync_error
        self.queue: queue.Queue[Finished | None] = queue.Queue()
        self.lock = threading.Lock()
        self.space = threading.Condition(self.lock)
        self.pending: list[Finished] = []  # submitted, not yet placed
        self.pending_bytes = 0
        self.placed: list[Finished] = []  # placed, folder not yet fsynced
        self.done: list[tuple[Finished, Error | None]] = []
        self.aborted = False
        self.dirty = False
        self.exited = False
        self.at_exit: list[Callable[[], None]] = []
        self.thread = threading.Thread(target=self.loop, daemon=True, name=f"vfxcopy-commit-{job_id}")
        self.thread.start()

    def submit(self, fin: Finished) -> None:
        with self.space:
            while len(self.pending) >= COMMIT_QUEUE_ITEMS or (
                self.pending and self.pending_bytes + fin.item.size > COMMIT_QUEUE_BYTES
            ):
                self.space.wait(0.005)
                if self.cancelled():
                    raise Cancelled()  # the caller discards this temp: it is not ours yet
            self.pending.append(fin)
            self.pending_bytes += fin.item.size
            fin.temp.submitted = True
        self.queue.put(fin)

    def take_done(self) -> list[tuple[Finished, Error | None]]:
        with self.lock:
            out, self.done = self.done, []
        return out

    def finish(self, check: Callable[[], None]) -> None:
        """Wait for everything submitted to be placed and the folder fsynced; cancellable."""
        self.queue.put(None)
        while self.thread.is_alive():
            self.thread.join(0.005)
            check()

    def abort(self) -> list[tuple[Finished, Error | None]]:
        """No more placements; returns the items already settled (placed, skipped, failed)."""
        with self.lock:
            self.aborted = True
            self.space.notify_all()
            settled = self.done + [(fin, None) for fin in self.placed]
            self.done, self.placed = [], []
        self.queue.put(None)
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
        with self.lock:
            self.dirty = False
            if not self.aborted:
                self.done.extend((fin, None) for fin in self.placed)
                self.placed = []

    def commit_one(self, fin: Finished) -> None:
        dest = fin.result.dest
        error: Error | None = None
        try:
            os.fsync(fin.temp.fd)
        except OSError as exc:
            error = (explain(exc, dest, "destination"), exc.errno)
        placed_now = False
        with self.lock:
            if not self.aborted and error is None:
                try:
                    self.place(fin)
                    placed_now = True
                except PlaceConflict as exc:
                    if fin.skip_on_conflict:
                        fin.result.status = FrameStatus.SKIPPED
                        fin.result.hash = fin.result.hash_algo = None
                        self.done.append((fin, None))
                    else:
                        error = (str(exc), None)
                except OSError as exc:
                    error = (explain(exc, dest, "destination"), exc.errno)
            if fin in self.pending:
                self.pending.remove(fin)
                self.pending_bytes -= fin.item.size
            self.space.notify_all()
            if placed_now:
                fin.result.elapsed = time.monotonic() - fin.started
                self.placed.append(fin)
                self.dirty = True
            elif not self.aborted and error is not None:
                self.done.append((fin, error))
        if placed_now:
            close_quietly(fin.temp.fd)
            fin.temp.fd = -1
        else:
            self.discard(fin.temp)

    def loop(self) -> None:
        try:
            while True:
                fin = self.queue.get()
                if fin is None:
                    break
                if self.aborted:
                    self.drop(fin)
                    continue
                try:
                    self.commit_one(fin)
                except Exception as exc:  # noqa: BLE001 - a bug must fail the item, not lose it silently
                    with self.lock:
                        if not self.aborted:
                            self.done.append((fin, (f"{fin.item.src}: unexpected error {exc!r}", None)))
                    self.discard(fin.temp)
                if len(self.placed) >= DIR_FSYNC_BATCH or self.queue.empty():
                    self.flush_dir()
            self.flush_dir()
        finally:
            with self.lock:
                self.exited = True
                callbacks, self.at_exit = self.at_exit, []
            for callback in callbacks:
                callback()

    def drop(self, fin: Finished) -> None:
        with self.lock:
            if fin in self.pending:
                self.pending.remove(fin)
                self.pending_bytes -= fin.item.size
        self.discard(fin.temp)
