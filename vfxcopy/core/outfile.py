"""One file written whole or not at all: a temporary beside it, fsynced, renamed over it.

The settings, the presets, a farm job's records and the reports a user asks for (`report
--csv/--pdf`) are written this way. The temporary is created with O_EXCL and O_NOFOLLOW (a link
planted at its name is not written through), the rename replaces a link at the target itself,
and a target that is not a regular file (a folder, a FIFO that would block the writer, a
device) is refused before anything is written.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
WRITE_STEP = 4 << 20  # bytes written between two cancel checks


def create_temp(temp: str, mode: int = 0o644) -> int:
    """A new temporary at `temp`, opened for writing: O_EXCL and O_NOFOLLOW, so nothing planted
    at its name (a file, a link to one) is written through."""
    return os.open(temp, _FLAGS, mode)


def fill_temp(fd: int, temp: str, data: bytes, check: Callable[[], None] | None = None) -> None:
    """Write `data` whole into the temporary `fd` (named `temp`), fsync and close it. On any
    failure (`check` raising between two WRITE_STEP writes: a cancel) it is closed and removed."""
    try:
        view = memoryview(data)
        while view:
            if check is not None:
                check()
            view = view[os.write(fd, view[:WRITE_STEP]):]
        os.fsync(fd)
    except BaseException:
        try:
            os.close(fd)
        except OSError:
            pass  # a close that fails too (EIO, or the write's EBADF) must not keep the temporary
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    os.close(fd)


def replace_file(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644, make_folder: bool = False) -> None:
    """`data` as the whole of `path` (created, or replaced), or OSError with nothing changed.

    `mode`: the new file's permissions (before the umask); 0o600 for files that may hold secrets.
    `make_folder`: create the folder first (the per-user settings folder of a first run)."""
    target = os.fspath(path)
    folder, name = os.path.split(target)
    folder = folder or "."
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        from vfxcopy.core.readfile import kind_of

        raise OSError(f"{target}: is {kind_of(st.st_mode)}, not a file; nothing was written")
    if make_folder:
        os.makedirs(folder, exist_ok=True)
    temp = os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = create_temp(temp, mode)
    except OSError as exc:  # the folder is not there, not writable, read-only: said of the folder
        raise type(exc)(exc.errno, f"{target}: cannot be written in {folder} ({exc.strerror}); nothing was "
                                   "written") from None
    fill_temp(fd, temp, data)
    try:
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    from vfxcopy.core.verify.files import fsync_dir

    fsync_dir(folder)  # (some network file systems refuse it; the rename is atomic all the same)
