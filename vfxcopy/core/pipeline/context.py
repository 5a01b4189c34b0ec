"""What a writer sees of the run (Worker), and the run's own stop signals."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from vfxcopy.core.errors import (
    Cancelled,
)
from vfxcopy.core.jobs import (
    JobState,
)
from vfxcopy.core.pipeline.temps import TempFile

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.pipeline.runner import Pipeline


class DiskFull(Exception):
    pass


class StopOnError(Exception):
    pass


class JobLevelError(Exception):
    pass


class Worker:
    """The Context a writer sees: one per worker thread."""

    def __init__(self, run: Pipeline, worker: int) -> None:
        self.run = run
        self.worker = worker
        self.debug = run.debug
        self.bw_start = time.monotonic()
        self.bw_bytes = 0
        self.fanout = run.fanout  # this job's place in its fan-out group (writers/fanout.py), or None

    def check(self) -> None:
        run = self.run
        token = run.token
        if token.paused or token.cancelled:  # rare: a pause or a cancel is handled off the fast path
            self.check_slow()
        if run.committer is not None:
            run.drain()

    def check_slow(self) -> None:
        run = self.run
        token = run.token
        if token.paused and not token.cancelled:
            run.tally.progress(JobState.PAUSED, "paused")
            paused_at = time.monotonic()
            token.check()  # blocks until resumed or cancelled
            self.bw_start += time.monotonic() - paused_at  # no burst after a pause
            run.tally.progress(JobState.RUNNING)
        if token.cancelled:
            run.note_cancel_seen()
            token.check()  # raises Cancelled

    def add_bytes(self, n: int) -> None:
        self.run.tally.add_bytes(self.worker, n)
        limit = self.run.spec.copy.bwlimit
        if limit:
            self.bw_bytes += n
            ahead = self.bw_bytes / limit - (time.monotonic() - self.bw_start)
            if ahead > 0 and self.run.token.wait(ahead):
                raise Cancelled()

    def log(self, level: str, text: str) -> None:
        self.run.tally.log(level, text)

    def temp_path(self, temp: TempFile) -> str:
        assert self.run.temps is not None
        return self.run.temps.path(temp.name)

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        return self.run.token.on_cancel(callback)
