"""`vfxcopy ls`: text and JSON listings of folders, frames and patterns; exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from vfxcopy.cli import main
from vfxcopy.core.samples import make_byte_sequence


@pytest.fixture
def shot_dir(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    make_byte_sequence(src, head="shot_010.", start=1001, count=14, size=1024)
    for f in (1005, 1010, 1011, 1012):
        (src / f"shot_010.{f}.exr").unlink()
    make_byte_sequence(src, head="bg_", start=1, count=3, size=2048, padding=3, tail=".dpx")
    (src / "notes_2.txt").write_text("hello")
    (src / "ref_v003.mov").write_bytes(b"m" * 10)
    (src / ".hidden.1001.exr").write_bytes(b"h")
    return src


def test_ls_lists_sequences_with_range_count_gaps_and_size(shot_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", str(shot_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{shot_dir}:"
    rows = {line.split()[0]: line for line in out[1:]}
    assert set(rows) == {"bg_###.dpx", "notes_2.txt", "ref_v003.mov", "shot_010.####.exr"}
    shot = rows["shot_010.####.exr"].split()
    assert shot[1:4] == ["1001-1014", "10", "frames"]
    assert "10.0 KiB" in rows["shot_010.####.exr"]
    assert rows["shot_010.####.exr"].endswith("missing 1005,1010-1012 (4)")
    assert rows["bg_###.dpx"].split()[1:4] == ["1-3", "3", "frames"] and "6.0 KiB" in rows["bg_###.dpx"]
    assert "5 B" in rows["notes_2.txt"]
    assert "missing" not in rows["bg_###.dpx"]


def test_ls_json_gives_patterns_counts_and_sizes(shot_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "--json", str(shot_dir)]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    shot = entries["shot_010.####.exr"]
    assert shot == {
        "directory": str(shot_dir),
        "name": "shot_010.####.exr",
        "single": False,
        "head": "shot_010.",
        "tail": ".exr",
        "padding": 4,
        "frames": 10,
        "start": 1001,
        "end": 1014,
        "range": "1001-1014",
        "frame_set": "1001-1004,1006-1009,1013-1014",
        "missing": "1005,1010-1012",
        "missing_count": 4,
        "size": 10 * 1024,
        "nuke": str(shot_dir / "shot_010.####.exr"),
        "houdini": str(shot_dir / "shot_010.$F4.exr"),
        "printf": str(shot_dir / "shot_010.%04d.exr"),
    }
    assert entries["notes_2.txt"]["single"] is True and entries["notes_2.txt"]["size"] == 5
    assert entries["ref_v003.mov"]["frames"] == 0


def test_ls_one_frame_brings_its_sequence_and_patterns_work(shot_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for arg in ("shot_010.1003.exr", "shot_010.####.exr", "shot_010.%04d.exr", "shot_010.$F4.exr"):
        assert main(["ls", "--json", str(shot_dir / arg)]) == 0
        [entry] = json.loads(capsys.readouterr().out)
        assert (entry["name"], entry["frames"]) == ("shot_010.####.exr", 10), arg


def test_ls_missing_path_exits_2_with_message(shot_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", str(shot_dir), str(shot_dir / "nope")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"no such file or folder: {shot_dir / 'nope'}" in captured.err
    assert main(["ls", str(shot_dir / "gone.####.exr")]) == 2
    assert "no frames match the pattern" in capsys.readouterr().err


def test_ls_as_a_real_command(shot_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vfxcopy", "ls", "--json", str(shot_dir / "bg_001.dpx")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    [entry] = json.loads(proc.stdout)
    assert entry["printf"] == str(shot_dir / "bg_%03d.dpx") and entry["size"] == 3 * 2048
    proc = subprocess.run([sys.executable, "-m", "vfxcopy", "ls", "/no/such/dir"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no such file or folder" in proc.stderr


def test_ls_unreadable_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder the user may not read is a clear usage error, not a traceback."""
    top = Path(tempfile.mkdtemp(prefix="vfxcopy-ls-"))  # pytest's own folders are private to root
    try:
        top.chmod(0o755)
        locked = top / "locked"
        locked.mkdir(mode=0o700)
        make_byte_sequence(locked, count=2, size=10)
        if os.geteuid() != 0:
            locked.chmod(0o000)
            assert main(["ls", str(locked)]) == 2
            assert f"cannot read {locked}: Permission denied" in capsys.readouterr().err
            return
        # Root reads any folder: run the command as nobody instead.
        proc = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             sys.executable, "-m", "vfxcopy", "ls", str(locked)],
            capture_output=True, text=True, timeout=60, cwd="/", env={**os.environ, "VFXCOPY_DATA_DIR": str(top)},
        )
        if "vfxcopy" not in proc.stderr:
            pytest.skip(f"cannot run the interpreter as nobody here: {proc.stderr[-200:]}")
        assert proc.returncode == 2, proc.stderr
        assert f"cannot read {locked}: Permission denied" in proc.stderr
    finally:
        shutil.rmtree(top)


def test_ls_recursive_lists_sub_folders(shot_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_byte_sequence(shot_dir / "denoise", head="dn.", count=3, size=10)
    assert main(["ls", str(shot_dir)]) == 0
    assert "dn.####.exr" not in capsys.readouterr().out
    assert main(["ls", "-r", str(shot_dir)]) == 0
    out = capsys.readouterr().out
    assert f"{shot_dir / 'denoise'}:\n  dn.####.exr  1001-1003  3 frames  30 B" in out


def test_ls_shows_odd_names_escaped_never_as_they_are(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A name with a terminal escape sequence (recolour, retitle, hide a line), a newline or bytes
    that are not UTF-8 was written to the terminal as it was: one line each, escaped, as copy says them."""
    folder = os.fsencode(tmp_path / "in")
    os.mkdir(folder)
    for name in (b"esc\x1b[31mred.0001.exr", b"new\nline.0001.exr", b"bad\xff.0001.exr"):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(b"x")
    assert main(["ls", os.fsdecode(folder)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\udcff" not in out
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert sorted(names) == ["bad\\xff.####.exr", "esc\\x1b[31mred.####.exr", "new\\x0aline.####.exr"]
