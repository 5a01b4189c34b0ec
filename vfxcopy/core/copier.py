"""Copy one sequence: chunked, cancellable, hashed, durable and atomic (temp name, no-clobber rename).

How a frame travels:

1. Planning (once per job): lstat every source frame (bytes_total), list the
   destination folder once, pick the `rename` version for the whole job.
2. Checks: the source is a regular file (a symlink out of the source folder is
   refused unless `follow_symlinks`); a destination name that exists is
   handled by the conflict policy.
3. The source is opened and the temp `dest_dir/.vfxcopy-<job>-<index>.part`
   created (O_EXCL, with the source's mode); a preparer thread does this a few
   frames ahead for small frames whose names are free.
4. Bytes move in chunks sized by time (about 2 ms per system call, 1-64 MiB)
   with the token checked between chunks. Without hashing: `copy_file_range`,
   falling back to `sendfile`, then pread/pwrite. With hashing ("transfer"):
   each 256 KiB sub-chunk is read into one buffer, hashed, and that same buffer
   is written, every count checked; the token is looked at per sub-chunk.
5. mtime is set, the source is statted again (same inode, size and mtime_ns,
   else "source changed"). With fsync on, a committer thread fsyncs finished
   temps in order (overlapping with the next copies), renames each into place
   with renameat2(RENAME_NOREPLACE) (fallback link + unlink; os.replace only
   for `overwrite`), fsyncs the folder per batch, and only then is the frame
   reported DONE. `full` verification fsyncs inline, drops the temp's cached
   pages and reads it back before the rename.
6. Cancel: the temp's name is unlinked at once (its blocks are freed by a
   reaper thread closing the fd); temps waiting in the committer are unlinked
   too. A frame is either whole under its final name (and reported) or absent.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import queue
import re
import shutil
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vfxcopy.core.errors import (
    Cancelled,
    FrameError,
    SourceChangedError,
    StopRequested,
    VerificationError,
)
from vfxcopy.core.hashing import Hasher, new_hasher
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
    Reporter,
    ThroughputMeter,
    VerifyMode,
    temp_name,
)
from vfxcopy.core.safety import NAME_MAX, check_job, symlink_escape
from vfxcopy.core.sequence import Sequence

MiB = 1 << 20
MIN_CHUNK = 1 * MiB
CHUNK_ALIGN = 64 * 1024  # chunk sizes stay whole pages (and whole hashing sub-chunks below 1 MiB)
MAX_CHUNK_ZERO_COPY = 64 * MiB
MAX_CHUNK_BUFFERED = 16 * MiB  # the buffer is allocated once per job
TARGET_CALL_S = 0.003  # one zero-copy system call takes about this long (bounds the cancel latency)
TARGET_GROUP_S = 0.008  # hashed copies: progress per group of sub-chunks (cancel is per sub-chunk)
FIRST_CHUNK = 4 * MiB
COMMIT_QUEUE_FRAMES = 32  # finished temps waiting for fsync, at most
COMMIT_QUEUE_BYTES = 512 * MiB
DIR_FSYNC_BATCH = 64  # placements between two fsyncs of the folder
WRITEBACK_KICK_MAX = 64 * MiB  # finished frames up to this size get their writeback started at once
WRITEBACK_KICK = 2 * MiB  # with fsync on, start writeback of a big frame every this many bytes
PREPARE_AHEAD = 4  # frames opened (source + temp) ahead of the copy thread
PREPARE_MAX_BYTES = 64 * MiB  # bigger frames gain nothing from it
SUB_CHUNK = 256 * 1024  # hashed copies go through a buffer this small: it stays in the CPU cache
SYNC_SLICE = 8 * MiB  # inline fsync flushes this much between two cancel checks
BACKGROUND_CLOSE_BYTES = 8 * MiB  # close a discarded temp bigger than this off-thread

_FALLBACK_ERRNOS = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF}
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


@dataclass
class CopyDebug:
    """Optional instrumentation for benchmarks and tests (times are time.monotonic())."""

    last_write_end: float | None = None  # a copy/write call into a temp returned
    cancel_seen: float | None = None  # the engine noticed the cancel
    temp_unlinked: float | None = None  # the temp's name is gone
    returned: float | None = None  # copy_sequence is about to return
    temp_closed: threading.Event = field(default_factory=threading.Event)  # space released
    temp_closed_at: float | None = None
    copy_calls: int = 0
    calls: list[tuple[float, int]] = field(default_factory=list)  # (seconds, bytes) per copy call


# --------------------------------------------------------------------------- low level


def _load_libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()
_RENAMEAT2: Any = getattr(_LIBC, "renameat2", None) if _LIBC else None
if _RENAMEAT2 is not None:
    _RENAMEAT2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    _RENAMEAT2.restype = ctypes.c_int
_SYNC_FILE_RANGE: Any = getattr(_LIBC, "sync_file_range", None) if _LIBC else None
if _SYNC_FILE_RANGE is not None:
    _SYNC_FILE_RANGE.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    _SYNC_FILE_RANGE.restype = ctypes.c_int
_RENAME_NOREPLACE = 1
_SYNC_FILE_RANGE_WRITE = 2
_SYNC_FILE_RANGE_ALL = 1 | 2 | 4  # WAIT_BEFORE | WRITE | WAIT_AFTER: this range is on disk


def rename_noreplace(src: str, dst: str, dir_fd: int) -> None:
    """Move `src` to `dst` (both in `dir_fd`) unless `dst` exists: then FileExistsError.

    renameat2(RENAME_NOREPLACE) is one atomic step; where the file system does
    not support it, link + unlink gives the same guarantee (at worst both names
    exist for a moment, both complete). Never replaces an existing `dst`.
    """
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(dir_fd, os.fsencode(src), dir_fd, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), dst)
    os.link(src, dst, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    os.unlink(src, dir_fd=dir_fd)


def _start_writeback(fd: int) -> None:
    """Ask the kernel to start writing a finished temp now, so the later fsync mostly waits less."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


def _explain(exc: OSError, path: str, side: str) -> str:
    """'path: what went wrong (what to do)' for a per-frame error."""
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM):
        what = "permission denied"
        hint = (
            "check that you can read the source frame"
            if side == "source"
            else "check that you can write to the destination folder, or choose another one"
        )
    elif code in _DISK_FULL_ERRNOS:
        what, hint = "no space left on the destination", "free some space or choose another destination"
    elif code == errno.EIO:
        what, hint = "input/output error", f"the {side} disk or share may be failing; check it and retry"
    elif code == errno.ENAMETOOLONG:
        what, hint = "file name too long (255 bytes at most)", "choose a shorter name with a new head"
    elif code == errno.ENOENT and side == "source":
        what, hint = "source frame is missing", "it was moved or deleted; scan the sequence again"
    elif code == errno.ENOENT:
        what, hint = "destination folder disappeared", "check the destination and run the copy again"
    elif code == errno.EROFS:
        what, hint = "the destination is read-only", "choose a writable destination"
    elif code == errno.EISDIR:
        what, hint = "a folder has this name", "remove or rename that folder, or choose another destination"
    else:
        what, hint = exc.strerror or str(exc), "check the path and try again"
    return FrameError(path, what, hint).message


def _split_version(head: str) -> tuple[str, str, re.Match[str] | None]:
    """`shot_v003.` -> ('shot_v003', '.', match of '003'); the match is None without a version."""
    sep = head[-1] if head and head[-1] in "._-" else ""
    stem = head[: -len(sep)] if sep else head
    return stem, sep, re.search(r"(?<=[._-]v)(\d+)$", stem)


def versioned_head(head: str, version: int) -> str:
    """The head used by the `rename` policy for `version` (2, 3 ...).

    `shot_010.` -> `shot_010_v2.`; a head that already ends in a version is
    bumped keeping its padding: `shot_010_v003.` -> `shot_010_v004.` for 4.
    """
    stem, sep, match = _split_version(head)
    if match:
        digits = match.group(1)
        return stem[: match.start()] + str(version).zfill(len(digits)) + sep
    return f"{stem}_v{version}{sep}"


def first_free_version(names: list[str], head: str, taken: Callable[[str], bool]) -> list[str] | None:
    """The `rename` policy for a whole job: `names` (all starting with `head`) under the lowest
    new version of `head` whose names are all free; None if no free version was found."""
    match = _split_version(head)[2]
    start = (int(match.group(1)) if match else 1) + 1
    for version in range(start, start + 10000):
        new_head = versioned_head(head, version)
        candidates = [new_head + name[len(head) :] for name in names]
        if not any(taken(name) for name in candidates):
            return candidates
    return None


# --------------------------------------------------------------------------- job


@dataclass
class _Plan:
    index: int
    frame: int
    src: str
    final: str  # name inside dest_dir
    size: int = 0
    lst: os.stat_result | None = None  # lstat taken when planning (None: it failed)


@dataclass
class _Temp:
    """A temp file this job owns: removed on every exit path unless placed."""

    name: str
    fd: int
    written: int = 0
    placed: bool = False
    submitted: bool = False  # handed to the committer, which then owns (and closes) the fd
    kicked: int = 0  # bytes whose writeback was already started


@dataclass
class _Finished:
    """A complete temp handed to the committer: fsync, place, report."""

    plan: _Plan
    temp: _Temp
    result: FrameResult
    overwrite: bool
    policy: ConflictPolicy
    started: float


@dataclass
class _Opened:
    """A frame ready to copy: its source open and its temp created."""

    src_fd: int
    before: os.stat_result
    temp: _Temp
    mode: int


class _DiskFull(Exception):
    pass


class _StopOnError(Exception):
    pass


class _Job:
    def __init__(self, spec: JobSpec, token: CancelToken, report: Reporter, debug: CopyDebug | None) -> None:
        self.spec = spec
        self.opts = spec.copy
        self.token = token
        self.report = report
        self.debug = debug
        self.job_id = spec.job_id
        self.source = spec.source
        self.src_dir = spec.source.directory or "."
        self.dest_dir = spec.dest_dir
        self.dir_fd = -1
        self.hashing = self.opts.verify is not VerifyMode.NONE
        self.algo = self.opts.hash_algo.value
        self.chunk = FIRST_CHUNK
        self.target_s = TARGET_GROUP_S if self.hashing else TARGET_CALL_S
        self.max_chunk = MAX_CHUNK_BUFFERED if self.hashing else MAX_CHUNK_ZERO_COPY
        if self.opts.bwlimit:
            # Small enough that a throttled job still shows steady progress.
            self.max_chunk = max(CHUNK_ALIGN, min(self.max_chunk, self.opts.bwlimit // 8 // CHUNK_ALIGN * CHUNK_ALIGN))
        self.min_chunk = min(MIN_CHUNK, self.max_chunk)
        self.chunk = min(self.chunk, self.max_chunk)
        self.buf: bytearray | None = None
        self.kick_writeback = self.opts.fsync and _SYNC_FILE_RANGE is not None
        self.zero_copy_mode = "copy_file_range"
        self.plans: list[_Plan] = []
        self.results: dict[int, FrameResult] = {}
        self.counts: dict[FrameStatus, int] = dict.fromkeys(FrameStatus, 0)
        self.temps: dict[str, _Temp] = {}  # temps not yet placed, by name
        self.temps_lock = threading.Lock()
        self.meter = ThroughputMeter()
        self.bytes_total = 0
        self.bytes_accounted = 0  # copied + skipped + failed frames, for the progress bar
        self.bytes_copied = 0
        self.in_frame_bytes = 0
        self.current: _Plan | None = None
        self.bw_start = time.monotonic()
        self.bw_bytes = 0
        self.committer: _Committer | None = None
        self.preparer: _Preparer | None = None
        self.started = time.monotonic()
        self.dir_sync_error: str | None = None
        self.existing: set[str] | None = None  # names in dest_dir when the job started
        self.umask = _process_umask()

    # -- events --
    def log(self, level: str, text: str) -> None:
        self.report(LogMessage(self.job_id, level, text))

    def progress(self, state: JobState = JobState.RUNNING, message: str = "") -> None:
        counts = self.counts
        done, skipped, failed = counts[FrameStatus.DONE], counts[FrameStatus.SKIPPED], counts[FrameStatus.FAILED]
        accounted = self.bytes_accounted + self.in_frame_bytes
        cur = self.current
        self.report(
            Progress(
                job_id=self.job_id,
                state=state,
                frames_total=len(self.plans),
                frames_done=done + skipped,
                frames_failed=failed,
                frames_skipped=skipped,
                bytes_total=self.bytes_total,
                bytes_done=min(accounted, self.bytes_total) if self.bytes_total else accounted,
                current_frame=cur.frame if cur else None,
                current_path=cur.src if cur else None,
                bytes_per_s=self.meter.rate,
                eta_s=self.meter.eta(max(0, self.bytes_total - accounted)),
                message=message,
            )
        )

    def finish_frame(self, result: FrameResult, plan: _Plan) -> None:
        """Record a final FrameResult and report it."""
        self.results[plan.index] = result
        self.counts[result.status] += 1
        if result.status is not FrameStatus.DONE:
            self.bytes_accounted += plan.size
        self.report(result)

    # -- cancel, pause, throttle --
    def check(self) -> None:
        token = self.token
        if token.paused and not token.cancelled:
            self.progress(JobState.PAUSED, "paused")
            paused_at = time.monotonic()
            token.check()  # blocks until resumed or cancelled
            self.bw_start += time.monotonic() - paused_at  # no burst after a pause
            self.progress(JobState.RUNNING)
        if token.cancelled:
            self.note_cancel_seen()
        token.check()
        if self.committer is not None:
            self.drain_committer()

    def check_frame_boundary(self) -> None:
        self.check()
        if self.token.stop_requested:
            raise StopRequested()

    def throttle(self, nbytes: int) -> None:
        limit = self.opts.bwlimit
        if not limit:
            return
        self.bw_bytes += nbytes
        ahead = self.bw_bytes / limit - (time.monotonic() - self.bw_start)
        if ahead > 0 and self.token.wait(ahead):
            raise Cancelled()

    # -- the job --
    def run(self) -> JobResult:
        state = JobState.RUNNING
        message = ""
        try:
            self.prepare()
            self.progress()
            for plan in self.plans:
                self.check_frame_boundary()
                self.current = plan
                self.do_frame(plan)
            if self.preparer is not None:
                self.preparer.stop()
            if self.committer is not None:
                self.committer.finish(self)
                self.drain_committer()
            if self.dir_fd >= 0 and self.opts.fsync:
                try:
                    os.fsync(self.dir_fd)
                    self.dir_sync_error = None
                except OSError as exc:
                    self.dir_sync_error = str(exc)
            failed = sum(1 for r in self.results.values() if r.status is FrameStatus.FAILED)
            lost = len(self.plans) - len(self.results)  # a bug, never expected: do not call it done
            state = JobState.FAILED if failed or lost or self.dir_sync_error else JobState.COMPLETED
            if failed:
                message = f"{failed} of {len(self.plans)} frames failed"
            elif lost:
                message = f"{lost} frames were not copied (internal error)"
            elif self.dir_sync_error:
                message = (
                    f"{self.dest_dir}: could not make the new names durable ({self.dir_sync_error}); "
                    "the files are complete, check the destination disk"
                )
        except Cancelled:
            self.note_cancel_seen()
            state, message = JobState.CANCELLED, "cancelled"
            self.abort()
        except StopRequested:
            self.abort_or_finish_committer()
            done_idx = [i for i, r in self.results.items() if r.status is not FrameStatus.PENDING]
            last = self.plans[max(done_idx)].frame if done_idx else None
            left = len(self.plans) - len(self.results)
            if left:
                state = JobState.CANCELLED
                message = (
                    f"stopped after frame {last}; {left} frames not copied" if last is not None else "stopped"
                )
            else:
                state = JobState.COMPLETED
        except _DiskFull as exc:
            self.abort_or_finish_committer()
            state, message = JobState.FAILED, str(exc)
            self.log("error", message)
        except _StopOnError as exc:
            self.abort_or_finish_committer()
            state, message = JobState.FAILED, str(exc)
        except _JobLevelError as exc:
            self.abort()
            state, message = JobState.FAILED, str(exc)
            self.log("error", message)
        except BaseException:
            self.abort()
            raise
        finally:
            self.close_dir()
        for plan in self.plans:
            if plan.index not in self.results:
                status = FrameStatus.PENDING
                if state is JobState.CANCELLED and self.current is plan:
                    status = FrameStatus.CANCELLED
                self.results[plan.index] = FrameResult(
                    self.job_id, plan.index, plan.frame, plan.src, self.dest_path(plan.final), status
                )
        self.current = None
        self.progress(state, message)
        result = JobResult(
            job_id=self.job_id,
            state=state,
            frames=[self.results[p.index] for p in self.plans],
            bytes_done=self.bytes_copied,
            elapsed=time.monotonic() - self.started,
            message=message,
        )
        if self.debug is not None:
            self.debug.returned = time.monotonic()
        return result

    def note_cancel_seen(self) -> None:
        if self.debug is not None and self.debug.cancel_seen is None:
            self.debug.cancel_seen = time.monotonic()

    def dest_path(self, name: str) -> str:
        return os.path.join(self.dest_dir, name)

    # -- planning --
    def prepare(self) -> None:
        spec = self.spec
        src = self.source
        if src.is_single:
            frames: list[int | None] = [None]
        else:
            frames = list(spec.selected_frames())
        head = spec.rename_head if spec.rename_head is not None else src.head
        dest_seq = Sequence(self.dest_dir, head, src.tail, src.padding, ())
        for index, frame in enumerate(frames):
            src_path = str(src.path(frame)) if frame is not None else str(src.path())
            if frame is None:
                final = src.head + src.tail
            else:
                final = f"{head}{dest_seq.format_frame(frame + spec.offset)}{src.tail}"
            self.plans.append(_Plan(index, frame if frame is not None else 0, src_path, final))
        for plan in self.plans:
            try:
                plan.lst = os.lstat(plan.src)
                plan.size = plan.lst.st_size if not stat.S_ISLNK(plan.lst.st_mode) else os.stat(plan.src).st_size
            except OSError:
                plan.size = 0
        self.bytes_total = sum(p.size for p in self.plans)
        try:
            os.makedirs(self.dest_dir, exist_ok=True)
            self.dir_fd = os.open(self.dest_dir, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC)
        except OSError as exc:
            raise _JobLevelError(
                _explain(exc, self.dest_dir, "destination").replace(": ", ": cannot open the folder: ", 1)
            ) from exc
        # One listing instead of a stat per frame: only names seen here are checked
        # against the policy. A file created later is still never clobbered: the
        # final rename refuses an existing name.
        try:
            self.existing = set(os.listdir(self.dir_fd))
        except OSError:
            self.existing = None
        if self.opts.on_conflict is ConflictPolicy.RENAME:
            self.plan_versions(src.is_single, head)
        if self.opts.fsync and self.opts.verify is not VerifyMode.FULL:
            self.committer = _Committer(self)
        if self.existing is not None:
            ahead = [
                p
                for p in self.plans
                if p.lst is not None
                and stat.S_ISREG(p.lst.st_mode)
                and p.size <= PREPARE_MAX_BYTES
                and p.final not in self.existing
                and len(os.fsencode(p.final)) <= NAME_MAX
            ]
            if len(ahead) >= 2:
                self.preparer = _Preparer(self, ahead)

    def plan_versions(self, single: bool, head: str) -> None:
        """One version for the whole job: the lowest whose names are all free."""

        def exists(name: str) -> bool:
            try:
                os.stat(name, dir_fd=self.dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                return False
            except OSError:
                return True
            return True

        if not any(exists(p.final) for p in self.plans):
            return
        base_head = os.path.splitext(self.plans[0].final)[0] if single else head
        names = first_free_version([p.final for p in self.plans], base_head, exists)
        if names is None:
            raise _JobLevelError(f"{self.dest_dir}: no free version name found for policy 'rename'")
        for plan, name in zip(self.plans, names, strict=True):
            plan.final = name
        self.log("info", f"names taken; writing as {names[0]} (policy 'rename')")

    # -- one frame --
    def result(self, plan: _Plan, status: FrameStatus, **kw: object) -> FrameResult:
        return FrameResult(
            job_id=self.job_id,
            index=plan.index,
            frame=plan.frame,
            source=plan.src,
            dest=self.dest_path(plan.final),
            status=status,
            size=plan.size,
            **kw,  # type: ignore[arg-type]
        )

    def fail(self, plan: _Plan, error: str, started: float) -> None:
        self.finish_frame(self.result(plan, FrameStatus.FAILED, error=error, elapsed=time.monotonic() - started), plan)
        self.log("error", error)
        if self.opts.stop_on_error:
            raise _StopOnError(f"stopped at the first error: {error}")

    def do_frame(self, plan: _Plan) -> None:
        started = time.monotonic()
        self.in_frame_bytes = 0
        self.progress()
        # Source: a regular file, and not a symlink out of the source folder.
        try:
            lst = plan.lst if plan.lst is not None else os.lstat(plan.src)
        except OSError as exc:
            return self.fail(plan, _explain(exc, plan.src, "source"), started)
        is_link = stat.S_ISLNK(lst.st_mode)
        if is_link and not self.opts.follow_symlinks:
            target = symlink_escape(plan.src, self.src_dir)
            if target is not None:
                msg = FrameError(
                    plan.src,
                    f"is a symlink to {target}, outside the source folder; not followed",
                    "copy the target itself, or allow following symlinks",
                ).message
                return self.fail(plan, msg, started)
        try:
            st = os.stat(plan.src) if is_link else lst
        except OSError as exc:
            return self.fail(plan, _explain(exc, plan.src, "source"), started)
        if not stat.S_ISREG(st.st_mode):
            msg = FrameError(plan.src, "is not a regular file", "only files can be copied").message
            return self.fail(plan, msg, started)
        plan.size = st.st_size
        # Destination: what does the policy say about an existing file?
        policy = self.opts.on_conflict
        overwrite = False
        source_hash: str | None = None
        dest_full = self.dest_path(plan.final)
        if len(os.fsencode(plan.final)) > NAME_MAX:
            return self.fail(plan, _explain(OSError(errno.ENAMETOOLONG, "long"), dest_full, "destination"), started)
        dst: os.stat_result | None = None
        if self.existing is None or plan.final in self.existing:
            try:
                dst = os.stat(plan.final, dir_fd=self.dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                dst = None
            except OSError as exc:
                return self.fail(plan, _explain(exc, dest_full, "destination"), started)
        if dst is not None:
            if (dst.st_dev, dst.st_ino) == (st.st_dev, st.st_ino):
                msg = FrameError(dest_full, "is the source file itself", "choose another destination").message
                return self.fail(plan, msg, started)
            if policy is ConflictPolicy.SKIP:
                return self.skip(plan, started, "exists (policy 'skip')")
            if policy is ConflictPolicy.FAIL:
                msg = FrameError(
                    dest_full, "already exists", "choose skip, skip-identical, overwrite or rename"
                ).message
                return self.fail(plan, msg, started)
            if policy is ConflictPolicy.OVERWRITE:
                if stat.S_ISDIR(dst.st_mode):
                    return self.fail(plan, _explain(OSError(errno.EISDIR, "dir"), dest_full, "dest"), started)
                overwrite = True
            elif policy is ConflictPolicy.SKIP_IDENTICAL:
                try:
                    same, source_hash = self.identical(plan, st, dst)
                except OSError as exc:
                    return self.fail(plan, _explain(exc, plan.src, "source"), started)
                if same:
                    return self.skip(plan, started, "identical file exists", source_hash)
                msg = FrameError(
                    dest_full,
                    "exists and differs",
                    "choose overwrite, rename or skip to decide what happens to the existing file",
                ).message
                return self.fail(plan, msg, started)
            else:  # RENAME: the version was chosen at planning; someone took it since
                msg = FrameError(
                    dest_full, "was created by another program meanwhile", "run the copy again"
                ).message
                return self.fail(plan, msg, started)
        attempts = 2 if self.hashing else 1
        for attempt in range(attempts):
            try:
                self.copy_one(plan, st, overwrite, policy, started)
                return None
            except VerificationError as exc:
                if attempt + 1 < attempts:
                    self.log("warning", f"{exc.message}; retrying once")
                    continue
                return self.fail(plan, exc.message, started)
            except SourceChangedError as exc:
                return self.fail(plan, exc.message, started)
            except _PlaceConflict as exc:
                if policy is ConflictPolicy.SKIP:
                    return self.skip(plan, started, "appeared while copying (policy 'skip')")
                return self.fail(plan, str(exc), started)
            except OSError as exc:
                side = getattr(exc, "vfx_side", "destination")
                path = plan.src if side == "source" else dest_full
                if exc.errno in _DISK_FULL_ERRNOS:
                    self.fail_disk_full(plan, exc, started)
                return self.fail(plan, _explain(exc, path, side), started)
        return None

    def skip(self, plan: _Plan, started: float, why: str, source_hash: str | None = None) -> None:
        res = self.result(
            plan,
            FrameStatus.SKIPPED,
            hash=source_hash,
            hash_algo=self.algo if source_hash else None,
            elapsed=time.monotonic() - started,
        )
        self.finish_frame(res, plan)

    def disk_full_message(self, plan: _Plan) -> str:
        try:
            free = f"{shutil.disk_usage(self.dest_dir).free / MiB:.1f} MiB free"
        except OSError:
            free = "free space unknown"
        return (
            f"{self.dest_dir}: the destination is full ({free}, frame {plan.frame} "
            f"needs {plan.size / MiB:.1f} MiB). Free some space or choose another destination, then run "
            f"the copy again: frames already copied are kept and nothing partial was left."
        )

    def fail_disk_full(self, plan: _Plan, exc: OSError, started: float) -> None:
        msg = self.disk_full_message(plan)
        self.finish_frame(
            self.result(plan, FrameStatus.FAILED, error=msg, elapsed=time.monotonic() - started), plan
        )
        raise _DiskFull(msg) from exc

    def identical(self, plan: _Plan, st: os.stat_result, dst: os.stat_result) -> tuple[bool, str | None]:
        if not stat.S_ISREG(dst.st_mode) or dst.st_size != st.st_size:
            return False, None
        src_fd = os.open(plan.src, os.O_RDONLY | _O_CLOEXEC)
        try:
            dst_fd = os.open(plan.final, os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW, dir_fd=self.dir_fd)
            try:
                h_src = self.hash_fd(src_fd)
                h_dst = self.hash_fd(dst_fd)
            finally:
                os.close(dst_fd)
        finally:
            os.close(src_fd)
        return h_src == h_dst, h_src

    def hash_fd(self, fd: int) -> str:
        """Hash a whole file through the small cache-friendly buffer; cancellable."""
        hasher = new_hasher(self.algo)
        view = self.buffer()[:SUB_CHUNK]
        offset = 0
        while True:
            if offset % (32 * SUB_CHUNK) == 0:
                self.check()  # (pause, committer) every 8 MiB
            elif self.token.cancelled:
                self.check()
            n = os.preadv(fd, [view], offset)
            if n == 0:
                return hasher.hexdigest()
            hasher.update(view[:n])
            offset += n

    def buffer(self) -> memoryview:
        if self.buf is None:
            self.buf = bytearray(MAX_CHUNK_BUFFERED)
        return memoryview(self.buf)

    # -- temps --
    def new_temp(self, index: int, mode: int = 0o666) -> _Temp:
        name = temp_name(self.job_id, index)
        # O_RDWR so that `full` verification reads back through this fd, whatever the mode.
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_CLOEXEC | _O_NOFOLLOW
        try:
            fd = os.open(name, flags, mode, dir_fd=self.dir_fd)
        except FileExistsError:
            # Left by an earlier run of this same job (a crash): it is ours to remove.
            os.unlink(name, dir_fd=self.dir_fd)
            fd = os.open(name, flags, mode, dir_fd=self.dir_fd)
        temp = _Temp(name, fd)
        with self.temps_lock:
            self.temps[name] = temp
        return temp

    def discard(self, temp: _Temp, close: bool = True) -> None:
        """Remove a temp now: the name goes at once, a big file's blocks are freed off-thread.

        Only the fd's owner closes it (`close`): the copy thread for the temp
        it is writing, the committer for temps handed to it.
        """
        with self.temps_lock:
            self.temps.pop(temp.name, None)
            placed = temp.placed
        if not placed:
            try:
                os.unlink(temp.name, dir_fd=self.dir_fd)
            except OSError:
                pass
            if self.debug is not None:
                if self.debug.temp_unlinked is None:
                    self.debug.temp_unlinked = time.monotonic()
        if close:
            self.close_temp_fd(temp, discarded=not placed)

    def close_temp_fd(self, temp: _Temp, discarded: bool = False) -> None:
        fd, temp.fd = temp.fd, -1
        if fd < 0:
            return
        debug = self.debug if discarded else None
        if discarded and temp.written >= BACKGROUND_CLOSE_BYTES:
            # Freeing the blocks of a big unlinked file takes ~10-100 ms on ext4;
            # the name is already gone, so nobody can see the file any more.
            _REAPER.close(fd, debug)
        else:
            _close_quietly(fd, debug)

    # -- copying one frame into a temp and into place --
    def copy_one(self, plan: _Plan, st: os.stat_result, overwrite: bool, policy: ConflictPolicy, started: float) -> None:
        opened = self.preparer.take(plan.index) if self.preparer is not None else None
        if opened is None:
            opened = self.open_frame(plan)
        src_fd, before, temp, mode = opened.src_fd, opened.before, opened.temp, opened.mode
        handed_over = False
        try:
            hasher = new_hasher(self.algo) if self.hashing else None
            self.in_frame_bytes = 0
            if hasher is not None:
                self.copy_buffered(src_fd, temp, before.st_size, hasher)
            else:
                self.copy_zero(src_fd, temp, before.st_size)
            source_hash = hasher.hexdigest() if hasher is not None else None
            if self.opts.preserve:
                if self.umask is None or mode & self.umask:
                    os.fchmod(temp.fd, mode)  # open() applied the umask; cost avoided when it did not matter
                os.utime(temp.fd, ns=(before.st_atime_ns, before.st_mtime_ns))
            self.check_source_unchanged(plan, before)
            if self.hashing and os.fstat(temp.fd).st_size != before.st_size:
                raise VerificationError(self.dest_path(plan.final), "written size differs from the source", "retry")
            result = self.result(
                plan, FrameStatus.DONE, hash=source_hash, hash_algo=self.algo if source_hash else None
            )
            if self.committer is not None:
                # Small frames: start their writeback now, while the committer fsyncs
                # earlier ones. Not while copying (measured: writes then stall on pages
                # under writeback, up to 8 ms, which delays a cancel) nor for big frames.
                if plan.size <= WRITEBACK_KICK_MAX:
                    _start_writeback(temp.fd)
                self.committer.submit(_Finished(plan, temp, result, overwrite, policy, started))
                handed_over = True  # submit() set temp.submitted
                self.bytes_accounted += plan.size
                self.in_frame_bytes = 0
                return
            if self.opts.fsync:
                self.fsync_interruptible(temp.fd, temp.written)
            if self.opts.verify is VerifyMode.FULL:
                self.read_back(plan, temp, source_hash)
            self.place(temp, plan.final, overwrite)
            self.close_temp_fd(temp)
            result.elapsed = time.monotonic() - started
            self.bytes_accounted += plan.size
            self.in_frame_bytes = 0
            self.finish_frame(result, plan)
        except BaseException:
            if not handed_over:
                self.discard(temp)
            self.in_frame_bytes = 0
            raise
        finally:
            os.close(src_fd)

    def open_frame(self, plan: _Plan) -> _Opened:
        """Open the source and create the temp (in the copy thread, or ahead in the preparer)."""
        # O_NOFOLLOW when planning saw a plain file: a symlink swapped in since is refused.
        nofollow = _O_NOFOLLOW if plan.lst is not None and not stat.S_ISLNK(plan.lst.st_mode) else 0
        try:
            src_fd = os.open(plan.src, os.O_RDONLY | _O_CLOEXEC | nofollow)
        except OSError as exc:
            exc.vfx_side = "source"  # type: ignore[attr-defined]
            raise
        try:
            before = os.fstat(src_fd)
            if not stat.S_ISREG(before.st_mode):
                raise SourceChangedError(plan.src, "is no longer a regular file", "scan the sequence again")
            mode = stat.S_IMODE(before.st_mode) & 0o777 if self.opts.preserve else 0o666
            temp = self.new_temp(plan.index, mode)
        except BaseException:
            os.close(src_fd)
            raise
        return _Opened(src_fd, before, temp, mode)

    def fsync_interruptible(self, fd: int, size: int) -> None:
        """fsync, but flush the data in slices first so a cancel need not wait for all of it."""
        if _SYNC_FILE_RANGE is not None and size > SYNC_SLICE:
            for offset in range(0, size, SYNC_SLICE):
                self.check()
                if _SYNC_FILE_RANGE(fd, offset, SYNC_SLICE, _SYNC_FILE_RANGE_ALL) != 0:
                    break  # not supported here: a plain fsync below does it all
        os.fsync(fd)

    def check_source_unchanged(self, plan: _Plan, before: os.stat_result) -> None:
        """The path still names the same file (device, inode) with the same size and mtime."""
        try:
            after = os.stat(plan.src)
        except OSError:
            after = None
        if after is None or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            raise SourceChangedError(
                plan.src, "source changed while copying (moved, deleted or replaced)", "run the copy again"
            )
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise SourceChangedError(
                plan.src,
                "source changed while copying (size or modification time differ)",
                "wait until the file is completely written, then run the copy again",
            )

    def read_back(self, plan: _Plan, temp: _Temp, source_hash: str | None) -> None:
        """`full` verification: drop the temp's cached pages, read it from disk, compare."""
        _before_read_back(os.path.join(self.dest_dir, temp.name), temp.fd)
        try:
            os.posix_fadvise(temp.fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        dest_hash = self.hash_fd(temp.fd)
        if dest_hash != source_hash:
            raise VerificationError(
                self.dest_path(plan.final),
                f"read-back hash {dest_hash} differs from the source hash {source_hash}",
                "the destination disk may be failing; check it",
            )

    def place(self, temp: _Temp, final: str, overwrite: bool) -> None:
        """Give the temp its final name; never replaces an existing file unless `overwrite`."""
        if overwrite:
            os.replace(temp.name, final, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        else:
            try:
                rename_noreplace(temp.name, final, self.dir_fd)
            except FileExistsError as exc:
                raise _PlaceConflict(
                    FrameError(
                        self.dest_path(final),
                        "was created by another program while copying; it was left untouched",
                        "check it, then run the copy again",
                    ).message
                ) from exc
        temp.placed = True
        with self.temps_lock:
            self.temps.pop(temp.name, None)

    # -- the byte movers --
    def kick(self, temp: _Temp, written: int) -> None:
        """With fsync on, start writing a big frame to disk while the rest is copied.

        Measured on 500 MB: the final fsync drops from 0.24 s to 0.005 s (cp + sync
        cannot overlap). Steps of 2 MiB keep writes from stalling behind the
        writeback (2 MiB: writes wait <= 3 ms; 32 MiB: up to 15 ms). The call is
        made here, between two writes, on purpose: from a helper thread it ran
        concurrently with our writes, which then stalled and landed up to 23 ms
        after a cancel (5 of 50); here a slow call (rarely 20-40 ms when the disk
        queue is full) only delays noticing the cancel, and no byte follows it.
        """
        if written - temp.kicked >= WRITEBACK_KICK:
            _SYNC_FILE_RANGE(temp.fd, temp.kicked, written - temp.kicked, _SYNC_FILE_RANGE_WRITE)
            temp.kicked = written

    def after_chunk(self, temp: _Temp, n: int, elapsed: float, adapt: bool, wrote_at: float) -> None:
        """Account `n` bytes written into `temp` (the last write returned at `wrote_at`)."""
        temp.written += n
        self.in_frame_bytes += n
        self.bytes_copied += n
        now = time.monotonic()
        if self.debug is not None:
            self.debug.last_write_end = wrote_at
            self.debug.copy_calls += 1
            self.debug.calls.append((elapsed, n))
        if adapt and elapsed > 0:
            # Size chunks by time: aim for target_s per call, moving gently. Whole
            # 64 KiB only: a chunk that ends mid-page makes every later call copy partial
            # pages (measured: 30% slower copy_file_range).
            factor = min(2.0, max(0.5, self.target_s / elapsed))
            wanted = min(self.max_chunk, max(self.min_chunk, self.chunk * factor))
            self.chunk = max(self.min_chunk, int(wanted) // CHUNK_ALIGN * CHUNK_ALIGN)
        self.meter.add(self.bytes_copied, now)
        self.progress()
        self.throttle(n)

    def copy_zero(self, src_fd: int, temp: _Temp, size: int) -> None:
        offset = 0
        dst_fd = temp.fd
        while offset < size:
            self.check()
            want = min(self.chunk, size - offset)
            t0 = time.perf_counter()
            mode = self.zero_copy_mode
            try:
                if mode == "copy_file_range":
                    n = os.copy_file_range(src_fd, dst_fd, want, offset, offset)
                    if n == 0 and offset == 0:
                        # Some file systems (procfs, some FUSE) report 0: let read() decide.
                        self.zero_copy_mode = "readwrite"
                        continue
                elif mode == "sendfile":
                    os.lseek(dst_fd, offset, os.SEEK_SET)
                    n = os.sendfile(dst_fd, src_fd, offset, want)
                else:
                    view = self.buffer()[:want]
                    try:
                        n = os.preadv(src_fd, [view], offset)
                    except OSError as exc:
                        exc.vfx_side = "source"  # type: ignore[attr-defined]
                        raise
                    self.write_all(dst_fd, view[:n], offset)
            except OSError as exc:
                if exc.errno in _FALLBACK_ERRNOS and mode != "readwrite":
                    self.zero_copy_mode = "sendfile" if mode == "copy_file_range" else "readwrite"
                    self.log("info", f"{mode} not usable here ({exc.strerror}); using {self.zero_copy_mode}")
                    continue
                raise
            if n == 0:
                raise SourceChangedError(
                    self.current.src if self.current else "?",
                    "source changed while copying (it became shorter)",
                    "wait until the file is completely written, then run the copy again",
                )
            offset += n
            wrote_at = time.monotonic()
            elapsed = time.perf_counter() - t0
            if self.kick_writeback:
                self.kick(temp, offset)
            self.after_chunk(temp, n, elapsed, adapt=n >= want, wrote_at=wrote_at)

    def write_all(self, fd: int, view: memoryview, offset: int) -> None:
        done = 0
        while done < len(view):
            w = os.pwritev(fd, [view[done:]], offset + done)
            if w <= 0:
                raise OSError(errno.EIO, "short write")
            done += w

    def copy_buffered(self, src_fd: int, temp: _Temp, size: int, hasher: Hasher) -> None:
        """Read into one small buffer, hash that buffer, write that same buffer (every count checked).

        The buffer is small (SUB_CHUNK) so that the bytes read are still in the
        CPU cache when they are hashed and written: measured here, this uses
        about half the CPU of multi-MiB buffers. Progress and the chunk timing
        work on time-sized groups of sub-chunks; the token is looked at before
        every sub-chunk, so a cancel stops the writes within one sub-chunk.
        """
        offset = 0
        view = self.buffer()[:SUB_CHUNK]
        token = self.token
        kick = self.kick_writeback and size > WRITEBACK_KICK
        src = self.current.src if self.current else "?"
        while offset < size:
            self.check()
            want = min(self.chunk, size - offset)
            end = offset + want
            t0 = time.perf_counter()
            pos = offset
            wrote_at = 0.0
            while pos < end and not token.cancelled:
                try:
                    n = os.preadv(src_fd, [view[: min(SUB_CHUNK, end - pos)]], pos)
                except OSError as exc:
                    exc.vfx_side = "source"  # type: ignore[attr-defined]
                    raise
                if n == 0:
                    raise SourceChangedError(
                        src,
                        "source changed while copying (it became shorter)",
                        "wait until the file is completely written, then run the copy again",
                    )
                chunk = view[:n]
                hasher.update(chunk)
                self.write_all(temp.fd, chunk, pos)
                wrote_at = time.monotonic()
                pos += n
                if kick:
                    self.kick(temp, pos)
            if pos > offset:
                self.after_chunk(temp, pos - offset, time.perf_counter() - t0, adapt=pos == end, wrote_at=wrote_at)
            offset = pos

    # -- committer (fsync overlapped with copying) --
    def drain_committer(self) -> None:
        committer = self.committer
        if committer is None:
            return
        stop: Exception | None = None
        for fin, error in committer.take_done():  # record every one before stopping
            if fin.result.status is not FrameStatus.DONE or error is not None:
                self.bytes_accounted -= fin.plan.size  # counted at submit; finish_frame adds it back
            if error is None:
                self.finish_frame(fin.result, fin.plan)
                continue
            res = fin.result
            res.status = FrameStatus.FAILED
            res.hash = res.hash_algo = None
            if error[1] in _DISK_FULL_ERRNOS:
                res.error = self.disk_full_message(fin.plan)
                self.finish_frame(res, fin.plan)
                stop = stop or _DiskFull(res.error)  # logged once, by run()
                continue
            res.error = error[0]
            self.finish_frame(res, fin.plan)
            self.log("error", error[0])
            if self.opts.stop_on_error:
                stop = stop or _StopOnError(f"stopped at the first error: {error[0]}")
        if stop is not None:
            raise stop

    def abort_or_finish_committer(self) -> None:
        """A clean stop: frames already complete are still put in place; nothing else is left."""
        if self.committer is not None:
            try:
                self.committer.finish(self)
                self.drain_committer()
                if self.dir_fd >= 0:
                    os.fsync(self.dir_fd)
            except (Cancelled, _DiskFull, _StopOnError):
                pass
        self.abort()

    def abort(self) -> None:
        """Cancel path: remove every temp not yet in place; frames already placed count as done."""
        if self.preparer is not None:
            self.preparer.stop()  # its temps are in self.temps: removed below
        if self.committer is not None:
            for fin, error in self.committer.abort():
                if error is not None:
                    fin.result.status = FrameStatus.FAILED
                    fin.result.error = error[0]
                self.results[fin.plan.index] = fin.result
                self.counts[fin.result.status] += 1
                self.report(fin.result)
        with self.temps_lock:
            temps = list(self.temps.values())
        for temp in temps:
            self.discard(temp, close=not temp.submitted)

    def close_dir(self) -> None:
        if self.dir_fd >= 0:
            if self.committer is not None:
                # A cancelled job's committer may still be discarding temps through
                # dir_fd; it closes the folder when it is done.
                self.committer.close_dir_later(self.dir_fd)
            else:
                os.close(self.dir_fd)
                self.dir_fd = -1


class _JobLevelError(Exception):
    pass


class _PlaceConflict(Exception):
    pass


def _process_umask() -> int | None:
    """This process's umask without changing it (os.umask would race with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return None


class _Reaper:
    """One daemon thread that closes discarded temps (the slow part: freeing their blocks)."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[tuple[int, CopyDebug | None]] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def close(self, fd: int, debug: CopyDebug | None) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.loop, daemon=True, name="vfxcopy-reaper")
                self.thread.start()
        self.queue.put((fd, debug))

    def loop(self) -> None:
        while True:
            fd, debug = self.queue.get()
            _close_quietly(fd, debug)


_REAPER = _Reaper()


def _close_quietly(fd: int, debug: CopyDebug | None) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
    if debug is not None:
        debug.temp_closed_at = time.monotonic()
        debug.temp_closed.set()


def _before_read_back(path: str, fd: int) -> None:
    """Test hook: called between fsync and the read-back of `full` verification."""


class _Preparer:
    """Background thread: opens the next sources and creates their temps ahead of the copy thread.

    Creating a file is the most expensive step of a small frame on ext4 (about
    half of the system time); doing it for frame N+1 while frame N is copied
    overlaps it. At most PREPARE_AHEAD frames are ready at a time; each temp is
    registered in the job's temps as soon as it exists, so every exit path
    removes it. Only frames whose final name was free at the start are prepared.
    """

    def __init__(self, job: _Job, plans: list[_Plan]) -> None:
        self.job = job
        self.plans = plans
        self.indexes = {p.index for p in plans}
        self.cond = threading.Condition()
        self.ready: dict[int, _Opened | BaseException] = {}
        self.stopped = False
        self.thread = threading.Thread(target=self.loop, daemon=True, name=f"vfxcopy-prepare-{job.job_id}")
        self.thread.start()

    def loop(self) -> None:
        for plan in self.plans:
            with self.cond:
                while len(self.ready) >= PREPARE_AHEAD and not self.stopped:
                    self.cond.wait()
                if self.stopped:
                    return
            item: _Opened | BaseException
            try:
                item = self.job.open_frame(plan)
            except Exception as exc:  # noqa: BLE001 - handed to the copy thread, raised there
                item = exc
            with self.cond:
                self.ready[plan.index] = item
                self.cond.notify_all()
                if self.stopped:
                    return

    def take(self, index: int) -> _Opened | None:
        """The prepared frame `index` (raising what preparing it raised), or None: open it inline."""
        if index not in self.indexes:
            return None
        self.indexes.discard(index)
        while True:
            with self.cond:
                item = self.ready.pop(index, None)
                if item is not None:
                    self.cond.notify_all()
                elif not self.thread.is_alive():
                    return None
                else:
                    self.cond.wait(0.005)
            if item is None:
                self.job.check()  # (raises Cancelled while waiting)
                continue
            if isinstance(item, BaseException):
                raise item
            return item

    def stop(self) -> None:
        """Stop preparing; close the sources of frames prepared but not taken (their temps
        are in the job's temps and are removed with them)."""
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
        self.thread.join()
        with self.cond:
            left, self.ready = list(self.ready.values()), {}
        for item in left:
            if isinstance(item, _Opened):
                os.close(item.src_fd)
                self.job.discard(item.temp)


class _Committer:
    """Background thread: fsync finished temps in order, place them, fsync the folder per batch.

    Overlaps the (slow) fsync of frame N with copying frames N+1... The copy
    thread drains `take_done()` and reports, so every event comes from one thread.
    On cancel, `abort()` unlinks the names of everything not yet placed; a
    placement is atomic with respect to `abort()` (one lock), so a frame is
    either in place and reported DONE or gone.
    """

    def __init__(self, job: _Job) -> None:
        self.job = job
        self.dir_fd = job.dir_fd
        self.queue: queue.Queue[_Finished | None] = queue.Queue()
        self.lock = threading.Lock()
        self.space = threading.Condition(self.lock)
        self.pending: list[_Finished] = []  # submitted, not yet placed
        self.pending_bytes = 0
        self.placed: list[_Finished] = []  # placed, folder not yet fsynced
        self.done: list[tuple[_Finished, tuple[str, int | None] | None]] = []
        self.aborted = False
        self.dirty = False  # names placed since the last folder fsync
        self.exited = False
        self.dir_fd_to_close: int | None = None
        self.thread = threading.Thread(target=self.loop, daemon=True, name=f"vfxcopy-commit-{job.job_id}")
        self.thread.start()

    def alive(self) -> bool:
        return self.thread.is_alive()

    def submit(self, fin: _Finished) -> None:
        with self.space:
            while len(self.pending) >= COMMIT_QUEUE_FRAMES or (
                self.pending and self.pending_bytes + fin.plan.size > COMMIT_QUEUE_BYTES
            ):
                self.space.wait(0.005)
                if self.job.token.cancelled:
                    # The caller's cancel path discards this temp; it is not ours yet.
                    raise Cancelled()
            self.pending.append(fin)
            self.pending_bytes += fin.plan.size
            fin.temp.submitted = True
        self.queue.put(fin)

    def take_done(self) -> list[tuple[_Finished, tuple[str, int | None] | None]]:
        with self.lock:
            out, self.done = self.done, []
        return out

    def finish(self, job: _Job) -> None:
        """Wait for everything submitted to be placed and the folder fsynced; cancellable."""
        self.queue.put(None)
        while self.thread.is_alive():
            self.thread.join(0.005)
            job.check()  # cancel, and pause (reported) while the last frames are made durable

    def abort(self) -> list[tuple[_Finished, tuple[str, int | None] | None]]:
        """Stop: no more placements; unplaced temps are dropped (the copy thread unlinks
        their names at once). Returns the frames already settled (placed, skipped, failed)."""
        with self.lock:
            self.aborted = True
            self.space.notify_all()
            settled = self.done + [(fin, None) for fin in self.placed]
            self.done, self.placed = [], []
        self.queue.put(None)
        return settled

    def close_dir_later(self, fd: int) -> None:
        with self.lock:
            if not self.exited:
                self.dir_fd_to_close = fd
                return
        os.close(fd)

    def flush_dir(self) -> None:
        """Make the placed names durable, then hand those frames back as done."""
        if not self.dirty:
            return
        try:
            os.fsync(self.dir_fd)
        except OSError as exc:
            # The files themselves are on disk; the job's final folder fsync retries.
            self.job.dir_sync_error = str(exc)
        with self.lock:
            self.dirty = False
            if not self.aborted:
                self.done.extend((fin, None) for fin in self.placed)
                self.placed = []

    def commit_one(self, fin: _Finished) -> None:
        """fsync one finished temp and put it in place, unless the job was aborted meanwhile."""
        job = self.job
        dest = job.dest_path(fin.plan.final)
        error: tuple[str, int | None] | None = None
        try:
            os.fsync(fin.temp.fd)
        except OSError as exc:
            error = (_explain(exc, dest, "destination"), exc.errno)
        placed_now = False
        with self.lock:
            if not self.aborted and error is None:
                try:
                    job.place(fin.temp, fin.plan.final, fin.overwrite)
                    placed_now = True
                except _PlaceConflict as exc:
                    if fin.policy is ConflictPolicy.SKIP:
                        fin.result.status = FrameStatus.SKIPPED
                        fin.result.hash = fin.result.hash_algo = None
                        self.done.append((fin, None))
                    else:
                        error = (str(exc), None)
                except OSError as exc:
                    error = (_explain(exc, dest, "destination"), exc.errno)
            if fin in self.pending:
                self.pending.remove(fin)
                self.pending_bytes -= fin.plan.size
            self.space.notify_all()
            if placed_now:
                fin.result.elapsed = time.monotonic() - fin.started
                self.placed.append(fin)
                self.dirty = True
            elif not self.aborted and error is not None:
                self.done.append((fin, error))
        if placed_now:
            _close_quietly(fin.temp.fd, None)
            fin.temp.fd = -1
        else:
            job.discard(fin.temp)

    def loop(self) -> None:
        try:
            while True:
                fin = self.queue.get()
                if fin is None:
                    break
                if self.aborted:
                    self.drop(fin)
                    continue
                try:
                    self.commit_one(fin)
                except Exception as exc:  # noqa: BLE001 - a bug must fail the frame, not lose it silently
                    with self.lock:
                        if not self.aborted:
                            self.done.append((fin, (f"{fin.plan.src}: unexpected error {exc!r}", None)))
                    self.job.discard(fin.temp)
                if len(self.placed) >= DIR_FSYNC_BATCH or self.queue.empty():
                    self.flush_dir()
            self.flush_dir()
        finally:
            with self.lock:
                self.exited = True
                fd, self.dir_fd_to_close = self.dir_fd_to_close, None
            if fd is not None:
                os.close(fd)

    def drop(self, fin: _Finished) -> None:
        with self.lock:
            if fin in self.pending:
                self.pending.remove(fin)
                self.pending_bytes -= fin.plan.size
        self.job.discard(fin.temp)


def copy_sequence(
    spec: JobSpec, token: CancelToken, report: Reporter, *, debug: CopyDebug | None = None
) -> JobResult:
    """Copy `spec.source` (its selected frames) into `spec.dest_dir`; see the module docstring.

    Raises SafetyError before touching anything if the request could damage
    data; every other problem is reported per frame (or, for a full disk or an
    unusable destination, once for the job) in the returned JobResult.
    """
    check_job(spec)
    return _Job(spec, token, report, debug).run()
