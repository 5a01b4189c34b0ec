"""The full-destination message: what is free and what the item needed, in sizes a person reads."""

from __future__ import annotations

import re
from pathlib import Path

from vfxcopy.core.errors import disk_full_message


def test_a_small_frame_is_said_in_bytes_not_as_zero_mebibytes(tmp_path: Path) -> None:
    message = disk_full_message(str(tmp_path), "frame 1007", 200)
    assert "frame 1007 needs 200 B)" in message
    assert "0.0 MiB" not in message
    assert re.search(r"\(\d+(\.\d)? (B|KiB|MiB|GiB|TiB|PiB) free;", message), message
    assert message.startswith(f"{tmp_path}: the destination is full (")
    assert message.endswith("what was finished is kept and nothing partial was left.")


def test_a_big_frame_and_an_unknown_free_space(tmp_path: Path) -> None:
    assert "frame 3 needs 1.5 GiB)" in disk_full_message(str(tmp_path), "frame 3", 3 << 29)
    gone = str(tmp_path / "gone")
    assert f"{gone}: the destination is full (free space unknown)." in disk_full_message(gone, "frame 3", None)
