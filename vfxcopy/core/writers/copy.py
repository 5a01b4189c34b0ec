"""The copy writer: bytes from the source into the temp, chunked by time, hashed on the way.

Without hashing: `copy_file_range`, falling back to `sendfile`, then pread/pwrite.
With hashing ("transfer"): each 256 KiB sub-chunk is read into one buffer, hashed,
and that same buffer written, every count checked. Chunks are sized by time
(about 3 ms per zero-copy call, 8 ms per hashed group): the token is checked
between them, so a cancel stops the writes within one call.

An item that fits in one call (zero-copy: up to 1 MiB and one chunk; hashed: up to
256 KiB) is copied by `copy_small`: one copy_file_range, or one read, one digest and
one write, without the per-chunk bookkeeping (20,000 frames of 200 bytes: that
bookkeeping was about a tenth of each frame's time in process).
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable

from vfxcopy.core.errors import FrameError, SourceChangedError, VerificationError
from vfxcopy.core.hashing import Hasher, new_hasher, one_shot_hasher
from vfxcopy.core.jobs import CopyOptions, VerifyMode
from vfxcopy.core.pipeline.place import SYNC_FILE_RANGE, SYNC_FILE_RANGE_WRITE
from vfxcopy.core.pipeline.tally import BIG_ITEM_BYTES
from vfxcopy.core.pipeline.temps import TempFile
from vfxcopy.core.readfile import kind_of, same_bytes
from vfxcopy.core.safety import symlink_escape
from vfxcopy.core.writers.base import Context, Item, Written

MiB = 1 << 20
MIN_CHUNK = 1 * MiB
CHUNK_ALIGN = 64 * 1024  # whole pages: a chunk that ends mid-page made copy_file_range 30% slower
MAX_CHUNK_ZERO_COPY = 64 * MiB
MAX_CHUNK_BUFFERED = 16 * MiB
TARGET_CALL_S = 0.003  # one zero-copy system call takes about this long (bounds the cancel latency)
TARGET_GROUP_S = 0.008  # hashed copies: progress per group of sub-chunks (cancel is per sub-chunk)
FIRST_CHUNK = 4 * MiB
WRITEBACK_KICK = 2 * MiB  # with fsync on, start writeback of a big item every this many bytes
SUB_CHUNK = 256 * 1024  # hashed copies go through a buffer this small: it stays in the CPU cache

_FALLBACK_ERRNOS = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF}
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def before_read_back(path: str, fd: int) -> None:
    """Test hook: called between fsync and the read-back of `full` verification."""


def _source_side(exc: OSError) -> OSError:
    exc.vfx_side = "source"  # type: ignore[attr-defined]
    return exc


def read_source(item: Item, fd: int, view: memoryview, offset: int) -> int:
    """pread of the source into `view` at `offset`: the bytes read, never 0 (a source that became
    shorter than it was when opened fails the item); an OSError is marked as the source's."""
    try:
        n = os.preadv(fd, [view], offset)
    except OSError as exc:
        raise _source_side(exc) from None
    if n == 0:
        raise SourceChangedError(item.src, "source changed while copying (it became shorter)",
                                 "wait until the file is completely written, then run the copy again")
    return n


class CopyWriter:
    kind = "copy"
    unit = "frame"
    creates_by_path = False
    temp_suffix = ""
    hashes_source = True

    def __init__(self, opts: CopyOptions, src_dir: str, umask: int | None) -> None:
        self.opts = opts
        self.src_dir = src_dir
        self.umask = umask
        self.hashing = opts.verify is not VerifyMode.NONE
        self.verify_attempts = 2 if self.hashing else 1
        self.algo = opts.hash_algo.value
        self.target_s = TARGET_GROUP_S if self.hashing else TARGET_CALL_S
        self.max_chunk = MAX_CHUNK_BUFFERED if self.hashing else MAX_CHUNK_ZERO_COPY
        if opts.bwlimit:
            # Small enough that a throttled job still shows steady progress.
            self.max_chunk = max(CHUNK_ALIGN, min(self.max_chunk, opts.bwlimit // 8 // CHUNK_ALIGN * CHUNK_ALIGN))
        self.min_chunk = min(MIN_CHUNK, self.max_chunk)
        self.chunk = min(FIRST_CHUNK, self.max_chunk)
        self.kick_writeback = opts.fsync and SYNC_FILE_RANGE is not None
        self.zero_copy_mode = "copy_file_range"
        self.buf: bytearray | None = None
        self.opened: dict[int, tuple[int, os.stat_result]] = {}  # index -> (source fd, fstat), by the preparer
        # Items up to this size go through copy_small (one call). Not with a bandwidth limit
        # (add_bytes paces the writes); a fan-out group's members copy through its reader.
        # Hashed: what fits the small buffer; zero-copy: up to BIG_ITEM_BYTES (bigger items
        # show their progress chunk by chunk) and at most one chunk (checked per item).
        self.small_max = 0 if opts.bwlimit else SUB_CHUNK if self.hashing else BIG_ITEM_BYTES
        self.hash_bytes = one_shot_hasher(self.algo) if self.hashing else None

    # -- the source --
    def source_check(self, item: Item) -> os.stat_result:
        lst = item.lst if item.lst is not None else os.lstat(item.src)
        is_link = stat.S_ISLNK(lst.st_mode)
        if is_link and not self.opts.follow_symlinks:
            target = symlink_escape(item.src, self.src_dir)
            if target is not None:
                raise FrameError(item.src, f"is a symlink to {target}, outside the source folder; not followed",
                                 "copy the target itself, or allow following symlinks")
        st = os.stat(item.src) if is_link else lst
        if not stat.S_ISREG(st.st_mode):
            raise FrameError(item.src, f"is not a regular file ({kind_of(st.st_mode)})", "only files can be copied")
        item.size = st.st_size
        return st

    def open_source(self, item: Item) -> tuple[int, os.stat_result]:
        # O_NOFOLLOW when planning saw a plain file: a symlink swapped in since is refused.
        # O_NONBLOCK: a FIFO swapped in since cannot block the open (it fails the check below).
        nofollow = _O_NOFOLLOW if item.lst is not None and not stat.S_ISLNK(item.lst.st_mode) else 0
        try:
            fd = os.open(item.src, os.O_RDONLY | _O_CLOEXEC | nofollow | _O_NONBLOCK)
        except OSError as exc:
            raise _source_side(exc) from None
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                raise SourceChangedError(item.src, "is no longer a regular file", "scan the sequence again")
        except BaseException:
            os.close(fd)
            raise
        return fd, before

    def identical(self, item: Item, st: os.stat_result, dest_fd: int, ctx: Context) -> tuple[bool | None, str | None]:
        dst = os.stat(item.name, dir_fd=dest_fd, follow_symlinks=False)
        if not stat.S_ISREG(dst.st_mode) or dst.st_size != st.st_size:
            return False, None
        try:
            src_fd = os.open(item.src, os.O_RDONLY | _O_CLOEXEC | _O_NONBLOCK)
        except OSError as exc:
            raise _source_side(exc) from None
        try:
            dst_fd = os.open(item.name, os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW | _O_NONBLOCK, dir_fd=dest_fd)
            try:
                try:
                    h_src = self.hash_fd(src_fd, ctx)
                except OSError as exc:
                    raise _source_side(exc) from None
                h_dst = self.hash_fd(dst_fd, ctx)
            finally:
                os.close(dst_fd)
        finally:
            os.close(src_fd)
        return h_src == h_dst, h_src

    def identical_after(self, temp_path: str, dest_path: str, cancelled: Callable[[], bool] | None = None) -> bool:
        """A name taken since the plan (another run placed the same frame meanwhile): the same bytes?
        (A name taken before is compared before writing: `identical`.)"""
        return same_bytes(temp_path, dest_path, cancelled)

    def hash_fd(self, fd: int, ctx: Context) -> str:
        """Hash a whole file through the small cache-friendly buffer; cancellable."""
        hasher = new_hasher(self.algo)
        view = self.buffer(SUB_CHUNK)[:SUB_CHUNK]
        offset = 0
        while True:
            if offset % (32 * SUB_CHUNK) == 0:
                ctx.check()
            n = os.preadv(fd, [view], offset)
            if n == 0:
                return hasher.hexdigest()
            hasher.update(view[:n])
            offset += n

    def buffer(self, size: int = MAX_CHUNK_BUFFERED) -> memoryview:
        """A reused buffer of at least `size` bytes. Hashed copies ask for SUB_CHUNK only: a 16 MiB
        buffer took 10-70 ms to allocate and zero per job, most of a verified 10-frame copy's work."""
        if self.buf is None or len(self.buf) < size:
            self.buf = bytearray(size)
        return memoryview(self.buf)

    # -- one item --
    def write(self, item: Item, st: os.stat_result, temp: TempFile, ctx: Context) -> Written:
        member = getattr(ctx, "fanout", None)
        if member is not None:  # one read for every destination of a fan-out group (fanout.py)
            shared = member.write(item, temp, ctx, self)
            if shared is not None:
                prepared = self.opened.pop(item.index, None)
                if prepared is not None:
                    os.close(prepared[0])
                source_hash, before = shared
                self.finish_temp(item, temp, before)
                return Written(source_hash, self.algo if source_hash else None, source=before)
        opened = self.opened.pop(item.index, None) if self.opened else None
        src_fd, before = opened if opened is not None else self.open_source(item)
        try:
            size = before.st_size
            done, digest = False, None
            if size <= self.small_max and (self.hashing or size <= self.chunk):
                done, digest = self.copy_small(item, src_fd, temp, size, ctx)
            if not done and self.hashing:
                hasher = new_hasher(self.algo)
                self.copy_buffered(item, src_fd, temp, size, hasher, ctx)
                digest = hasher.hexdigest()
            elif not done:
                self.copy_zero(item, src_fd, temp, size, ctx)
            self.finish_temp(item, temp, before)
            check_unchanged(item.src, before)
            return Written(digest, self.algo if digest else None, source=before)
        finally:
            os.close(src_fd)

    def finish_temp(self, item: Item, temp: TempFile, before: os.stat_result) -> None:
        """The source's mode and times on the temp (with --preserve); its size checked when verifying."""
        if self.opts.preserve:
            mode = stat.S_IMODE(before.st_mode) & 0o777
            if self.umask is None or mode & self.umask:
                os.fchmod(temp.fd, mode)  # open() applied the umask; skipped when it did not matter
            os.utime(temp.fd, ns=(before.st_atime_ns, before.st_mtime_ns))
        # What was written, as counted by the writes themselves (every count checked): an fstat
        # here was one more round trip per file to a network file system's server.
        if self.hashing and temp.written != before.st_size:
            raise VerificationError(item.src, "written size differs from the source", "retry")

    def verify(self, item: Item, temp: TempFile, written: Written, ctx: Context) -> None:
        """`full` verification: drop the temp's cached pages, read it from disk, compare."""
        if self.opts.verify is not VerifyMode.FULL:
            return
        before_read_back(ctx.temp_path(temp), temp.fd)
        try:
            os.posix_fadvise(temp.fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        dest_hash = self.hash_fd(temp.fd, ctx)
        if dest_hash != written.hash:
            raise VerificationError(
                item.name, f"read-back hash {dest_hash} differs from the source hash {written.hash}",
                "the destination disk may be failing; check it",
            )

    # -- the byte movers --
    def copy_small(
        self, item: Item, src_fd: int, temp: TempFile, size: int, ctx: Context
    ) -> tuple[bool, str | None]:
        """An item that fits in one call: read once, hash once, write once (or one copy_file_range).

        Without the per-chunk bookkeeping (time, chunk size, progress, a cancel check: the item
        boundary checked the token microseconds ago, and one call of at most one chunk is what
        bounds the cancel latency anyway). Its bytes are counted when the item ends
        (temp.uncounted). Returns (done, source hash); not done: a zero-copy call this file system
        refuses or a short copy, which the chunked path does again from the start (and says why).
        """
        dst_fd = temp.fd
        source_hash: str | None = None
        hash_bytes = self.hash_bytes  # set when hashing
        if hash_bytes is not None:
            view = self.buffer(SUB_CHUNK)[:size]
            pos = 0
            while pos < size:  # one read of a regular file, unless it shrank meanwhile
                pos += read_source(item, src_fd, view[pos:], pos)
            source_hash = hash_bytes(view)
            if size:
                write_all(dst_fd, view, 0)
        elif size:
            if self.zero_copy_mode != "copy_file_range":
                return False, None
            t0 = time.perf_counter()
            try:
                n = os.copy_file_range(src_fd, dst_fd, size, 0, 0)
            except OSError as exc:
                if exc.errno in _FALLBACK_ERRNOS:
                    return False, None
                raise
            if n != size:
                return False, None  # the chunked path copies it again from offset 0 (and tells a shrunk source)
            if n >= self.min_chunk:  # a big single call still sizes the next chunks by its time
                self.adapt(time.perf_counter() - t0)
        temp.written = size
        temp.uncounted = size
        debug = ctx.debug
        if debug is not None:
            debug.last_write_end = time.monotonic()
            debug.copy_calls += 1
            debug.calls.append((0.0, size))
        return True, source_hash

    def kick(self, temp: TempFile, written: int) -> None:
        """With fsync on, start writing a big item to disk while the rest is copied.

        Measured on 500 MB: the final fsync drops from 0.24 s to 0.005 s. Steps of 2 MiB
        keep writes from stalling behind the writeback (2 MiB: <= 3 ms; 32 MiB: up to
        15 ms). Called between two writes on purpose: from a helper thread it ran
        concurrently with our writes, which then landed up to 23 ms after a cancel.
        """
        if written - temp.kicked >= WRITEBACK_KICK:
            SYNC_FILE_RANGE(temp.fd, temp.kicked, written - temp.kicked, SYNC_FILE_RANGE_WRITE)
            temp.kicked = written

    def after_chunk(self, temp: TempFile, n: int, elapsed: float, adapt: bool, wrote_at: float, ctx: Context) -> None:
        temp.written += n
        debug = ctx.debug
        if debug is not None:
            debug.last_write_end = wrote_at
            debug.copy_calls += 1
            debug.calls.append((elapsed, n))
        if adapt:
            self.adapt(elapsed)
        ctx.add_bytes(n)

    def adapt(self, elapsed: float) -> None:
        """Size the next chunk so that one call takes about target_s."""
        if elapsed > 0:
            factor = min(2.0, max(0.5, self.target_s / elapsed))
            wanted = min(self.max_chunk, max(self.min_chunk, self.chunk * factor))
            self.chunk = max(self.min_chunk, int(wanted) // CHUNK_ALIGN * CHUNK_ALIGN)

    def copy_zero(self, item: Item, src_fd: int, temp: TempFile, size: int, ctx: Context) -> None:
        offset = 0
        dst_fd = temp.fd
        while offset < size:
            ctx.check()
            want = min(self.chunk, size - offset)
            t0 = time.perf_counter()
            mode = self.zero_copy_mode
            try:
                if mode == "copy_file_range":
                    n = os.copy_file_range(src_fd, dst_fd, want, offset, offset)
                    if n == 0 and offset == 0:
                        self.zero_copy_mode = "readwrite"  # procfs, some FUSE report 0: let read() decide
                        continue
                elif mode == "sendfile":
                    os.lseek(dst_fd, offset, os.SEEK_SET)
                    n = os.sendfile(dst_fd, src_fd, offset, want)
                else:
                    view = self.buffer()[:want]
                    try:
                        n = os.preadv(src_fd, [view], offset)
                    except OSError as exc:
                        raise _source_side(exc) from None
                    write_all(dst_fd, view[:n], offset)
            except OSError as exc:
                if exc.errno in _FALLBACK_ERRNOS and mode != "readwrite":
                    self.zero_copy_mode = "sendfile" if mode == "copy_file_range" else "readwrite"
                    ctx.log("info", f"{mode} not usable here ({exc.strerror}); using {self.zero_copy_mode}")
                    continue
                raise
            if n == 0:
                raise SourceChangedError(item.src, "source changed while copying (it became shorter)",
                                         "wait until the file is completely written, then run the copy again")
            offset += n
            wrote_at = time.monotonic()
            elapsed = time.perf_counter() - t0
            if self.kick_writeback:
                self.kick(temp, offset)
            self.after_chunk(temp, n, elapsed, n >= want, wrote_at, ctx)

    def copy_buffered(self, item: Item, src_fd: int, temp: TempFile, size: int, hasher: Hasher, ctx: Context) -> None:
        """Read into one small buffer, hash it, write that same buffer (every count checked)."""
        offset = 0
        view = self.buffer(SUB_CHUNK)[:SUB_CHUNK]
        cancelled = getattr(ctx, "run", None)
        token = cancelled.token if cancelled is not None else None
        kick = self.kick_writeback and size > WRITEBACK_KICK
        while offset < size:
            ctx.check()
            want = min(self.chunk, size - offset)
            end = offset + want
            t0 = time.perf_counter()
            pos = offset
            wrote_at = 0.0
            while pos < end and not (token is not None and token.cancelled):
                n = read_source(item, src_fd, view[: min(SUB_CHUNK, end - pos)], pos)
                chunk = view[:n]
                hasher.update(chunk)
                write_all(temp.fd, chunk, pos)
                wrote_at = time.monotonic()
                pos += n
                if kick:
                    self.kick(temp, pos)
            if pos > offset:
                self.after_chunk(temp, pos - offset, time.perf_counter() - t0, pos == end, wrote_at, ctx)
            offset = pos


def write_all(fd: int, view: memoryview, offset: int) -> None:
    done = 0
    while done < len(view):
        w = os.pwritev(fd, [view[done:]], offset + done)
        if w <= 0:
            raise OSError(errno.EIO, "short write")
        done += w


def check_unchanged(path: str, before: os.stat_result) -> None:
    """The path still names the same file with the same size, mtime and ctime.

    ctime too: a file rewritten in place with its mtime put back (touch -r, some
    sync tools) still gets a new ctime, which no program can set.
    """
    try:
        after = os.stat(path)
    except OSError:
        after = None
    if after is None or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        raise SourceChangedError(path, "source changed while copying (moved, deleted or replaced)",
                                 "run the copy again")
    if (after.st_size, after.st_mtime_ns, after.st_ctime_ns) != (before.st_size, before.st_mtime_ns,
                                                                 before.st_ctime_ns):
        raise SourceChangedError(path, "source changed while copying (its size, modification or change time differ)",
                                 "wait until the file is completely written, then run the copy again")
