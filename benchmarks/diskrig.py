"""A journaled ext4 of the benchmark's own, on a loop device: the disk users have.

This machine's root file system is ext4 mounted *without a journal* (`dmesg`: "mounted
filesystem ... without journal"). There, ext4 avoids reusing an inode freed in the last
60-300 s (`recently_deleted()` in fs/ext4/ialloc.c, for no-journal mode only), and every
file created near thousands of freshly deleted ones scans past them: `perf` showed 90% of
`cp -r`'s time in that scan, and `cp -r` of the same 5,000 small files took 0.14 s or 3.1 s
depending on what had been deleted in the last minutes. A benchmark that deletes each run's
copy (as ours must, to compare like with like) then times the kernel's scan, not the tool.

Journaled ext4 (mkfs.ext4's default, what users' disks and NAS volumes run) has no such
scan. When run as root, the benchmarks that create many files also measure on a fresh
journaled ext4 in an image file on the work disk (`journaled_ext4`), and say so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path


def mount_of(path: Path) -> tuple[str, str, str]:
    """(device, mount point, file system type) of the mount holding `path`."""
    best = ("", "", "")
    target = os.path.realpath(path)
    with open("/proc/mounts", encoding="utf-8") as fh:
        for line in fh:
            dev, point, fstype = line.split()[:3]
            if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best[1]):
                best = (dev, point, fstype)
    return best


def ext4_without_journal(path: Path) -> bool:
    """Whether `path` is on an ext4 mounted without a journal (its options name no data= mode)."""
    dev, _point, fstype = mount_of(path)
    if fstype != "ext4":
        return False
    options = Path("/proc/fs/ext4") / os.path.basename(dev) / "options"
    try:
        return "data=" not in options.read_text()
    except OSError:
        return False


@contextlib.contextmanager
def journaled_ext4(folder: Path, size_gib: int) -> Iterator[Path | None]:
    """A fresh journaled ext4 of `size_gib` mounted at `folder`/mnt (its image beside it), or None
    where that cannot be done (not root, no mkfs.ext4 or losetup, no loop device); removed after.

    The loop device does direct I/O: its writes go to the disk below as they are made, not into
    the page cache of the image file, so a sync or an fsync waits for that disk as on a real one.
    """
    if os.geteuid() != 0 or shutil.which("mkfs.ext4") is None or shutil.which("losetup") is None:
        yield None
        return
    image, mnt = folder / "ext4.img", folder / "mnt"
    mnt.mkdir(parents=True, exist_ok=True)
    device = ""
    mounted = False
    try:
        with open(image, "wb") as fh:
            fh.truncate(size_gib << 30)
        made = subprocess.run(["mkfs.ext4", "-q", "-F", "-O", "has_journal", str(image)], capture_output=True)
        if made.returncode == 0:
            attached = subprocess.run(["losetup", "--direct-io=on", "-f", "--show", str(image)],
                                      capture_output=True, text=True)
            device = attached.stdout.strip() if attached.returncode == 0 else ""
        if device:
            mounted = subprocess.run(["mount", device, str(mnt)], capture_output=True).returncode == 0
        yield mnt if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", str(mnt)], check=False)
        if device:
            subprocess.run(["losetup", "-d", device], check=False)
        image.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            mnt.rmdir()
