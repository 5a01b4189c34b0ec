"""Fan-out: the copies of one source to several destinations read and hash each item once.

Each destination is its own job (own temps, conflicts, fsync, verification, manifest,
report, row and result); the jobs share `JobSpec.group`. Every member goes through
the pipeline's steps for an item on its own (source check, conflict policy, temp);
only the source's bytes are shared:

- The first member ready to write item i opens the item's *slot*. The group's reader
  thread reads the item at once, in 1 MiB chunks, hashing as it goes, into buffers
  the members share.
- Each member that joined the slot writes the chunks into its own temp in its own
  thread, as they arrive: writes to several drives run in parallel, and the reading
  of the next item overlaps the writing of this one.
- A chunk is released once every member that may still want it has written it (the
  members the slot waits for: those that had not settled the item when it opened).
  The reader reads ahead (items up to PREFETCH_MAX, while less than READ_AHEAD is
  held) the items some member will write; a big item streams through a window of
  SLOT_WINDOW that only its own members free. A slow destination holds the reader
  back, so the group runs at the pace of its slowest drive with that much slack.
- The member then fsyncs, verifies (a `full` read-back of its own temp) and places
  its file itself, as without a group.

Rules kept:
- A destination that fails a write (full, unplugged, permission) fails only its own
  item; the others go on.
- Only the member's own thread ever touches its temp, so a cancel needs no hand-over:
  the member stops between two chunks (1 MiB: well under a millisecond into the page
  cache), leaves the slot and the pipeline removes its temp.
- A member that is late (the slot let go of chunks it would need) or alone copies the
  item itself, as without a group; nothing ever waits for a member that has ended. The
  queue announces the members it starts together (`expect`) and drops them when their
  job ends on any path (`leave`), so a member that never reaches the pipeline never
  blocks the others.
- Pause of one member holds the group back once the read-ahead is used up (the others
  wait for it rather than read the item twice).
"""

from __future__ import annotations

import heapq
import os
import stat
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vfxcopy.core.errors import SourceChangedError
from vfxcopy.core.hashing import new_hasher
from vfxcopy.core.pipeline.temps import TempFile
from vfxcopy.core.writers.base import Context, Item
from vfxcopy.core.writers.groups import Registry

if TYPE_CHECKING:
    from vfxcopy.core.writers.copy import CopyWriter

CHUNK = 1 << 20
READ_AHEAD = 64 << 20  # read ahead of the members while less than this is held
PREFETCH_MAX = 16 << 20  # items read before a member asks are at most this big (read whole, no wait)
SLOT_WINDOW = 32 << 20  # a slot's chunks read but not yet written by all its members (big items)
WAIT_S = 0.005  # how often a waiting member looks at its own token


def before_shared_chunk(index: int, offset: int) -> None:
    """Test hook: called by the reader before each shared chunk is read."""


@dataclass(eq=False)
class _Part:
    """One member's share of a slot: how far it has written."""

    member_id: str
    written: int = 0  # chunks written into its temp
    done: bool = False  # finished, failed or withdrawn: holds no chunk any more


@dataclass(eq=False)
class _Slot:
    index: int
    item: Item
    writer: CopyWriter
    awaiting: set[str]  # members that had not settled the item when the slot opened
    parts: dict[str, _Part] = field(default_factory=dict)
    chunks: list[memoryview | None] = field(default_factory=list)  # None: released
    released: int = 0  # chunks released from the front
    read_done: bool = False
    error: BaseException | None = None
    hash: str | None = None
    before: os.stat_result | None = None
    started: bool = False
    prefetched: bool = False  # opened by the reader before any member asked


class Group:
    """The live members of one fan-out group, their slots, and the reader thread."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.cond = threading.Condition()
        self.members: dict[str, Member | None] = {}  # None: expected (its job is starting)
        self.slots: dict[int, _Slot] = {}
        self.finished: set[int] = set()  # items whose shared read began: late members copy alone
        self.reader: threading.Thread | None = None
        self.held = 0  # bytes read and not yet released
        self.ahead: dict[int, Item] = {}  # items some member will likely write, to read before it asks
        self.ahead_order: list[int] = []  # their indexes, a heap: the next one is ahead_order[0]
        self.ahead_writer: CopyWriter | None = None
        self.pool: list[bytearray] = []  # released buffers, for the next chunks

    # -- under self.cond --
    def settled(self, member_id: str, index: int) -> bool:
        if member_id not in self.members:
            return True  # ended
        m = self.members[member_id]
        return m is not None and index in m.resolved

    def release(self, slot: _Slot) -> None:
        """Let go of the chunks every member that may want them has written."""
        keep = len(slot.chunks)
        for k in slot.awaiting:
            part = slot.parts.get(k)
            if part is not None:
                if not part.done:
                    keep = min(keep, part.written)
            elif not self.settled(k, slot.index):
                keep = 0  # not here yet: it will want every chunk
        for part in slot.parts.values():
            if not part.done and part.member_id not in slot.awaiting:
                keep = min(keep, part.written)
        while slot.released < keep:
            view = slot.chunks[slot.released]
            slot.chunks[slot.released] = None
            slot.released += 1
            if view is not None:
                self.held -= len(view)
                buf = view.obj
                view.release()
                if isinstance(buf, bytearray) and len(buf) == CHUNK and len(self.pool) < 8:
                    self.pool.append(buf)
        if slot.read_done and all(p.done for p in slot.parts.values()) and all(
                self.settled(k, slot.index) for k in slot.awaiting):
            self.slots.pop(slot.index, None)  # every member is done with it
        self.cond.notify_all()

    # -- the reader --
    def ensure_reader(self) -> None:
        if self.reader is None or not self.reader.is_alive():
            self.reader = threading.Thread(target=self.read_loop, daemon=True, name=f"vfxcopy-fanout-{self.key[:8]}")
            self.reader.start()

    def read_loop(self) -> None:
        cond = self.cond
        while True:
            with cond:
                slot = None
                while slot is None:
                    if not self.members:
                        self.reader = None
                        return
                    slot = min((s for s in self.slots.values() if not s.started), key=lambda s: s.index, default=None)
                    if slot is None:
                        slot = self.read_ahead_slot()
                    if slot is None:
                        cond.wait(0.05)
                slot.started = True
                self.finished.add(slot.index)
            try:
                self.read_slot(slot)
            except BaseException as exc:  # noqa: BLE001 - every member hears of it; the reader goes on
                slot.error = slot.error or exc
            finally:
                with cond:
                    slot.read_done = True
                    self.release(slot)

    def read_ahead_slot(self) -> _Slot | None:
        """A slot for the next item the members will want, opened before any of them asks
        (so the reading of items to come overlaps the members' own work on this one)."""
        if self.held >= READ_AHEAD or self.ahead_writer is None:
            return None
        while self.ahead_order:
            index = heapq.heappop(self.ahead_order)
            item = self.ahead.pop(index)
            if index in self.finished or index in self.slots or item.size > PREFETCH_MAX:
                continue
            awaiting = {k for k in self.members if not self.settled(k, index)}
            if len(awaiting) < 2:
                continue  # one member or none still to write it: nothing to share
            slot = self.slots[index] = _Slot(index, item, self.ahead_writer, awaiting, prefetched=True)
            return slot
        return None

    def read_slot(self, slot: _Slot) -> None:
        from vfxcopy.core.writers.copy import check_unchanged, read_source

        writer, item = slot.writer, slot.item
        src_fd, before = writer.open_source(item)
        self.hint_next(slot.index)
        try:
            size = before.st_size
            hasher = new_hasher(writer.algo) if writer.hashing else None
            offset = 0
            while offset < size:
                with self.cond:
                    # Only this slot's own members can free its window: a wait on anything else
                    # (another slot's members, still at this item) could wait forever.
                    while (not slot.prefetched and self.unwritten(slot) >= SLOT_WINDOW
                           and not self.abandoned(slot)):
                        if all(p.done or p.written >= len(slot.chunks) for p in slot.parts.values()):
                            # Only members that have not come yet hold the window (they may be waiting
                            # for an item this reader has still to read): they copy this one alone.
                            slot.awaiting = {k for k in slot.awaiting if k in slot.parts}
                            self.release(slot)
                            continue
                        self.cond.wait(0.05)
                    if self.abandoned(slot):
                        return  # nobody wants the rest
                    buf = self.pool.pop() if self.pool else bytearray(CHUNK)
                before_shared_chunk(slot.index, offset)
                want = min(CHUNK, size - offset)
                n = read_source(item, src_fd, memoryview(buf)[:want], offset)
                view = memoryview(buf)[:n]
                if hasher is not None:
                    hasher.update(view)
                with self.cond:
                    slot.chunks.append(view)
                    self.held += n
                    self.cond.notify_all()
                offset += n
            check_unchanged(item.src, before)
            slot.hash = hasher.hexdigest() if hasher is not None else None
            slot.before = before
        finally:
            os.close(src_fd)

    def hint_next(self, index: int) -> None:
        """Ask the kernel to start reading the next item now: its disk reads overlap this one's work."""
        with self.cond:
            order = self.ahead_order
            item = self.ahead[order[0]] if order and order[0] > index else None
        if item is None:
            return
        try:
            fd = os.open(item.src, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)

    @staticmethod
    def unwritten(slot: _Slot) -> int:
        """Bytes of `slot` read and not yet released."""
        return sum(len(c) for c in slot.chunks[slot.released:] if c is not None)

    def abandoned(self, slot: _Slot) -> bool:
        """Every member that joined is done, and no other is still to come."""
        return all(p.done for p in slot.parts.values()) and all(
            k in slot.parts or self.settled(k, slot.index) for k in slot.awaiting)


class Member:
    """One job's place in its group; used from that job's threads."""

    def __init__(self, group: Group, member_id: str) -> None:
        self.group = group
        self.id = member_id
        self.resolved: set[int] = set()  # items this member has joined or settled without writing

    def leave(self) -> None:
        """The member's run ended: see `leave`."""
        leave(self.group.key, self.id)

    def settle(self, index: int) -> None:
        """The member is done with item `index` (written, skipped or failed): nobody waits for it there."""
        group = self.group
        with group.cond:
            if index not in self.resolved:
                self.resolved.add(index)
                slot = group.slots.get(index)
                if slot is not None:
                    group.release(slot)
                group.cond.notify_all()

    def write(self, item: Item, temp: TempFile, ctx: Context, writer: CopyWriter) -> tuple[str | None, os.stat_result] | None:
        """Write `item` into `temp` from the group's one read: (source hash, source fstat).

        None: copy it alone (no other member to share with, or the shared read has moved on).
        Raises what the write met for this destination, or Cancelled (the part withdrawn).
        """
        group = self.group
        cond = group.cond
        index = item.index
        with cond:
            others = [k for k in group.members if k != self.id]
            slot = group.slots.get(index)
            if slot is None:
                if not others or index in group.finished:
                    return None
                awaiting = {k for k in others if not group.settled(k, index)}
                if not awaiting:
                    return None  # everybody else is past this item: nothing to share
                slot = group.slots[index] = _Slot(index, item, writer, awaiting)
                group.ensure_reader()
            elif slot.released or slot.item.src != item.src:
                return None  # late: the first chunks are gone
            part = slot.parts[self.id] = _Part(self.id)
            self.resolved.add(index)
            cond.notify_all()
        try:
            while True:
                with cond:
                    k = part.written
                    view = slot.chunks[k] if k < len(slot.chunks) else None
                    if view is None and (slot.read_done or slot.error is not None):
                        break
                    if view is None:
                        cond.wait(WAIT_S)
                if view is None:
                    ctx.check()  # raises Cancelled (or blocks while paused)
                    continue
                self.write_chunk(temp, view, k * CHUNK, writer, ctx)
                with cond:
                    part.written = k + 1
                    group.release(slot)
            if slot.error is not None:
                raise slot.error
            if slot.before is None:
                raise SourceChangedError(item.src, "was not read completely", "run the copy again")
            return slot.hash, slot.before
        finally:
            with cond:
                part.done = True
                group.release(slot)

    def write_chunk(self, temp: TempFile, view: memoryview, offset: int, writer: CopyWriter, ctx: Context) -> None:
        from vfxcopy.core.writers.copy import WRITEBACK_KICK, write_all

        ctx.check()
        write_all(temp.fd, view, offset)
        temp.written += len(view)
        if writer.kick_writeback and temp.written >= WRITEBACK_KICK:
            writer.kick(temp, temp.written)
        ctx.add_bytes(len(view))


def _remove(group: Group, member_id: str) -> bool:
    with group.cond:
        group.members.pop(member_id, None)
        for slot in list(group.slots.values()):
            group.release(slot)
        group.cond.notify_all()
        return not group.members


GROUPS: Registry[Group] = Registry(Group)


def expect(key: str, member_ids: list[str]) -> None:
    """Members about to start together: the others wait for them at each item, from the first."""
    group = GROUPS.get(key)
    with group.cond:
        for member_id in member_ids:
            group.members.setdefault(member_id, None)


def join(key: str, member_id: str, wanted: list[Item] | None = None, writer: CopyWriter | None = None) -> Member:
    """`member_id` (a job id) shares its reads in group `key`; `wanted`: the items it will most
    likely write (read ahead for it, with `writer`'s options)."""
    group = GROUPS.get(key)
    member = Member(group, member_id)
    with group.cond:
        group.members[member_id] = member
        if wanted and writer is not None:
            for item in wanted:
                if item.lst is None or not stat.S_ISREG(item.lst.st_mode):
                    continue  # links and the like are not read
                if (item.index not in group.finished and item.index not in group.slots
                        and item.index not in group.ahead):
                    group.ahead[item.index] = item
                    heapq.heappush(group.ahead_order, item.index)
            group.ahead_writer = group.ahead_writer or writer
            group.ensure_reader()
        group.cond.notify_all()
    return member


def leave(key: str, member_id: str) -> None:
    """The member's job ended (any path): no slot waits for it any more. Safe to call twice."""
    GROUPS.leave(key, member_id, _remove)
