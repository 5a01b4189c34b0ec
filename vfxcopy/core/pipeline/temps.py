"""Temporaries nobody else can touch: one private folder per run, inside the destination folder.

The folder `.vfxcopy-<job>-<nonce>.part` is made with mkdir (which never follows
a link), mode 0700, and held open and flock'ed for the whole run. Every temp is
created inside it relative to that folder's fd with O_EXCL|O_NOFOLLOW; writers
that open by path (OpenImageIO, ffmpeg) are given `/proc/<pid>/fd/<folder fd>/<name>`,
a path that cannot be redirected by renaming or re-linking anything in the
destination. Being in the destination folder, a finished temp is put in place
with one rename (same file system).

A run removes its folder on every exit path. After a hard kill the folder stays,
unlocked: `destfolder.sweep` removes such folders (and temp files of vfxcopy 0.1) — the next
run into that folder does it, so do journal recovery and `vfxcopy clean`. A folder
that is still flock'ed belongs to a live run and is never touched.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading
from _queue import SimpleQueue  # queue.SimpleQueue itself: the queue module costs a start 2 M instructions
from collections.abc import Callable

from vfxcopy.core.jobs import TEMP_PREFIX, TEMP_SUFFIX

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
BACKGROUND_CLOSE_BYTES = 8 << 20  # close a discarded temp bigger than this off-thread
STAGING_SUFFIX = ".new"  # a temp folder being made (mkdir, lock, rename): swept only when old (destfolder.py)
_PROC_FD = os.path.isdir("/proc/self/fd")


class TempFile:
    """A temp this run owns: removed on every exit path unless placed."""

    __slots__ = ("name", "fd", "written", "placed", "submitted", "kicked", "uncounted")

    def __init__(self, name: str, fd: int) -> None:
        self.name = name  # inside the run's private folder
        self.fd = fd
        self.written = 0
        self.placed = False
        self.submitted = False  # handed to the committer, which then owns (and closes) the fd
        self.kicked = 0  # bytes whose writeback was already started
        self.uncounted = 0  # written but not yet in the run's progress (a small item's one write: counted when it ends)

    def __repr__(self) -> str:
        return f"TempFile({self.name!r}, fd={self.fd}, written={self.written}, placed={self.placed})"


def temp_mode(source: os.stat_result, preserve: bool) -> int:
    """The mode a copy's temp is created with: the source's permission bits with --preserve, else
    0o666 (the umask applies either way)."""
    return stat.S_IMODE(source.st_mode) & 0o777 if preserve else 0o666


def new_nonce() -> str:
    """8 random hex digits (os.urandom: `secrets` would load OpenSSL at start-up for this)."""
    return os.urandom(4).hex()


class TempArea:
    """The run's private folder in the destination and the temps inside it (thread-safe)."""

    def __init__(self, dest_fd: int, job_id: str) -> None:
        self.dest_fd = dest_fd
        self.job_id = job_id
        nonce = new_nonce()
        self.name = f"{TEMP_PREFIX}{job_id}-{nonce}{TEMP_SUFFIX}"
        # Made under a staging name, locked, then renamed: a sweeper never sees the folder
        # unlocked under its temp name while this run is alive.
        staging = f"{TEMP_PREFIX}{job_id}-{nonce}{STAGING_SUFFIX}"
        self.lock = threading.Lock()
        self.temps: dict[str, TempFile] = {}
        self.closed = False
        # Sub-folders the temps are spread over (0: none, all in the folder itself). On a network
        # file system creating and removing a name holds its folder's lock in the kernel for a
        # round trip or more: with several items in flight in one folder they queued behind each
        # other (the runner sets it there). Made on first use, mode 0700, inside this folder.
        self.lanes = 0
        self.renameat2 = True  # set below, when the folder is named
        self.lanes_made: list[str] = []
        self.lanes_lock = threading.Lock()
        os.mkdir(staging, 0o700, dir_fd=dest_fd)
        try:
            self.fd = os.open(staging, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=dest_fd)
        except OSError:
            _rmdir_quietly(staging, dest_fd)
            raise
        try:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    raise
            # Whether this file system does renameat2(RENAME_NOREPLACE): placing need not ask again.
            self.renameat2 = _rename_dir_noreplace(staging, self.name, dest_fd)
        except BaseException:
            os.close(self.fd)
            _rmdir_quietly(staging, dest_fd)
            raise

    def path(self, name: str) -> str:
        """A path to `name` in this folder for writers that open by path (pinned to our fd)."""
        if _PROC_FD:
            return f"/proc/{os.getpid()}/fd/{self.fd}/{name}"  # also for a child process (ffmpeg)
        return name  # pragma: no cover - not Linux: relative to nothing; callers use dest paths

    def new_file(self, index: int, mode: int = 0o666, suffix: str = "") -> TempFile:
        """Create the temp for item `index` exclusively (never through a link)."""
        name = f"{index}{suffix}.part"
        if self.lanes > 1:
            name = f"{self.lane(index % self.lanes)}/{name}"
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_CLOEXEC | _O_NOFOLLOW
        fd = os.open(name, flags, mode, dir_fd=self.fd)
        temp = TempFile(name, fd)
        with self.lock:
            self.temps[name] = temp
        return temp

    def lane(self, number: int) -> str:
        """The sub-folder `number` (made now if it is not yet): a name relative to this folder."""
        name = f"lane{number}"
        if name not in self.lanes_made:
            with self.lanes_lock:
                if name not in self.lanes_made:
                    os.mkdir(name, 0o700, dir_fd=self.fd)
                    self.lanes_made.append(name)
        return name

    def reserve(self, index: int, suffix: str = "") -> TempFile:
        """A temp name for a writer that creates the file itself by path (fd -1)."""
        name = f"{index}{suffix}.part"
        temp = TempFile(name, -1)
        with self.lock:
            self.temps[name] = temp
        return temp

    def forget(self, temp: TempFile) -> None:
        with self.lock:
            self.temps.pop(temp.name, None)

    def unlink(self, temp: TempFile) -> bool:
        """Remove a temp's name now (not its fd); False if it was already placed."""
        with self.lock:
            self.temps.pop(temp.name, None)
            if temp.placed:
                return False
        try:
            os.unlink(temp.name, dir_fd=self.fd)
        except OSError:
            pass
        return True

    def discard(self, temp: TempFile, close: bool = True, on_closed: Callable[[], None] | None = None) -> bool:
        """Remove a temp: the name goes at once, a big file's blocks are freed off-thread."""
        removed = self.unlink(temp)
        if close:
            close_temp_fd(temp, background=removed, on_closed=on_closed)
        return removed

    def open_temps(self) -> list[TempFile]:
        with self.lock:
            return list(self.temps.values())

    def remove_all(self) -> None:
        """Remove every temp left and the folder itself (the end of every run). The folder's fd
        stays open until `close`: a committer finishing an fsync may still use it."""
        if self.closed:
            return
        self.closed = True
        for temp in self.open_temps():
            self.discard(temp, close=not temp.submitted)
        for lane in self.lanes_made:
            _empty_and_remove(lane, self.fd)
        # Empty when every temp was placed or removed (most runs): removed without listing it.
        try:
            os.rmdir(self.name, dir_fd=self.dest_fd)
            return
        except OSError:
            pass
        try:
            for name in os.listdir(self.fd):
                try:
                    os.unlink(name, dir_fd=self.fd)
                except OSError:
                    pass
        except OSError:
            pass
        _rmdir_quietly(self.name, self.dest_fd)

    def close(self) -> None:
        self.remove_all()
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = -1


def _rename_dir_noreplace(src: str, dst: str, dir_fd: int) -> bool:
    """Name a new folder: renameat2(RENAME_NOREPLACE) where it exists, else rename (link + unlink,
    the files' fallback, cannot move a folder; the name carries a random nonce and rename never
    follows a link at it). True if renameat2 did it."""
    from vfxcopy.core.pipeline.place import renameat2_noreplace

    if renameat2_noreplace(src, dst, dir_fd, dir_fd):
        return True
    os.rename(src, dst, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    return False


def _empty_and_remove(name: str, dir_fd: int) -> None:
    """Remove the sub-folder `name` of `dir_fd` and the files in it (ours: no sub-folders).
    An empty one (a run that placed all its temps) is removed without listing it."""
    try:
        os.rmdir(name, dir_fd=dir_fd)
        return
    except OSError:
        pass
    try:
        fd = os.open(name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return
    try:
        for entry in os.listdir(fd):
            try:
                os.unlink(entry, dir_fd=fd)
            except OSError:
                pass
    except OSError:
        pass
    finally:
        os.close(fd)
    _rmdir_quietly(name, dir_fd)


def _rmdir_quietly(name: str, dir_fd: int) -> None:
    try:
        os.rmdir(name, dir_fd=dir_fd)
    except OSError:
        pass


def close_temp_fd(temp: TempFile, background: bool = False, on_closed: Callable[[], None] | None = None) -> None:
    fd, temp.fd = temp.fd, -1
    if fd < 0:
        return
    if background and temp.written >= BACKGROUND_CLOSE_BYTES:
        # Freeing the blocks of a big unlinked file takes ~10-100 ms on ext4; the
        # name is already gone, so nobody can see the file any more.
        REAPER.close(fd, on_closed)
    else:
        close_quietly(fd, on_closed)


def close_quietly(fd: int, on_closed: Callable[[], None] | None = None) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
    if on_closed is not None:
        on_closed()


class _Reaper:
    """One daemon thread that closes discarded temps (the slow part: freeing their blocks)."""

    def __init__(self) -> None:
        self.queue: SimpleQueue[tuple[int, Callable[[], None] | None]] = SimpleQueue()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def close(self, fd: int, on_closed: Callable[[], None] | None = None) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.loop, daemon=True, name="vfxcopy-reaper")
                self.thread.start()
        self.queue.put((fd, on_closed))

    def loop(self) -> None:
        while True:
            fd, on_closed = self.queue.get()
            _free_in_steps(fd)
            close_quietly(fd, on_closed)


FREE_STEP = 32 << 20


def _free_in_steps(fd: int) -> None:
    """Free an unlinked file's blocks from the end in steps before closing it.

    Measured on ext4: closing a 500 MB unlinked file frees its blocks in one long journal
    transaction, and the run's rmdir of its private folder waited behind it for up to
    50 ms after a cancel; in 32 MiB steps no other file-system call waits more than one
    step (about 1-3 ms).
    """
    try:
        size = os.fstat(fd).st_size
        while size > FREE_STEP:
            size -= FREE_STEP
            os.ftruncate(fd, size)
    except OSError:
        pass


REAPER = _Reaper()
