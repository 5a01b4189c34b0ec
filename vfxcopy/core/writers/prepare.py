"""The preparer: opens the next sources and creates their temps ahead of a copy thread (local disks).

Started by a copy with one worker once creating its temps proves slow (pipeline/steps.py,
watch_create: an ext4 without a journal scanning for recently freed inodes); see Preparer.
"""

from __future__ import annotations

import os
import stat
import threading
from typing import TYPE_CHECKING

from vfxcopy.core.pipeline.durable import open_file_limit
from vfxcopy.core.pipeline.temps import TempFile, temp_mode
from vfxcopy.core.writers.base import Item
from vfxcopy.core.writers.copy import CopyWriter

if TYPE_CHECKING:
    from vfxcopy.core.pipeline.runner import Pipeline

PREPARE_AHEAD = 4  # items opened (source + temp) ahead of the copy thread
PREPARE_MAX_BYTES = 64 << 20  # bigger items gain nothing from it


class Preparer:
    """Background thread: opens the next sources and creates their temps ahead of the copy thread.

    Where creating a file is slow (hundreds of microseconds of kernel time), doing it for
    item N+1 while item N is copied puts that time on the other core.
    At most PREPARE_AHEAD items are ready at a time; each temp is registered in the
    run's temp area as soon as it exists, so every exit path removes it. Only items
    whose final name was free at the start are prepared.

    Each item is claimed once, by whoever comes first: the copy thread never waits for
    an item the preparer has not started (it opens that one itself), and the two threads
    wake each other only when one of them is actually waiting (measured on 20,000 small
    frames on tmpfs: a wait and a notify per item cost more than the opens they overlapped).
    """

    def __init__(self, run: Pipeline, items: list[Item]) -> None:
        self.run = run
        self.writer: CopyWriter = run.writer  # type: ignore[assignment]
        self.items = items
        self.indexes = {item.index for item in items}  # not yet claimed by either thread
        self.cond = threading.Condition()
        self.ready: dict[int, tuple[int, os.stat_result, TempFile] | BaseException] = {}
        self.busy: int | None = None  # the item the preparer is opening now
        self.dropped: set[int] = set()  # released while being opened
        self.preparer_waits = False
        self.copier_waits = False
        self.stopped = False
        self.thread = threading.Thread(target=self.loop, daemon=True, name=f"vfxcopy-prepare-{run.spec.job_id}")
        self.thread.start()

    @classmethod
    def start(cls, run: Pipeline, items: list[Item]) -> Preparer | None:
        existing = run.existing or set()
        ahead = [
            item for item in items
            if item.lst is not None and stat.S_ISREG(item.lst.st_mode) and item.size <= PREPARE_MAX_BYTES
            and item.name not in existing and len(os.fsencode(item.name)) <= 255
        ]
        if len(ahead) < 2:
            return None
        open_file_limit()  # raised where allowed: it holds PREPARE_AHEAD sources and temps open
        return cls(run, ahead)

    def loop(self) -> None:
        temps = self.run.temps
        assert temps is not None
        cond = self.cond
        for item in self.items:
            index = item.index
            with cond:
                while len(self.ready) >= PREPARE_AHEAD and not self.stopped:
                    self.preparer_waits = True
                    cond.wait()
                self.preparer_waits = False
                if self.stopped:
                    return
                if index not in self.indexes:
                    continue  # the copy thread took it, or it ended without a write
                self.indexes.discard(index)
                self.busy = index
            entry: tuple[int, os.stat_result, TempFile] | BaseException
            try:
                fd, before = self.writer.open_source(item)
                try:
                    entry = (fd, before, temps.new_file(index, temp_mode(before, self.writer.opts.preserve)))
                except BaseException:
                    os.close(fd)
                    raise
            except Exception as exc:  # noqa: BLE001 - handed to the copy thread, raised there
                entry = exc
            with cond:
                self.busy = None
                wanted = index not in self.dropped
                if wanted:
                    self.ready[index] = entry
                else:
                    self.dropped.discard(index)
                if self.copier_waits:
                    cond.notify_all()
            if not wanted:
                self.close_entry(entry)
            if self.stopped:
                return

    def close_entry(self, entry: tuple[int, os.stat_result, TempFile] | BaseException) -> None:
        if not isinstance(entry, BaseException):
            os.close(entry[0])
            self.run.discard(entry[2])

    def release(self, item: Item) -> None:
        """`item` ended (written, skipped, failed a check): drop what was prepared for it and not used."""
        index = item.index
        with self.cond:
            self.indexes.discard(index)
            entry = self.ready.pop(index, None)
            if self.busy == index:
                self.dropped.add(index)
            if entry is not None and self.preparer_waits:
                self.cond.notify_all()
        if entry is not None:
            self.close_entry(entry)

    def take_temp(self, item: Item) -> TempFile | None:
        """The prepared temp of `item` (its source fd handed to the writer), or None: do it inline."""
        index = item.index
        cond = self.cond
        while True:
            with cond:
                entry = self.ready.pop(index, None)
                if entry is None:
                    if index in self.indexes:  # not started: this thread opens it itself
                        self.indexes.discard(index)
                        return None
                    if self.busy != index or not self.thread.is_alive():
                        return None
                    self.copier_waits = True  # being opened right now: it will be ready soon
                    cond.wait(0.005)
                    self.copier_waits = False
                elif self.preparer_waits:
                    cond.notify_all()
            if entry is None:
                self.run.check()  # (raises Cancelled while waiting)
                continue
            if isinstance(entry, BaseException):
                raise entry
            fd, before, temp = entry
            self.writer.opened[index] = (fd, before)
            return temp

    def stop(self) -> None:
        """Stop preparing; close the sources of items prepared but not taken (their temps are
        in the run's temp area and are removed with it)."""
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
        self.thread.join()
        with self.cond:
            left, self.ready = list(self.ready.values()), {}
        for entry in left:
            self.close_entry(entry)
        for fd, _before in self.writer.opened.values():
            os.close(fd)
        self.writer.opened.clear()
