"""Several frames in flight (copies on network file systems) and the committer's batches: same safety rules."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import (
    CancelToken,
    CopyOptions,
    Event,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    VerifyMode,
    is_temp_name,
)
from vfxcopy.core.journal import Journal
from vfxcopy.core.pipeline import Debug, durable
from vfxcopy.core.pipeline import prepare as pipeline_prepare
from vfxcopy.core.pipeline import run_pipeline as copy_sequence
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.sequence import Sequence

MiB = 1 << 20


def seq_of(paths: list[Path]) -> Sequence:
    head, tail = "plate.", ".exr"
    frames = tuple(int(p.name[len(head): -len(tail)]) for p in paths)
    return Sequence(str(paths[0].parent), head, tail, 4, frames)


@pytest.fixture
def in_flight(monkeypatch: pytest.MonkeyPatch) -> int:
    """Make every destination look like a network file system: 4 frames in flight per copy."""
    monkeypatch.setattr(pipeline_prepare, "is_shared_fs", lambda fstype: True)
    monkeypatch.setattr(pipeline_prepare, "SHARED_FS_COPY_WORKERS", 4)
    return 4


def temps_in(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if is_temp_name(n)] if folder.exists() else []


def assert_nothing_partial(result: JobResult, dest: Path, planted: dict[str, bytes] | None = None) -> None:
    """Every file present is a complete copy of a frame reported done (or a file that was there before)."""
    planted = planted or {}
    assert temps_in(dest) == []
    present = set(os.listdir(dest)) if dest.exists() else set()
    done = {Path(f.dest).name for f in result.frames if f.status is FrameStatus.DONE}
    assert present - set(planted) == done
    for f in result.frames:
        if f.status is FrameStatus.DONE:
            assert Path(f.source).read_bytes() == Path(f.dest).read_bytes()
    for name, data in planted.items():
        assert (dest / name).read_bytes() == data


@pytest.mark.parametrize("opts", [CopyOptions(), CopyOptions(verify=VerifyMode.NONE, fsync=False)],
                         ids=["defaults", "no-hash-no-fsync"])
def test_several_frames_in_flight_copy_everything_with_its_times(
    tmp_path: Path, in_flight: int, opts: CopyOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vfxcopy.core.writers.copy import CopyWriter

    paths = make_byte_sequence(tmp_path / "src", count=40, size=96 * 1024)
    dest = tmp_path / "out"
    writers: set[int] = set()
    # A worker's first frame waits until a second worker has one too: the frames really are written
    # by several workers at once (reporting threads were counted before; on a loaded machine the
    # first worker could take all 40 quick frames before another ran).
    both = threading.Barrier(2, timeout=10)
    real_write = CopyWriter.write

    def write(self: CopyWriter, item: Any, st: Any, temp: Any, ctx: Any) -> Any:
        me = threading.get_ident()
        if me not in writers:
            writers.add(me)
            if len(writers) <= 2:
                both.wait()
        return real_write(self, item, st, temp, ctx)

    monkeypatch.setattr(CopyWriter, "write", write)
    result = copy_sequence(JobSpec(seq_of(paths), str(dest), copy=opts), CancelToken(), lambda e: None)
    assert result.state is JobState.COMPLETED, result.message
    assert [f.status for f in result.frames] == [FrameStatus.DONE] * 40
    assert len(writers) > 1 and not both.broken
    assert_nothing_partial(result, dest)
    for p in paths:
        assert (dest / p.name).stat().st_mtime_ns == p.stat().st_mtime_ns
    if opts.verify is not VerifyMode.NONE:
        assert all(f.hash and f.hash_algo == "xxh3" for f in result.frames)


@pytest.mark.parametrize("fsync", [True, False])
def test_cancel_with_frames_in_flight_leaves_nothing_partial(tmp_path: Path, in_flight: int, fsync: bool) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=24, size=3 * MiB)
    dest = tmp_path / "out"
    token = CancelToken()

    def report(event: Event) -> None:
        if isinstance(event, FrameResult) and event.status is FrameStatus.DONE and not token.cancelled:
            token.cancel()  # from a worker thread, while the other workers are mid-frame

    debug = Debug()
    opts = CopyOptions(fsync=fsync, bwlimit=60 * MiB)  # slow enough that frames are mid-copy
    result = copy_sequence(JobSpec(seq_of(paths), str(dest), copy=opts), token, report, debug=debug)
    assert result.state is JobState.CANCELLED
    assert_nothing_partial(result, dest)
    done = [f for f in result.frames if f.status is FrameStatus.DONE]
    assert 1 <= len(done) < len(paths)
    assert token.cancelled_at is not None
    # No write starts after the cancel; generous bound for a busy machine (the benchmark measures it).
    if debug.last_write_end is not None:
        assert debug.last_write_end - token.cancelled_at < 0.1
    assert debug.returned is not None and debug.returned - token.cancelled_at < 1.0


def test_conflict_rules_hold_with_frames_in_flight(tmp_path: Path, in_flight: int) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=30, size=64 * 1024)
    dest = tmp_path / "out"
    dest.mkdir()
    same, different = paths[3].name, paths[7].name
    (dest / same).write_bytes(paths[3].read_bytes())
    (dest / different).write_bytes(b"not the source")
    planted = {same: paths[3].read_bytes(), different: b"not the source"}
    late_names = [p.name for p in paths[-4:]]
    lock = threading.Lock()

    def report(event: Event) -> None:
        # Another program creates the last frames' names while the job runs.
        if isinstance(event, FrameResult) and event.index == 0:
            with lock:
                for name in late_names:
                    if not (dest / name).exists():
                        (dest / name).write_bytes(b"theirs")
                        planted[name] = b"theirs"

    result = copy_sequence(JobSpec(seq_of(paths), str(dest)), CancelToken(), report)
    assert result.state is JobState.FAILED
    by_name = {Path(f.dest).name: f for f in result.frames}
    assert by_name[same].status is FrameStatus.SKIPPED
    assert by_name[different].status is FrameStatus.FAILED
    assert "differs" in (by_name[different].error or "")
    for name in late_names:
        f = by_name[name]
        if name in planted and planted[name] == b"theirs":
            assert f.status is FrameStatus.FAILED and "meanwhile" in (f.error or "")
    assert_nothing_partial(result, dest, planted)
    others = [f for n, f in by_name.items() if n not in planted]
    assert others and all(f.status is FrameStatus.DONE for f in others)


def test_journal_records_a_frame_only_once_it_is_in_place(
    tmp_path: Path, in_flight: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=30, size=128 * 1024)
    dest = tmp_path / "out"
    journal = Journal(tmp_path / "journal.db")
    recorded: list[int] = []
    real = journal.record_frames

    def checking(results: list[FrameResult]) -> None:
        batch = list(results)
        for r in batch:
            if r.status is FrameStatus.DONE:
                placed = Path(r.dest)
                assert placed.exists() and placed.stat().st_size == r.size, f"{r.dest} recorded before in place"
            recorded.append(r.index)
        real(batch)

    monkeypatch.setattr(journal, "record_frames", checking)
    spec = JobSpec(seq_of(paths), str(dest), copy=CopyOptions(verify=VerifyMode.NONE))
    result = run_job(spec, CancelToken(), lambda e: None, journal=journal)
    assert result.state is JobState.COMPLETED, result.message
    assert sorted(recorded) == list(range(30)) and len(recorded) == 30  # each frame once
    frames = journal.frames(spec.job_id)
    assert len(frames) == 30 and all(f.status is FrameStatus.DONE for f in frames)
    assert {Path(f.dest).name for f in frames} == {p.name for p in paths}
    journal.close()


def test_a_batch_made_durable_by_syncfs_falls_back_to_fsync_each_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The committer's syncfs path: on failure every temp of the batch gets its own fsync, so the
    bad one fails alone and is never placed."""
    paths = make_byte_sequence(tmp_path / "src", count=60, size=32 * 1024)
    dest = tmp_path / "out"
    real_fsync = os.fsync
    calls = {"syncfs": 0, "fsync": 0}

    def slow_then_failing_fsync(fd: int) -> None:
        calls["fsync"] += 1
        if calls["fsync"] == 1:
            time.sleep(0.3)  # the first frame's fsync is slow: the next ones queue up into one batch
        if os.readlink(f"/proc/self/fd/{fd}").endswith("/40.part"):
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    def failing_syncfs(fd: int) -> int:
        calls["syncfs"] += 1
        return -1

    monkeypatch.setattr(os, "fsync", slow_then_failing_fsync)
    monkeypatch.setattr(durable, "_SYNCFS", failing_syncfs)
    result = copy_sequence(JobSpec(seq_of(paths), str(dest)), CancelToken(), lambda e: None)
    assert calls["syncfs"] == 1  # tried once, then an fsync each for the rest of the run
    assert result.state is JobState.FAILED
    bad = result.frames[40]
    assert bad.status is FrameStatus.FAILED and "input/output error" in (bad.error or "").lower()
    assert not (dest / paths[40].name).exists()
    assert all(f.status is FrameStatus.DONE for i, f in enumerate(result.frames) if i != 40)
    assert_nothing_partial(result, dest)


def test_a_batch_made_durable_by_one_syncfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=60, size=32 * 1024)
    dest = tmp_path / "out"
    real_fsync = os.fsync
    real_syncfs = durable._SYNCFS
    if real_syncfs is None:
        pytest.skip("no syncfs in this C library")
    fsynced: list[str] = []
    synced: list[int] = []

    def slow_first_fsync(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}")
        if name.endswith(".part") and not fsynced:
            time.sleep(0.3)
        fsynced.append(name)
        real_fsync(fd)

    def counting_syncfs(fd: int) -> int:
        synced.append(fd)
        return int(real_syncfs(fd))

    monkeypatch.setattr(os, "fsync", slow_first_fsync)
    monkeypatch.setattr(durable, "_SYNCFS", counting_syncfs)
    result = copy_sequence(JobSpec(seq_of(paths), str(dest)), CancelToken(), lambda e: None)
    assert result.state is JobState.COMPLETED
    assert synced  # the frames that queued up behind the slow one were made durable together
    assert sum(1 for n in fsynced if n.endswith(".part")) < 60 - durable.SYNCFS_MIN_ITEMS + 1
    assert_nothing_partial(result, dest)
