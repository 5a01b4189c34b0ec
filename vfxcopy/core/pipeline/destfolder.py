"""The destination folder: made (knowing whether this run made it), read once, swept of the
temporaries of runs that died there; and what file system it is on.

A run's own temps live in its private folder (temps.py). What a dead run left is a folder
`.vfxcopy-<job>-<nonce>.part` nobody holds locked (or a staging folder `….new` older than a
minute, or a plain temp file of vfxcopy 0.1): `sweep` removes those, never a link's target,
never a folder a live run holds. On shared storage another machine's lock is not seen, so
there only the job's own leftovers are swept (`locks_are_trustworthy`).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time

from vfxcopy.core.jobs import TEMP_PREFIX, is_temp_name
from vfxcopy.core.pipeline.temps import STAGING_SUFFIX
from vfxcopy.core.roundtrips import fs_type, is_shared_fs

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
SWEEP_MIN_AGE_S = 0.0  # runs lock their folder before it gets its temp name (see temps.TempArea)
STAGING_MIN_AGE_S = 60.0


def _locked_by_live_run(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    return False


def make_folder(path: str) -> bool:
    """Make the folder `path` and any missing parents; True if this call made `path` itself
    (False: it was there already, or something else is at that name: opening it says what)."""
    try:
        os.mkdir(path)
        return True
    except FileExistsError:
        return False
    except FileNotFoundError:
        parent = os.path.dirname(path.rstrip(os.sep))  # as written: "a/../b" needs "a" made too
        if not parent or parent == path:
            raise
        os.makedirs(parent, exist_ok=True)
    try:
        os.mkdir(path)
        return True
    except FileExistsError:  # made meanwhile by another run
        return False


def sweep(
    dest_dir: str,
    job_id: str | None = None,
    *,
    min_age: float = SWEEP_MIN_AGE_S,
    dry_run: bool = False,
    files: bool = True,
) -> list[str]:
    """Remove vfxcopy's temporaries in `dest_dir` left by runs that died; returns their paths.

    Only names vfxcopy makes (`.vfxcopy-<job>-….part`), only of `job_id` when given,
    never a folder a live run holds locked, never a link (it is unlinked, not followed),
    and not a folder younger than `min_age` seconds (a run may be creating it).
    With `dry_run`, says what it would remove and removes nothing. `files=False` leaves
    plain temp files (vfxcopy 0.1's, which carry no lock) alone.
    """
    if not dest_dir:
        return []
    try:
        dir_fd = os.open(dest_dir, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    except OSError:
        return []
    try:
        try:
            names = os.listdir(dir_fd)
        except OSError:
            return []
        gone = sweep_listed(dir_fd, names, job_id, min_age=min_age, dry_run=dry_run, files=files)
        return [os.path.join(dest_dir, name) for name in gone]
    finally:
        os.close(dir_fd)


def sweep_listed(
    dir_fd: int,
    names: list[str],
    job_id: str | None = None,
    *,
    min_age: float = SWEEP_MIN_AGE_S,
    dry_run: bool = False,
    files: bool = True,
) -> list[str]:
    """`sweep` of the folder open at `dir_fd`, whose listing the caller already has (`names`);
    returns the names it removed. A run reads its destination once for this and for its conflict
    checks (on a network file system each listing is several round trips)."""
    removed: list[str] = []
    now = time.time()
    for name in names:
        if not name.startswith(TEMP_PREFIX):  # every name below is one of ours: one test for all the others
            continue
        if _is_stale_staging(name, job_id, dir_fd, now):
            if not dry_run and _remove_dead_area(name, dir_fd):
                removed.append(name)
            continue
        if not is_temp_name(name, job_id):
            continue
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            if not files:
                continue
            try:  # a temp file of vfxcopy 0.1, or a link planted at a temp name: remove the name
                if not dry_run:
                    os.unlink(name, dir_fd=dir_fd)
                removed.append(name)
            except OSError:
                pass
            continue
        if now - st.st_mtime < min_age:
            continue
        if _remove_dead_area(name, dir_fd, dry_run):
            removed.append(name)
    return removed


def _is_stale_staging(name: str, job_id: str | None, dir_fd: int, now: float) -> bool:
    prefix = f"{TEMP_PREFIX}{job_id}-" if job_id else TEMP_PREFIX
    if not (name.startswith(prefix) and name.endswith(STAGING_SUFFIX)):
        return False
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and now - st.st_mtime >= STAGING_MIN_AGE_S


def _remove_dead_area(name: str, dir_fd: int, dry_run: bool = False) -> bool:
    try:
        fd = os.open(name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        if _locked_by_live_run(fd):
            return False
        if dry_run:
            return True
        for entry in os.listdir(fd):
            try:
                st = os.stat(entry, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    import shutil  # rarely: not at every copy's start (1 ms with zlib)

                    shutil.rmtree(entry, dir_fd=fd)  # not made by us; rmtree never follows links
                else:
                    os.unlink(entry, dir_fd=fd)
            except OSError:
                pass
        os.rmdir(name, dir_fd=dir_fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def locks_are_trustworthy(path: str, fstype: str | None = None) -> bool:
    """True when `path` (on a file system of type `fstype`, found when not given) is on a local
    file system, where a run's flock proves it is alive."""
    if fstype is None:
        fstype = fs_type(path)
    return bool(fstype) and not is_shared_fs(fstype)
