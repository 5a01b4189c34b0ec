"""JobNotices: when a job ends in the window, its notification URLs and hook, off the GUI thread."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from vfxcopy.core import config
from vfxcopy.core.jobs import JobResult, JobSpec


class JobNotices(QObject):
    """Sends a finished job to the notify.* settings' URLs and hook (core.notify) in a worker thread.

    A URL call or a hook can take seconds: never on the GUI thread. What went wrong comes
    back as `problem` (queued to the GUI thread); `done` tells that a job's notices are over.
    """

    problem = Signal(str)
    done = Signal(str)  # the job id

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._threads: list[threading.Thread] = []

    def desktop_wanted(self) -> bool:
        return config.load(migrate=False).flag("notify.desktop")

    def job_finished(self, spec: JobSpec, result: JobResult) -> bool:
        """Start telling the URLs and hook about the job; False when none is set (nothing started)."""
        from vfxcopy.core.notify import Notifier

        notifier = Notifier.from_settings(config.load(migrate=False))
        if not notifier.active:
            return False
        thread = threading.Thread(target=self._tell, args=(notifier, spec, result), daemon=True,
                                  name=f"vfxcopy-notify-{spec.job_id}")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return True

    def _tell(self, notifier: object, spec: JobSpec, result: JobResult) -> None:
        from vfxcopy.core.notify import MissingExtra, Notifier, job_payload

        assert isinstance(notifier, Notifier)
        try:
            problems = notifier.job_finished(spec, result)
            problems += notifier.batch_finished([job_payload(spec, result)], "")
        except (MissingExtra, OSError, ValueError) as exc:
            problems = [str(exc)]
        for problem in problems:
            self.problem.emit(problem)
        self.done.emit(spec.job_id)

    def wait(self, timeout: float = 5.0) -> None:
        """At shutdown: give running notices a moment to finish (they are daemon threads)."""
        for thread in list(self._threads):
            thread.join(timeout)
