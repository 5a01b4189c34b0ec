"""JobQueue: limit and order, Start Next, cancel pending/all, pause, stop after frame, throttling, journal."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from vfxcopy.core.jobs import (
    CancelToken,
    CopyOptions,
    Event,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
    Reporter,
    is_temp_name,
)
from vfxcopy.core.journal import Journal
from vfxcopy.core.queue import CANCELLED_BEFORE_START, JobQueue, QueueListener
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence

TIMEOUT = 30.0


class Recorder(QueueListener):
    """Everything a queue told its listener, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.submitted_ids: list[str] = []
        self.started_ids: list[str] = []
        self.batches: list[tuple[float, str, list[Event]]] = []
        self.results: dict[str, JobResult] = {}
        self.order: list[tuple[str, str]] = []

    def submitted(self, spec: JobSpec) -> None:
        with self.lock:
            self.submitted_ids.append(spec.job_id)

    def started(self, spec: JobSpec) -> None:
        with self.lock:
            self.started_ids.append(spec.job_id)
            self.order.append(("started", spec.job_id))

    def events(self, job_id: str, events: list[Event]) -> None:
        with self.lock:
            self.batches.append((time.monotonic(), job_id, list(events)))

    def finished(self, spec: JobSpec, result: JobResult) -> None:
        with self.lock:
            self.results[spec.job_id] = result
            self.order.append(("finished", spec.job_id))

    def events_of(self, job_id: str) -> list[Event]:
        with self.lock:
            return [e for _, j, batch in self.batches if j == job_id for e in batch]


class Gated:
    """A run function whose jobs wait until the test opens their gate (or they are cancelled)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def gate(self, job_id: str) -> threading.Event:
        with self.lock:
            return self.gates.setdefault(job_id, threading.Event())

    def __call__(self, spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
        with self.lock:
            self.calls.append(spec.job_id)
        gate = self.gate(spec.job_id)
        while not gate.wait(0.01):
            if token.cancelled:
                return JobResult(spec.job_id, JobState.CANCELLED, message="cancelled")
        return JobResult(spec.job_id, JobState.COMPLETED)


def fake_spec(tmp_path: Path, name: str) -> JobSpec:
    src = tmp_path / "src"
    if not src.exists():
        make_byte_sequence(src, count=2, size=16)
    return JobSpec(find_sequence(src / "plate.1001.exr"), str(tmp_path / "out" / name), name=name)


def real_spec(src: list[Path], dest: Path, **copy: Any) -> JobSpec:
    copy.setdefault("fsync", False)
    return JobSpec(find_sequence(src[0], stat=True), str(dest), copy=CopyOptions(**copy))


def wait_until(predicate: Any, what: str) -> None:
    end = time.monotonic() + TIMEOUT
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def test_at_most_the_limit_runs_in_submit_order_and_a_raised_limit_starts_more(tmp_path: Path) -> None:
    run, rec = Gated(), Recorder()
    queue = JobQueue(2, run=run, listener=rec)
    ids = [queue.submit(fake_spec(tmp_path, f"j{i}")) for i in range(5)]
    assert queue.running_ids() == ids[:2]
    assert queue.pending_ids() == ids[2:]
    wait_until(lambda: len(run.calls) == 2, "two jobs running")
    queue.set_max_jobs(3)
    wait_until(lambda: len(run.calls) == 3, "a third job after raising the limit")
    assert run.calls[2] == ids[2] and queue.pending_ids() == ids[3:]
    run.gate(ids[0]).set()
    wait_until(lambda: len(run.calls) == 4, "the next job once a slot is free")
    assert run.calls[3] == ids[3]
    for job_id in ids:
        run.gate(job_id).set()
    assert queue.wait(TIMEOUT)
    assert sorted(run.calls) == sorted(ids) and run.calls[4] == ids[4]
    assert all(rec.results[i].state is JobState.COMPLETED for i in ids)
    assert rec.submitted_ids == ids


def test_start_next_moves_a_pending_job_to_the_front(tmp_path: Path) -> None:
    run, rec = Gated(), Recorder()
    queue = JobQueue(1, run=run, listener=rec)
    first, b, c, d = (queue.submit(fake_spec(tmp_path, n)) for n in "abcd")
    assert queue.start_next(d)
    assert queue.pending_ids() == [d, b, c]
    assert not queue.start_next(first)  # running, not pending
    for job_id in (first, b, c, d):
        run.gate(job_id).set()
    assert queue.wait(TIMEOUT)
    assert rec.started_ids == [first, d, b, c]


def test_cancelled_pending_job_never_starts_and_is_recorded_cancelled(tmp_path: Path) -> None:
    run, rec = Gated(), Recorder()
    with Journal(tmp_path / "journal.sqlite3") as journal:
        queue = JobQueue(1, run=run, listener=rec, journal=journal)
        first = queue.submit(fake_spec(tmp_path, "first"))
        second = queue.submit(fake_spec(tmp_path, "second"))
        assert journal.get_job(second) is not None  # the whole queue is in the journal at once
        assert queue.cancel(second)
        # Finished at once, in the cancelling thread, before anything else happened to it.
        assert rec.results[second].state is JobState.CANCELLED
        assert rec.results[second].message == CANCELLED_BEFORE_START
        assert not queue.is_pending(second) and queue.token(second) is None
        run.gate(first).set()
        assert queue.wait(TIMEOUT)
        assert run.calls == [first]
        assert second not in rec.started_ids
        job = journal.get_job(second)
        assert job is not None and job.state is JobState.CANCELLED and job.message == CANCELLED_BEFORE_START
    assert not (tmp_path / "out" / "second").exists()


def test_cancel_all_drops_pending_first_then_cancels_running(tmp_path: Path) -> None:
    run, rec = Gated(), Recorder()
    queue = JobQueue(2, run=run, listener=rec)
    ids = [queue.submit(fake_spec(tmp_path, f"j{i}")) for i in range(5)]
    wait_until(lambda: len(run.calls) == 2, "two jobs running")
    assert queue.cancel_all() == 5
    assert queue.wait(TIMEOUT)
    assert run.calls == ids[:2]  # no pending job slipped into a freed slot
    assert all(rec.results[i].state is JobState.CANCELLED for i in ids)
    assert [rec.results[i].message for i in ids[2:]] == [CANCELLED_BEFORE_START] * 3
    # The pending ones were finished before the running ones ended.
    finished = [j for kind, j in rec.order if kind == "finished"]
    assert finished[:3] == ids[2:]


def test_interrupt_cancels_running_and_starts_nothing_more(tmp_path: Path) -> None:
    run, rec = Gated(), Recorder()
    queue = JobQueue(1, run=run, listener=rec)
    ids = [queue.submit(fake_spec(tmp_path, f"j{i}")) for i in range(3)]
    wait_until(lambda: len(run.calls) == 1, "the first job running")
    queue.interrupt()
    assert queue.wait(TIMEOUT)
    assert run.calls == ids[:1]
    assert all(rec.results[i].state is JobState.CANCELLED for i in ids)
    late = queue.submit(fake_spec(tmp_path, "late"))
    assert rec.results[late].message == CANCELLED_BEFORE_START and late not in run.calls


def test_pause_holds_the_job_and_resume_lets_it_finish(tmp_path: Path) -> None:
    reached = threading.Event()
    done: list[int] = []
    queue: JobQueue

    def run(spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
        for i in range(50):
            token.check()
            done.append(i)
            if i == 3:
                assert queue.pause(spec.job_id)  # the user presses Pause after the fourth step
                reached.set()
        return JobResult(spec.job_id, JobState.COMPLETED)

    queue = JobQueue(1, run=run)
    job_id = queue.submit(fake_spec(tmp_path, "p"))
    assert reached.wait(TIMEOUT)
    assert not queue.wait(0.3)  # still not finished: held in token.check()
    assert done == [0, 1, 2, 3]
    assert queue.token(job_id) is not None and queue.token(job_id).paused  # type: ignore[union-attr]
    assert not queue.pause(job_id)  # already paused
    assert queue.resume(job_id)
    assert queue.wait(TIMEOUT)
    assert len(done) == 50


def test_stop_after_frame_ends_a_real_copy_between_frames(tmp_path: Path) -> None:
    rec = Recorder()
    src = make_byte_sequence(tmp_path / "src", count=10, size=256 * 1024)
    dest = tmp_path / "dst"
    queue = JobQueue(1, listener=rec)
    job_id = queue.submit(real_spec(src, dest, bwlimit=1024 * 1024))
    wait_until(lambda: any(isinstance(e, Progress) and e.bytes_done > 0 for e in rec.events_of(job_id)),
               "the copy under way")
    assert queue.stop_after_frame(job_id)
    assert queue.wait(TIMEOUT)
    result = rec.results[job_id]
    assert result.state is JobState.CANCELLED
    written = sorted(p.name for p in dest.glob("plate.*.exr"))
    assert 1 <= len(written) < 10
    assert not any(is_temp_name(p.name) for p in dest.iterdir())
    for name in written:  # whole frames only
        assert (dest / name).read_bytes() == (tmp_path / "src" / name).read_bytes()


def test_journal_has_every_frame_of_a_queued_job_including_the_last(tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=40, size=4096)
    with Journal(tmp_path / "journal.sqlite3") as journal:
        queue = JobQueue(2, journal=journal)
        ids = [queue.submit(real_spec(src, tmp_path / f"dst{i}")) for i in range(3)]
        assert queue.wait(TIMEOUT)
        for job_id in ids:
            job = journal.get_job(job_id)
            assert job is not None and job.state is JobState.COMPLETED
            frames = journal.frames(job_id)
            assert [f.index for f in frames] == list(range(40))
            assert all(f.status is FrameStatus.DONE for f in frames)
            assert frames[-1].frame == 1040 and frames[-1].hash


def test_progress_is_throttled_but_every_frame_result_and_state_change_arrives_in_order(tmp_path: Path) -> None:
    rec = Recorder()
    frames = 2000

    def run(spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
        report(Progress(spec.job_id, JobState.RUNNING, frames))
        for i in range(frames):
            report(FrameResult(spec.job_id, i, 1001 + i, "s", "d", FrameStatus.DONE))
            report(Progress(spec.job_id, JobState.RUNNING, frames, frames_done=i + 1))
            if i % 500 == 0:
                report(LogMessage(spec.job_id, "info", f"at {i}"))
            time.sleep(0.0002)
        report(Progress(spec.job_id, JobState.COMPLETED, frames, frames_done=frames))
        return JobResult(spec.job_id, JobState.COMPLETED)

    queue = JobQueue(1, run=run, listener=rec)
    started = time.monotonic()
    job_id = queue.submit(fake_spec(tmp_path, "t"))
    assert queue.wait(TIMEOUT)
    elapsed = time.monotonic() - started
    events = rec.events_of(job_id)
    assert [e.index for e in events if isinstance(e, FrameResult)] == list(range(frames))
    assert [e.text for e in events if isinstance(e, LogMessage)] == [f"at {i}" for i in range(0, frames, 500)]
    progress = [e for e in events if isinstance(e, Progress)]
    assert len(progress) <= elapsed * 10 + 3 and len(progress) < frames / 10
    assert progress[0].state is JobState.RUNNING and progress[0].frames_done == 0  # a state change: at once
    assert progress[-1].state is JobState.COMPLETED and progress[-1].frames_done == frames


def test_engine_exception_becomes_a_failed_job_and_the_queue_goes_on(tmp_path: Path) -> None:
    rec = Recorder()

    def run(spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
        if spec.name == "bad":
            raise RuntimeError("disk controller on fire")
        return JobResult(spec.job_id, JobState.COMPLETED)

    queue = JobQueue(1, run=run, listener=rec)
    bad = queue.submit(fake_spec(tmp_path, "bad"))
    good = queue.submit(fake_spec(tmp_path, "good"))
    assert queue.wait(TIMEOUT)
    assert rec.results[bad].state is JobState.FAILED
    assert "disk controller on fire" in rec.results[bad].message
    assert any(isinstance(e, LogMessage) and "RuntimeError" in e.text for e in rec.events_of(bad))
    assert rec.results[good].state is JobState.COMPLETED


def test_a_listener_can_stop_the_queue_when_a_job_ends(tmp_path: Path) -> None:
    run = Gated()

    class StopOnFirst(Recorder):
        def finished(self, spec: JobSpec, result: JobResult) -> None:
            super().finished(spec, result)
            if result.message != CANCELLED_BEFORE_START:
                queue.cancel_pending()

    rec = StopOnFirst()
    queue = JobQueue(1, run=run, listener=rec)
    ids = [queue.submit(fake_spec(tmp_path, f"j{i}")) for i in range(3)]
    run.gate(ids[0]).set()
    assert queue.wait(TIMEOUT)
    assert run.calls == ids[:1]
    assert [rec.results[i].message for i in ids[1:]] == [CANCELLED_BEFORE_START] * 2


def test_submitting_the_same_job_twice_is_refused(tmp_path: Path) -> None:
    run = Gated()
    queue = JobQueue(1, run=run)
    spec = fake_spec(tmp_path, "x")
    queue.submit(spec)
    with pytest.raises(ValueError):
        queue.submit(spec)
    run.gate(spec.job_id).set()
    assert queue.wait(TIMEOUT)


def test_recover_at_start_marks_the_jobs_of_a_dead_process_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "journal.sqlite3"
    src = make_byte_sequence(tmp_path / "src", count=2, size=16)
    spec = real_spec(src, tmp_path / "dst")
    # Another vfxcopy process queued and started this job, then died.
    code = (
        "import json, sys\n"
        "from vfxcopy.core.jobs import JobSpec\n"
        "from vfxcopy.core.journal import Journal\n"
        "spec = JobSpec.from_dict(json.loads(sys.argv[2]))\n"
        "with Journal(sys.argv[1]) as j:\n"
        "    j.add_job(spec)\n"
        "    j.start_job(spec.job_id)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db), json.dumps(spec.to_dict())], check=True, timeout=60)
    with Journal(db) as journal:
        queue = JobQueue(1, journal=journal)
        assert queue.recover() == [spec.job_id]
        job = journal.get_job(spec.job_id)
        assert job is not None and job.state is JobState.INTERRUPTED
        assert queue.recover() == []
    assert JobQueue(1).recover() == []  # no journal: nothing to recover


def test_a_group_is_announced_before_any_of_it_can_start_even_when_another_job_ends_meanwhile(
    byte_seq: list[Path], tmp_path: Path
) -> None:
    """A window adds a row on `submitted`: a job that another job's end started (from that job's
    thread) while the rest of its group was still being announced reached `finished` first."""
    seq = find_sequence(byte_seq[0])
    running = threading.Event()
    release = threading.Event()
    order: list[tuple[str, str]] = []

    def run(spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
        if spec.name == "blocker":
            running.set()
            release.wait(TIMEOUT)
        return JobResult(spec.job_id, JobState.COMPLETED)

    class Slow(QueueListener):
        def submitted(self, spec: JobSpec) -> None:
            order.append(("submitted", spec.job_id))
            if spec.name == "a":
                release.set()  # the blocker ends now, while b is still being announced
                time.sleep(0.2)

        def started(self, spec: JobSpec) -> None:
            order.append(("started", spec.job_id))

        def finished(self, spec: JobSpec, result: JobResult) -> None:
            order.append(("finished", spec.job_id))

    queue = JobQueue(1, run=run, listener=Slow())
    queue.submit(JobSpec(seq, str(tmp_path / "x"), name="blocker"))
    assert running.wait(TIMEOUT)
    group = [JobSpec(seq, str(tmp_path / d), name=d, group="g") for d in ("a", "b")]
    queue.submit_all(group)
    assert queue.wait(TIMEOUT)
    for spec in group:
        said = [what for what, job in order if job == spec.job_id]
        assert said == ["submitted", "started", "finished"], (spec.name, order)
