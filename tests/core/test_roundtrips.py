"""roundtrips: telling a network file system, and asking it several things at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vfxcopy.core.roundtrips import THREADS, ahead, fs_type, is_shared_fs


@pytest.mark.parametrize("count", [0, 1, THREADS - 1, THREADS, THREADS + 1, 1000])
def test_every_item_is_looked_at_once_on_up_to_threads_threads(count: int) -> None:
    seen: list[int] = []
    names: set[str] = set()
    lock = threading.Lock()

    def look(item: int) -> None:
        with lock:
            seen.append(item)
            names.add(threading.current_thread().name)
        if item % 7 == 3:
            raise OSError("a failure is the caller's loop's to meet again")
        if item % 11 == 5:
            raise ValueError("so is any other")

    ahead(list(range(count)), look)
    assert sorted(seen) == list(range(count))
    assert names <= {"vfxcopy-ahead"} and (bool(names) == bool(count))
    assert not [t for t in threading.enumerate() if t.name == "vfxcopy-ahead"]  # all joined


def test_file_system_types(tmp_path: Path) -> None:
    assert fs_type(str(tmp_path)) and not is_shared_fs(fs_type(str(tmp_path)))  # a local disk
    assert fs_type("/proc") == "proc"
    assert all(is_shared_fs(t) for t in ("nfs4", "cifs", "smb3", "fuse.sshfs", "ceph", "lustre"))
    assert not any(is_shared_fs(t) for t in ("ext4", "xfs", "btrfs", "tmpfs", "zfs", ""))
