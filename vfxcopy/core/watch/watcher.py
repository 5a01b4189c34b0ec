"""FolderWatcher: watchdog events plus periodic rescans -> one call per sequence once it has landed."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable

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

from vfxcopy.core.sequence import Sequence
from vfxcopy.core.units import plural
from vfxcopy.core.watch.landing import (
    DONE,
    OPEN,
    SEEN,
    Clock,
    Landed,
    LandingTracker,
    ManualClock,
    parse_frame_name,
)
from vfxcopy.core.watch.rules import DEFAULT_RESCAN_INTERVAL, WatchRule
from vfxcopy.core.watch.store import HandledStore, default_store

__all__ = ["Clock", "FolderWatcher", "Landed", "ManualClock", "ObserverFactory", "OnLanded", "default_observer",
           "parse_frame_name"]

log = logging.getLogger(__name__)

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
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.tracker = LandingTracker(rule, self.store, self.clock, self._wake.set)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._rescan_reasons: list[str] = []
        self._scan_dirs: list[str] = []
        self._next_rescan = 0.0
        self.last_activity = ""
        self.last_activity_time: float | None = None  # time.time()
        self.landed_count = 0
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
        self.tracker.stopped = True
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
        return self.tracker.pending()

    def known_frames(self) -> int:
        """All frames the watcher currently knows of (for tests and the status line)."""
        return self.tracker.known_frames()

    def known_sequences(self) -> int:
        """Sequences held in memory: with frames in the folder, or landing (not every one ever handled)."""
        return self.tracker.known_sequences()

    @property
    def rescans(self) -> int:
        return self.tracker.rescans

    def release(self, sequence: Sequence, frames: Iterable[int] | None = None) -> None:
        """Forget that these frames were handed on (a job cancelled or never run), so they come again.

        Works after `stop()` too: a runner calls it for jobs a stop left unfinished,
        and the next start (after a restart, too) queues those frames again.
        """
        self.tracker.release(sequence, frames)

    def rescan(self, *, initial: bool = False, top: str | None = None) -> int:
        """Diff the folder (or `top` below it) against known state; returns frames new or changed."""
        return self.tracker.rescan(initial=initial, top=top)

    def tick(self) -> list[Landed]:
        """Land every sequence that is due now; returns what was handed to `on_landed`."""
        now = self.clock.now()
        landed = [item for item in (self.tracker.land(g, now) for g in self.tracker.due(now)) if item is not None]
        with self._lock:
            self.landed_count += len(landed)
        for item in landed:
            what = f"follow-up, {plural(len(item.frames), 'new frame')}" if item.frames is not None else (
                plural(len(item.sequence.frames), "frame"))
            self._set_activity(f"landed {item.sequence.display()} ({what})")
            try:
                self.on_landed(item.rule, item.sequence, item.frames)
            except Exception:
                log.exception("watch %s: on_landed failed for %s", self.rule.name, item.sequence.display())
        return landed

    # -- events (watchdog's thread) --
    def _on_event(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path) if event.src_path else ""
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        if isinstance(event, (DirCreatedEvent, DirMovedEvent)):
            target = dest if isinstance(event, DirMovedEvent) else src
            if isinstance(event, DirMovedEvent) and src:
                self.tracker.forget_dir(src)
            if target and self.rule.recursive and not self.tracker.ignored(target, is_dir=True):
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
                self.tracker.forget_dir(src)
            return
        if isinstance(event, FileMovedEvent):
            if src:
                self.tracker.file_gone(src)
            if dest:
                self.tracker.file_seen(dest, DONE)
            return
        if isinstance(event, FileDeletedEvent):
            self.tracker.file_gone(src)
        elif isinstance(event, FileClosedEvent):
            self.tracker.file_seen(src, DONE)
        elif isinstance(event, FileCreatedEvent):
            self.tracker.file_seen(src, SEEN if self.rule.polling else OPEN)
        elif isinstance(event, FileModifiedEvent):
            self.tracker.file_seen(src, SEEN if self.rule.polling else OPEN)

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
        wait = self.tick_interval
        deadline = self.tracker.next_deadline()
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - self.clock.now()))
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
