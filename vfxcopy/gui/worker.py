"""QueueRelay: the core queue's listener that hands each callback to the GUI thread, in order."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

from vfxcopy.core.jobs import Event, JobResult, JobSpec
from vfxcopy.core.queue import PROGRESS_INTERVAL, QueueListener, RunFn

__all__ = ["EMIT_INTERVAL", "QueueRelay", "RunFn"]

# The queue throttles progress (about ten updates a second per job); nothing here throttles again.
EMIT_INTERVAL = PROGRESS_INTERVAL

Item = tuple[str, object, object]  # kind, first argument, second argument


class QueueRelay(QObject, QueueListener):
    """Lives in the GUI thread. Worker threads put their callbacks in an inbox and wake it
    with a queued signal; `deliver` hands them to `handle` in the GUI thread, each job's
    in the order they happened. A callback made in the GUI thread itself (submit,
    cancelling a pending job) is handled at once, after whatever was waiting, so
    nothing overtakes. Nothing is delayed or dropped here: the queue throttled already.
    """

    _wake = Signal()

    def __init__(self, handle: Callable[[str, object, object], None], parent: QObject | None = None) -> None:
        QObject.__init__(self, parent)
        self._handle = handle
        self._inbox: deque[Item] = deque()
        self._lock = threading.Lock()
        self._gui_thread = threading.get_ident()
        self._wake_posted = False
        self._delivering = False  # GUI thread only
        self._wake.connect(self.deliver, Qt.ConnectionType.QueuedConnection)

    # -- QueueListener, any thread --
    def submitted(self, spec: JobSpec) -> None:
        self._put(("submitted", spec, None))

    def started(self, spec: JobSpec) -> None:
        self._put(("started", spec, None))

    def events(self, job_id: str, events: list[Event]) -> None:
        self._put(("events", job_id, events))

    def finished(self, spec: JobSpec, result: JobResult) -> None:
        self._put(("finished", spec, result))

    def _put(self, item: Item) -> None:
        with self._lock:
            self._inbox.append(item)
            # One wake-up in flight is enough: everything that arrives before it is handled
            # goes in the same round (under load, one model update per job instead of many).
            wake = not self._wake_posted
            self._wake_posted = True
        if threading.get_ident() == self._gui_thread:
            self.deliver()
        elif wake:
            self._wake.emit()

    # -- GUI thread --
    @Slot()
    def deliver(self) -> None:
        """Hand every waiting callback on (also called by the runner's wait()).

        A job's event batches waiting together are joined into one list, kept in order
        and handed on before that job's next callback (its end, say). A call from inside
        a handler returns at once: the round under way picks the new items up next, so
        nothing overtakes what it still holds.
        """
        if self._delivering:
            return
        self._delivering = True
        try:
            self._deliver_all()
        finally:
            self._delivering = False

    def _deliver_all(self) -> None:
        while True:
            with self._lock:
                items = list(self._inbox)
                self._inbox.clear()
                self._wake_posted = False
            if not items:
                return
            joined: dict[str, list[Event]] = {}
            for kind, first, second in items:
                if kind == "events":
                    assert isinstance(first, str) and isinstance(second, list)
                    joined.setdefault(first, []).extend(second)
                    continue
                job_id = first.job_id if isinstance(first, JobSpec) else None
                if job_id is not None and job_id in joined:
                    self._handle("events", job_id, joined.pop(job_id))
                self._handle(kind, first, second)
            for job_id, events in joined.items():
                self._handle("events", job_id, events)
