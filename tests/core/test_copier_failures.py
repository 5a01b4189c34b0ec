"""Copy engine against a hostile world: full disk, no permission, corruption, a source that changes."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from vfxcopy.core.jobs import (
    CancelToken,
    CopyOptions,
    Event,
    FrameStatus,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
    VerifyMode,
    is_temp_name,
)
from vfxcopy.core.pipeline import run_pipeline as copy_sequence
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.writers import copy as copy_writer

MiB = 1 << 20


def seq_of(paths: list[Path]) -> Sequence:
    head, tail = "plate.", ".exr"
    frames = tuple(int(p.name[len(head) : -len(tail)]) for p in paths)
    return Sequence(str(paths[0].parent), head, tail, 4, frames)


def temps_in(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if is_temp_name(n)]


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a destination that fills up."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.needs_root
@pytest.mark.parametrize(
    "opts",
    [CopyOptions(), CopyOptions(verify=VerifyMode.NONE, fsync=False), CopyOptions(verify=VerifyMode.FULL)],
    ids=["defaults", "zero-copy", "full"],
)
def test_disk_full_stops_once_with_one_clear_message_and_nothing_partial(
    tmp_path: Path, small_tmpfs: Path, opts: CopyOptions
) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=5, size=700 * 1024)
    events: list[Event] = []
    dest = small_tmpfs / "out"
    result = copy_sequence(JobSpec(seq_of(paths), str(dest), copy=opts), CancelToken(), events.append)
    assert result.state is JobState.FAILED
    assert result.exit_code == 1
    assert "full" in result.message and str(dest) in result.message
    statuses = [f.status for f in result.frames]
    # Two frames fit in 2 MiB; the third fails; the job stops there (no retry of each frame).
    assert statuses[:2] == [FrameStatus.DONE] * 2
    assert statuses[2] is FrameStatus.FAILED
    assert statuses[3:] == [FrameStatus.PENDING] * 2
    assert temps_in(dest) == []
    assert sorted(os.listdir(dest)) == [p.name for p in paths[:2]]
    for p in paths[:2]:
        assert (dest / p.name).read_bytes() == p.read_bytes()
    full_errors = [e for e in events if isinstance(e, LogMessage) and e.level == "error" and "full" in e.text]
    assert len(full_errors) == 1
    assert [e for e in events if isinstance(e, Progress)][-1].state is JobState.FAILED


def _nobody_can_run() -> str | None:
    if os.geteuid() != 0:
        return "needs root to switch to the nobody user"
    if shutil.which("setpriv") is None:
        return "setpriv is not installed"
    probe = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-c", "import vfxcopy.core.pipeline.runner"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"cannot run the engine as nobody here: {probe.stderr.strip()[-200:]}"
    return None


COPY_AS_NOBODY = textwrap.dedent(
    """
    import json, sys
    from vfxcopy.core.pipeline import run_pipeline as copy_sequence
    from vfxcopy.core.jobs import CancelToken, JobSpec
    from vfxcopy.core.sequence import Sequence
    src, dest = sys.argv[1], sys.argv[2]
    seq = Sequence(src, "plate.", ".exr", 4, (1001, 1002, 1003))
    r = copy_sequence(JobSpec(seq, dest), CancelToken(), lambda e: None)
    print(json.dumps({"state": r.state.value, "message": r.message,
                      "frames": [[f.status.value, f.error] for f in r.frames]}))
    """
)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the nobody user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="vfxcopy-perm-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.needs_root
def test_permission_denied_as_a_normal_user(shared_dir: Path) -> None:
    reason = _nobody_can_run()
    if reason:
        pytest.skip(reason)
    src = shared_dir / "src"
    paths = make_byte_sequence(src, count=3, size=64 * 1024)
    os.chmod(src, 0o755)
    for p in paths:
        os.chmod(p, 0o644)
    os.chmod(paths[1], 0o600)  # this frame is unreadable for nobody
    readonly = shared_dir / "readonly"
    readonly.mkdir(mode=0o555)
    os.chmod(readonly, 0o555)
    writable = shared_dir / "writable"
    writable.mkdir()
    os.chmod(writable, 0o777)

    def as_nobody(dest: Path) -> dict[str, object]:
        proc = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-c", COPY_AS_NOBODY, str(src), str(dest)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        out: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
        return out

    # A destination folder nobody may write to: the job fails once, before any frame, with the
    # path and the reason; its frames stay pending (a later run can do them).
    out = as_nobody(readonly)
    assert out["state"] == "failed"
    assert "permission denied" in str(out["message"]) and str(readonly) in str(out["message"])
    frames = out["frames"]
    assert isinstance(frames, list) and [status for status, _ in frames] == ["pending"] * 3
    assert os.listdir(readonly) == []
    # An unreadable source frame fails alone; the others are copied.
    out = as_nobody(writable)
    frames = out["frames"]
    assert isinstance(frames, list)
    assert [s for s, _ in frames] == ["done", "failed", "done"]
    assert str(paths[1]) in frames[1][1] and "permission denied" in frames[1][1]
    assert sorted(os.listdir(writable)) == [paths[0].name, paths[2].name]


@pytest.mark.needs_root
def test_immutable_destination_folder(tmp_path: Path, byte_seq: list[Path]) -> None:
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr")
    dest = tmp_path / "locked"
    dest.mkdir()
    if subprocess.run(["chattr", "+i", str(dest)], capture_output=True).returncode != 0:
        pytest.skip("this file system does not support chattr +i")
    try:
        result = copy_sequence(JobSpec(seq_of(byte_seq[:2]), str(dest)), CancelToken(), lambda e: None)
    finally:
        subprocess.run(["chattr", "-i", str(dest)], check=True)
    assert result.state is JobState.FAILED
    assert "permission denied" in result.message and str(dest) in result.message  # said once, for the job
    assert [f.status for f in result.frames] == [FrameStatus.PENDING] * 2
    assert os.listdir(dest) == []


def flip_a_bit(path: str) -> None:
    with open(path, "r+b") as f:
        f.seek(1234)
        byte = f.read(1)
        f.seek(1234)
        f.write(bytes([byte[0] ^ 0x10]))
        f.flush()
        os.fsync(f.fileno())


@pytest.mark.parametrize("fsync", [True, False])
def test_bit_flipped_after_write_fails_full_verification(
    tmp_path: Path, byte_seq: list[Path], monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    calls: list[str] = []

    def corrupt(path: str, fd: int) -> None:
        calls.append(path)
        if Path(path).name == "1.part":  # every attempt at the second frame
            flip_a_bit(path)

    monkeypatch.setattr(copy_writer, "before_read_back", corrupt)
    dest = tmp_path / "out"
    events: list[Event] = []
    opts = CopyOptions(verify=VerifyMode.FULL, fsync=fsync)
    result = copy_sequence(JobSpec(seq_of(byte_seq[:3]), str(dest), copy=opts), CancelToken(), events.append)
    assert result.state is JobState.FAILED
    bad = result.frames[1]
    assert bad.status is FrameStatus.FAILED
    assert "differs" in (bad.error or "")
    assert not (dest / byte_seq[1].name).exists()  # never a "verified" bad file
    assert temps_in(dest) == []
    assert sum(1 for c in calls if c.endswith("/1.part")) == 2  # retried once
    assert any(isinstance(e, LogMessage) and "retrying" in e.text for e in events)
    for i in (0, 2):
        assert result.frames[i].status is FrameStatus.DONE
        assert (dest / byte_seq[i].name).read_bytes() == byte_seq[i].read_bytes()


def test_a_single_corruption_is_healed_by_the_retry(tmp_path: Path, byte_seq: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    flipped: list[str] = []

    def corrupt_once(path: str, fd: int) -> None:
        if not flipped:
            flipped.append(path)
            flip_a_bit(path)

    monkeypatch.setattr(copy_writer, "before_read_back", corrupt_once)
    dest = tmp_path / "out"
    result = copy_sequence(
        JobSpec(seq_of(byte_seq[:1]), str(dest), copy=CopyOptions(verify=VerifyMode.FULL)), CancelToken(), lambda e: None
    )
    assert result.state is JobState.COMPLETED
    assert (dest / byte_seq[0].name).read_bytes() == byte_seq[0].read_bytes()


@pytest.mark.parametrize("verify", [VerifyMode.TRANSFER, VerifyMode.NONE])
@pytest.mark.parametrize("change", ["append", "touch"])
def test_source_changed_while_copying_fails_the_frame(tmp_path: Path, verify: VerifyMode, change: str) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=3, size=3 * MiB)
    target = str(paths[1])
    changed: list[bool] = []

    def report(event: Event) -> None:
        # The first progress of frame 1002 announces it; the next one follows its first chunk.
        if isinstance(event, Progress) and event.current_path == target and event.bytes_done > 3 * MiB and not changed:
            changed.append(True)
            if change == "append":
                with open(target, "ab") as f:
                    f.write(b"more")
            else:
                st = os.stat(target)
                os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    dest = tmp_path / "out"
    opts = CopyOptions(verify=verify, fsync=False)
    result = copy_sequence(JobSpec(seq_of(paths), str(dest), copy=opts), CancelToken(), report)
    assert changed
    assert [f.status for f in result.frames] == [FrameStatus.DONE, FrameStatus.FAILED, FrameStatus.DONE]
    assert "source changed" in (result.frames[1].error or "")
    assert not (dest / paths[1].name).exists()
    assert temps_in(dest) == []


def test_unusable_destination_is_one_job_error(tmp_path: Path, byte_seq: list[Path]) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    result = copy_sequence(JobSpec(seq_of(byte_seq), str(blocker / "out")), CancelToken(), lambda e: None)
    assert result.state is JobState.FAILED
    assert str(blocker / "out") in result.message
    assert all(f.status is FrameStatus.PENDING for f in result.frames)


@pytest.mark.parametrize("code", [errno.EIO, errno.ENOSPC])
def test_fsync_failure_in_the_committer_fails_that_frame_and_leaves_nothing(
    tmp_path: Path, byte_seq: list[Path], monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """Delayed-allocation file systems (NFS, ext4 on a thin volume) report EIO/ENOSPC at fsync."""
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("/2.part"):
            raise OSError(code, os.strerror(code))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    dest = tmp_path / "out"
    events: list[Event] = []
    result = copy_sequence(JobSpec(seq_of(byte_seq), str(dest)), CancelToken(), events.append)
    assert result.state is JobState.FAILED
    bad = result.frames[2]
    assert bad.status is FrameStatus.FAILED
    assert str(dest / byte_seq[2].name) in (bad.error or "") or str(dest) in (bad.error or "")
    assert not (dest / byte_seq[2].name).exists()
    assert temps_in(dest) == []
    assert result.frames[0].status is FrameStatus.DONE and result.frames[1].status is FrameStatus.DONE
    errors = [e for e in events if isinstance(e, LogMessage) and e.level == "error"]
    assert len(errors) == 1
    if code == errno.EIO:
        assert "input/output error" in (bad.error or "")
        # The job went on with the other frames.
        assert all(f.status is FrameStatus.DONE for i, f in enumerate(result.frames) if i != 2)
    else:
        assert "full" in result.message
        assert all(f.status is not FrameStatus.FAILED for i, f in enumerate(result.frames) if i != 2)
    for f in result.frames:
        if f.status is FrameStatus.DONE:
            assert Path(f.dest).read_bytes() == Path(f.source).read_bytes()


def test_unreadable_source_bytes_fail_that_frame_with_its_path(
    tmp_path: Path, byte_seq: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read error (a failing disk: EIO) names the source frame; the other frames go on."""
    real_preadv = os.preadv

    def failing_preadv(fd: int, buffers: list[memoryview], offset: int) -> int:
        if os.readlink(f"/proc/self/fd/{fd}") == str(byte_seq[3]):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_preadv(fd, buffers, offset)

    monkeypatch.setattr(os, "preadv", failing_preadv)
    dest = tmp_path / "out"
    result = copy_sequence(JobSpec(seq_of(byte_seq), str(dest)), CancelToken(), lambda e: None)
    assert result.state is JobState.FAILED
    bad = result.frames[3]
    assert bad.status is FrameStatus.FAILED
    assert (bad.error or "").startswith(str(byte_seq[3]))
    assert "input/output error" in (bad.error or "") and "source" in (bad.error or "")
    assert [f.status for i, f in enumerate(result.frames) if i != 3] == [FrameStatus.DONE] * 9
    assert temps_in(dest) == []


def test_a_destination_removed_before_its_compare_is_written_and_a_source_gone_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """skip-identical compares an existing frame before writing. One removed between the look at the
    folder and the compare is simply written (its name is free; placing never clobbers); it failed
    "the source file is missing" before, blaming the source for the destination. A source that is
    gone when the compare opens it is still reported as the source."""
    paths = make_byte_sequence(tmp_path / "src", count=4, size=1000)
    dest = tmp_path / "dest"
    dest.mkdir()
    for p in paths:
        (dest / p.name).write_bytes(p.read_bytes())
    real = copy_writer.CopyWriter.identical

    def identical(self, item, st, dest_fd, ctx):  # type: ignore[no-untyped-def]
        if item.name == paths[1].name:
            os.unlink(dest / item.name)  # removed by someone else a moment ago
        if item.name == paths[2].name:
            os.unlink(item.src)  # the source went meanwhile
        return real(self, item, st, dest_fd, ctx)

    monkeypatch.setattr(copy_writer.CopyWriter, "identical", identical)
    result = copy_sequence(JobSpec(seq_of(paths), str(dest)), CancelToken(), lambda e: None)
    by_name = {Path(f.dest).name: f for f in result.frames}
    assert [by_name[p.name].status for p in paths] == [
        FrameStatus.SKIPPED, FrameStatus.DONE, FrameStatus.FAILED, FrameStatus.SKIPPED]
    assert (dest / paths[1].name).read_bytes() == paths[1].read_bytes()
    error = by_name[paths[2].name].error or ""
    assert error.startswith(str(paths[2])) and "source" in error, error
    assert temps_in(dest) == []
