"""What the pipeline does differently on network file systems, checked on a local disk (no server needed):
the temps spread over sub-folders of the run's private folder, placing that stops asking renameat2."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from vfxcopy.core.jobs import TEMP_PREFIX, CancelToken, FrameStatus, JobSpec, JobState
from vfxcopy.core.pipeline import place as placing
from vfxcopy.core.pipeline import prepare as pipeline_prepare
from vfxcopy.core.pipeline import run_pipeline
from vfxcopy.core.pipeline.destfolder import sweep
from vfxcopy.core.pipeline.temps import TempArea, TempFile
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.sequence import Sequence


def area_names(dest: Path) -> list[str]:
    return [n for n in os.listdir(dest) if n.startswith(TEMP_PREFIX)]


@contextlib.contextmanager
def destination(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """An empty destination folder and its descriptor (closed after)."""
    dest = tmp_path / "out"
    dest.mkdir()
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield dest, fd
    finally:
        os.close(fd)


def test_temps_in_lanes_are_private_and_removed_with_the_run(tmp_path: Path) -> None:
    with destination(tmp_path) as (dest, fd):
        area = TempArea(fd, "job1")
        area.lanes = 3
        temps = [area.new_file(i) for i in range(7)]
        folder = dest / area.name
        assert sorted(os.listdir(folder)) == ["lane0", "lane1", "lane2"]
        for lane in ("lane0", "lane1", "lane2"):
            assert stat.S_IMODE((folder / lane).stat().st_mode) == 0o700
        assert temps[4].name == "lane1/4.part" and (folder / "lane1" / "4.part").exists()
        with pytest.raises(FileExistsError):  # exclusive, as in the folder itself
            area.new_file(4)
        os.write(temps[0].fd, b"complete")
        os.close(temps[0].fd)
        temps[0].fd = -1
        placing.place(temps[0].name, area.fd, "frame.0001.exr", fd, str(dest / "frame.0001.exr"), False)
        temps[0].placed = True
        area.forget(temps[0])
        (folder / "lane2" / "stray.part").write_bytes(b"not registered")  # left by a writer: removed too
        area.close()
        assert area_names(dest) == []
        assert os.listdir(dest) == ["frame.0001.exr"] and (dest / "frame.0001.exr").read_bytes() == b"complete"


def test_a_dead_run_with_lanes_is_swept_and_a_live_one_is_not(tmp_path: Path) -> None:
    with destination(tmp_path) as (dest, fd):
        dead = TempArea(fd, "dead")
        dead.lanes = 2
        for i in range(3):
            os.close(dead.new_file(i).fd)
        dead_name = dead.name
        os.close(dead.fd)  # a hard kill: the folder stays, its lock is gone
        live = TempArea(fd, "live")
        live.lanes = 2
        kept = live.new_file(5)
        assert sweep(str(dest), min_age=0) == [str(dest / dead_name)]
        assert area_names(dest) == [live.name] and (dest / live.name / kept.name).exists()
        other = os.open(dest / live.name, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with pytest.raises(BlockingIOError):  # still held by the live run
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
        os.close(kept.fd)
        kept.fd = -1
        live.close()
        assert area_names(dest) == []


def refuse_renameat2(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make renameat2(RENAME_NOREPLACE) refused as sshfs refuses it (EINVAL); returns the count of calls."""
    import ctypes
    import errno

    asked = [0]

    def refusing(*args: object) -> int:
        asked[0] += 1
        ctypes.set_errno(errno.EINVAL)
        return -1

    monkeypatch.setattr(placing, "_RENAMEAT2", refusing)
    return asked


def test_placing_stops_asking_renameat2_once_refused_and_still_never_clobbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system that refuses RENAME_NOREPLACE (sshfs, some FUSE) is asked once per run (naming
    the run's temp folder), not once per item; link + unlink then refuses a taken name just the same."""
    asked = refuse_renameat2(monkeypatch)
    paths = make_byte_sequence(tmp_path / "src", count=10, size=2048)
    dest = tmp_path / "out"
    dest.mkdir()
    taken = dest / paths[6].name
    real_link = placing.link_noreplace

    def link(src: str, dst: str, src_fd: int, dst_fd: int) -> None:
        if dst == taken.name:
            taken.write_bytes(b"theirs")  # after the run listed the folder
        real_link(src, dst, src_fd, dst_fd)

    monkeypatch.setattr(placing, "link_noreplace", link)
    seq = Sequence(str(paths[0].parent), "plate.", ".exr", 4, tuple(range(1001, 1011)))
    result = run_pipeline(JobSpec(seq, str(dest)), CancelToken(), lambda e: None)
    assert result.state is JobState.FAILED
    assert asked[0] == 1  # the temp folder's name; refused there, the items go by link at once
    assert taken.read_bytes() == b"theirs"
    for f, p in zip(result.frames, paths, strict=True):
        if p.name == taken.name:
            assert f.status is FrameStatus.FAILED and "another program" in (f.error or "")
        else:
            assert f.status is FrameStatus.DONE and Path(f.dest).read_bytes() == p.read_bytes()
    assert area_names(dest) == []


def test_lanes_only_for_a_network_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy onto a (pretended) network file system runs several items in flight with a lane each;
    a local one keeps one folder. Whatever the lanes, the run leaves no temp behind."""
    seen: dict[str, int] = {}
    real_new_file = TempArea.new_file

    def new_file(self: TempArea, index: int, mode: int = 0o666, suffix: str = "") -> TempFile:
        temp = real_new_file(self, index, mode, suffix)
        seen[temp.name] = self.lanes
        return temp

    monkeypatch.setattr(TempArea, "new_file", new_file)
    paths = make_byte_sequence(tmp_path / "src", count=12, size=4096)
    seq = Sequence(str(paths[0].parent), "plate.", ".exr", 4, tuple(range(1001, 1013)))
    local = run_pipeline(JobSpec(seq, str(tmp_path / "local")), CancelToken(), lambda e: None)
    assert local.state is JobState.COMPLETED and all("/" not in n for n in seen)
    seen.clear()
    monkeypatch.setattr(pipeline_prepare, "is_shared_fs", lambda fstype: True)
    shared = run_pipeline(JobSpec(seq, str(tmp_path / "shared")), CancelToken(), lambda e: None)
    assert shared.state is JobState.COMPLETED, shared.message
    assert {n.split("/")[0] for n in seen} == {f"lane{i}" for i in range(pipeline_prepare.SHARED_FS_COPY_WORKERS)}
    assert sorted(os.listdir(tmp_path / "shared")) == [p.name for p in paths]
    for p in paths:
        assert (tmp_path / "shared" / p.name).read_bytes() == p.read_bytes()


def test_place_learns_that_renameat2_is_refused_at_the_first_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where naming the temp folder went by renameat2 but a file's placing is refused (a mount that
    differs per call), the run's NoReplace learns it at that item and asks no more."""
    asked = refuse_renameat2(monkeypatch)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        how = placing.NoReplace()
        for i in range(3):
            (tmp_path / f"{i}.part").write_bytes(b"x" * i)
            placing.place(f"{i}.part", fd, f"frame.{i}", fd, str(tmp_path / f"frame.{i}"), False, how)
        assert asked[0] == 1 and not how.renameat2
        (tmp_path / "3.part").write_bytes(b"mine")
        with pytest.raises(placing.PlaceConflict):
            placing.place("3.part", fd, "frame.0", fd, str(tmp_path / "frame.0"), False, how)
        assert (tmp_path / "frame.0").read_bytes() == b"" and (tmp_path / "3.part").exists()
        assert sorted(os.listdir(tmp_path)) == ["3.part", "frame.0", "frame.1", "frame.2"]
    finally:
        os.close(fd)
