"""JobRunner (the Qt adapter over core's JobQueue) with the real engine: slots, events, pause, stop, errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vfxcopy.core.jobs import (
    CancelToken,
    CopyOptions,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    Progress,
    Reporter,
    is_temp_name,
)
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.gui.runner import JobRunner

WAIT_MS = 30_000


class Recorder:
    """Everything a runner emitted, in order, with arrival times."""

    def __init__(self, runner: JobRunner) -> None:
        self.started: list[str] = []
        self.batches: list[tuple[float, str, list[Any]]] = []
        self.finished: dict[str, JobResult] = {}
        runner.job_started.connect(self.started.append)
        runner.job_event.connect(lambda job_id, events: self.batches.append((time.monotonic(), job_id, events)))
        runner.job_finished.connect(lambda result: self.finished.__setitem__(result.job_id, result))

    def events(self, job_id: str) -> list[Any]:
        return [e for _, j, batch in self.batches if j == job_id for e in batch]

    def last_progress(self, job_id: str) -> Progress | None:
        progress = [e for e in self.events(job_id) if isinstance(e, Progress)]
        return progress[-1] if progress else None


@pytest.fixture
def runner(qapp: Any) -> Iterator[JobRunner]:
    r = JobRunner(max_jobs=2)
    yield r
    r.cancel_all()
    assert r.wait(WAIT_MS)


def spec_for(paths: list[Path], dest: Path, **copy: Any) -> JobSpec:
    copy.setdefault("fsync", False)
    return JobSpec(find_sequence(paths[0], stat=True), str(dest), copy=CopyOptions(**copy))


def test_at_most_max_jobs_run_and_the_rest_wait_in_order(qtbot: Any, runner: JobRunner, tmp_path: Path) -> None:
    rec = Recorder(runner)
    src = make_byte_sequence(tmp_path / "src", count=4, size=256 * 1024)
    ids = [runner.submit(spec_for(src, tmp_path / f"d{i}", bwlimit=2 * 1024 * 1024)) for i in range(3)]
    assert runner.running_count == 2 and runner.pending_ids() == [ids[2]]
    qtbot.waitUntil(lambda: len(rec.started) == 2, timeout=WAIT_MS)
    assert set(rec.started) == set(ids[:2])
    qtbot.waitUntil(lambda: len(rec.finished) == 3, timeout=WAIT_MS)
    assert rec.started[2] == ids[2]
    assert all(r.state is JobState.COMPLETED for r in rec.finished.values())
    assert runner.running_count == 0 and runner.pending_count == 0


def test_progress_arrives_throttled_once_with_every_frame_result(
    qtbot: Any, runner: JobRunner, tmp_path: Path
) -> None:
    rec = Recorder(runner)
    src = make_byte_sequence(tmp_path / "src", count=300, size=8 * 1024)
    job_id = runner.submit(spec_for(src, tmp_path / "dst"))
    qtbot.waitUntil(lambda: job_id in rec.finished, timeout=WAIT_MS)
    results = [e for e in rec.events(job_id) if isinstance(e, FrameResult)]
    assert [r.index for r in results] == list(range(300))
    assert all(r.status is FrameStatus.DONE for r in results)
    last = rec.last_progress(job_id)
    assert last is not None and last.frames_done == 300
    # A few hundred reports were folded (by the queue, the one place that throttles) into
    # batches about a tenth of a second apart; the runner adds no second delay.
    times = [t for t, j, _ in rec.batches if j == job_id]
    elapsed = max(times[-1] - times[0], 0.0)
    assert len(times) <= elapsed * 10 + 4
    assert len(times) < 300


def test_pause_holds_the_job_and_resume_lets_it_finish(qtbot: Any, runner: JobRunner, tmp_path: Path) -> None:
    rec = Recorder(runner)
    paused: list[tuple[str, bool]] = []
    runner.job_paused.connect(lambda job_id, flag: paused.append((job_id, flag)))
    src = make_byte_sequence(tmp_path / "src", count=8, size=512 * 1024)
    dest = tmp_path / "dst"
    job_id = runner.submit(spec_for(src, dest, bwlimit=2 * 1024 * 1024))
    qtbot.waitUntil(lambda: (rec.last_progress(job_id) or Progress(job_id, JobState.PENDING, 0)).bytes_done > 0,
                    timeout=WAIT_MS)
    assert runner.pause(job_id)
    assert runner.is_paused(job_id) and paused == [(job_id, True)]
    qtbot.wait(600)  # the worker may finish the chunk in flight
    size_then = sum(p.stat().st_size for p in dest.iterdir() if p.is_file())
    qtbot.wait(800)
    assert sum(p.stat().st_size for p in dest.iterdir() if p.is_file()) == size_then
    assert job_id not in rec.finished
    assert runner.resume(job_id)
    qtbot.waitUntil(lambda: job_id in rec.finished, timeout=WAIT_MS)
    assert rec.finished[job_id].state is JobState.COMPLETED
    assert len(list(dest.glob("plate.*.exr"))) == 8


def test_stop_after_frame_ends_between_frames(qtbot: Any, runner: JobRunner, tmp_path: Path) -> None:
    rec = Recorder(runner)
    src = make_byte_sequence(tmp_path / "src", count=10, size=1024 * 1024)
    dest = tmp_path / "dst"
    job_id = runner.submit(spec_for(src, dest, bwlimit=2 * 1024 * 1024))
    # Under way inside a frame (asked before the first frame, the job stops with none).
    qtbot.waitUntil(lambda: (rec.last_progress(job_id) or Progress(job_id, JobState.PENDING, 0)).bytes_done > 0,
                    timeout=WAIT_MS)
    assert runner.stop_after_frame(job_id)
    qtbot.waitUntil(lambda: job_id in rec.finished, timeout=WAIT_MS)
    assert not any(is_temp_name(p.name) for p in dest.iterdir())
    written = sorted(p.name for p in dest.glob("plate.*.exr"))
    assert 1 <= len(written) < 10
    for name in written:  # whole frames only
        assert (dest / name).read_bytes() == (tmp_path / "src" / name).read_bytes()


def test_cancel_of_pending_job_emits_cancelled_without_starting(
    qtbot: Any, runner: JobRunner, tmp_path: Path
) -> None:
    runner.set_max_jobs(1)
    rec = Recorder(runner)
    src = make_byte_sequence(tmp_path / "src", count=4, size=256 * 1024)
    first = runner.submit(spec_for(src, tmp_path / "a", bwlimit=1024 * 1024))
    second = runner.submit(spec_for(src, tmp_path / "b"))
    assert runner.is_pending(second)
    assert runner.cancel(second)
    assert rec.finished[second].state is JobState.CANCELLED
    assert not runner.is_active(second)
    assert runner.cancel(first)
    assert runner.wait(WAIT_MS)
    assert rec.finished[first].state is JobState.CANCELLED
    assert second not in rec.started
    assert not (tmp_path / "b").exists()


def test_engine_exception_becomes_a_failed_result_with_the_message(qtbot: Any, qapp: Any, tmp_path: Path) -> None:
    def broken_engine(spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
        raise RuntimeError("disk controller on fire")

    runner = JobRunner(max_jobs=1, run=broken_engine)
    rec = Recorder(runner)
    src = make_byte_sequence(tmp_path / "src", count=2, size=1024)
    job_id = runner.submit(spec_for(src, tmp_path / "dst"))
    qtbot.waitUntil(lambda: job_id in rec.finished, timeout=WAIT_MS)
    result = rec.finished[job_id]
    assert result.state is JobState.FAILED
    assert "disk controller on fire" in result.message
    assert any("RuntimeError" in getattr(e, "text", "") for e in rec.events(job_id))
    assert runner.wait(WAIT_MS) and runner.running_count == 0


def test_a_job_cancelled_from_a_finished_handler_ends_in_order(qtbot: Any, runner: JobRunner, tmp_path: Path) -> None:
    """Signals reach the window in the order things happened, also when a slot acts on the runner."""
    runner.set_max_jobs(1)
    src = make_byte_sequence(tmp_path / "src", count=2, size=4096)
    order: list[tuple[str, str]] = []
    runner.job_started.connect(lambda job_id: order.append(("started", job_id)))
    first, second, third = (runner.submit(spec_for(src, tmp_path / f"d{i}")) for i in range(3))

    def on_finished(result: JobResult) -> None:
        order.append(("finished", result.job_id))
        if result.job_id == first:
            assert runner.cancel(third)  # pending: ends at once, but after this signal is handled

    runner.job_finished.connect(on_finished)
    qtbot.waitUntil(lambda: ("finished", second) in order, timeout=WAIT_MS)
    finished = [job_id for kind, job_id in order if kind == "finished"]
    assert finished == [first, third, second]
    assert ("started", third) not in order
    assert order.index(("started", second)) < order.index(("finished", second))
