"""verify_destination: missing, altered and extra files, progress, cancel, and the journal as reference."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from vfxcopy.core.engine import run_job
from vfxcopy.core.errors import JobError
from vfxcopy.core.jobs import CancelToken, CopyOptions, JobSpec, JobState, Progress, VerifyMode, temp_name
from vfxcopy.core.journal import Journal
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.core.verify import verify_destination


def delivered(tmp_path: Path, count: int = 6, size: int = 50_000, journal: Journal | None = None,
              verify: VerifyMode = VerifyMode.TRANSFER) -> Path:
    src = make_byte_sequence(tmp_path / "src", count=count, size=size)
    dest = tmp_path / "dst"
    spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(dest), copy=CopyOptions(verify=verify))
    assert run_job(spec, journal=journal).state is JobState.COMPLETED
    return dest


def test_untouched_delivery_passes_with_progress(tmp_path: Path) -> None:
    dest = delivered(tmp_path)
    events: list[object] = []
    report = verify_destination(dest, report=events.append)
    assert report.passed and report.reference == "ascmhl"
    assert sorted(report.ok) == [f"plate.{f}.exr" for f in range(1001, 1007)]
    assert report.bytes_checked == 6 * 50_000
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and progress[-1].bytes_done == progress[-1].bytes_total == 6 * 50_000
    assert progress[-1].state is JobState.COMPLETED


def test_missing_altered_and_extra_files_are_each_reported(tmp_path: Path) -> None:
    dest = delivered(tmp_path)
    (dest / "plate.1002.exr").unlink()
    with open(dest / "plate.1004.exr", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00")
    (dest / "notes.txt").write_text("not part of the delivery")
    (dest / temp_name("abc", 0)).write_bytes(b"a running job's temp is not an extra file")
    (dest / "ascmhl" / "scratch.txt").write_text("inside ascmhl/: ignored")
    report = verify_destination(dest)
    assert not report.passed
    assert report.missing == ["plate.1002.exr"]
    assert [m.path for m in report.altered] == ["plate.1004.exr"]
    assert report.extra == ["notes.txt"]
    assert len(report.ok) == 4
    data = report.to_dict()
    assert data["passed"] is False and data["missing"] == ["plate.1002.exr"]


def test_a_delivery_under_a_folder_with_a_line_break_in_its_name_passes(tmp_path: Path) -> None:
    """The history's ignore patterns (pathspec, as ascmhl matches them, on absolute paths) missed
    every file under such a folder: the delivery's own ascmhl/ files were reported extra."""
    dest = delivered(tmp_path / "show\nreel")
    report = verify_destination(dest)
    assert report.passed and report.extra == [] and len(report.ok) == 6
    (dest / "ascmhl" / "scratch.txt").write_text("inside ascmhl/: ignored")
    (dest / "notes.txt").write_text("not part of the delivery")
    assert verify_destination(dest).extra == ["notes.txt"]


def test_cancel_stops_hashing(tmp_path: Path) -> None:
    dest = delivered(tmp_path, count=3, size=9 << 20)  # three chunks per file: room to cancel
    token = CancelToken()
    seen: list[Progress] = []

    def report(event: object) -> None:
        if isinstance(event, Progress):
            seen.append(event)
            token.cancel()

    # The first progress tick comes after the first chunk; from then on nothing more is hashed.
    result = verify_destination(dest, token, report)
    assert result.cancelled and not result.passed
    assert result.bytes_checked < 3 * (9 << 20)
    assert seen[-1].state is JobState.CANCELLED


def test_without_manifest_the_journal_is_the_reference(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        dest = delivered(tmp_path, journal=journal)
        shutil.rmtree(dest / "ascmhl")
        assert verify_destination(dest, journal=journal).passed
        assert verify_destination(dest, journal=journal).reference == "journal"
        with open(dest / "plate.1001.exr", "r+b") as fh:
            fh.write(b"!")
        report = verify_destination(dest, journal=journal)
        assert [m.path for m in report.altered] == ["plate.1001.exr"]
    with pytest.raises(JobError, match="no ASC MHL history"):
        verify_destination(dest)


def test_unverified_copy_has_nothing_to_check_against(tmp_path: Path) -> None:
    dest = delivered(tmp_path, count=2, size=100, verify=VerifyMode.NONE)
    with pytest.raises(JobError):
        verify_destination(dest)
    os.makedirs(tmp_path / "empty")
    with Journal(tmp_path / "j.db") as journal, pytest.raises(JobError, match="no hashes in the journal"):
        verify_destination(tmp_path / "empty", journal=journal)


@pytest.mark.timeout(60)
def test_a_fifo_in_place_of_a_frame_is_reported_not_waited_on(tmp_path: Path) -> None:
    dest = delivered(tmp_path, count=3, size=1000)
    (dest / "plate.1002.exr").unlink()
    os.mkfifo(dest / "plate.1002.exr")  # nobody will ever write into it
    report = verify_destination(dest)
    assert [m.path for m in report.altered] == ["plate.1002.exr"] and len(report.ok) == 2


def test_vfxcopy_working_folders_are_never_extra(tmp_path: Path) -> None:
    dest = delivered(tmp_path, count=2, size=1000)
    (dest / ".vfxcopy-farm" / "job1").mkdir(parents=True)
    (dest / ".vfxcopy-farm" / "job1" / "chunk-1-2.json").write_text("{}")
    (dest / temp_name("abc", 3)).write_bytes(b"a running job's frame")
    assert verify_destination(dest).passed


def test_files_hashed_at_once_in_several_threads_each_get_their_own_digest(tmp_path: Path) -> None:
    """Reads go through reused buffers (one each while a file is hashed): four threads hashing
    files of 0 bytes to several chunks at once, and a hash left half-way by a cancel, must each
    give the digest of their own bytes, as hashlib does."""
    import hashlib
    import threading

    from vfxcopy.core.errors import Cancelled
    from vfxcopy.core.verify.hashes import CHUNK, hash_path

    sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7]
    files = []
    for n in range(12):
        path = tmp_path / f"f{n}"
        path.write_bytes(os.urandom(sizes[n % len(sizes)]))
        files.append((str(path), hashlib.md5(path.read_bytes()).hexdigest()))
    cancelled = CancelToken()
    cancelled.cancel()
    with pytest.raises(Cancelled):  # a hash stopped before its first chunk: its buffer is given back
        hash_path(files[5][0], "md5", cancelled)
    wrong: list[str] = []

    def work(offset: int) -> None:
        for k in range(30):
            path, want = files[(offset + k) % len(files)]
            got = hash_path(path, "md5")
            if got != want:
                wrong.append(f"{path}: {got} != {want}")

    threads = [threading.Thread(target=work, args=(i * 3,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def _on_a_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a network file system (where each open and read is a round trip): files hashed at once."""
    from vfxcopy.core.verify.mhl_listing import TreeListing

    monkeypatch.setattr(TreeListing, "network", lambda self: True)


def test_on_a_network_file_system_files_are_hashed_several_at_a_time_and_reported_in_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verify_hashing_threads: set[str]) -> None:
    import threading

    dest = delivered(tmp_path, count=40, size=3000)
    (dest / "plate.1002.exr").unlink()
    (dest / "plate.1030.exr").write_bytes(b"altered")
    (dest / "plate.1033.exr").unlink()
    os.mkfifo(dest / "plate.1033.exr")  # read as empty: altered, not waited on
    (dest / "plate.1035.exr").unlink()
    (dest / "plate.1035.exr").mkdir()  # a folder in place of a frame: missing as a file
    _on_a_network(monkeypatch)
    events: list[object] = []
    report = verify_destination(dest, report=events.append)
    assert verify_hashing_threads == {"vfxcopy-verify"}
    assert report.missing == ["plate.1002.exr", "plate.1035.exr"]
    assert [m.path for m in report.altered] == ["plate.1030.exr", "plate.1033.exr"]
    expected_ok = [f"plate.{f}.exr" for f in range(1001, 1041) if f not in (1002, 1030, 1033, 1035)]
    assert report.ok == expected_ok  # in order, as one at a time
    assert report.bytes_checked == 36 * 3000 + len(b"altered")
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].bytes_done == progress[-1].bytes_total == report.bytes_checked
    assert not [t for t in threading.enumerate() if t.name.startswith("vfxcopy-verify")]  # none left behind


def test_a_cancel_stops_the_hashing_threads_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from vfxcopy.core import roundtrips
    from vfxcopy.core.verify import destination

    dest = delivered(tmp_path, count=200, size=1000)
    _on_a_network(monkeypatch)
    token = CancelToken()
    started: list[str] = []
    real = destination.hash_path

    def slow(path: str, *args: object, **kwargs: object) -> str:
        started.append(path)
        if len(started) == 20:
            token.cancel()
        time.sleep(0.005)  # a round trip
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(destination, "hash_path", slow)
    t0 = time.monotonic()
    result = verify_destination(dest, token)
    assert result.cancelled and not result.passed
    assert time.monotonic() - t0 < 2
    assert len(started) <= 20 + roundtrips.THREADS  # what had started finishes; nothing new starts
    assert len(result.ok) < 20 + roundtrips.THREADS
    assert not [t for t in threading.enumerate() if t.name.startswith("vfxcopy-verify")]


def test_verify_progress_says_the_speed_and_what_is_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each progress line had 0.0 MiB/s and no ETA."""
    import time

    from vfxcopy.core.verify import destination

    dest = delivered(tmp_path, count=60, size=1000)
    real = destination.hash_path

    def slow(*args: object, **kwargs: object) -> str:
        time.sleep(0.01)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(destination, "hash_path", slow)
    events: list[object] = []
    verify_destination(dest, report=events.append)
    running = [e for e in events if isinstance(e, Progress) and e.state is JobState.RUNNING]
    assert len(running) >= 3
    later = running[1:]
    assert all(e.bytes_per_s > 0 and e.eta_s is not None for e in later)
    assert later[-1].eta_s < later[0].eta_s  # type: ignore[operator]


def test_a_cancel_while_the_files_are_sized_ends_the_verify_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sizing 10,500 files one round trip each took seconds with no way to stop it."""
    import threading
    import time

    dest = delivered(tmp_path, count=300, size=100)
    _on_a_network(monkeypatch)
    token = CancelToken()
    sized: list[str] = []
    real = os.path.getsize

    def slow(path: str) -> int:
        sized.append(path)
        if len(sized) == 30:
            token.cancel()
        time.sleep(0.002)
        return real(path)

    monkeypatch.setattr(os.path, "getsize", slow)
    t0 = time.monotonic()
    result = verify_destination(dest, token)
    assert result.cancelled and not result.ok and result.bytes_checked == 0
    assert time.monotonic() - t0 < 1 and len(sized) < 60
    assert not [t for t in threading.enumerate() if t.name.startswith(("vfxcopy-verify", "vfxcopy-ahead"))]


def test_a_delivery_with_nothing_left_to_hash_on_a_network_file_system(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every recorded file gone: nothing to size or hash (it raised 'range() arg 3 must not be zero')."""
    dest = delivered(tmp_path, count=3, size=100)
    for frame in dest.glob("plate.*.exr"):
        frame.unlink()
    _on_a_network(monkeypatch)
    report = verify_destination(dest)
    assert report.missing == [f"plate.{f}.exr" for f in range(1001, 1004)] and not report.ok


def test_a_cancel_while_the_history_is_read_ends_the_verify_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a network file system reading the history (its generations, a listing looked up file by
    file) took seconds that a cancel (Ctrl-C) had to wait for: 2.5 s on sshfs without its cache."""
    import threading
    import time

    from vfxcopy.core.verify import mhl_listing

    dest = delivered(tmp_path, count=300, size=100)
    _on_a_network(monkeypatch)
    monkeypatch.setattr(mhl_listing, "_kinds_cost_a_call", lambda items: True)
    token = CancelToken()
    looked: list[str] = []

    def slow(item: os.DirEntry[str]) -> object:
        looked.append(item.name)
        if len(looked) == 20:
            token.cancel()
        time.sleep(0.002)  # a round trip
        return item.stat(follow_symlinks=False)

    monkeypatch.setattr(mhl_listing, "_lstat", slow)
    events: list[object] = []
    t0 = time.monotonic()
    result = verify_destination(dest, token, events.append)
    assert result.cancelled and not result.passed and not result.ok and result.reference == "ascmhl"
    assert time.monotonic() - t0 < 1 and len(looked) < 40
    assert [e.state for e in events if isinstance(e, Progress)] == [JobState.CANCELLED]
    assert not [t for t in threading.enumerate() if t.name.startswith(("vfxcopy-verify", "vfxcopy-ahead"))]
