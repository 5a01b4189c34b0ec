"""A FIFO (or a folder) where vfxcopy reads a small file of its own never hangs a command.

Before, `Path.read_bytes` on a FIFO named like the settings file, a checksum list or an ASC
MHL history file waited for a writer for ever, and SIGTERM could not stop it (Python retries
the interrupted open after its handler). Each is now refused at once, naming what is there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vfxcopy.core.readfile import read_regular_file
from vfxcopy.core.samples import make_byte_sequence

TIMEOUT = 60  # seconds; each command takes well under one


def vfxcopy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([sys.executable, "-m", "vfxcopy", *args], capture_output=True, text=True,
                              timeout=TIMEOUT, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        pytest.fail(f"vfxcopy {' '.join(args)} hangs")


def test_read_regular_file_reads_files_and_refuses_the_rest_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"x" * 200_000)
    assert read_regular_file(tmp_path / "a.txt") == b"x" * 200_000
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OSError, match="is a FIFO, not a regular file"):
        read_regular_file(tmp_path / "pipe")
    with pytest.raises(OSError, match="is a folder, not a regular file"):
        read_regular_file(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing")


def test_a_fifo_named_like_the_settings_file_is_said_and_the_copy_runs(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    os.mkfifo(config / "vfxcopy.toml")
    make_byte_sequence(tmp_path / "src", count=3, size=1000)
    env = {"VFXCOPY_CONFIG_DIR": str(config), "VFXCOPY_DATA_DIR": str(tmp_path / "data")}
    done = vfxcopy("copy", str(tmp_path / "src"), str(tmp_path / "out"), env=env)
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "out").glob("*.exr"))) == 3
    said = f"vfxcopy copy: warning: {config / 'vfxcopy.toml'}: cannot be read (is a FIFO, not a regular file); the defaults apply"
    assert said in done.stderr.splitlines()  # a warning, not an error: the copy runs


def test_a_fifo_named_like_the_presets_file_leaves_the_built_in_presets(tmp_path: Path) -> None:
    from vfxcopy.core.presets import BUILTIN_PRESETS, PRESETS_FILE

    os.mkfifo(tmp_path / PRESETS_FILE)
    code = "from vfxcopy.core.presets import list_presets; print(len(list_presets()))"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT,
                              env={**os.environ, "VFXCOPY_CONFIG_DIR": str(tmp_path)})
    except subprocess.TimeoutExpired:
        pytest.fail("listing the presets hangs on a FIFO")
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(BUILTIN_PRESETS)


def test_a_fifo_given_as_checksum_list_is_refused_with_its_name(tmp_path: Path) -> None:
    make_byte_sequence(tmp_path / "src", count=3, size=1000)
    env = {"VFXCOPY_DATA_DIR": str(tmp_path / "data")}
    assert vfxcopy("copy", str(tmp_path / "src"), str(tmp_path / "out"), env=env).returncode == 0
    os.mkfifo(tmp_path / "sums.xxh128")
    done = vfxcopy("verify", str(tmp_path / "out"), "--checksum-list", str(tmp_path / "sums.xxh128"), env=env)
    assert done.returncode == 2, done.stderr
    assert "sums.xxh128" in done.stderr and "is a FIFO, not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("which", ["chain", "generation"])
def test_a_fifo_in_the_history_is_refused_by_verify_and_by_the_next_copy(tmp_path: Path, which: str) -> None:
    src = tmp_path / "src"
    make_byte_sequence(src, count=3, size=1000)
    out = tmp_path / "out"
    env = {"VFXCOPY_DATA_DIR": str(tmp_path / "data")}
    assert vfxcopy("copy", str(src), str(out), env=env).returncode == 0
    target = out / "ascmhl" / "ascmhl_chain.xml" if which == "chain" else next((out / "ascmhl").glob("0001_*.mhl"))
    target.unlink()
    os.mkfifo(target)
    checked = vfxcopy("verify", str(out), env=env)
    assert checked.returncode == 2, checked.stderr
    # The chain and each generation are read whole (a generation once, for its C4 id and its entries).
    said = f"{target.name}: cannot be read (is a FIFO, not a regular file)"
    assert said in checked.stderr
    again = vfxcopy("copy", str(src), str(out), env=env)  # continuing that history: refused, nothing changed
    assert again.returncode != 0 and said in again.stderr
    assert "Traceback" not in checked.stderr + again.stderr
    assert target.is_fifo()


def test_check_names_a_fifo_and_a_dangling_link_named_like_frames(tmp_path: Path) -> None:
    """`vfxcopy check` said a FIFO named like a frame was "empty (0 bytes)" and a dangling link
    "cannot read the file": each is now called what it is, with no hang on the FIFO."""
    src = make_byte_sequence(tmp_path / "src", count=3, size=1000)[0].parent
    os.mkfifo(src / "plate.1004.exr")
    os.symlink("/nonexistent/frame.exr", src / "plate.1005.exr")
    done = vfxcopy("check", str(src))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    out = done.stdout + done.stderr
    assert "plate.1004.exr: is not a regular file (a FIFO)" in out and "empty" not in out
    assert "plate.1005.exr: a symlink to /nonexistent/frame.exr, which cannot be read" in out
