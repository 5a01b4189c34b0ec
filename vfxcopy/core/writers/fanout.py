"""Fan-out: the copies of one source to several destinations read and hash each item once.

Each destination is its own job (own temps, conflicts, fsync, verification, manifest,
report, row and result); the jobs share `JobSpec.group`. Every member goes through
the pipeline's steps for an item on its own (source check, conflict policy, temp);
only the bytes are shared: when a member is ready to write item i, it joins the
item's *slot* and waits. Once every other live member has joined slot i or settled
item i without writing it (skipped, failed, ended), the group's reader thread reads
the source once, hashes it once and writes each chunk to every joined member's temp.
Then each member fsyncs, verifies (a `full` read-back of its own temp) and places
its file in its own thread, so slow destinations overlap.

Rules kept:
- A destination that fails a write (full, unplugged, permission) fails only its own
  item: the reader drops it and goes on for the others.
- Cancel of one member withdraws it within one sub-chunk (256 KiB): its waiting thread
  raises Cancelled only once the reader has stopped touching its temp, so the temp is
  removed with nothing partial and without closing an fd the reader still writes to.
- A member that is late (its job started after the slot began) or alone copies the
  item itself, as without a group; nothing ever waits for a member that has ended.
  The queue announces the members it starts together (`expect`) and drops them when
  their job ends on any path (`leave`), so a member that never reaches the pipeline
  never blocks the others.
- Pause of one member pauses the group's reading at the next item it has not joined
  (the others wait for it rather than read the item twice).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vfxcopy.core.errors import Cancelled, SourceChangedError
from vfxcopy.core.hashing import new_hasher
from vfxcopy.core.pipeline.place import SYNC_FILE_RANGE, SYNC_FILE_RANGE_WRITE
from vfxcopy.core.pipeline.temps import TempFile
from vfxcopy.core.writers.base import Context, Item

if TYPE_CHECKING:
    from vfxcopy.core.writers.copy import CopyWriter

SUB_CHUNK = 256 * 1024
WRITEBACK_KICK = 2 << 20
WAIT_S = 0.005  # how often a waiting member looks at its own token


def before_shared_chunk(index: int, offset: int) -> None:
    """Test hook: called by the reader before each shared sub-chunk is read."""


@dataclass(eq=False)
class _Part:
    """One member's share of a slot: its temp, and what became of it."""

    member: Member
    temp: TempFile
    ctx: Context
    withdrawn: bool = False  # the member gave up (cancel): the reader must stop writing its temp
    released: bool = False  # the reader no longer touches the temp
    error: BaseException | None = None
    hash: str | None = None
    before: os.stat_result | None = None


@dataclass(eq=False)
class _Slot:
    index: int
    item: Item
    writer: CopyWriter
    awaiting: set[str]  # ids of members that had not settled the item when the slot opened
    parts: list[_Part] = field(default_factory=list)
    started: bool = False


class Group:
    """The live members of one fan-out group, their slots, and the reader thread."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.cond = threading.Condition()
        self.members: dict[str, Member | None] = {}  # None: expected (its job is starting)
        self.slots: dict[int, _Slot] = {}
        self.finished: set[int] = set()  # items whose shared write began: late members copy alone
        self.reader: threading.Thread | None = None
        self.bw_start = 0.0  # --bwlimit: the reader's pace (bytes read since bw_start)
        self.bw_bytes = 0

    # -- membership (under the registry lock for creation and removal) --
    def live_others(self, me: str) -> list[str]:
        return [k for k in self.members if k != me]

    def settled(self, member_id: str, index: int) -> bool:
        if member_id not in self.members:
            return True  # ended
        m = self.members[member_id]
        return m is not None and index in m.resolved

    def ready(self, slot: _Slot) -> bool:
        return all(self.settled(k, slot.index) for k in slot.awaiting)

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
                    slot = next((s for s in sorted(self.slots.values(), key=lambda s: s.index)
                                 if not s.started and s.parts and self.ready(s)), None)
                    if slot is None:
                        cond.wait(0.05)
                        self.bw_start = 0.0  # idle: the pace starts again at the next item
                slot.started = True
                self.finished.add(slot.index)
                del self.slots[slot.index]
            try:
                self.write_slot(slot)
            except BaseException as exc:  # noqa: BLE001 - every member hears of it; the reader goes on
                for part in slot.parts:
                    if part.error is None:
                        part.error = exc
            finally:
                with cond:
                    for part in slot.parts:
                        part.released = True
                    cond.notify_all()

    def write_slot(self, slot: _Slot) -> None:
        from vfxcopy.core.writers.copy import check_unchanged, write_all

        writer, item = slot.writer, slot.item
        try:
            src_fd, before = writer.open_source(item)
        except BaseException as exc:  # noqa: BLE001
            self.fail_all(slot, exc)
            return
        try:
            size = before.st_size
            hasher = new_hasher(writer.algo) if writer.hashing else None
            buf = bytearray(SUB_CHUNK)
            view = memoryview(buf)
            kick = writer.kick_writeback and size > WRITEBACK_KICK
            offset = 0
            active = self.take_withdrawals(slot)
            while offset < size and active:
                before_shared_chunk(slot.index, offset)
                try:
                    n = os.preadv(src_fd, [view[: min(SUB_CHUNK, size - offset)]], offset)
                except OSError as exc:
                    exc.vfx_side = "source"  # type: ignore[attr-defined]
                    self.fail_all(slot, exc)
                    return
                if n == 0:
                    self.fail_all(slot, SourceChangedError(
                        item.src, "source changed while copying (it became shorter)",
                        "wait until the file is completely written, then run the copy again"))
                    return
                chunk = view[:n]
                if hasher is not None:
                    hasher.update(chunk)
                for part in active:
                    try:
                        write_all(part.temp.fd, chunk, offset)
                    except OSError as exc:  # this destination only: the others go on
                        part.error = exc
                        continue
                    temp = part.temp
                    temp.written += n
                    if kick and temp.written - temp.kicked >= WRITEBACK_KICK and SYNC_FILE_RANGE is not None:
                        SYNC_FILE_RANGE(temp.fd, temp.kicked, temp.written - temp.kicked, SYNC_FILE_RANGE_WRITE)
                        temp.kicked = temp.written
                    part.ctx.add_bytes(n)
                offset += n
                if writer.opts.bwlimit:
                    self.throttle(slot, n, writer.opts.bwlimit)
                active = self.take_withdrawals(slot)
            if not active:
                return
            try:
                check_unchanged(item.src, before)
            except BaseException as exc:  # noqa: BLE001
                self.fail_all(slot, exc)
                return
            digest = hasher.hexdigest() if hasher is not None else None
            for part in active:
                part.hash = digest
                part.before = before
        finally:
            os.close(src_fd)

    def throttle(self, slot: _Slot, n: int, limit: int) -> None:
        """Hold the read to `limit` bytes/s, waking at once if a member withdraws."""
        now = time.monotonic()
        if not self.bw_start:
            self.bw_start, self.bw_bytes = now, 0
        self.bw_bytes += n
        ahead = self.bw_bytes / limit - (now - self.bw_start)
        with self.cond:
            while ahead > 0 and not any(p.withdrawn for p in slot.parts):
                self.cond.wait(min(ahead, WAIT_S))
                ahead = self.bw_bytes / limit - (time.monotonic() - self.bw_start)

    def take_withdrawals(self, slot: _Slot) -> list[_Part]:
        """Release the parts whose member withdrew; the parts still written to."""
        with self.cond:
            for part in slot.parts:
                if part.withdrawn and not part.released:
                    part.released = True
                    self.cond.notify_all()
            return [p for p in slot.parts if not p.released and p.error is None]

    def fail_all(self, slot: _Slot, exc: BaseException) -> None:
        for part in slot.parts:
            if part.error is None and not part.withdrawn:
                part.error = exc  # one object for all: each member only reads its words


class Member:
    """One job's place in its group; used from that job's threads."""

    def __init__(self, group: Group, member_id: str) -> None:
        self.group = group
        self.id = member_id
        self.resolved: set[int] = set()  # items this member has joined or settled without writing

    def settle(self, index: int) -> None:
        """The member is done with item `index` (written, skipped or failed): nobody waits for it there."""
        group = self.group
        with group.cond:
            if index not in self.resolved:
                self.resolved.add(index)
                group.cond.notify_all()

    def write(self, item: Item, temp: TempFile, ctx: Context, writer: CopyWriter) -> tuple[str | None, os.stat_result] | None:
        """Write `item` into `temp` through the group's one read: (source hash, source fstat).

        None: copy it alone (no other member to share with, or the shared read has begun).
        Raises what the write met for this destination, or Cancelled after withdrawing.
        """
        group = self.group
        with group.cond:
            index = item.index
            others = group.live_others(self.id)
            if not others or index in group.finished:
                return None
            slot = group.slots.get(index)
            if slot is None:
                awaiting = {k for k in others if not group.settled(k, index)}
                if not awaiting:
                    return None  # everybody else is past this item: nothing to share
                slot = group.slots[index] = _Slot(index, item, writer, awaiting)
            elif slot.item.src != item.src:
                return None
            part = _Part(self, temp, ctx)
            slot.parts.append(part)
            self.resolved.add(index)
            group.ensure_reader()
            group.cond.notify_all()
        try:
            while True:
                with group.cond:
                    if part.released:
                        break
                    group.cond.wait(WAIT_S)
                    if part.released:
                        break
                ctx.check()  # raises Cancelled (or blocks while paused: the reader goes on meanwhile)
        except BaseException:
            self.withdraw(part)
            raise
        if part.error is not None:
            raise part.error
        if part.before is None:
            raise Cancelled()  # the reader stopped for this member (never expected otherwise)
        return part.hash, part.before

    def withdraw(self, part: _Part) -> None:
        """Stop the reader writing into this member's temp; return once it no longer does."""
        group = self.group
        with group.cond:
            part.withdrawn = True
            for slot in list(group.slots.values()):
                if part in slot.parts:  # not begun: leave the slot, the others need not wait
                    slot.parts.remove(part)
                    part.released = True
                    if not slot.parts:
                        del group.slots[slot.index]
            group.cond.notify_all()
            while not part.released:
                group.cond.wait(WAIT_S)


_registry_lock = threading.Lock()
_groups: dict[str, Group] = {}


def expect(key: str, member_ids: list[str]) -> None:
    """Members about to start together: the others wait for them at each item, from the first."""
    with _registry_lock:
        group = _groups.setdefault(key, Group(key))
    with group.cond:
        for member_id in member_ids:
            group.members.setdefault(member_id, None)


def join(key: str, member_id: str) -> Member:
    with _registry_lock:
        group = _groups.setdefault(key, Group(key))
    member = Member(group, member_id)
    with group.cond:
        group.members[member_id] = member
        group.cond.notify_all()
    return member


def leave(key: str, member_id: str) -> None:
    """The member's job ended (any path): no slot waits for it any more. Safe to call twice."""
    with _registry_lock:
        group = _groups.get(key)
        if group is None:
            return
        with group.cond:
            group.members.pop(member_id, None)
            group.cond.notify_all()
            if not group.members and not group.slots:
                _groups.pop(key, None)
