"""Accounting of one run: per-item results, counts, bytes, throughput, and the job's final words."""

from __future__ import annotations

import threading
import time

from vfxcopy.core.jobs import (
    FrameResult,
    FrameStatus,
    JobResult,
    JobState,
    LogMessage,
    Progress,
    Reporter,
    ThroughputMeter,
)

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.writers.base import Item


class Debug:
    """Optional instrumentation for benchmarks and tests (times are time.monotonic()).

    A plain class, as the pipeline's other internal records: a dataclass's generated methods
    cost every command's start 0.3-0.6 ms each."""

    def __init__(self) -> None:
        self.last_write_end: float | None = None  # a copy/write call into a temp returned
        self.cancel_seen: float | None = None  # the pipeline noticed the cancel
        self.temp_unlinked: float | None = None  # the first discarded temp's name is gone
        self.returned: float | None = None  # the run is about to return
        self.temp_closed = threading.Event()  # space released
        self.temp_closed_at: float | None = None
        self.copy_calls = 0
        self.calls: list[tuple[float, int]] = []  # (seconds, bytes) per copy call

    def closed(self) -> None:
        self.temp_closed_at = time.monotonic()
        self.temp_closed.set()


# While an item's bytes flow, progress snapshots (and throughput samples) go out at most this
# often (the queue passes on ten a second anyway); items bigger than BIG_ITEM_BYTES show each chunk.
PROGRESS_EVERY_S = 0.02
BIG_ITEM_BYTES = 1 << 20
# An item this big is announced by a snapshot of its own when it starts (listeners act on the
# current frame: pause or stop after it, the window's frame strip); smaller ones are named by the
# snapshots due by time (20,000 frames of 200 bytes: a snapshot each cost 0.1 s of a 2 s copy).
ANNOUNCE_ITEM_BYTES = 64 * 1024


def plural(count: int, word: str, words: str | None = None) -> str:
    """'1 frame', '3 frames'."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


class Tally:
    """What happened so far; every event of the run goes out through here (thread-safe)."""

    def __init__(self, job_id: str, report: Reporter, unit: str = "frame") -> None:
        self.job_id = job_id
        self._report = report
        self.unit = unit
        self.lock = threading.RLock()
        self.results: dict[int, FrameResult] = {}
        self.counts: dict[FrameStatus, int] = dict.fromkeys(FrameStatus, 0)
        self.total = 0
        self.bytes_total = 0
        self.bytes_accounted = 0  # finished items' source bytes (done, skipped, failed)
        self.bytes_written = 0
        self.in_flight: dict[int, int] = {}  # worker -> bytes of its current item
        self.committing = 0  # source bytes of items written and waiting to be made durable
        self.current: Item | None = None  # the item a worker started last (what snapshots name)
        self.meter = ThroughputMeter()
        self.started = time.monotonic()
        self.last_progress = 0.0
        self.progress_every = PROGRESS_EVERY_S  # 0: a snapshot for every chunk (movies: one per frame piped)

    def report(self, event: Progress | FrameResult | LogMessage) -> None:
        try:
            self._report(event)
        except Exception:  # noqa: BLE001 - a faulty listener must not kill the run
            pass

    def log(self, level: str, text: str) -> None:
        self.report(LogMessage(self.job_id, level, text))

    def snapshot(self, state: JobState = JobState.RUNNING, message: str = "") -> Progress:
        with self.lock:
            c = self.counts
            done, skipped, failed = c[FrameStatus.DONE], c[FrameStatus.SKIPPED], c[FrameStatus.FAILED]
            accounted = self._accounted()
            cur = self.current
            return Progress(
                job_id=self.job_id,
                state=state,
                frames_total=self.total,
                frames_done=done + skipped,
                frames_failed=failed,
                frames_skipped=skipped,
                bytes_total=self.bytes_total,
                bytes_done=min(accounted, self.bytes_total) if self.bytes_total else accounted,
                current_frame=cur.frame if cur else None,
                current_path=cur.src if cur else None,
                bytes_per_s=self.meter.rate,
                eta_s=self.meter.eta(max(0, self.bytes_total - accounted)),
                message=message,
            )

    def _accounted(self) -> int:
        return self.bytes_accounted + self.committing + sum(self.in_flight.values())

    def progress(self, state: JobState = JobState.RUNNING, message: str = "") -> None:
        with self.lock:
            self.last_progress = now = time.monotonic()
            self.meter.add(self._accounted(), now)
            self.report(self.snapshot(state, message))

    def _progress_due(self, always: bool = False) -> None:
        """A snapshot if the last one is PROGRESS_EVERY_S old, or `always` (called under the lock)."""
        now = time.monotonic()
        if now - self.last_progress >= self.progress_every:
            self.last_progress = now
            self.meter.add(self._accounted(), now)
        elif not always:
            return
        self.report(self.snapshot())

    def add_bytes(self, worker: int, n: int) -> None:
        """`n` more bytes of the worker's current item are written."""
        with self.lock:
            done = self.in_flight[worker] = self.in_flight.get(worker, 0) + n
            self.bytes_written += n
            if done > BIG_ITEM_BYTES:  # a big item: each chunk (>= 3 ms of work) is shown
                self.last_progress = 0.0
            self._progress_due()

    def hand_over(self, worker: int, size: int, written: int = 0) -> None:
        """The worker's item is written and goes to the committer: its bytes count as done
        (`written`: its bytes not yet added by add_bytes)."""
        with self.lock:
            self.in_flight.pop(worker, None)
            self.bytes_written += written
            self.committing += size

    def begin(self, worker: int, item: Item) -> None:
        """The worker starts an item: one snapshot naming it if it is big enough to be seen
        (ANNOUNCE_ITEM_BYTES), else the next snapshot due by time names it.

        No lock for a small item: one reference is set (20,000 small frames: a lock, a result
        object and a call each were about 3 us of a 60 us item)."""
        self.current = item
        if item.size >= ANNOUNCE_ITEM_BYTES or self.progress_every == 0.0:
            with self.lock:
                self._progress_due(always=True)

    def end(self, worker: int) -> None:
        # Only the worker's own thread adds or removes its entry: a read without the lock is exact.
        if worker in self.in_flight:
            with self.lock:
                self.in_flight.pop(worker, None)

    def finish(
        self, result: FrameResult, size: int, progress: bool = True, committed: bool = False,
        worker: int | None = None, written: int = 0,
    ) -> None:
        """Record a final FrameResult (once per index), account its bytes and report it.

        `worker`: the item ends on that worker now (its bytes in flight go), `written`: bytes of
        it not yet added by add_bytes (a small item's one write), so that an item costs one lock."""
        with self.lock:
            if worker is not None:
                self.in_flight.pop(worker, None)
            self.bytes_written += written
            if committed:
                self.committing -= size
            if result.index in self.results:
                return
            self.results[result.index] = result
            self.counts[result.status] += 1
            if result.status is not FrameStatus.CANCELLED and result.status is not FrameStatus.PENDING:
                self.bytes_accounted += size
            self.report(result)
            if progress:
                self._progress_due()

    @property
    def failed(self) -> int:
        return self.counts[FrameStatus.FAILED]

    @property
    def settled(self) -> int:
        return sum(1 for r in self.results.values() if r.status in (FrameStatus.DONE, FrameStatus.SKIPPED))

    # -- the job's final words, the same for every operation --
    def failed_message(self) -> str:
        return f"{self.failed} of {plural(self.total, self.unit)} failed"

    def cancelled_message(self) -> str:
        return f"Cancelled after {self.settled} of {plural(self.total, self.unit)}"

    def stopped_message(self, last: int | None) -> str:
        left = self.total - self.settled - self.failed
        if last is None:
            return f"Stopped before the first {self.unit}"
        return f"Stopped after {self.unit} {last}; {plural(left, self.unit)} not done"

    def result(self, state: JobState, message: str, frames: list[FrameResult]) -> JobResult:
        with self.lock:
            self.current = None
            self.meter.add(self._accounted())
        self.report(self.snapshot(state, message))
        return JobResult(
            job_id=self.job_id,
            state=state,
            frames=frames,
            bytes_done=self.bytes_written,
            elapsed=time.monotonic() - self.started,
            message=message,
        )
