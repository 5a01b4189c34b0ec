"""Writing manifests and reports safely: recognisable temps, fsync, no-clobber placing, a lock that leaves nothing.

Every file vfxcopy writes into `<dest>/ascmhl/` goes through `write_files`:
each is written to `.vfxcopy-mhl-<pid>-<random>.tmp` (created exclusively,
never through a link), fsynced, and only then put in place — new names
without clobbering (link + unlink), the chain file by an atomic replace.
On any failure (ENOSPC above all) every temp and every file already placed
by that call is removed, and `ManifestError` says which file, why and what to
do. A kill in the middle leaves at most temps, which `sweep_leftovers` (run by
the next manifest write and by `vfxcopy clean DEST`) recognises by name.

Generations are serialised with `flock` on the `ascmhl/` folder's own file
descriptor, so no lock file exists at all; the wait for another process's lock
is taken in short steps that honour the job's CancelToken (and so SIGTERM).
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from vfxcopy.core.errors import Cancelled, ManifestError
from vfxcopy.core.jobs import CancelToken
from vfxcopy.core.outfile import create_temp, fill_temp

MHL_FOLDER = "ascmhl"
TEMP_PREFIX = ".vfxcopy-mhl-"
TEMP_SUFFIX = ".tmp"
# Leftovers of older vfxcopy versions: the lock file every verified destination kept,
# and the manifest temps `.vfxcopy-<pid>-<final name>.tmp` a kill could leave.
OLD_LOCK_FILE = ".vfxcopy-mhl.lock"
_OLD_TEMP = re.compile(
    r"^\.vfxcopy-\d+-(?:ascmhl_chain\.xml|\d{4,}_.*\.mhl|vfxcopy_report_[0-9a-f]+\.(?:html|csv))\.tmp$"
)
_TEMP = re.compile(r"^\.vfxcopy-mhl-(\d+)-[0-9a-f]{16}\.tmp$")
LOCK_POLL = 0.05  # seconds between tries for a lock another process holds
LOCK_TIMEOUT = 300.0
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def is_manifest_temp(name: str) -> bool:
    """True for a temp name of this or an older vfxcopy manifest/report write."""
    return bool(_TEMP.match(name) or _OLD_TEMP.match(name))


def _temp_name() -> str:
    # os.urandom, which secrets.token_hex reads too: importing secrets (random, hmac, base64)
    # took 1.5 ms of every verified copy.
    return f"{TEMP_PREFIX}{os.getpid()}-{os.urandom(8).hex()}{TEMP_SUFFIX}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def sweep_leftovers(
    dest_dir: str | os.PathLike[str], token: CancelToken | None = None, lock_timeout: float = 10.0
) -> list[str]:
    """Remove vfxcopy's own manifest leftovers in `dest_dir/ascmhl/`; returns the paths removed.

    Removed: manifest/report temps of a killed write, and the lock file of older
    versions when no process holds it. Nothing that is not vfxcopy's own by name
    (and a regular file, not a link) is ever touched. Taken under the manifest
    lock, so no writer is between writing a temp and placing it; a temp of a
    process still running on this machine is kept all the same. Raises
    ManifestError if another writer holds the lock for `lock_timeout` s.
    """
    folder = os.path.join(dest_dir, MHL_FOLDER)
    if not os.path.isdir(folder) or os.path.islink(folder):
        return []
    with manifest_lock(folder, token, lock_timeout):
        return sweep_locked(folder)


def sweep_locked(folder: str, keep_live: bool = True, names: list[str] | None = None) -> list[str]:
    """`sweep_leftovers` for a caller that holds the manifest lock of `folder` already (and, in
    `names`, maybe its listing: on a network file system each listing is several round trips)."""
    removed: list[str] = []
    if names is None:
        try:
            names = os.listdir(folder)
        except OSError:
            return removed
    for name in sorted(names):
        path = os.path.join(folder, name)
        if name == OLD_LOCK_FILE:
            if _remove_stale_lock(path):
                removed.append(path)
            continue
        if not is_manifest_temp(name):
            continue
        match = _TEMP.match(name)
        if keep_live and match and _pid_alive(int(match.group(1))):
            continue
        if _unlink_regular(path):
            removed.append(path)
    if removed:
        fsync_dir(folder)
    return removed


def _unlink_regular(path: str) -> bool:
    try:
        if not os.path.islink(path) and os.path.isfile(path):
            os.unlink(path)
            return True
    except OSError:
        pass  # gone meanwhile, or not ours to remove: leave it
    return False


def _remove_stale_lock(path: str) -> bool:
    """Remove an old-style lock file only if nobody holds it (flock it first, non-blocking)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not os.path.samestat(os.fstat(fd), os.lstat(path)) or not os.path.isfile(path):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # an older vfxcopy is writing a generation right now
        os.unlink(path)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | _O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the files themselves are durable
    finally:
        os.close(fd)


# -- the lock ----------------------------------------------------------------


@contextmanager
def manifest_lock(
    folder: str | os.PathLike[str], token: CancelToken | None = None, timeout: float = LOCK_TIMEOUT
) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (the ascmhl folder) without creating any file.

    Raises Cancelled when `token` is cancelled while waiting, ManifestError after `timeout` s.
    """
    import fcntl

    try:
        fd = os.open(folder, os.O_RDONLY | _O_CLOEXEC | _O_DIRECTORY | _O_NOFOLLOW)
    except OSError as exc:
        raise ManifestError(f"{os.fspath(folder)}: cannot open the ASC MHL folder to lock it ({exc.strerror}); "
                            "check that it is a folder you can read") from exc
    try:
        waited_from = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno in (errno.ENOLCK, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF):
                    # The file system cannot lock folders (some network mounts): go on unlocked
                    # rather than fail every manifest there; two jobs finishing at the very same
                    # moment could then both pick the same generation number.
                    break
                raise ManifestError(f"{folder}: cannot lock the ASC MHL folder ({exc.strerror})") from exc
            if token is not None and token.cancelled:
                raise Cancelled()
            waited = time.monotonic() - waited_from
            if waited >= timeout:
                raise ManifestError(
                    f"{folder}: another process has been writing an ASC MHL generation here for {waited:.0f} s "
                    "(its lock is still held); no manifest was written. Wait for that job to finish (see "
                    "`vfxcopy jobs`, or `fuser -v` on the folder), then run the copy again or `vfxcopy verify`"
                )
            # A plain sleep, not token.wait(): a signal handler that cancels the token may run
            # in this very thread, and Event.wait could hold the lock that cancel() needs.
            time.sleep(LOCK_POLL)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock, also when the process dies


# -- writing -----------------------------------------------------------------

_WHAT_TO_DO = {
    errno.ENOSPC: "the destination is full: free some space, then run the job again (frames in place are kept)",
    errno.EDQUOT: "the disk quota is exhausted: free some space, then run the job again",
    errno.EACCES: "no permission to write there: fix the folder's permissions, then run the job again",
    errno.EPERM: "no permission to write there: fix the folder's permissions, then run the job again",
    errno.EROFS: "the destination is read-only: remount it writable, then run the job again",
    errno.EEXIST: "a file of that name appeared meanwhile: run the job again for a new generation",
}


def manifest_error(path: str | os.PathLike[str], what: str, exc: OSError) -> ManifestError:
    """ManifestError with the path, the cause and what the user can do."""
    hint = _WHAT_TO_DO.get(exc.errno or 0, "check the destination, then run the job again")
    return ManifestError(f"{os.fspath(path)}: cannot write {what} ({exc.strerror or exc}); nothing partial "
                         f"was left; {hint}")


def _write_temp(folder: str, data: bytes, token: CancelToken | None) -> str:
    """`data` in a new temporary of `folder`, named as the leftovers sweep knows them."""
    tmp = os.path.join(folder, _temp_name())
    fill_temp(create_temp(tmp), tmp, data, token.check if token is not None else None)
    return tmp


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _place_new(tmp: str, final: str) -> None:
    """Rename `tmp` to `final` without ever replacing an existing `final`."""
    try:
        os.link(tmp, final)  # fails with EEXIST instead of clobbering
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK):
            raise
        # No hard links on this file system (exFAT, some SMB mounts): check, then rename,
        # under the manifest lock that every vfxcopy writer of this folder takes.
        if os.path.lexists(final):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), final) from None
        os.rename(tmp, final)
        return
    os.unlink(tmp)


def write_files(
    folder: str | os.PathLike[str],
    files: list[tuple[str, bytes, bool]],
    what: str,
    token: CancelToken | None = None,
) -> list[str]:
    """Write (name, data, replace) files into `folder` all or nothing; returns their final paths.

    Every temp is written and fsynced before the first is put in place; `replace`
    False never overwrites an existing file. On failure nothing this call wrote stays.
    """
    base = os.fspath(folder)
    temps: list[str] = []
    placed: list[str] = []
    current = base
    try:
        for name, data, _replace in files:
            current = os.path.join(base, name)
            temps.append(_write_temp(base, data, token))
        if token is not None:
            token.check()
        for (name, _data, replace), tmp in zip(files, temps, strict=True):
            current = os.path.join(base, name)
            if replace:
                os.replace(tmp, current)
            else:
                _place_new(tmp, current)
            placed.append(current)
    except OSError as exc:
        _undo(temps, placed, files)
        raise manifest_error(current, what, exc) from exc
    except BaseException:
        _undo(temps, placed, files)
        raise
    fsync_dir(base)
    return placed


def _undo(temps: list[str], placed: list[str], files: list[tuple[str, bytes, bool]]) -> None:
    for tmp in temps:
        _unlink_quiet(tmp)
    replaced = {name for name, _d, replace in files if replace}
    for path in placed:
        if os.path.basename(path) not in replaced:  # a replaced file (the chain) cannot be put back; new ones go
            _unlink_quiet(path)
