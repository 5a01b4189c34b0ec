"""Several destinations from one read (issue: offload like a data wrangler, item 2).

Each destination is its own job in one group; the source is read and hashed once.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    CopyOptions,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    VerifyMode,
    is_temp_name,
    new_job_id,
)
from vfxcopy.core.queue import JobQueue, QueueListener
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.core.writers import fanout

MiB = 1 << 20


class Results(QueueListener):
    def __init__(self) -> None:
        self.results: dict[str, JobResult] = {}
        self.started_at: dict[str, float] = {}

    def started(self, spec: JobSpec) -> None:
        self.started_at[spec.job_id] = time.monotonic()

    def finished(self, spec: JobSpec, result: JobResult) -> None:
        self.results[spec.dest_dir] = result


def group_specs(src: Path, dests: list[Path], **copy: object) -> list[JobSpec]:
    seq = find_sequence(next(iter(sorted(src.iterdir()))))
    group = uuid.uuid4().hex
    first = JobSpec(seq, str(dests[0]), copy=CopyOptions(**copy), group=group)  # type: ignore[arg-type]
    return [first] + [replace(first, dest_dir=str(d), job_id=new_job_id(), copy=replace(first.copy)) for d in dests[1:]]


def run_group(specs: list[JobSpec], max_jobs: int = 1) -> dict[str, JobResult]:
    listener = Results()
    queue = JobQueue(max_jobs, listener=listener)
    queue.submit_all(specs)
    assert queue.wait(120)
    return listener.results


def read_bytes() -> int:
    """Bytes this process has read through system calls (page cache included)."""
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])


def leftovers(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if is_temp_name(n) or n.startswith(".vfxcopy-")] if folder.exists() else []


def same_tree(src: Path, dest: Path) -> None:
    names = sorted(p.name for p in src.iterdir())
    assert sorted(n for n in os.listdir(dest) if n != "ascmhl") == names
    for name in names:
        assert (dest / name).read_bytes() == (src / name).read_bytes(), name


def test_three_destinations_read_and_hash_the_source_once(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_byte_sequence(src, count=8, size=2 * MiB)
    total = 8 * 2 * MiB
    dests = [tmp_path / f"d{i}" for i in range(3)]
    before = read_bytes()
    results = run_group(group_specs(src, dests))
    read = read_bytes() - before
    for dest in dests:
        res = results[str(dest)]
        assert res.state is JobState.COMPLETED, res.message
        same_tree(src, dest)
        assert leftovers(dest) == []
    # One read of every byte (the manifests and the journal read a little more), not three.
    assert read < 1.5 * total, f"read {read / total:.2f}x the source"
    hashes = [{f.frame: f.hash for f in results[str(d)].frames} for d in dests]
    assert hashes[0] == hashes[1] == hashes[2] and all(hashes[0].values())

    # The same three jobs without a group read the source three times: the measure can tell.
    alone = [replace(s, group=None, job_id=new_job_id(), dest_dir=str(tmp_path / f"e{i}"))
             for i, s in enumerate(group_specs(src, dests))]
    before = read_bytes()
    run_group(alone, max_jobs=3)
    assert read_bytes() - before > 2.5 * total


def test_full_verification_reads_back_every_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vfxcopy.core.writers import copy as copy_writer

    src = tmp_path / "src"
    make_byte_sequence(src, count=4, size=256 * 1024)
    dests = [tmp_path / f"d{i}" for i in range(2)]
    read_back: list[str] = []
    monkeypatch.setattr(copy_writer, "before_read_back", lambda path, fd: read_back.append(os.readlink(f"/proc/self/fd/{fd}")))
    results = run_group(group_specs(src, dests, verify=VerifyMode.FULL))
    assert all(r.state is JobState.COMPLETED for r in results.values())
    assert sum(str(dests[0]) in p for p in read_back) == 4 and sum(str(dests[1]) in p for p in read_back) == 4


def test_a_destination_that_fills_up_fails_alone(tmp_path: Path, tmpfs_mount) -> None:  # type: ignore[no-untyped-def]
    small = tmpfs_mount("5m")
    src = tmp_path / "src"
    make_byte_sequence(src, count=8, size=1 * MiB)
    good, full = tmp_path / "good", small / "full"
    results = run_group(group_specs(src, [good, full]))
    assert results[str(good)].state is JobState.COMPLETED
    same_tree(src, good)
    bad = results[str(full)]
    assert bad.state is JobState.FAILED and "space" in bad.message.lower()
    assert leftovers(full) == [] and leftovers(good) == []
    for name in os.listdir(full):
        if name != "ascmhl":
            assert (full / name).read_bytes() == (src / name).read_bytes()  # only whole files


def test_a_destination_that_cannot_be_opened_does_not_hold_up_the_others(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_byte_sequence(src, count=5, size=64 * 1024)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    good = tmp_path / "good"
    started = time.monotonic()
    results = run_group(group_specs(src, [blocker, good]))
    assert time.monotonic() - started < 30
    assert results[str(good)].state is JobState.COMPLETED
    assert results[str(blocker)].state is JobState.FAILED
    same_tree(src, good)


def test_one_destination_skips_what_it_has_while_the_others_write(tmp_path: Path) -> None:
    src = tmp_path / "src"
    paths = make_byte_sequence(src, count=6, size=128 * 1024)
    d0, d1 = tmp_path / "d0", tmp_path / "d1"
    d1.mkdir()
    (d1 / paths[2].name).write_bytes(b"already delivered, different")
    results = run_group(group_specs(src, [d0, d1], on_conflict=ConflictPolicy.SKIP))
    assert results[str(d0)].state is JobState.COMPLETED
    same_tree(src, d0)
    statuses = {f.frame: f.status for f in results[str(d1)].frames}
    assert list(statuses.values()).count(FrameStatus.SKIPPED) == 1
    assert (d1 / paths[2].name).read_bytes() == b"already delivered, different"


def started_mid_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dests: list[Path]
                     ) -> tuple[Path, list[JobSpec], JobQueue, Results]:
    """Three 8 MiB frames to `dests`, the shared read slowed to about 0.13 s a frame, returned
    once every destination has its temp (mid-file)."""
    src = tmp_path / "src"
    make_byte_sequence(src, count=3, size=8 * MiB)
    specs = group_specs(src, dests)
    monkeypatch.setattr(fanout, "before_shared_chunk", lambda index, offset: time.sleep(0.004))
    listener = Results()
    queue = JobQueue(1, listener=listener)
    queue.submit_all(specs)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(leftovers(d) for d in dests):
        time.sleep(0.002)
    time.sleep(0.03)
    return src, specs, queue, listener


def test_cancelling_one_destination_mid_file_leaves_the_others_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dests = [tmp_path / f"d{i}" for i in range(3)]
    src, specs, queue, listener = started_mid_file(tmp_path, monkeypatch, dests)
    victim = specs[1]
    deadline = time.monotonic() + 30
    cancelled_at = time.monotonic()
    assert queue.cancel(victim.job_id)
    while victim.dest_dir not in listener.results and time.monotonic() < deadline:
        time.sleep(0.001)
    took = time.monotonic() - cancelled_at
    assert queue.wait(60)
    res = listener.results
    assert res[victim.dest_dir].state is JobState.CANCELLED
    assert took < 0.5, f"the cancelled destination took {took:.3f} s to end"
    assert leftovers(dests[1]) == []
    for name in os.listdir(dests[1]):
        if name != "ascmhl":
            assert (dests[1] / name).read_bytes() == (src / name).read_bytes()
    for dest in (dests[0], dests[2]):
        assert res[str(dest)].state is JobState.COMPLETED, res[str(dest)].message
        same_tree(src, dest)


def test_cancel_of_every_destination_mid_file_leaves_nothing_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dests = [tmp_path / f"d{i}" for i in range(3)]
    src, _specs, queue, listener = started_mid_file(tmp_path, monkeypatch, dests)
    assert queue.cancel_all() == 3
    assert queue.wait(10)
    for dest in dests:
        assert listener.results[str(dest)].state is JobState.CANCELLED
        assert leftovers(dest) == []
        for name in os.listdir(dest):
            if name != "ascmhl":
                assert (dest / name).read_bytes() == (src / name).read_bytes()


def test_a_source_changed_during_the_shared_read_fails_that_frame_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    paths = make_byte_sequence(src, count=3, size=3 * MiB)
    victim = paths[1]

    def grow(index: int, offset: int) -> None:
        if index == 1 and offset == fanout.CHUNK:
            with open(victim, "ab") as f:
                f.write(b"more")

    monkeypatch.setattr(fanout, "before_shared_chunk", grow)
    dests = [tmp_path / "d0", tmp_path / "d1"]
    results = run_group(group_specs(src, dests))
    for dest in dests:
        res = results[str(dest)]
        assert res.state is JobState.FAILED
        failed = [f for f in res.frames if f.status is FrameStatus.FAILED]
        assert [f.frame for f in failed] == [1002] and "changed" in (failed[0].error or "")
        assert not (dest / victim.name).exists() and leftovers(dest) == []
        assert (dest / paths[0].name).read_bytes() == paths[0].read_bytes()


def test_members_run_without_the_queue_still_finish(tmp_path: Path) -> None:
    """Farm tasks or scripts may run each destination's job themselves, in any order."""
    src = tmp_path / "src"
    make_byte_sequence(src, count=6, size=64 * 1024)
    dests = [tmp_path / "d0", tmp_path / "d1"]
    specs = group_specs(src, dests)
    out: dict[str, JobResult] = {}

    def go(spec: JobSpec, delay: float) -> None:
        time.sleep(delay)
        out[spec.dest_dir] = run_job(spec, CancelToken(), lambda e: None)

    threads = [threading.Thread(target=go, args=(s, d)) for s, d in zip(specs, (0.0, 0.05), strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for dest in dests:
        assert out[str(dest)].state is JobState.COMPLETED
        same_tree(src, dest)
    assert fanout.GROUPS.find(specs[0].group or "") is None  # nothing kept once the members are gone


def test_source_verification_reads_the_card_once_for_every_destination(tmp_path: Path) -> None:
    src = tmp_path / "src"
    paths = make_byte_sequence(src, count=6, size=1 * MiB)
    total = 6 * MiB
    dests = [tmp_path / f"d{i}" for i in range(3)]
    specs = group_specs(src, dests, verify_source=True)
    before = read_bytes()
    results = run_group(specs)
    read = read_bytes() - before
    assert all(r.state is JobState.COMPLETED for r in results.values())
    assert read < 2.5 * total, f"read {read / total:.2f}x the source (one copy, one check expected)"

    # A bit flipped on the card after the copy is caught at every destination.
    again = [replace(s, job_id=new_job_id(), dest_dir=str(tmp_path / f"e{i}"), group=uuid.uuid4().hex
                     if i == 0 else None) for i, s in enumerate(specs)]
    for s in again[1:]:
        s.group = again[0].group
    from vfxcopy.core import source_check

    real = source_check._read_again
    flipping = threading.Lock()  # the bit flips before any member reads the card again

    def flip_then_read(group: str | None, path: str, fmt: str, token: CancelToken) -> str:
        with flipping:
            if not getattr(flip_then_read, "done", False):
                flip_then_read.done = True  # type: ignore[attr-defined]
                data = bytearray(paths[3].read_bytes())
                data[100] ^= 1
                st = paths[3].stat()
                paths[3].write_bytes(bytes(data))
                os.utime(paths[3], ns=(st.st_atime_ns, st.st_mtime_ns))
        return real(group, path, fmt, token)

    source_check._read_again = flip_then_read  # type: ignore[assignment]
    try:
        results = run_group(again)
    finally:
        source_check._read_again = real  # type: ignore[assignment]
    for spec in again:
        res = results[spec.dest_dir]
        assert res.state is JobState.FAILED and "source verification" in res.message


def test_a_rerun_that_skips_what_is_there_does_not_read_the_source(tmp_path: Path) -> None:
    """The group reads ahead only what some destination will write: a re-run with 'skip' reads nothing."""
    src = tmp_path / "src"
    make_byte_sequence(src, count=8, size=1 * MiB)
    dests = [tmp_path / "d0", tmp_path / "d1"]
    first = run_group(group_specs(src, dests))
    assert all(r.state is JobState.COMPLETED for r in first.values())
    before = read_bytes()
    # (No verification this time: a verified job's manifest would read the files at each destination.)
    again = run_group(group_specs(src, dests, on_conflict=ConflictPolicy.SKIP, verify=VerifyMode.NONE))
    assert read_bytes() - before < 1 * MiB
    for res in again.values():
        assert res.state is JobState.COMPLETED
        assert {f.status for f in res.frames} == {FrameStatus.SKIPPED}


def test_overwriting_what_is_there_while_the_reader_reads_ahead_never_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items already at the destinations are not read ahead; with 'overwrite' the members still write
    them, asking for an item below the read-ahead while it is full. The reader must serve it."""
    monkeypatch.setattr(fanout, "READ_AHEAD", 2 * MiB)
    monkeypatch.setattr(fanout, "SLOT_WINDOW", 2 * MiB)
    src = tmp_path / "src"
    paths = make_byte_sequence(src, count=10, size=1 * MiB)
    dests = [tmp_path / "d0", tmp_path / "d1"]
    for dest in dests:
        dest.mkdir()
        for p in paths[:2]:
            (dest / p.name).write_bytes(b"an older render")
    listener = Results()
    queue = JobQueue(1, listener=listener)
    queue.submit_all(group_specs(src, dests, on_conflict=ConflictPolicy.OVERWRITE))
    finished = queue.wait(30)
    if not finished:
        queue.cancel_all()
        queue.wait(10)
    assert finished, "the group hung"
    for dest in dests:
        assert listener.results[str(dest)].state is JobState.COMPLETED
        same_tree(src, dest)


def test_big_items_stream_through_a_small_window_when_one_destination_skips_some(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One destination has the first item (skipped there), the other writes it alone; the big items
    after it stream to both through a window smaller than one item, and both trees end whole."""
    monkeypatch.setattr(fanout, "PREFETCH_MAX", 256 * 1024)  # nothing read ahead: members ask for each item
    monkeypatch.setattr(fanout, "SLOT_WINDOW", 1 * MiB)
    src = tmp_path / "src"
    paths = make_byte_sequence(src, count=4, size=3 * MiB)
    ahead, behind = tmp_path / "ahead", tmp_path / "behind"
    ahead.mkdir()
    (ahead / paths[0].name).write_bytes(paths[0].read_bytes())
    listener = Results()
    queue = JobQueue(1, listener=listener)
    queue.submit_all(group_specs(src, [ahead, behind], on_conflict=ConflictPolicy.SKIP))
    finished = queue.wait(30)
    if not finished:
        queue.cancel_all()
        queue.wait(10)
    assert finished, "the group hung"
    for dest in (ahead, behind):
        assert listener.results[str(dest)].state is JobState.COMPLETED
        same_tree(src, dest)
