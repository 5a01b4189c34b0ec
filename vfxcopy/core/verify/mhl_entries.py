"""The manifest's entries for a job's frames: what each copied frame is, from what its copy measured."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable

from vfxcopy.core.jobs import CancelToken, FrameResult, FrameStatus
from vfxcopy.core.verify.hashes import MHL_FORMAT, hash_path
from vfxcopy.core.verify.mhl_write import ManifestEntry

_BYTES_A_NAME = 32  # a folder's size for each name it holds, about (ext4 and tmpfs; more on btrfs)
_LOOK_FACTOR = 4  # the frames are looked at one by one where the folder holds this many times more names


def entries_from_frames(
    root: str, frames: Iterable[FrameResult], token: CancelToken | None = None
) -> tuple[list[ManifestEntry], list[str]]:
    """Manifest entries for the frames in place (done or skipped), using the copy's hashes.

    A frame without a recorded hash (skipped by name, without hashing) is hashed
    now; every other frame is not read again. Returns (entries, problems).
    Raises Cancelled when `token` is cancelled.
    """
    entries: list[ManifestEntry] = []
    problems: list[str] = []
    prefix = os.path.join(os.path.abspath(root), "")
    frames = list(frames)
    placed = Counter(fr.dest.rpartition(os.sep)[0] for fr in frames
                     if fr.status is FrameStatus.DONE and fr.dest and fr.dest_stat is not None)
    look_each = {folder: _few_in_many(folder, count) for folder, count in placed.items()}
    listings: dict[str, set[str]] = {}
    for fr in frames:
        if token is not None:
            token.check()
        if fr.status not in (FrameStatus.DONE, FrameStatus.SKIPPED) or not fr.dest:
            continue
        # A frame this job wrote: the size and mtime its copy measured, once it is seen in place (see
        # _in_place); any other: a stat now.
        made = fr.dest_stat if fr.status is FrameStatus.DONE else None
        if made is not None and _in_place(fr.dest, listings, look_each):
            seconds, nanoseconds = divmod(made[1], 1_000_000_000)
            size, mtime = made[0], seconds + nanoseconds * 1e-9  # as os.stat's st_mtime is computed
        else:
            try:
                st = os.stat(fr.dest)
            except OSError as exc:
                problems.append(f"{fr.dest}: not in place for the manifest ({exc.strerror})")
                continue
            size, mtime = st.st_size, st.st_mtime
        rel = _relative(fr.dest, prefix) if os.sep == "/" else None
        if rel is None:
            rel = os.path.relpath(fr.dest, root).replace(os.sep, "/")
        if fr.hash and fr.hash_algo in MHL_FORMAT:
            fmt, digest = MHL_FORMAT[fr.hash_algo], fr.hash
        else:
            fmt = MHL_FORMAT.get(fr.hash_algo or "xxh3", "xxh128")
            try:
                digest = hash_path(fr.dest, fmt, token)
            except OSError as exc:
                problems.append(f"{fr.dest}: cannot be read for the manifest ({exc.strerror})")
                continue
        entries.append(ManifestEntry(rel, size, mtime, fmt, digest, fresh=fr.status is FrameStatus.DONE))
    return entries, problems


def _few_in_many(folder: str, placed: int) -> bool:
    """Whether the `placed` files are few beside what `folder` holds, so that looking at each costs
    less than listing it all (100 frames delivered into a folder of 10,600: on a network file system
    the listing took 60-100 ms, the looks a few). A folder's size grows with its names (ext4 a block
    per 100-200, tmpfs 20 bytes a name, btrfs twice the name, ZFS one a name: a small estimate there,
    so the folder is listed, as before)."""
    try:
        size = os.stat(folder or os.sep).st_size
    except OSError:
        return True  # the listing would fail too: each frame is looked at and named
    return placed * _LOOK_FACTOR * _BYTES_A_NAME < size


def _in_place(path: str, listings: dict[str, set[str]], look_each: dict[str, bool]) -> bool:
    """Whether the file this job placed at `path` is there: looked at where the job placed few files
    in a big folder (_few_in_many), else its name looked for in one listing of its folder (listed
    once; an unreadable folder lists nothing)."""
    folder, _sep, name = path.rpartition(os.sep)
    if look_each.get(folder, False):
        return os.path.lexists(path)
    names = listings.get(folder)
    if names is None:
        try:
            names = set(os.listdir(folder or os.sep))
        except OSError:
            names = set()
        listings[folder] = names
    return name in names


def _relative(path: str, prefix: str) -> str | None:
    """os.path.relpath(path, root) when `path` is a clean path under `prefix` (abspath(root) + '/'),
    spelled without relpath's two abspath calls per frame; None: ask relpath."""
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix):]
    padded = f"/{rest}/"
    if not rest or "//" in padded or "/./" in padded or "/../" in padded:
        return None
    return rest
