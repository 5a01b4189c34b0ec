"""Putting a finished temp in place without clobbering, and making it durable (the system calls)."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable

from vfxcopy.core.errors import FrameError
from vfxcopy.core.textsafe import FS_ENCODING, FS_ERRORS

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import Any


def _load_libc() -> ctypes.CDLL | None:
    # The process's own symbols (libc is loaded already): ctypes.util.find_library runs
    # ldconfig in a subprocess, 8-15 ms of every command's start-up.
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()
_RENAMEAT2: Any = getattr(_LIBC, "renameat2", None) if _LIBC else None
if _RENAMEAT2 is not None:
    _RENAMEAT2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    _RENAMEAT2.restype = ctypes.c_int
SYNC_FILE_RANGE: Any = getattr(_LIBC, "sync_file_range", None) if _LIBC else None
if SYNC_FILE_RANGE is not None:
    SYNC_FILE_RANGE.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    SYNC_FILE_RANGE.restype = ctypes.c_int
_RENAME_NOREPLACE = 1
SYNC_FILE_RANGE_WRITE = 2
_SYNC_FILE_RANGE_ALL = 1 | 2 | 4  # WAIT_BEFORE | WRITE | WAIT_AFTER: this range is on disk
SYNC_SLICE = 8 << 20  # an inline fsync flushes this much between two cancel checks


class PlaceConflict(Exception):
    """The final name was taken by someone else while the item was written; nothing was replaced."""


class GoneOnServer(PlaceConflict):
    """The network file system's client says the final name is taken, its server that no such file
    is there: a name removed from another machine a moment ago, still in the client's cache (sshfs
    keeps names and attributes 20 s, NFS up to a minute). The item is not in place: never a skip."""


class NoReplace:
    """How one run places without replacing: renameat2(RENAME_NOREPLACE) until the file system
    refuses it once, then link + unlink straight away (sshfs refuses it every time, and each
    refused call cost a lookup of the final name on the server: one round trip per item)."""

    __slots__ = ("renameat2",)

    def __init__(self, renameat2: bool = True) -> None:
        self.renameat2 = renameat2  # False: refused already (e.g. when the run's temp folder was named)


def renameat2_noreplace(src: str, dst: str, src_dir_fd: int, dst_dir_fd: int) -> bool:
    """renameat2(RENAME_NOREPLACE): True when it moved `src` to `dst`, False where the C library or
    the file system has no such call (EINVAL, ENOSYS, EOPNOTSUPP); FileExistsError when `dst`
    exists, another OSError for anything else. Files and folders alike."""
    if _RENAMEAT2 is None:
        return False
    # str.encode as os.fsencode does it, without its two calls per name (once per item)
    if _RENAMEAT2(src_dir_fd, src.encode(FS_ENCODING, FS_ERRORS), dst_dir_fd,
                  dst.encode(FS_ENCODING, FS_ERRORS), _RENAME_NOREPLACE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), dst)


def rename_noreplace(src: str, dst: str, src_dir_fd: int, dst_dir_fd: int | None = None) -> str:
    """Move `src` (in `src_dir_fd`) to `dst` (in `dst_dir_fd`) unless `dst` exists: then FileExistsError.

    renameat2(RENAME_NOREPLACE) is one atomic step; where the file system does not
    support it (sshfs, some FUSE), link + unlink gives the same guarantee (at worst
    both names exist for a moment, both complete). Never replaces an existing `dst`.
    Returns how: "renameat2" or "link".
    """
    dst_fd = src_dir_fd if dst_dir_fd is None else dst_dir_fd
    if renameat2_noreplace(src, dst, src_dir_fd, dst_fd):
        return "renameat2"
    link_noreplace(src, dst, src_dir_fd, dst_fd)
    return "link"


def link_noreplace(src: str, dst: str, src_dir_fd: int, dst_dir_fd: int) -> None:
    """The fallback of rename_noreplace: a new name for the file (refused if `dst` exists), then the
    old name goes."""
    os.link(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd, follow_symlinks=False)
    os.unlink(src, dir_fd=src_dir_fd)


def place(
    temp_name: str, temp_dir_fd: int, final: str, dest_fd: int, dest_path: str, overwrite: bool,
    how: NoReplace | None = None,
) -> None:
    """Give a temp its final name; never replaces an existing file unless `overwrite`.

    `how`: the run's NoReplace, so that a file system that refused renameat2 once is not asked again."""
    if overwrite:
        os.replace(temp_name, final, src_dir_fd=temp_dir_fd, dst_dir_fd=dest_fd)
        return
    try:
        if how is not None and not how.renameat2:
            link_noreplace(temp_name, final, temp_dir_fd, dest_fd)
        elif rename_noreplace(temp_name, final, temp_dir_fd, dest_fd) == "link" and how is not None:
            how.renameat2 = False
    except FileExistsError as exc:
        raise PlaceConflict(
            FrameError(
                dest_path,
                "was created by another program meanwhile; it was left untouched",
                "check it, then run the job again",
            ).message
        ) from exc


def start_writeback(fd: int, offset: int = 0, length: int = 0) -> None:
    """Ask the kernel to start writing now, so that the later fsync waits less."""
    if SYNC_FILE_RANGE is not None:
        SYNC_FILE_RANGE(fd, offset, length, SYNC_FILE_RANGE_WRITE)


def fsync_interruptible(fd: int, size: int, check: Callable[[], None]) -> None:
    """fsync, flushing the data in slices first so that a cancel need not wait for all of it."""
    if SYNC_FILE_RANGE is not None and size > SYNC_SLICE:
        for offset in range(0, size, SYNC_SLICE):
            check()
            if SYNC_FILE_RANGE(fd, offset, SYNC_SLICE, _SYNC_FILE_RANGE_ALL) != 0:
                break  # not supported here: the plain fsync below does it all
    os.fsync(fd)
