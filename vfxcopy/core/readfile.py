"""Reading a small file we were pointed at (settings, presets, checksum lists, ASC MHL files) without hanging.

`Path.read_bytes` on a FIFO named like the file waits for a writer for ever, and a
SIGTERM cannot stop it: Python retries the interrupted open after running the
handler. Opened with O_NONBLOCK and checked with fstat, anything but a regular file
is refused at once with an OSError that names what is there.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def kind_of(mode: int) -> str:
    """What a non-regular file is, in a user's words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def read_regular_file(path: str | os.PathLike[str]) -> bytes:
    """The whole content of the regular file at `path` (links followed).

    OSError as open() raises it (FileNotFoundError, PermissionError...), or with EINVAL and
    a strerror such as "is a FIFO, not a regular file" for anything else.
    """
    fd = os.open(path, _FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, f"is {kind_of(st.st_mode)}, not a regular file", os.fspath(path))
        chunks: list[bytes] = []
        while True:
            chunk = os.read(fd, max(st.st_size + 1, 65536))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


COMPARE_CHUNK = 1 << 20


def same_bytes(a: str, b: str, cancelled: Callable[[], bool] | None = None) -> bool:
    """Whether the regular files `a` and `b` hold the same bytes (`b` is not followed if it is a link).

    Read a chunk at a time, side by side, stopping at the first difference. False when either
    cannot be read, is not a regular file, or `cancelled()` turns true between chunks."""
    try:
        fa = os.open(a, _FLAGS)
    except OSError:
        return False
    try:
        try:
            fb = os.open(b, _FLAGS | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return False
        try:
            sa, sb = os.fstat(fa), os.fstat(fb)
            if not (stat.S_ISREG(sa.st_mode) and stat.S_ISREG(sb.st_mode)) or sa.st_size != sb.st_size:
                return False
            offset = 0
            while True:
                if cancelled is not None and cancelled():
                    return False
                chunk = os.pread(fa, COMPARE_CHUNK, offset)
                if chunk != os.pread(fb, COMPARE_CHUNK, offset):
                    return False
                if not chunk:
                    return True
                offset += len(chunk)
        except OSError:
            return False
        finally:
            os.close(fb)
    finally:
        os.close(fa)
