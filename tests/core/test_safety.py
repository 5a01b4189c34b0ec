"""Path safety: dest inside source (by device+inode), traversal, same file, symlinks out of the source."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from vfxcopy.core.errors import SafetyError
from vfxcopy.core.jobs import JobSpec
from vfxcopy.core.safety import check_job, check_name, is_same_or_inside, same_file, symlink_escape
from vfxcopy.core.sequence import Sequence


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "show" / "plates"
    folder.mkdir(parents=True)
    (folder / "plate.1001.exr").write_bytes(b"x")
    return folder


def spec_for(src: Path, dest: Path | str, head: str | None = None) -> JobSpec:
    return JobSpec(Sequence(str(src), "plate.", ".exr", 4, (1001,)), str(dest), rename_head=head)


def test_same_and_inside_detected(src: Path, tmp_path: Path) -> None:
    assert is_same_or_inside(src, src)
    assert is_same_or_inside(src / "not" / "yet" / "there", src)
    assert is_same_or_inside(str(src) + "/../plates/sub", src)
    assert not is_same_or_inside(tmp_path / "show" / "out", src)
    assert not is_same_or_inside(tmp_path / "show", src)  # the parent is not inside
    assert not is_same_or_inside(tmp_path / "show" / "plates2", src)  # a name prefix is not inside


def test_symlinks_do_not_hide_the_source(src: Path, tmp_path: Path) -> None:
    (src / "sub").mkdir()
    to_src = tmp_path / "to_src"
    to_src.symlink_to(src)
    to_sub = tmp_path / "to_sub"
    to_sub.symlink_to(src / "sub")
    assert is_same_or_inside(to_src, src)
    assert is_same_or_inside(to_src / "new", src)
    assert is_same_or_inside(to_sub / "a" / "b", src)
    # And the other way round: the source given through a symlink.
    assert is_same_or_inside(src / "x", to_src)


@pytest.fixture
def bind_of_src(src: Path, tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to bind-mount")
    mnt = tmp_path / "bind"
    mnt.mkdir()
    proc = subprocess.run(["mount", "--bind", str(src), str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.needs_root
def test_bind_mount_does_not_hide_the_source(src: Path, bind_of_src: Path) -> None:
    assert is_same_or_inside(bind_of_src, src)
    assert is_same_or_inside(bind_of_src / "out", src)
    with pytest.raises(SafetyError):
        check_job(spec_for(src, bind_of_src / "out"))


def test_check_job_refuses_with_a_clear_message(src: Path, tmp_path: Path) -> None:
    with pytest.raises(SafetyError, match="is the source folder"):
        check_job(spec_for(src, src))
    with pytest.raises(SafetyError, match="inside the source folder"):
        check_job(spec_for(src, src / "copy"))
    check_job(spec_for(src, tmp_path / "out"))  # fine


@pytest.mark.parametrize("name", ["../x.", "a/b.", "/abs.", "x\0y", "..", ".", "x" * 256])
def test_bad_names_refused(name: str, src: Path, tmp_path: Path) -> None:
    with pytest.raises(SafetyError):
        check_name(name)
    with pytest.raises(SafetyError):
        check_job(spec_for(src, tmp_path / "out", head=name))


@pytest.mark.parametrize("name", ["comp_v002.", "shot 010 ", "..plate.", "été."])
def test_plain_names_allowed(name: str) -> None:
    check_name(name)


def test_same_file(src: Path, tmp_path: Path) -> None:
    frame = src / "plate.1001.exr"
    link = tmp_path / "hard.exr"
    os.link(frame, link)
    assert same_file(frame, link)
    other = tmp_path / "other.exr"
    other.write_bytes(b"x")
    assert not same_file(frame, other)
    assert not same_file(frame, tmp_path / "missing")


def test_symlink_escape(src: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.write_bytes(b"s")
    (src / "out.exr").symlink_to(outside)
    (src / "in.exr").symlink_to("plate.1001.exr")
    assert symlink_escape(src / "out.exr", src) == str(outside)
    assert symlink_escape(src / "in.exr", src) is None
    assert symlink_escape(src / "plate.1001.exr", src) is None
