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
    with a queued signal; `deliver` hands them to `handle` in the GUI thread in arrival
    order. A callback made in the GUI thread itself (submit, cancelling a pending job)
    is handled at once, after whatever was waiting, so nothing overtakes.
    """

    _wake = Signal()

    def __init__(self, handle: Callable[[str, object, object], None], parent: QObject | None = None) -> None:
        QObject.__init__(self, parent)
        self._handle = handle
        self._inbox: deque[Item] = deque()
        self._lock = threading.Lock()
        self._gui_thread = threading.get_ident()
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
        if threading.get_ident() == self._gui_thread:
            self.deliver()
        else:
            self._wake.emit()

    # -- GUI thread --
    @Slot()
    def deliver(self) -> None:
        """Hand every waiting callback on (also called by the runner's wait())."""
        while True:
            with self._lock:
                if not self._inbox:
                    return
                kind, first, second = self._inbox.popleft()
            self._handle(kind, first, second)
