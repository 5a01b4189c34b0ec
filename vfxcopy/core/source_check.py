"""Source verification: after a copy, read every source again and compare it with what was copied.

This is the check offload tools make before a card is wiped. Each file copied in
this run is read back from its source (its cached pages dropped first, so the
bytes come from the medium where the kernel allows it) and hashed with the job's
algorithm; the digest must equal the one taken while the bytes were copied (the
destination was written from, and verified against, that digest). When the
source carries an ASC MHL history (`SRC/ascmhl/`, nested ones included), each
file it lists must also match the hash recorded there. The destination's own
manifest then continues that history: a tree copy brings the `ascmhl/` folders
along, and the job's generation is appended to them.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable

from vfxcopy.core.jobs import CancelToken, FrameResult, FrameStatus, JobSpec, LogMessage, Reporter

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _drop_cache(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _O_CLOEXEC)
    except OSError:
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except (OSError, AttributeError):
        pass
    finally:
        os.close(fd)


def _load_history(spec: JobSpec, report: Reporter) -> object | None:
    from vfxcopy.core.errors import ManifestError
    from vfxcopy.core.verify import MHL_FOLDER, load_history

    root = spec.source.directory
    if not os.path.isdir(os.path.join(root, MHL_FOLDER)):
        return None
    try:
        history = load_history(root)
    except ManifestError as exc:
        report(LogMessage(spec.job_id, "warning", f"the source's ASC MHL history cannot be read ({exc}); "
                          "checking against the copy's own hashes only"))
        return None
    report(LogMessage(spec.job_id, "info", f"{root}: checking the source against its ASC MHL history "
                      f"({len(history.generations)} generations)"))
    return history


def verify_sources(spec: JobSpec, frames: Iterable[FrameResult], report: Reporter, token: CancelToken) -> list[FrameResult]:
    """Re-read the sources of the frames copied now; fail (and report again) each that differs. Returns those.

    Raises Cancelled when `token` is cancelled.
    """
    from vfxcopy.core.verify import MHL_FORMAT

    history = _load_history(spec, report)
    records = getattr(history, "records", {})
    root = spec.source.directory
    failed: list[FrameResult] = []
    for fr in frames:
        token.check()
        if fr.status is not FrameStatus.DONE or not fr.hash or fr.hash_algo not in MHL_FORMAT:
            continue  # skipped (not copied now), failed, or a link (no bytes)
        fmt = MHL_FORMAT[fr.hash_algo]
        problem = None
        try:
            now = _read_again(spec.group, fr.source, fmt, token)
        except OSError as exc:
            problem = f"cannot be read again ({exc.strerror}); the source may be failing or was removed"
        else:
            if now != fr.hash:
                problem = (f"reads back differently after the copy ({fmt} {now}, copied {fr.hash}): the source "
                           "changed or its medium is unreliable; do not wipe it, copy it again")
            else:
                rel = os.path.relpath(fr.source, root).replace(os.sep, "/")
                record = records.get(rel)
                if record is not None:
                    theirs = now if record.hash_format == fmt else _hash_or_none(fr.source, record.hash_format, token)
                    if theirs is not None and theirs.lower() != record.hash.lower():
                        problem = (f"differs from the source's ASC MHL history (generation {record.generation}: "
                                   f"{record.hash_format} {record.hash}, read now {theirs}); the source changed "
                                   "since it was first offloaded: do not wipe it")
        if problem is None:
            continue
        fr.status = FrameStatus.FAILED
        fr.error = f"{fr.source}: {problem}"
        fr.hash = fr.hash_algo = None  # not a verified copy: kept out of the manifest
        failed.append(fr)
        report(LogMessage(spec.job_id, "error", fr.error))
        report(fr)
    return failed


_SHARED_MAX = 200_000  # remembered re-reads of a fan-out group's sources (oldest dropped first)
_shared_lock = threading.Lock()
_shared: OrderedDict[tuple[str, str, str], tuple[tuple[int, ...], str]] = OrderedDict()
_reading: dict[tuple[str, str, str], threading.Lock] = {}


def _stat_key(path: str) -> tuple[int, ...]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_again(group: str | None, path: str, fmt: str, token: CancelToken) -> str:
    """The source's hash read from its medium now; once for all the destinations of a fan-out group.

    A member of a group reuses what another member read, as long as the file is still the one
    that was read (device, inode, size, modification and change time): the card is read once.
    """
    from vfxcopy.core.verify import hash_path

    if group is None:
        _drop_cache(path)
        return hash_path(path, fmt, token)
    key = (group, path, fmt)
    with _shared_lock:
        lock = _reading.setdefault(key, threading.Lock())
    with lock:  # a member reading it now finishes first; the others then take its result
        with _shared_lock:
            known = _shared.get(key)
        if known is not None and known[0] == _stat_key(path):
            return known[1]
        try:
            before = _stat_key(path)
            _drop_cache(path)
            digest = hash_path(path, fmt, token)
            if _stat_key(path) == before:
                with _shared_lock:
                    _shared[key] = (before, digest)
                    while len(_shared) > _SHARED_MAX:
                        _shared.popitem(last=False)
        finally:
            with _shared_lock:
                _reading.pop(key, None)
        return digest


def _hash_or_none(path: str, fmt: str, token: CancelToken) -> str | None:
    from vfxcopy.core.verify import hash_path

    try:
        return hash_path(path, fmt, token)
    except (OSError, ValueError):
        return None
