"""FolderWatcher: watchdog events plus periodic rescans -> one call per sequence once it has landed."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from vfxcopy.core.errors import VfxCopyError
from vfxcopy.core.jobs import is_temp_name
from vfxcopy.core.sequence import Sequence, split_frame
from vfxcopy.core.watch.rules import DEFAULT_RESCAN_INTERVAL, WatchRule
from vfxcopy.core.watch.store import HandledStore, SeqKey, default_store, key_text

log = logging.getLogger(__name__)

# Names that writers use while a file is still incomplete; a rename to the final
# name follows, and that rename is the event that counts.
_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", "~")

# Only what can mean "a frame appeared, grew, was renamed or went away". Opened
# and closed-without-write (our own reads, a viewer) never reach the handler,
# so reading a sequence can never restart its settle timer.
_EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]



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


@dataclass
class _Group:
    key: SeqKey
    frames: dict[int, _Frame] = field(default_factory=dict)
    queued: dict[int, int] = field(default_factory=dict)  # frame -> size already handed on
    deadline: float | None = None
    last_activity: float = 0.0


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


OnLanded = Callable[[WatchRule, Sequence, list[int] | None], None]
ObserverFactory = Callable[[WatchRule], BaseObserver]

_watchers: weakref.WeakSet[FolderWatcher] = weakref.WeakSet()
_watchers_lock = threading.Lock()


class _OverflowListener(logging.Handler):
    """watchdog only logs a kernel queue overflow; turn that log line into a rescan of every watcher."""

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" not in record.getMessage().lower():
            return
        with _watchers_lock:
            watchers = list(_watchers)
        for watcher in watchers:
            watcher.request_rescan("the kernel's event queue overflowed")


_overflow_listener = _OverflowListener(level=logging.WARNING)
for _name in ("watchdog.observers.inotify_c", "watchdog.observers.inotify"):
    logging.getLogger(_name).addHandler(_overflow_listener)


def default_observer(rule: WatchRule, poll_interval: float = 2.0) -> BaseObserver:
    """inotify with move pairs on Linux, the platform's observer elsewhere, polling on request."""
    if rule.polling:
        return PollingObserver(timeout=poll_interval)
    if sys.platform.startswith("linux"):
        from watchdog.observers.inotify import InotifyObserver

        # Full events: a file renamed in from outside arrives as a move (complete),
        # not as a create (which could still be open for writing).
        return InotifyObserver(generate_full_events=True)
    from watchdog.observers import Observer

    observer: BaseObserver = Observer()
    return observer


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher) -> None:
        self._watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._watcher._on_event(event)
        except Exception:
            log.exception("watch: could not handle %r", event)


class FolderWatcher:
    """Watches one rule's folder and calls `on_landed(rule, sequence, new_frames)` once per landing.

    `on_landed` runs in the watcher's timer thread (or in the thread calling
    `tick()`); `new_frames` is None for a sequence's first job and the list of
    new or changed frames for a follow-up.
    """

    def __init__(
        self,
        rule: WatchRule,
        on_landed: OnLanded,
        *,
        store: HandledStore | None = None,
        clock: Clock | None = None,
        rescan_interval: float = DEFAULT_RESCAN_INTERVAL,
        observer_factory: ObserverFactory | None = None,
        on_activity: Callable[[WatchRule, str], None] | None = None,
        tick_interval: float = 0.2,
    ) -> None:
        self.rule = rule
        self.on_landed = on_landed
        self.on_activity = on_activity
        self.store: HandledStore = store if store is not None else default_store()
        self.clock = clock or Clock()
        self.rescan_interval = rescan_interval
        self.tick_interval = tick_interval
        self._observer_factory = observer_factory or default_observer
        self._observer: BaseObserver | None = None
        self._folder = os.path.abspath(rule.folder)
        self._groups: dict[SeqKey, _Group] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._rescan_reasons: list[str] = []
        self._scan_dirs: list[str] = []
        self._next_rescan = 0.0
        self.last_activity = ""
        self.last_activity_time: float | None = None  # time.time()
        self.landed_count = 0
        self.rescans = 0
        self.error: str | None = None

    # -- life cycle --
    def start(self) -> None:
        """Start watching; the initial scan runs in the background (see `wait_ready`)."""
        if self._thread is not None:
            return
        self.rule.validate()
        self._start_observer()
        with _watchers_lock:
            _watchers.add(self)
        self._thread = threading.Thread(target=self._run, name=f"watch:{self.rule.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the observer and the timer thread; pending sequences are not queued."""
        self._stop.set()
        self._wake.set()
        with _watchers_lock:
            _watchers.discard(self)
        self._stop_observer(timeout)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> FolderWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once the observer runs and the first scan of the folder is merged."""
        return self._ready.wait(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stop.is_set()

    def _start_observer(self) -> None:
        observer = self._observer_factory(self.rule)
        try:
            observer.schedule(_Handler(self), self._folder, recursive=self.rule.recursive,
                              event_filter=_EVENT_FILTER)
            observer.start()
        except OSError as exc:
            # e.g. the inotify watch limit: polling still sees everything, only later.
            log.warning("watch %s: %s; falling back to polling", self.rule.name, exc)
            self._set_activity(f"events unavailable ({exc}); polling instead")
            observer = PollingObserver(timeout=2.0)
            observer.schedule(_Handler(self), self._folder, recursive=self.rule.recursive,
                              event_filter=_EVENT_FILTER)
            observer.start()
        self._observer = observer

    def _stop_observer(self, timeout: float) -> None:
        observer, self._observer = self._observer, None
        if observer is None:
            return
        try:
            observer.stop()
            if observer.is_alive():
                observer.join(timeout)
        except (OSError, RuntimeError) as exc:
            log.warning("watch %s: stopping the observer: %s", self.rule.name, exc)

    def _observer_healthy(self) -> bool:
        observer = self._observer
        if observer is None or not observer.is_alive():
            return False
        return all(emitter.is_alive() for emitter in observer.emitters) and bool(observer.emitters)

    # -- what the outside can ask --
    def request_rescan(self, reason: str = "") -> None:
        """Diff the folder against what is known, soon, in the timer thread."""
        with self._lock:
            self._rescan_reasons.append(reason or "requested")
        self._wake.set()

    def pending(self) -> dict[str, int]:
        """Sequences seen but not (fully) handed on yet: display name -> frames on disk."""
        with self._lock:
            out = {}
            for group in self._groups.values():
                if group.deadline is not None or self._new_frames(group):
                    out[self._display(group)] = len(group.frames)
            return out

    def known_frames(self) -> int:
        """All frames the watcher currently knows of (for tests and the status line)."""
        with self._lock:
            return sum(len(g.frames) for g in self._groups.values())

    def release(self, sequence: Sequence, frames: Iterable[int] | None = None) -> None:
        """Forget that these frames were handed on (a job cancelled or never run), so they come again.

        Works after `stop()` too: a runner calls it for jobs a stop left unfinished,
        and the next start (after a restart, too) queues those frames again.
        """
        key: SeqKey = (sequence.directory, sequence.head, sequence.tail)
        wanted = list(sequence.frames if frames is None else frames)
        with self._lock:
            group = self._group(key)
            for frame in wanted:
                group.queued.pop(frame, None)
            snapshot = dict(group.queued)
            if group.frames and not self._stop.is_set():
                self._touch(group)
        try:
            self.store.record(self.rule.name, key_text(key), snapshot)
        except (OSError, sqlite3.Error, VfxCopyError) as exc:
            log.warning("watch %s: could not update %s: %s", self.rule.name, sequence.display(), exc)

    # -- events (watchdog's thread) --
    def _on_event(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path) if event.src_path else ""
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        if isinstance(event, (DirCreatedEvent, DirMovedEvent)):
            target = dest if isinstance(event, DirMovedEvent) else src
            if isinstance(event, DirMovedEvent) and src:
                self._forget_dir(src)
            if target and self.rule.recursive and not self._ignored(target, is_dir=True):
                # A folder moved in: its files may predate the new watch; scan it.
                with self._lock:
                    self._scan_dirs.append(target)
                self._wake.set()
            return
        if isinstance(event, DirDeletedEvent):
            if os.path.abspath(src) == self._folder:
                self._set_activity("the watched folder disappeared; waiting for it to come back")
                self.request_rescan("watched folder deleted")
            else:
                self._forget_dir(src)
            return
        if isinstance(event, FileMovedEvent):
            if src:
                self._file_gone(src)
            if dest:
                self._file_seen(dest, DONE)
            return
        if isinstance(event, FileDeletedEvent):
            self._file_gone(src)
        elif isinstance(event, FileClosedEvent):
            self._file_seen(src, DONE)
        elif isinstance(event, FileCreatedEvent):
            self._file_seen(src, SEEN if self.rule.polling else OPEN)
        elif isinstance(event, FileModifiedEvent):
            self._file_seen(src, SEEN if self.rule.polling else OPEN)

    def _ignored(self, path: str, *, is_dir: bool = False) -> bool:
        rel = os.path.relpath(path, self._folder)
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

    def _split(self, path: str) -> tuple[SeqKey, int, str] | None:
        if self._ignored(path):
            return None
        directory, name = os.path.split(os.path.abspath(path))
        parsed = parse_frame_name(name)
        if parsed is None:
            return None
        head, digits, tail = parsed
        return (directory, head, tail), int(digits), digits

    def _group(self, key: SeqKey) -> _Group:
        group = self._groups.get(key)
        if group is None:
            group = _Group(key, queued=self.store.load(self.rule.name, key_text(key)))
            self._groups[key] = group
        return group

    def _touch(self, group: _Group) -> None:
        now = self.clock.now()
        group.last_activity = now
        group.deadline = now + self.rule.settle
        self._wake.set()

    def _file_seen(self, path: str, state: str) -> None:
        split = self._split(path)
        if split is None:
            return
        key, frame, digits = split
        try:
            size = os.stat(path).st_size
        except OSError:
            return  # already gone again (renamed on, deleted): its own event follows
        with self._lock:
            group = self._group(key)
            known = group.frames.get(frame)
            if known is not None and known.state == DONE and state == OPEN and known.size == size:
                return  # a late modify event for a frame already closed
            group.frames[frame] = _Frame(digits, size, state)
            self._touch(group)

    def _file_gone(self, path: str) -> None:
        split = self._split(path)
        if split is None:
            return
        key, frame, _ = split
        with self._lock:
            group = self._groups.get(key)
            if group is not None and group.frames.pop(frame, None) is not None:
                self._touch(group)

    def _forget_dir(self, path: str) -> None:
        prefix = os.path.abspath(path)
        with self._lock:
            for key, group in self._groups.items():
                if key[0] == prefix or key[0].startswith(prefix + os.sep):
                    if group.frames:
                        group.frames.clear()
                        self._touch(group)

    # -- scans --
    def _walk(self, top: str) -> dict[SeqKey, dict[int, tuple[str, int]]]:
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
                    split = self._split(entry.path)
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
        found = self._walk(top or self._folder)
        base = os.path.abspath(top or self._folder)
        changed = 0
        with self._lock:
            for key, frames in found.items():
                group = self._group(key)
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
                    self._touch(group)
            if top is None:
                # Frames that vanished without an event (overflow, unmount).
                for key, group in self._groups.items():
                    if not (key[0] == base or key[0].startswith(base + os.sep)):
                        continue
                    present = found.get(key, {})
                    for frame in [f for f in group.frames if f not in present]:
                        del group.frames[frame]
            self.rescans += 1
        return changed

    # -- landing --
    def _new_frames(self, group: _Group) -> dict[int, int]:
        return {f: fr.size for f, fr in group.frames.items() if group.queued.get(f) != fr.size}

    def _display(self, group: _Group) -> str:
        directory, head, tail = group.key
        if not group.frames:
            return os.path.join(directory, f"{head}#{tail}")
        seq = self._sequence(group)
        return seq.pattern() if seq else os.path.join(directory, head + tail)

    def _sequence(self, group: _Group) -> Sequence | None:
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

    def _expected_complete(self, group: _Group) -> bool:
        rng = self.rule.expected_range
        if rng is None:
            return False
        for frame in range(rng[0], rng[1] + 1):
            info = group.frames.get(frame)
            if info is None or info.state == OPEN:
                return False
        return True

    def tick(self) -> list[Landed]:
        """Land every sequence that is due now; returns what was handed to `on_landed`."""
        now = self.clock.now()
        due: list[_Group] = []
        with self._lock:
            for group in self._groups.values():
                if group.deadline is None:
                    continue
                if group.deadline <= now or self._expected_complete(group):
                    due.append(group)
        landed: list[Landed] = []
        for group in due:
            item = self._check_group(group, now)
            if item is not None:
                landed.append(item)
        with self._lock:
            self.landed_count += len(landed)
        for item in landed:
            what = "follow-up, " + str(len(item.frames)) + " new frames" if item.frames is not None else (
                f"{len(item.sequence.frames)} frames")
            self._set_activity(f"landed {item.sequence.display()} ({what})")
            try:
                self.on_landed(item.rule, item.sequence, item.frames)
            except Exception:
                log.exception("watch %s: on_landed failed for %s", self.rule.name, item.sequence.display())
        return landed

    def _check_group(self, group: _Group, now: float) -> Landed | None:
        # Stat outside the lock: a slow network mount must not block watchdog's thread.
        with self._lock:
            paths = {f: os.path.join(group.key[0], group.key[1] + fr.digits + group.key[2])
                     for f, fr in group.frames.items()}
        sizes: dict[int, int | None] = {}
        for frame, path in paths.items():
            try:
                sizes[frame] = os.stat(path).st_size
            except OSError:
                sizes[frame] = None
        with self._lock:
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
                self._touch(group)
                return None
            if group.deadline is not None and group.deadline > now and not self._expected_complete(group):
                return None  # a new event moved the deadline meanwhile
            group.deadline = None
            new = self._new_frames(group)
            if not new:
                return None
            seq = self._sequence(group)
            if seq is None or not seq.frames:
                return None
            new_frames = sorted(f for f in new if f in seq.frames)
            if not new_frames:
                return None
            first = not any(f in group.queued for f in seq.frames)
            for frame in new_frames:
                group.queued[frame] = group.frames[frame].size
            snapshot = dict(group.queued)
        try:
            self.store.record(self.rule.name, key_text(group.key), snapshot)
        except (OSError, sqlite3.Error, VfxCopyError) as exc:
            log.warning("watch %s: could not remember %s: %s", self.rule.name, seq.display(), exc)
        return Landed(self.rule, seq, None if first else new_frames)

    def _set_activity(self, text: str) -> None:
        self.last_activity = text
        self.last_activity_time = time.time()
        if self.on_activity is not None:
            try:
                self.on_activity(self.rule, text)
            except Exception:
                log.exception("watch %s: on_activity failed", self.rule.name)

    # -- the timer thread --
    def _run(self) -> None:
        try:
            self.rescan(initial=True)
        except OSError as exc:
            self._set_activity(f"could not scan {self._folder}: {exc}")
        self._ready.set()
        self._set_activity("watching")
        self._next_rescan = self.clock.now() + self.rescan_interval
        while not self._stop.is_set():
            self._wake.wait(self._next_wait())
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._housekeeping()
                self.tick()
            except Exception:
                log.exception("watch %s: timer round failed", self.rule.name)

    def _next_wait(self) -> float:
        now = self.clock.now()
        wait = self.tick_interval
        with self._lock:
            deadlines = [g.deadline for g in self._groups.values() if g.deadline is not None]
        if deadlines:
            wait = min(wait, max(0.0, min(deadlines) - now))
        return max(0.01, wait)

    def _housekeeping(self) -> None:
        with self._lock:
            dirs, self._scan_dirs = self._scan_dirs, []
            reasons, self._rescan_reasons = self._rescan_reasons, []
        for directory in dict.fromkeys(dirs):
            self.rescan(top=directory)
        now = self.clock.now()
        if not self._observer_healthy() and not self._stop.is_set():
            self._restart_observer()
            reasons.append("observer restarted")
        if reasons or now >= self._next_rescan:
            changed = self.rescan()
            self._next_rescan = now + self.rescan_interval
            if changed and reasons:
                self._set_activity(f"rescan ({reasons[0]}) found {changed} new or changed frames")

    def _restart_observer(self) -> None:
        if not os.path.isdir(self._folder):
            if self.error is None:
                self.error = f"{self._folder} is not reachable"
                self._set_activity(self.error)
            return
        self._stop_observer(2.0)
        try:
            self._start_observer()
            self.error = None
        except OSError as exc:
            self.error = f"cannot watch {self._folder}: {exc}"
            self._set_activity(self.error)
