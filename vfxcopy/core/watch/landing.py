"""Frames in flight per sequence, and when a sequence has landed (settled, or its expected range complete)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from vfxcopy.core.errors import VfxCopyError
from vfxcopy.core.framenames import split_frame
from vfxcopy.core.jobs import is_temp_name
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.sqlite import sqlite3
from vfxcopy.core.watch.rules import WatchRule
from vfxcopy.core.watch.store import HandledStore, SeqKey, key_text

log = logging.getLogger(__name__)

# Names that writers use while a file is still incomplete; a rename to the final
# name follows, and that rename is the event that counts.
_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", "~")


class Clock:
    """Monotonic seconds; tests swap in ManualClock so settle timers never race the machine."""

    def now(self) -> float:
        return time.monotonic()


class ManualClock(Clock):
    """A clock that moves only when told to (thread-safe)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


OPEN, DONE, SEEN = "open", "done", "seen"  # being written in place / closed or renamed in / found by a scan


@dataclass
class _Frame:
    digits: str
    size: int
    state: str
    stamp: int = 0  # the tracker's event count when an event recorded it (see rescan)


@dataclass
class _Group:
    key: SeqKey
    frames: dict[int, _Frame] = field(default_factory=dict)
    queued: dict[int, int] = field(default_factory=dict)  # frame -> size already handed on
    deadline: float | None = None
    last_activity: float = 0.0
    stored: bool = True  # `queued` is what the store holds (false after a write to the store failed)


def parse_frame_name(name: str) -> tuple[str, str, str] | None:
    """'shot.1001.exr' -> ('shot.', '1001', '.exr'); None for a name without a frame number.

    The scanner's own split, so that a watched sequence is named as `vfxcopy ls` names it.
    """
    return split_frame(name)


def _padding(digits: Iterable[str]) -> int:
    items = [d.lstrip("-") for d in digits]
    padded = [len(d) for d in items if len(d) > 1 and d.startswith("0")]
    return max(padded) if padded else min(len(d) for d in items)


@dataclass(frozen=True)
class Landed:
    """One sequence that finished landing: the whole sequence and, for a follow-up, the new frames."""

    rule: WatchRule
    sequence: Sequence
    frames: list[int] | None  # None: the first job, every frame

    @property
    def is_follow_up(self) -> bool:
        return self.frames is not None


class LandingTracker:
    """The frames of one rule's folder in flight, per sequence, and when each sequence has landed.

    Fed by the watcher (events and scans, from any thread); `due()` and `land()` say
    what has settled. What was handed on is remembered in the store, so that a
    sequence is never queued twice, across restarts too.
    """

    def __init__(self, rule: WatchRule, store: HandledStore, clock: Clock,
                 wake: Callable[[], None] = lambda: None) -> None:
        self.rule = rule
        self.store = store
        self.clock = clock
        self.folder = os.path.abspath(rule.folder)
        self._wake = wake
        self._groups: dict[SeqKey, _Group] = {}
        self.lock = threading.RLock()
        self._store_lock = threading.Lock()  # one store write at a time (see _save)
        self.events = 0  # frames recorded by events so far: a rescan keeps those newer than its listing
        self.rescans = 0
        self.stopped = False  # after the watcher stopped, a release no longer restarts a settle timer

    def pending(self) -> dict[str, int]:
        """Sequences seen but not (fully) handed on yet: display name -> frames on disk."""
        with self.lock:
            out = {}
            for group in self._groups.values():
                if group.deadline is not None or self.new_frames(group):
                    out[self.display(group)] = len(group.frames)
            return out

    def known_frames(self) -> int:
        """All frames the watcher currently knows of (for tests and the status line)."""
        with self.lock:
            return sum(len(g.frames) for g in self._groups.values())

    def known_sequences(self) -> int:
        """Sequences the watcher holds in memory: those with frames in the folder, or landing."""
        with self.lock:
            return len(self._groups)

    def _forget_if_gone(self, group: _Group) -> None:
        """Drop a sequence none of whose frames is in the folder any more (moved on, deleted), with
        nothing to land: what was handed on is in the store, and `group()` reads it back if the
        sequence comes again. A watch runs for months: memory follows the folder, not its history
        (each frame handed on was kept for good: 40 sequences of 500 frames, 3 MB). Called under
        the lock."""
        if not group.frames and group.deadline is None and group.stored and self._groups.get(group.key) is group:
            del self._groups[group.key]

    def release(self, sequence: Sequence, frames: Iterable[int] | None = None) -> None:
        """Forget that these frames were handed on (a job cancelled or never run), so they come again.

        Works after `stop()` too: a runner calls it for jobs a stop left unfinished,
        and the next start (after a restart, too) queues those frames again.
        """
        key: SeqKey = (sequence.directory, sequence.head, sequence.tail)
        wanted = list(sequence.frames if frames is None else frames)
        with self.lock:
            group = self.group(key)
            for frame in wanted:
                group.queued.pop(frame, None)
            if group.frames and not self.stopped:
                self.touch(group)
        self._save(group, "update", sequence.display())
        with self.lock:
            self._forget_if_gone(group)

    def ignored(self, path: str, *, is_dir: bool = False) -> bool:
        rel = os.path.relpath(path, self.folder)
        if rel.startswith(".."):
            return True
        parts = rel.split(os.sep)
        if any(p.startswith(".") and p not in (".",) for p in parts):
            return True  # hidden files and folders, vfxcopy's own temporaries among them
        if not self.rule.recursive and len(parts) > 1:
            return True
        if is_dir:
            return False
        name = parts[-1]
        if is_temp_name(name) or name.lower().endswith(_TEMP_SUFFIXES):
            return True
        return not self.rule.matches(name)

    def split(self, path: str) -> tuple[SeqKey, int, str] | None:
        if self.ignored(path):
            return None
        directory, name = os.path.split(os.path.abspath(path))
        parsed = parse_frame_name(name)
        if parsed is None:
            return None
        head, digits, tail = parsed
        return (directory, head, tail), int(digits), digits

    def group(self, key: SeqKey) -> _Group:
        group = self._groups.get(key)
        if group is None:
            group = _Group(key, queued=self.store.load(self.rule.name, key_text(key)))
            self._groups[key] = group
        return group

    def touch(self, group: _Group) -> None:
        now = self.clock.now()
        group.last_activity = now
        group.deadline = now + self.rule.settle
        self._wake()

    def file_seen(self, path: str, state: str) -> None:
        split = self.split(path)
        if split is None:
            return
        key, frame, digits = split
        try:
            size = os.stat(path).st_size
        except OSError:
            return  # already gone again (renamed on, deleted): its own event follows
        with self.lock:
            group = self.group(key)
            known = group.frames.get(frame)
            if known is not None and known.state == DONE and state == OPEN and known.size == size:
                return  # a late modify event for a frame already closed
            self.events += 1
            group.frames[frame] = _Frame(digits, size, state, self.events)
            self.touch(group)

    def file_gone(self, path: str) -> None:
        split = self.split(path)
        if split is None:
            return
        key, frame, _ = split
        with self.lock:
            group = self._groups.get(key)
            if group is not None and group.frames.pop(frame, None) is not None:
                self.touch(group)

    def forget_dir(self, path: str) -> None:
        prefix = os.path.abspath(path)
        with self.lock:
            for key, group in self._groups.items():
                if key[0] == prefix or key[0].startswith(prefix + os.sep):
                    if group.frames:
                        group.frames.clear()
                        self.touch(group)

    # -- scans --
    def walk(self, top: str) -> dict[SeqKey, dict[int, tuple[str, int]]]:
        found: dict[SeqKey, dict[int, tuple[str, int]]] = {}
        stack = [top]
        while stack:
            current = stack.pop()
            try:
                entries = list(os.scandir(current))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if self.rule.recursive and not entry.name.startswith("."):
                            stack.append(entry.path)
                        continue
                    if not entry.is_file():
                        continue
                    split = self.split(entry.path)
                    if split is None:
                        continue
                    size = entry.stat().st_size
                except OSError:
                    continue
                key, frame, digits = split
                found.setdefault(key, {})[frame] = (digits, size)
        return found

    def rescan(self, *, initial: bool = False, top: str | None = None) -> int:
        """Diff the folder (or `top` below it) against known state; returns frames new or changed."""
        with self.lock:
            listed_at = self.events
        found = self.walk(top or self.folder)
        base = os.path.abspath(top or self.folder)
        changed = 0
        with self.lock:
            for key, frames in found.items():
                group = self.group(key)
                touched = False
                for frame, (digits, size) in frames.items():
                    known = group.frames.get(frame)
                    if known is not None and known.size == size:
                        continue
                    state = known.state if known is not None else SEEN
                    group.frames[frame] = _Frame(digits, size, state)
                    changed += 1
                    touched = True
                    if initial and not self.rule.process_existing:
                        group.queued.setdefault(frame, size)
                if touched and (self.rule.process_existing or not initial):
                    self.touch(group)
            if top is None:
                # Frames that vanished without an event (overflow, unmount).
                for key, group in self._groups.items():
                    if not (key[0] == base or key[0].startswith(base + os.sep)):
                        continue
                    present = found.get(key, {})
                    # Not a frame an event recorded while the folder was being listed: it arrived
                    # after the listing saw the folder (a delivery landing during a rescan, or the
                    # first scan of a new watch); dropping it split the delivery into two jobs.
                    for frame in [f for f, fr in group.frames.items() if f not in present and fr.stamp <= listed_at]:
                        del group.frames[frame]
            self.rescans += 1
        return changed

    # -- landing --
    def new_frames(self, group: _Group) -> dict[int, int]:
        return {f: fr.size for f, fr in group.frames.items() if group.queued.get(f) != fr.size}

    def display(self, group: _Group) -> str:
        directory, head, tail = group.key
        if not group.frames:
            return os.path.join(directory, f"{head}#{tail}")
        seq = self.sequence(group)
        return seq.pattern() if seq else os.path.join(directory, head + tail)

    def sequence(self, group: _Group) -> Sequence | None:
        directory, head, tail = group.key
        if not group.frames:
            return None
        padding = _padding(fr.digits for fr in group.frames.values())
        seq = Sequence(directory, head, tail, padding, tuple(sorted(group.frames)))
        # Names that this padding cannot spell (mixed padding) are left out rather than miscopied.
        bad = [f for f, fr in group.frames.items() if seq.format_frame(f) != fr.digits]
        frames = tuple(sorted(f for f in group.frames if f not in bad))
        total = sum(group.frames[f].size for f in frames)
        return Sequence(directory, head, tail, padding, frames, total_size=total)

    def expected_complete(self, group: _Group) -> bool:
        rng = self.rule.expected_range
        if rng is None:
            return False
        for frame in range(rng[0], rng[1] + 1):
            info = group.frames.get(frame)
            if info is None or info.state == OPEN:
                return False
        return True

    def due(self, now: float) -> list[_Group]:
        """Sequences whose settle time is over (or whose expected range is complete)."""
        with self.lock:
            return [g for g in self._groups.values()
                    if g.deadline is not None and (g.deadline <= now or self.expected_complete(g))]

    def next_deadline(self) -> float | None:
        with self.lock:
            deadlines = [g.deadline for g in self._groups.values() if g.deadline is not None]
        return min(deadlines) if deadlines else None

    def land(self, group: _Group, now: float) -> Landed | None:
        # Stat outside the lock: a slow network mount must not block watchdog's thread.
        with self.lock:
            paths = {f: os.path.join(group.key[0], group.key[1] + fr.digits + group.key[2])
                     for f, fr in group.frames.items()}
        sizes: dict[int, int | None] = {}
        for frame, path in paths.items():
            try:
                sizes[frame] = os.stat(path).st_size
            except OSError:
                sizes[frame] = None
        with self.lock:
            growing = False
            for frame, size in sizes.items():
                info = group.frames.get(frame)
                if info is None:
                    continue
                if size is None:
                    del group.frames[frame]
                    growing = True
                elif size != info.size:
                    info.size = size
                    growing = True
            if growing:
                self.touch(group)
                return None
            if group.deadline is not None and group.deadline > now and not self.expected_complete(group):
                return None  # a new event moved the deadline meanwhile
            group.deadline = None
            new = self.new_frames(group)
            if not new:
                self._forget_if_gone(group)
                return None
            seq = self.sequence(group)
            if seq is None or not seq.frames:
                return None
            new_frames = sorted(f for f in new if f in seq.frames)
            if not new_frames:
                return None
            first = not any(f in group.queued for f in seq.frames)
            for frame in new_frames:
                group.queued[frame] = group.frames[frame].size
        self._save(group, "remember", seq.display())
        return Landed(self.rule, seq, None if first else new_frames)

    def _save(self, group: _Group, verb: str, shown: str) -> None:
        """Write what was handed on of a sequence to the store, outside the tracker's lock.

        Writes are taken one at a time and each reads the group when its turn comes, so
        the last to land holds the newest state: a landing and a release of the same
        sequence on two threads cannot leave the older state in the store (a released
        frame that never came again after a restart)."""
        with self._store_lock:
            with self.lock:
                snapshot = dict(group.queued)
            try:
                self.store.record(self.rule.name, key_text(group.key), snapshot)
                stored = True
            except (OSError, sqlite3.Error, VfxCopyError) as exc:
                log.warning("watch %s: could not %s %s: %s", self.rule.name, verb, shown, exc)
                stored = False
            with self.lock:
                group.stored = stored
