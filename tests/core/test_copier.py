"""Copy engine: bytes, names, conflict policies, verification, durability options, errors."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from vfxcopy.core.errors import SafetyError
from vfxcopy.core.hashing import hash_file
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    CopyOptions,
    FrameResult,
    FrameStatus,
    HashAlgo,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
    VerifyMode,
    is_temp_name,
)
from vfxcopy.core.naming import versioned_head
from vfxcopy.core.pipeline import place as placing
from vfxcopy.core.pipeline import run_pipeline as copy_sequence
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.sequence import Sequence


def seq_of(paths: list[Path], padding: int = 4) -> Sequence:
    first = paths[0].name
    head = first.split(".")[0] + "."
    tail = "." + first.split(".")[-1]
    frames = tuple(int(p.name[len(head) : len(p.name) - len(tail)]) for p in paths)
    return Sequence(str(paths[0].parent), head, tail, padding, frames)


def run(spec: JobSpec, token: CancelToken | None = None) -> tuple[object, list[object]]:
    events: list[object] = []
    result = copy_sequence(spec, token or CancelToken(), events.append)
    return result, events


def no_temps(folder: Path) -> bool:
    return not any(is_temp_name(n) for n in os.listdir(folder)) if folder.exists() else True


@pytest.mark.parametrize("verify", list(VerifyMode))
@pytest.mark.parametrize("fsync", [True, False])
def test_copies_every_frame_byte_for_byte(tmp_path: Path, byte_seq: list[Path], verify: VerifyMode, fsync: bool) -> None:
    dest = tmp_path / "out" / "deep"
    spec = JobSpec(seq_of(byte_seq), str(dest), copy=CopyOptions(verify=verify, fsync=fsync))
    result, events = run(spec)
    assert result.state is JobState.COMPLETED, result.message
    assert [f.status for f in result.frames] == [FrameStatus.DONE] * 10
    for src in byte_seq:
        assert (dest / src.name).read_bytes() == src.read_bytes()
    assert no_temps(dest)
    frame_events = [e for e in events if isinstance(e, FrameResult)]
    assert sorted(e.frame for e in frame_events) == list(range(1001, 1011))
    if verify is not VerifyMode.NONE:
        assert result.frames[0].hash == hash_file(byte_seq[0])
        assert result.frames[0].hash_algo == "xxh3"
    last = [e for e in events if isinstance(e, Progress)][-1]
    assert last.state is JobState.COMPLETED
    assert last.frames_done == 10 and last.bytes_done == last.bytes_total == 10 * 64 * 1024
    assert result.bytes_done == 10 * 64 * 1024


@pytest.mark.parametrize("algo", list(HashAlgo))
def test_hash_algorithms(tmp_path: Path, byte_seq: list[Path], algo: HashAlgo) -> None:
    spec = JobSpec(seq_of(byte_seq[:2]), str(tmp_path / "out"), copy=CopyOptions(hash_algo=algo))
    result, _ = run(spec)
    assert result.frames[0].hash == hash_file(byte_seq[0], algo)
    assert result.frames[0].hash_algo == algo.value
    if algo is HashAlgo.MD5:
        import hashlib

        assert result.frames[0].hash == hashlib.md5(byte_seq[0].read_bytes()).hexdigest()


def test_frame_range_rename_and_offset_keep_padding(tmp_path: Path, byte_seq: list[Path]) -> None:
    dest = tmp_path / "out"
    spec = JobSpec(seq_of(byte_seq), str(dest), frames=[1002, 1003, 1004], rename_head="comp_v002.", offset=-1000)
    result, _ = run(spec)
    assert result.state is JobState.COMPLETED
    assert sorted(os.listdir(dest)) == ["comp_v002.0002.exr", "comp_v002.0003.exr", "comp_v002.0004.exr"]
    assert (dest / "comp_v002.0003.exr").read_bytes() == byte_seq[2].read_bytes()


def test_negative_frames_after_offset(tmp_path: Path, byte_seq: list[Path]) -> None:
    dest = tmp_path / "out"
    spec = JobSpec(seq_of(byte_seq[:2]), str(dest), offset=-1002)
    result, _ = run(spec)
    assert result.state is JobState.COMPLETED
    assert sorted(os.listdir(dest)) == ["plate.-0001.exr", "plate.0000.exr"]


def test_single_file_keeps_its_name(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "notes.txt").write_bytes(b"hello")
    spec = JobSpec(Sequence(str(src), "notes.txt", "", 0, ()), str(tmp_path / "out"))
    result, _ = run(spec)
    assert result.state is JobState.COMPLETED
    assert (tmp_path / "out" / "notes.txt").read_bytes() == b"hello"


def test_mode_and_mtime_preserved(tmp_path: Path, byte_seq: list[Path]) -> None:
    os.chmod(byte_seq[0], 0o640)
    os.utime(byte_seq[0], ns=(1_600_000_000_123_456_789, 1_500_000_000_987_654_321))
    dest = tmp_path / "out"
    result, _ = run(JobSpec(seq_of(byte_seq[:1]), str(dest)))
    st = os.stat(dest / byte_seq[0].name)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_mtime_ns == 1_500_000_000_987_654_321


def test_versioned_head_scheme() -> None:
    assert versioned_head("shot_010.", 2) == "shot_010_v2."
    assert versioned_head("shot_010_", 3) == "shot_010_v3_"
    assert versioned_head("shot", 2) == "shot_v2"
    assert versioned_head("shot_010_v003.", 4) == "shot_010_v004."


# -- conflict policies -------------------------------------------------------------------------


def existing(dest: Path, name: str, data: bytes) -> tuple[int, bytes]:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / name).write_bytes(data)
    return os.stat(dest / name).st_ino, data


def untouched(path: Path, ino: int, data: bytes) -> bool:
    return os.stat(path).st_ino == ino and path.read_bytes() == data


@pytest.mark.parametrize("policy", [ConflictPolicy.SKIP, ConflictPolicy.SKIP_IDENTICAL, ConflictPolicy.FAIL])
def test_policies_keep_a_different_existing_file(tmp_path: Path, byte_seq: list[Path], policy: ConflictPolicy) -> None:
    dest = tmp_path / "out"
    ino, data = existing(dest, byte_seq[1].name, b"someone else's work")
    spec = JobSpec(seq_of(byte_seq[:3]), str(dest), copy=CopyOptions(on_conflict=policy))
    result, _ = run(spec)
    assert untouched(dest / byte_seq[1].name, ino, data)
    other = result.frames[1]
    if policy is ConflictPolicy.SKIP:
        assert other.status is FrameStatus.SKIPPED
        assert result.state is JobState.COMPLETED
    else:
        assert other.status is FrameStatus.FAILED
        assert result.state is JobState.FAILED
        assert str(dest / byte_seq[1].name) in (other.error or "")
        if policy is ConflictPolicy.SKIP_IDENTICAL:
            assert "exists and differs" in (other.error or "")
            assert "overwrite" in (other.error or "")
    assert result.frames[0].status is FrameStatus.DONE and result.frames[2].status is FrameStatus.DONE
    assert no_temps(dest)


def test_skip_identical_skips_same_bytes_and_rerun_is_safe(tmp_path: Path, byte_seq: list[Path]) -> None:
    dest = tmp_path / "out"
    spec = JobSpec(seq_of(byte_seq), str(dest))
    first, _ = run(spec)
    inodes = {p.name: os.stat(p).st_ino for p in dest.iterdir()}
    again, _ = run(JobSpec(seq_of(byte_seq), str(dest)))
    assert again.state is JobState.COMPLETED
    assert all(f.status is FrameStatus.SKIPPED for f in again.frames)
    assert again.frames[0].hash == first.frames[0].hash
    assert {p.name: os.stat(p).st_ino for p in dest.iterdir()} == inodes


def test_skip_identical_same_size_different_bytes_fails(tmp_path: Path, byte_seq: list[Path]) -> None:
    dest = tmp_path / "out"
    data = bytearray(byte_seq[0].read_bytes())
    data[-1] ^= 1
    ino, data_b = existing(dest, byte_seq[0].name, bytes(data))
    result, _ = run(JobSpec(seq_of(byte_seq[:1]), str(dest), copy=CopyOptions(verify=VerifyMode.NONE)))
    assert result.frames[0].status is FrameStatus.FAILED
    assert untouched(dest / byte_seq[0].name, ino, data_b)


def test_overwrite_replaces_the_existing_file(tmp_path: Path, byte_seq: list[Path]) -> None:
    dest = tmp_path / "out"
    existing(dest, byte_seq[0].name, b"old")
    result, _ = run(JobSpec(seq_of(byte_seq[:1]), str(dest), copy=CopyOptions(on_conflict=ConflictPolicy.OVERWRITE)))
    assert result.state is JobState.COMPLETED
    assert (dest / byte_seq[0].name).read_bytes() == byte_seq[0].read_bytes()


def test_rename_writes_one_coherent_new_version(tmp_path: Path, byte_seq: list[Path]) -> None:
    dest = tmp_path / "out"
    ino, data = existing(dest, byte_seq[0].name, b"old")
    existing(dest, "plate_v2.1002.exr", b"old v2")
    spec = JobSpec(seq_of(byte_seq[:3]), str(dest), copy=CopyOptions(on_conflict=ConflictPolicy.RENAME))
    result, events = run(spec)
    assert result.state is JobState.COMPLETED
    assert untouched(dest / byte_seq[0].name, ino, data)
    assert (dest / "plate_v2.1002.exr").read_bytes() == b"old v2"
    assert [Path(f.dest).name for f in result.frames] == [f"plate_v3.{n}.exr" for n in (1001, 1002, 1003)]
    assert (dest / "plate_v3.1002.exr").read_bytes() == byte_seq[1].read_bytes()
    assert any(isinstance(e, LogMessage) and "plate_v3" in e.text for e in events)


def test_rename_bumps_a_versioned_head_and_versions_a_single_file(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "out"
    frames = make_byte_sequence(src, head="shot_v003.", count=2, size=1000)
    (src / "notes.txt").write_bytes(b"new notes")
    ino_frame, data_frame = existing(dest, "shot_v003.1001.exr", b"old frame")
    ino_notes, data_notes = existing(dest, "notes.txt", b"old notes")
    options = CopyOptions(on_conflict=ConflictPolicy.RENAME)
    seq = Sequence(str(src), "shot_v003.", ".exr", 4, (1001, 1002))
    result, _ = run(JobSpec(seq, str(dest), copy=options))
    assert [Path(f.dest).name for f in result.frames] == ["shot_v004.1001.exr", "shot_v004.1002.exr"]
    assert (dest / "shot_v004.1002.exr").read_bytes() == frames[1].read_bytes()
    single, _ = run(JobSpec(Sequence(str(src), "notes.txt", "", 0, ()), str(dest), copy=options))
    assert [Path(f.dest).name for f in single.frames] == ["notes_v2.txt"]
    assert (dest / "notes_v2.txt").read_bytes() == b"new notes"
    assert untouched(dest / "shot_v003.1001.exr", ino_frame, data_frame)
    assert untouched(dest / "notes.txt", ino_notes, data_notes)


def test_rename_without_conflict_keeps_names(tmp_path: Path, byte_seq: list[Path]) -> None:
    dest = tmp_path / "out"
    spec = JobSpec(seq_of(byte_seq[:2]), str(dest), copy=CopyOptions(on_conflict=ConflictPolicy.RENAME))
    result, _ = run(spec)
    assert sorted(os.listdir(dest)) == [p.name for p in byte_seq[:2]]


def test_a_file_created_meanwhile_is_never_clobbered(tmp_path: Path, byte_seq: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Another program creates the final name between our check and our rename."""
    dest = tmp_path / "out"
    real = placing.rename_noreplace
    target = dest / byte_seq[0].name

    def racing(src: str, dst: str, src_fd: int, dst_fd: int | None = None) -> None:
        if dst == target.name and not target.exists():
            target.write_bytes(b"theirs")
        real(src, dst, src_fd, dst_fd)

    monkeypatch.setattr(placing, "rename_noreplace", racing)
    for fsync in (False, True):
        if target.exists():
            target.unlink()
        spec = JobSpec(seq_of(byte_seq[:2]), str(dest / ".."/ "out"), copy=CopyOptions(fsync=fsync, on_conflict=ConflictPolicy.FAIL))
        for p in dest.glob("plate.1002.exr") if dest.exists() else []:
            p.unlink()
        result, _ = run(spec)
        assert target.read_bytes() == b"theirs"
        assert result.frames[0].status is FrameStatus.FAILED
        assert "another program" in (result.frames[0].error or "")
        assert result.frames[1].status is FrameStatus.DONE
        assert no_temps(dest)


@pytest.mark.parametrize("fsync", [False, True], ids=["placed-by-the-worker", "placed-by-the-committer"])
def test_skip_identical_skips_a_name_taken_meanwhile_by_the_same_bytes(
    tmp_path: Path, byte_seq: list[Path], monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    """Two runs copying the same frames into one new folder: the names were free when each planned,
    and the other run placed some first. With skip-identical (the default) a frame taken meanwhile
    by the same bytes is skipped, not failed; one taken by other bytes still fails and is left
    untouched. (Before, both runs failed every frame the other placed first, and neither wrote
    its manifest.)"""
    dest = tmp_path / "out"
    same, other = dest / byte_seq[1].name, dest / byte_seq[4].name
    real = placing.rename_noreplace

    def racing(src: str, dst: str, src_fd: int, dst_fd: int | None = None) -> None:
        if dst == same.name and not same.exists():
            same.write_bytes(byte_seq[1].read_bytes())  # the other run's copy of this frame
        if dst == other.name and not other.exists():
            other.write_bytes(b"theirs")
        real(src, dst, src_fd, dst_fd)

    monkeypatch.setattr(placing, "rename_noreplace", racing)
    result, _ = run(JobSpec(seq_of(byte_seq), str(dest), copy=CopyOptions(fsync=fsync)))
    by_name = {Path(f.dest).name: f for f in result.frames}
    assert by_name[same.name].status is FrameStatus.SKIPPED
    assert by_name[same.name].hash == hash_file(byte_seq[1], "xxh3")  # the same bytes: its hash stands
    assert by_name[other.name].status is FrameStatus.FAILED
    assert "another program" in (by_name[other.name].error or "") and other.read_bytes() == b"theirs"
    assert all(f.status is FrameStatus.DONE for n, f in by_name.items() if n not in (same.name, other.name))
    assert all((dest / p.name).read_bytes() == p.read_bytes() for p in byte_seq if p.name != other.name)
    assert no_temps(dest)


def test_link_fallback_never_clobbers(tmp_path: Path, byte_seq: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Without renameat2 the engine uses link + unlink, which also refuses an existing name."""
    monkeypatch.setattr(placing, "_RENAMEAT2", None)
    dest = tmp_path / "out"
    result, _ = run(JobSpec(seq_of(byte_seq[:3]), str(dest)))
    assert result.state is JobState.COMPLETED
    assert (dest / byte_seq[2].name).read_bytes() == byte_seq[2].read_bytes()
    with pytest.raises(FileExistsError):
        fd = os.open(dest, os.O_RDONLY)
        try:
            (dest / "tmp").write_bytes(b"x")
            placing.rename_noreplace("tmp", byte_seq[0].name, fd)
        finally:
            os.close(fd)
    assert (dest / byte_seq[0].name).read_bytes() == byte_seq[0].read_bytes()


# -- safety -----------------------------------------------------------------------------------


def test_dest_inside_source_is_refused_before_anything(tmp_path: Path, byte_seq: list[Path]) -> None:
    src_dir = byte_seq[0].parent
    for dest in (src_dir, src_dir / "sub" / "deeper"):
        with pytest.raises(SafetyError, match="source"):
            run(JobSpec(seq_of(byte_seq), str(dest)))
    assert not (src_dir / "sub").exists()
    link = tmp_path / "link_to_src"
    link.symlink_to(src_dir)
    with pytest.raises(SafetyError):
        run(JobSpec(seq_of(byte_seq), str(link / "out")))
    assert not (src_dir / "out").exists()


def test_traversal_in_new_head_is_refused(tmp_path: Path, byte_seq: list[Path]) -> None:
    for head in ("../evil.", "a/b.", "x\0y", ".."):
        with pytest.raises(SafetyError):
            run(JobSpec(seq_of(byte_seq), str(tmp_path / "out"), rename_head=head))
    assert not (tmp_path / "out").exists()


def test_symlink_out_of_source_not_followed(tmp_path: Path, byte_seq: list[Path]) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"private")
    byte_seq[1].unlink()
    byte_seq[1].symlink_to(secret)
    inside = byte_seq[2]
    inside.unlink()
    inside.symlink_to(byte_seq[3].name)  # a link inside the source folder is fine
    dest = tmp_path / "out"
    result, _ = run(JobSpec(seq_of(byte_seq[:4]), str(dest)))
    assert result.frames[1].status is FrameStatus.FAILED
    assert "outside the source folder" in (result.frames[1].error or "")
    assert not (dest / byte_seq[1].name).exists()
    assert (dest / inside.name).read_bytes() == byte_seq[3].read_bytes()
    result, _ = run(JobSpec(seq_of(byte_seq[:4]), str(tmp_path / "out2"), copy=CopyOptions(follow_symlinks=True)))
    assert result.state is JobState.COMPLETED
    assert (tmp_path / "out2" / byte_seq[1].name).read_bytes() == b"private"


# -- errors -----------------------------------------------------------------------------------


def test_missing_source_frame_fails_that_frame_only(tmp_path: Path, byte_seq: list[Path]) -> None:
    byte_seq[4].unlink()
    dest = tmp_path / "out"
    result, _ = run(JobSpec(seq_of(byte_seq), str(dest)))
    assert result.state is JobState.FAILED
    assert [f.status for f in result.failed] == [FrameStatus.FAILED]
    err = result.frames[4].error or ""
    assert str(byte_seq[4]) in err and "missing" in err and "scan" in err
    assert len(os.listdir(dest)) == 9


def test_stop_on_error(tmp_path: Path, byte_seq: list[Path]) -> None:
    byte_seq[2].unlink()
    dest = tmp_path / "out"
    result, _ = run(JobSpec(seq_of(byte_seq), str(dest), copy=CopyOptions(stop_on_error=True)))
    assert result.state is JobState.FAILED
    assert [f.status for f in result.frames[:4]] == [FrameStatus.DONE, FrameStatus.DONE, FrameStatus.FAILED, FrameStatus.PENDING]
    assert no_temps(dest)


def test_name_too_long_is_a_frame_error(tmp_path: Path, byte_seq: list[Path]) -> None:
    head = "x" * 249 + "."  # a valid head, but head + "1001.exr" is 258 bytes
    result, _ = run(JobSpec(seq_of(byte_seq[:1]), str(tmp_path / "out"), rename_head=head))
    assert result.frames[0].status is FrameStatus.FAILED
    assert "too long" in (result.frames[0].error or "")


@pytest.mark.parametrize("fsync", [True, False])
def test_exdev_falls_back_and_copies_correct_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=3, size=3 * 1024 * 1024 + 17)

    def no_cfr(*args: object, **kw: object) -> int:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", no_cfr)
    dest = tmp_path / "out"
    result, events = run(JobSpec(seq_of(paths), str(dest), copy=CopyOptions(verify=VerifyMode.NONE, fsync=fsync)))
    assert result.state is JobState.COMPLETED
    for p in paths:
        assert (dest / p.name).read_bytes() == p.read_bytes()

    def no_sendfile(*args: object, **kw: object) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(os, "sendfile", no_sendfile)
    dest2 = tmp_path / "out2"
    result, _ = run(JobSpec(seq_of(paths), str(dest2), copy=CopyOptions(verify=VerifyMode.NONE, fsync=fsync)))
    assert result.state is JobState.COMPLETED
    for p in paths:
        assert (dest2 / p.name).read_bytes() == p.read_bytes()


@pytest.mark.parametrize("verify", [VerifyMode.TRANSFER, VerifyMode.FULL])
def test_hashed_multi_chunk_frames_copy_and_detect_a_shrinking_source(tmp_path: Path, verify: VerifyMode) -> None:
    """Frames bigger than a time chunk (many sub-chunks, odd size): same bytes, same hash, same checks."""
    paths = make_byte_sequence(tmp_path / "src", count=3, size=5 * 1024 * 1024 + 3)
    dest = tmp_path / "out"
    result, _ = run(JobSpec(seq_of(paths), str(dest), copy=CopyOptions(verify=verify)))
    assert result.state is JobState.COMPLETED
    for p in paths:
        assert (dest / p.name).read_bytes() == p.read_bytes()
        assert result.frames[paths.index(p)].hash == hash_file(p)
    shrunk: list[bool] = []

    def report(event: object) -> None:
        if isinstance(event, Progress) and event.current_path == str(paths[1]) and not shrunk:
            if event.bytes_done > 5 * 1024 * 1024 + 3:
                shrunk.append(True)
                os.truncate(paths[1], 1024 * 1024)

    res = copy_sequence(JobSpec(seq_of(paths), str(tmp_path / "out2"), copy=CopyOptions(verify=verify)), CancelToken(), report)
    assert shrunk
    assert res.frames[1].status is FrameStatus.FAILED
    assert "source changed" in (res.frames[1].error or "")
    assert no_temps(tmp_path / "out2")


@pytest.mark.parametrize("mode", [0o777, 0o444, 0o600])
def test_modes_the_umask_would_strip_are_preserved_and_read_only_frames_verify(
    tmp_path: Path, byte_seq: list[Path], mode: int
) -> None:
    for p in byte_seq[:3]:
        os.chmod(p, mode)
    dest = tmp_path / "out"
    old = os.umask(0o077)  # a strict umask: the engine must still give each frame its source mode
    try:
        result, _ = run(JobSpec(seq_of(byte_seq[:3]), str(dest), copy=CopyOptions(verify=VerifyMode.FULL)))
    finally:
        os.umask(old)
    assert result.state is JobState.COMPLETED, result.message
    for p in byte_seq[:3]:
        assert stat.S_IMODE(os.stat(dest / p.name).st_mode) == mode
        assert (dest / p.name).read_bytes() == p.read_bytes()


def test_without_preserve_the_umask_applies(tmp_path: Path, byte_seq: list[Path]) -> None:
    os.chmod(byte_seq[0], 0o755)
    old = os.umask(0o027)
    try:
        run(JobSpec(seq_of(byte_seq[:1]), str(tmp_path / "out"), copy=CopyOptions(preserve=False)))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "out" / byte_seq[0].name).st_mode) == 0o640


def test_same_bytes_reads_only_regular_files_and_stops_when_cancelled(tmp_path: Path) -> None:
    """The compare of a name taken meanwhile never hangs on a FIFO put there, never follows a link,
    and ends at a cancel."""
    from vfxcopy.core.readfile import same_bytes

    a = tmp_path / "a"
    a.write_bytes(b"x" * (3 << 20))
    (tmp_path / "b").write_bytes(b"x" * (3 << 20))
    (tmp_path / "c").write_bytes(b"x" * ((3 << 20) - 1) + b"y")  # the same size, the last byte differs
    os.mkfifo(tmp_path / "fifo")
    os.symlink(a, tmp_path / "link")
    assert same_bytes(str(a), str(tmp_path / "b"))
    assert not same_bytes(str(a), str(tmp_path / "c"))
    assert not same_bytes(str(a), str(tmp_path / "fifo"))
    assert not same_bytes(str(a), str(tmp_path / "link"))
    assert not same_bytes(str(a), str(tmp_path / "missing"))
    asked = []
    assert not same_bytes(str(a), str(tmp_path / "b"), lambda: asked.append(1) or len(asked) > 1)
    assert len(asked) == 2  # the first chunk compared, stopped before the second


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, (2 << 20) + 7])
def test_same_bytes_finds_a_difference_in_any_chunk(tmp_path: Path, size: int) -> None:
    """The compare reads into reused buffers: a difference in the first, a middle or the last
    (short) chunk is found, whatever was compared before in the same buffers."""
    from vfxcopy.core.readfile import same_bytes

    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(data)
    b.write_bytes(data)
    assert same_bytes(str(a), str(b))
    for at in sorted({0, size // 2, size - 1} if size else set()):
        changed = bytearray(data)
        changed[at] ^= 0xFF
        b.write_bytes(bytes(changed))
        assert not same_bytes(str(a), str(b)), f"a difference at byte {at} of {size} was missed"
        b.write_bytes(data)
        assert same_bytes(str(a), str(b))
