"""Many small items through the one pipeline: exact counts and records, order, cancel, the one-call path."""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from vfxcopy.core.engine import run_job
from vfxcopy.core.hashing import hash_file, new_hasher, one_shot_hasher
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    CopyOptions,
    Event,
    FrameResult,
    FrameStatus,
    HashAlgo,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
    VerifyMode,
    is_temp_name,
)
from vfxcopy.core.journal import Journal
from vfxcopy.core.pipeline import durable, run_pipeline
from vfxcopy.core.roundtrips import fs_type, is_shared_fs
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.writers import copy as copy_writer

OPTIONS = [CopyOptions(), CopyOptions(verify=VerifyMode.NONE, fsync=False)]
IDS = ["defaults", "no-hash-no-fsync"]


def skip_off_local_disk(folder: Path, why: str = "the committer runs there") -> None:
    """Skip where a copy into `folder` has no committer: a file system in memory, or a network one."""
    kind = fs_type(str(folder))
    if kind in ("tmpfs", "ramfs", "") or is_shared_fs(kind):
        pytest.skip(f"needs a local disk file system ({why})")


# For a test's own process: each batch of finished files waits 20 ms for the disk, as on a slow one.
SLOW_DISK = """
from vfxcopy.core.pipeline import durable
sync_batch = durable.Committer.sync_batch
def slow_disk(self, batch):
    time.sleep(0.02)
    return sync_batch(self, batch)
durable.Committer.sync_batch = slow_disk
"""


def seq_of(paths: list[Path]) -> Sequence:
    head, tail = "plate.", ".exr"
    frames = tuple(int(p.name[len(head): -len(tail)]) for p in paths)
    return Sequence(str(paths[0].parent), head, tail, 4, frames)


def leftovers(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if is_temp_name(n) or n.endswith(".part")]


def final_progress(events: list[Event]) -> Progress:
    return [e for e in events if isinstance(e, Progress)][-1]


def assert_done_files_are_complete(result: JobResult, dest: Path) -> None:
    """What is at the destination is exactly the frames reported done, each a complete copy."""
    present = {n for n in os.listdir(dest) if n != "ascmhl"}
    done = [f for f in result.frames if f.status is FrameStatus.DONE]
    assert present == {Path(f.dest).name for f in done}
    for f in done:
        assert Path(f.dest).read_bytes() == Path(f.source).read_bytes()


@pytest.mark.parametrize("opts", OPTIONS, ids=IDS)
def test_a_2000_item_job_has_exact_counts_and_every_frame_recorded_once_in_order(
    tmp_path: Path, opts: CopyOptions
) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=2000, size=100)
    dest = tmp_path / "out"
    spec = JobSpec(seq_of(paths), str(dest), copy=opts)
    journal = Journal(tmp_path / "journal.db")
    events: list[Event] = []
    result = run_job(spec, CancelToken(), events.append, journal=journal)
    assert result.state is JobState.COMPLETED, result.message

    reported = [e for e in events if isinstance(e, FrameResult)]
    assert [r.index for r in reported] == list(range(2000))  # each once, in the order of the frames
    assert all(r.status is FrameStatus.DONE for r in reported)
    last = final_progress(events)
    assert (last.state, last.frames_total, last.frames_done, last.frames_failed) == (JobState.COMPLETED, 2000, 2000, 0)
    assert last.bytes_done == last.bytes_total == 2000 * 100
    assert result.bytes_done == 2000 * 100  # one write per item, each counted once

    rows = journal.frames(spec.job_id)
    assert [r.index for r in rows] == list(range(2000))
    assert all(r.status is FrameStatus.DONE and r.dest_size == 100 for r in rows)
    assert [r.updated for r in rows] == sorted(r.updated for r in rows)  # recorded in groups, in order
    if opts.verify is not VerifyMode.NONE:
        for row, path in zip(rows[::97], paths[::97], strict=True):
            assert row.hash == hash_file(path, opts.hash_algo)
    journal.close()
    assert_done_files_are_complete(result, dest)
    assert leftovers(dest) == []


@pytest.mark.parametrize("opts", OPTIONS, ids=IDS)
def test_a_cancel_among_many_small_items_leaves_nothing_partial_and_the_counts_add_up(
    tmp_path: Path, opts: CopyOptions
) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=3000, size=300)
    dest = tmp_path / "out"
    token = CancelToken()
    events: list[Event] = []

    def report(event: Event) -> None:
        events.append(event)
        if isinstance(event, FrameResult) and event.index == 700:
            token.cancel()

    spec = JobSpec(seq_of(paths), str(dest), copy=opts)
    journal = Journal(tmp_path / "journal.db")
    result = run_job(spec, token, report, journal=journal)
    assert result.state is JobState.CANCELLED

    statuses = [f.status for f in result.frames]
    done = statuses.count(FrameStatus.DONE)
    assert 700 < done < 3000
    assert statuses[:done] == [FrameStatus.DONE] * done  # one item at a time: a prefix is done
    assert done + statuses.count(FrameStatus.PENDING) + statuses.count(FrameStatus.CANCELLED) == 3000
    assert statuses.count(FrameStatus.CANCELLED) <= 1
    reported = [e.index for e in events if isinstance(e, FrameResult)]
    assert reported == list(range(done))
    last = final_progress(events)
    assert last.state is JobState.CANCELLED and last.frames_done == done and last.frames_failed == 0
    assert result.message == f"Cancelled after {done} of 3000 frames"
    rows = journal.frames(spec.job_id)
    assert sorted(r.index for r in rows if r.status is FrameStatus.DONE) == list(range(done))
    journal.close()
    assert_done_files_are_complete(result, dest)
    assert leftovers(dest) == []


def test_names_taken_meanwhile_among_small_items_are_skipped_in_order_and_left_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names created after the run listed the folder: placing refuses them (no clobber); policy
    'skip' reports them skipped, each in its place among the others (the committer's batches)."""
    paths = make_byte_sequence(tmp_path / "src", count=600, size=200)
    dest = tmp_path / "out"
    dest.mkdir()
    taken = {p.name for p in paths[5::7]}
    for name in taken:
        (dest / name).write_bytes(b"someone else's")
    real_listdir = os.listdir

    def listing_without_them(path: int | str = ".") -> list[str]:
        return [n for n in real_listdir(path) if n not in taken]

    monkeypatch.setattr(os, "listdir", listing_without_them)
    events: list[Event] = []
    opts = CopyOptions(on_conflict=ConflictPolicy.SKIP)
    result = run_pipeline(JobSpec(seq_of(paths), str(dest), copy=opts), CancelToken(), events.append)
    monkeypatch.undo()
    assert result.state is JobState.COMPLETED, result.message
    reported = [e for e in events if isinstance(e, FrameResult)]
    assert [r.index for r in reported] == list(range(600))
    for r in reported:
        expected = FrameStatus.SKIPPED if Path(r.dest).name in taken else FrameStatus.DONE
        assert r.status is expected, r
        assert (r.hash is None) is (expected is FrameStatus.SKIPPED)
    last = final_progress(events)
    assert (last.frames_done, last.frames_skipped) == (600, len(taken))
    for name in taken:
        assert (dest / name).read_bytes() == b"someone else's"
    assert leftovers(dest) == []


@pytest.mark.parametrize("algo", list(HashAlgo))
def test_items_hashed_in_one_read_carry_the_same_hash_as_a_streamed_read(tmp_path: Path, algo: HashAlgo) -> None:
    sub = copy_writer.SUB_CHUNK
    sizes = [0, 1, 4096, sub - 1, sub, sub + 1, 3 * sub + 7]  # the last two go chunk by chunk
    src = tmp_path / "src"
    src.mkdir()
    paths = []
    for i, size in enumerate(sizes):
        path = src / f"plate.{1001 + i}.exr"
        path.write_bytes(os.urandom(size))
        paths.append(path)
    dest = tmp_path / "out"
    result = run_pipeline(JobSpec(seq_of(paths), str(dest), copy=CopyOptions(hash_algo=algo)), CancelToken(),
                          lambda e: None)
    assert result.state is JobState.COMPLETED, result.message
    for frame, path in zip(result.frames, paths, strict=True):
        assert frame.hash == hash_file(path, algo) and frame.hash_algo == algo.value
        assert Path(frame.dest).read_bytes() == path.read_bytes()
    assert result.bytes_done == sum(sizes)


@pytest.mark.parametrize("algo", list(HashAlgo))
def test_one_shot_digest_is_the_streamed_digest(algo: HashAlgo) -> None:
    data = os.urandom(1000)
    hasher = new_hasher(algo)
    hasher.update(data[:300])
    hasher.update(data[300:])
    assert one_shot_hasher(algo)(memoryview(data)) == hasher.hexdigest()


@pytest.mark.parametrize("refusal", ["exdev", "zero"])
def test_small_items_fall_back_when_zero_copy_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    """copy_file_range refused (another file system) or reporting 0 (procfs, some FUSE): the
    chunked path takes over, says so once, and every small item is still copied whole."""
    paths = make_byte_sequence(tmp_path / "src", count=30, size=500)
    dest = tmp_path / "out"
    calls = {"n": 0}

    def refusing(src: int, dst: int, count: int, offset_src: int | None = None,
                 offset_dst: int | None = None) -> int:
        calls["n"] += 1
        if refusal == "exdev":
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return 0

    monkeypatch.setattr(os, "copy_file_range", refusing)
    events: list[Event] = []
    opts = CopyOptions(verify=VerifyMode.NONE, fsync=False)
    result = run_pipeline(JobSpec(seq_of(paths), str(dest), copy=opts), CancelToken(), events.append)
    assert result.state is JobState.COMPLETED, result.message
    assert calls["n"] <= 2  # tried with the first item, not again for each one
    assert result.bytes_done == 30 * 500
    if refusal == "exdev":
        said = [e.text for e in events if isinstance(e, LogMessage) and "not usable here" in e.text]
        assert len(said) == 1
    assert_done_files_are_complete(result, dest)


@pytest.mark.parametrize("opts", OPTIONS, ids=IDS)
def test_a_small_source_that_shrank_after_it_was_opened_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opts: CopyOptions
) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=5, size=400)
    dest = tmp_path / "out"
    real_open = copy_writer.CopyWriter.open_source

    def opened_when_longer(self: copy_writer.CopyWriter, item: object) -> tuple[int, os.stat_result]:
        fd, st = real_open(self, item)  # type: ignore[arg-type]
        if getattr(item, "index", None) == 2:  # as if it had 100 bytes more when it was opened
            fields = list(st)
            fields[6] = st.st_size + 100  # st_size
            st = os.stat_result(fields)
        return fd, st

    monkeypatch.setattr(copy_writer.CopyWriter, "open_source", opened_when_longer)
    result = run_pipeline(JobSpec(seq_of(paths), str(dest), copy=opts), CancelToken(), lambda e: None)
    assert [f.status for f in result.frames] == [FrameStatus.DONE] * 2 + [FrameStatus.FAILED] + [FrameStatus.DONE] * 2
    assert "became shorter" in (result.frames[2].error or "")
    assert_done_files_are_complete(result, dest)
    assert leftovers(dest) == []


def test_a_bandwidth_limit_still_paces_small_items(tmp_path: Path) -> None:
    """The one-call path is not taken with --bwlimit: every byte still goes through the limiter."""
    paths = make_byte_sequence(tmp_path / "src", count=40, size=5000)
    dest = tmp_path / "out"
    opts = CopyOptions(verify=VerifyMode.NONE, fsync=False, bwlimit=1_000_000)  # 200 KB: about 0.2 s
    started = time.monotonic()
    result = run_pipeline(JobSpec(seq_of(paths), str(dest), copy=opts), CancelToken(), lambda e: None)
    took = time.monotonic() - started
    assert result.state is JobState.COMPLETED
    assert took >= 0.15  # unpaced, these 40 frames take a few milliseconds
    assert_done_files_are_complete(result, dest)


def test_a_verified_copy_into_memory_fsyncs_each_frame_on_the_job_thread(
    tmp_path: Path, tmpfs_mount: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On tmpfs there is no committer thread (an fsync there returns at once): each temp is still
    fsynced before it is placed, results come in order, and nothing partial is left."""
    paths = make_byte_sequence(tmp_path / "src", count=300, size=200)
    dest = tmpfs_mount("16m") / "out"
    real_fsync = os.fsync
    fsynced: list[tuple[str, str]] = []

    def recording_fsync(fd: int) -> None:
        fsynced.append((threading.current_thread().name, os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    events: list[Event] = []
    result = run_pipeline(JobSpec(seq_of(paths), str(dest)), CancelToken(), events.append)
    monkeypatch.undo()
    assert result.state is JobState.COMPLETED, result.message
    assert [e.index for e in events if isinstance(e, FrameResult)] == list(range(300))
    temps = [path for _thread, path in fsynced if path.endswith(".part")]
    assert len(temps) == 300  # every frame, before its name was given
    assert {thread for thread, _path in fsynced} == {threading.current_thread().name}
    for frame, path in zip(result.frames, paths, strict=True):
        assert frame.hash == hash_file(path)
    assert_done_files_are_complete(result, dest)
    assert leftovers(dest) == []


@pytest.mark.parametrize(("count", "size"), [(400, 200), (120, 800_000)], ids=["200B", "800KB"])
def test_small_items_share_a_syncfs_instead_of_an_fsync_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int, size: int
) -> None:
    """On a disk, the committer gathers small and mid-size items (2K DPX frames of 800 KB too):
    most are made durable by a syncfs of a batch (one journal commit), not by an fsync each; the
    names placed are made durable before they are reported, and the results still come one per
    frame, in order."""
    if durable._SYNCFS is None:
        pytest.skip("no syncfs in this C library")
    skip_off_local_disk(tmp_path, "no committer in memory; no syncfs on a network one")
    paths = make_byte_sequence(tmp_path / "src", count=count, size=size)
    dest = tmp_path / "out"
    real_syncfs, real_fsync = durable._SYNCFS, os.fsync
    calls = {"syncfs": 0, "temp fsync": 0}

    def counting_syncfs(fd: int) -> int:
        calls["syncfs"] += 1
        return int(real_syncfs(fd))

    def counting_fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".part"):
            calls["temp fsync"] += 1
        real_fsync(fd)

    monkeypatch.setattr(durable, "_SYNCFS", counting_syncfs)
    monkeypatch.setattr(os, "fsync", counting_fsync)
    # A few items wait GATHER_S (20 ms) for more to share their syncfs. On a machine busy with other
    # work (CI with other tests) fewer than 16 came in that time, and every item got its own fsync
    # (seen once: no syncfs at all for the 800 KB frames). Sharing is what is tested here: time to gather.
    monkeypatch.setattr(durable, "GATHER_S", 1.0)
    events: list[Event] = []
    result = run_pipeline(JobSpec(seq_of(paths), str(dest)), CancelToken(), events.append)
    monkeypatch.undo()
    assert result.state is JobState.COMPLETED, result.message
    assert [e.index for e in events if isinstance(e, FrameResult)] == list(range(count))
    assert calls["syncfs"] >= 1
    # A committer woken per item: 150-310 of the 400 small ones here, all 120 of the 800 KB ones.
    assert calls["temp fsync"] < count // 4, calls
    assert_done_files_are_complete(result, dest)


def test_items_from_a_slow_source_are_placed_as_they_come_not_held_for_a_batch(tmp_path: Path) -> None:
    """The committer gathers items to share a syncfs for GATHER_S at most: with a slow source
    (--bwlimit here, a network at work) each frame is in place and reported about when it is
    written, not when 16 of them are. Woken only by a full batch, it held them all to the end."""
    skip_off_local_disk(tmp_path, "no committer in memory")
    paths = make_byte_sequence(tmp_path / "src", count=6, size=256 * 1024)
    reported: list[float] = []
    started = time.monotonic()

    def listen(event: object) -> None:
        if isinstance(event, FrameResult):
            reported.append(time.monotonic() - started)

    spec = JobSpec(seq_of(paths), str(tmp_path / "out"), copy=CopyOptions(bwlimit=2 << 20))  # 0.125 s a frame
    result = run_pipeline(spec, CancelToken(), listen)
    total = time.monotonic() - started
    assert result.state is JobState.COMPLETED, result.message
    assert len(reported) == 6
    # The first frame is in place long before the last one is written (0.125 s + gathering, of ~0.75 s).
    assert reported[0] < total / 2, (reported, total)


@pytest.mark.parametrize(("preserve", "keeps"), [(True, "ns"), (False, "ns"), (True, "us")],
                         ids=["preserve", "no-preserve", "preserve-dest-keeps-microseconds"])
def test_the_journal_records_what_the_pipeline_measured_and_it_is_what_is_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preserve: bool, keeps: str
) -> None:
    """Each copied frame's row holds the destination's and the source's size and mtime as a stat
    of them gives afterwards (resume compares exactly these), without the journal stat'ing a path;
    a frame skipped because the same file was already there is stat'ed, as it is not our temp.
    Also where the destination keeps times to the microsecond only (as some do): the rows hold
    what it kept, not the source's nanoseconds."""
    from vfxcopy.core.journal import records

    if keeps == "us":
        real_utime = os.utime

        def utime(path, times=None, *, ns=None, **kw):  # type: ignore[no-untyped-def]
            if ns is not None and isinstance(path, int):  # a temp's times, set by its fd
                ns = tuple(t // 1000 * 1000 for t in ns)
            return real_utime(path, times, ns=ns, **kw) if ns is not None else real_utime(path, times, **kw)

        monkeypatch.setattr(os, "utime", utime)

    paths = make_byte_sequence(tmp_path / "src", count=60, size=3000)
    old = time.time() - 86400
    for p in paths:
        os.utime(p, (old, old + 0.123456789))  # a source mtime far from now, with nanoseconds
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / paths[7].name).write_bytes(paths[7].read_bytes())  # the same file: skipped (skip-identical)
    stats: list[str] = []
    stat_path = records._size_mtime
    monkeypatch.setattr(records, "_size_mtime", lambda path: (stats.append(path), stat_path(path))[1])
    spec = JobSpec(seq_of(paths), str(dest), copy=CopyOptions(preserve=preserve))
    journal = Journal(tmp_path / "journal.db")
    result = run_job(spec, CancelToken(), lambda e: None, journal=journal)
    assert result.state is JobState.COMPLETED, result.message
    rows = {r.index: r for r in journal.frames(spec.job_id)}
    journal.close()
    assert len(rows) == 60 and rows[7].status is FrameStatus.SKIPPED
    for index, row in rows.items():
        made, source = os.stat(row.dest), os.stat(row.source)
        assert (row.dest_size, row.dest_mtime_ns) == (made.st_size, made.st_mtime_ns), index
        assert (row.src_size, row.src_mtime_ns) == (source.st_size, source.st_mtime_ns), index
        if preserve and index != 7:  # (7 is the file that was there before)
            kept = source.st_mtime_ns // 1000 * 1000 if keeps == "us" else source.st_mtime_ns
            assert row.dest_mtime_ns == kept
    assert stats == [str(dest / paths[7].name), str(paths[7])]  # only the skipped frame's paths


def test_a_run_right_after_its_preflight_looks_at_each_source_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pre-flight's look at each source stands in for the run's own when the run follows at
    once (the command line); a run that starts later looks again and sees the files as they are."""
    from vfxcopy.core.pipeline import plan
    from vfxcopy.core.preview import plan_job

    src = tmp_path / "src"
    make_byte_sequence(src, head="tile.", count=5, size=100)
    seq = Sequence(str(src), "tile.", ".exr", 4, tuple(range(1001, 1006)))
    looks: list[str] = []
    real_lstat = os.lstat

    def lstat(path, *args, **kw):  # type: ignore[no-untyped-def]
        if str(path).startswith(f"{src}/"):
            looks.append(str(path))
        return real_lstat(path, *args, **kw)

    monkeypatch.setattr(os, "lstat", lstat)

    spec = JobSpec(seq, str(tmp_path / "now"), copy=CopyOptions(verify=VerifyMode.NONE, fsync=False))
    plan_job(spec)
    assert len(looks) == 5
    result = run_pipeline(spec, CancelToken(), lambda e: None)
    assert result.state is JobState.COMPLETED and len(looks) == 5  # no second look
    assert [os.path.getsize(p) for p in sorted((tmp_path / "now").iterdir())] == [100] * 5

    looks.clear()
    later = JobSpec(seq, str(tmp_path / "later"), copy=CopyOptions(verify=VerifyMode.NONE, fsync=False))
    plan_job(later)
    (src / "tile.1003.exr").write_bytes(b"x" * 700)  # changed after the pre-flight
    monkeypatch.setattr(plan, "SEEN_FRESH_S", 0.0)
    events: list[Event] = []
    result = run_pipeline(later, CancelToken(), events.append)
    assert result.state is JobState.COMPLETED and len(looks) == 10  # looked again
    totals = {e.bytes_total for e in events if isinstance(e, Progress)}
    assert totals == {4 * 100 + 700}  # the progress bar's total is the files' size now
    assert (tmp_path / "later" / "tile.1003.exr").read_bytes() == b"x" * 700


@pytest.mark.parametrize(("jobs", "limit"), [(1, 64), (8, 200)])
def test_a_low_open_file_limit_holds_fewer_finished_files_open(tmp_path: Path, jobs: int, limit: int) -> None:
    """Finished temps wait for the disk with their file open: where a process may open few files
    (a hard limit of 64 or 200) and the disk is slow, the committers of all the jobs running at
    once (a window runs up to 64) hold a quarter of that between them, and every frame is
    copied. Holding 128 each, 1,927 of 2,000 frames of one job failed "Too many open files"."""
    import subprocess
    import sys

    skip_off_local_disk(tmp_path)
    script = f"""
import os, resource, threading, time
resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit}))  # the hard limit too: it cannot be raised
from vfxcopy.core.jobs import CancelToken, JobSpec
from vfxcopy.core.pipeline import run_pipeline
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
paths = make_byte_sequence({str(tmp_path / "src")!r}, count=300, size=200)
{SLOW_DISK}
states = []
def job(n):
    spec = JobSpec(find_sequence(paths[0]), os.path.join({str(tmp_path)!r}, f"out{{n}}"))
    states.append(run_pipeline(spec, CancelToken(), lambda e: None).message or "completed")
threads = [threading.Thread(target=job, args=(n,)) for n in range({jobs})]
for t in threads: t.start()
for t in threads: t.join()
print(sorted(set(states)))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['completed']", out.stdout
    for n in range(jobs):
        assert len(os.listdir(tmp_path / f"out{n}")) == 300


@pytest.mark.parametrize("slow", [True, False], ids=["slow-creates", "quick-creates"])
def test_where_creating_a_temp_is_slow_a_second_thread_opens_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow: bool
) -> None:
    """Once creating temps proves slow (an ext4 without a journal after mass deletes: 600 us each),
    a second thread opens the next sources and temps ahead; where it is quick (12 us on a journaled
    ext4, 6 on tmpfs) none does, as it only competed for the interpreter. Either way every frame is
    complete and reported in order, and a cancel among them leaves nothing partial."""
    import threading

    from vfxcopy.core.pipeline import steps

    monkeypatch.setattr(steps, "CREATE_SLOW_S", 0.0 if slow else 10.0)
    paths = make_byte_sequence(tmp_path / "src", count=400, size=3000)
    threads: set[str] = set()
    events: list[Event] = []

    def report(event: Event) -> None:
        events.append(event)
        if isinstance(event, FrameResult):
            threads.update(t.name for t in threading.enumerate())

    result = run_pipeline(JobSpec(seq_of(paths), str(tmp_path / "out")), CancelToken(), report)
    assert result.state is JobState.COMPLETED, result.message
    assert any(name.startswith("vfxcopy-prepare-") for name in threads) is slow
    assert [e.index for e in events if isinstance(e, FrameResult)] == list(range(400))
    assert_done_files_are_complete(result, tmp_path / "out")
    assert leftovers(tmp_path / "out") == []

    token = CancelToken()

    def cancel_at_250(event: Event) -> None:
        if isinstance(event, FrameResult) and event.index == 250:
            token.cancel()

    result = run_pipeline(JobSpec(seq_of(paths), str(tmp_path / "cancelled")), token, cancel_at_250)
    assert result.state is JobState.CANCELLED
    assert_done_files_are_complete(result, tmp_path / "cancelled")
    assert leftovers(tmp_path / "cancelled") == []
    done = {f.index for f in result.frames if f.status is FrameStatus.DONE}
    assert {int(p.name.split(".")[1]) - 1001 for p in (tmp_path / "cancelled").iterdir()} == done


def test_a_copy_holding_many_files_raises_its_open_file_limit_as_far_as_the_hard_limit_allows(
    tmp_path: Path,
) -> None:
    """Many systems start programs with 1,024 open files allowed and a far higher hard limit:
    a copy whose finished files queue up for a slow disk raises the process's own limit (never
    above the hard limit); a small one does not need to (nor to load the module that does it)."""
    import subprocess
    import sys

    skip_off_local_disk(tmp_path)
    script = f"""
import resource, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096))
from vfxcopy.core.jobs import CancelToken, JobSpec
from vfxcopy.core.pipeline import run_pipeline
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
{SLOW_DISK}
for count, name in ((5, "few"), (200, "many")):
    paths = make_byte_sequence({str(tmp_path)!r} + "/src-" + name, count=count, size=10)
    result = run_pipeline(JobSpec(find_sequence(paths[0]), {str(tmp_path)!r} + "/out-" + name), CancelToken(),
                          lambda e: None)
    print(name, result.state.value, resource.getrlimit(resource.RLIMIT_NOFILE))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["few completed (256, 4096)", "many completed (4096, 4096)"], out.stdout


def test_a_run_right_after_its_preflight_reads_the_destination_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pre-flight's listing of the destination folder stands in for the run's own when the run
    follows at once (a folder of 10,000 files on a NAS: a listing is many round trips). It is a hint,
    as the run's own listing is: a file made there in between is never clobbered. A run that starts
    later lists the folder again and applies the policy to what is there."""
    from vfxcopy.core.pipeline import plan
    from vfxcopy.core.preview import plan_job

    src, dest = tmp_path / "src", tmp_path / "dest"
    make_byte_sequence(src, head="tile.", count=5, size=100)
    seq = Sequence(str(src), "tile.", ".exr", 4, tuple(range(1001, 1006)))
    dest.mkdir()
    for n in range(50):
        (dest / f"other.{n:03d}.exr").write_bytes(b"o")
    (dest / "tile.1001.exr").write_bytes(b"old")
    readings: list[object] = []
    real_listdir = os.listdir

    def listdir(path: object = ".") -> list[str]:
        where = os.readlink(f"/proc/self/fd/{path}") if isinstance(path, int) else os.fspath(path)  # type: ignore[arg-type]
        if where == str(dest):
            readings.append(path)
        return real_listdir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "listdir", listdir)
    opts = CopyOptions(verify=VerifyMode.NONE, fsync=False, on_conflict=ConflictPolicy.OVERWRITE)
    spec = JobSpec(seq, str(dest), copy=opts)
    assert [i.action for i in plan_job(spec).items] == ["overwrite"] + ["write"] * 4
    assert len(readings) == 1
    (dest / "tile.1003.exr").write_bytes(b"theirs")  # made by someone else after the pre-flight
    result = run_pipeline(spec, CancelToken(), lambda e: None)
    assert len(readings) == 1  # not read again
    assert result.state is JobState.FAILED and [f.index for f in result.failed] == [2]
    assert "created by another program meanwhile" in (result.failed[0].error or "")
    assert (dest / "tile.1003.exr").read_bytes() == b"theirs"  # never clobbered
    assert (dest / "tile.1001.exr").read_bytes() == (src / "tile.1001.exr").read_bytes()  # overwritten as planned
    assert sorted(p.name for p in dest.iterdir() if p.name.startswith(".")) == []  # no temp left

    readings.clear()
    later = JobSpec(seq, str(dest), copy=opts)
    plan_job(later)
    monkeypatch.setattr(plan, "SEEN_FRESH_S", 0.0)
    (dest / "tile.1004.exr").write_bytes(b"theirs too")
    result = run_pipeline(later, CancelToken(), lambda e: None)
    assert len(readings) == 2  # the pre-flight's and the run's own: the run saw what is there now
    assert result.state is JobState.COMPLETED, result.message
    assert (dest / "tile.1004.exr").read_bytes() == (src / "tile.1004.exr").read_bytes()  # the policy applied to it
