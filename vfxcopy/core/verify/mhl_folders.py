"""The folder hashes of an ASC MHL generation (content and structure, as ascmhl computes them),
made from the hashes this job measured and those the history recorded: nothing is read again.

A folder gets its hashes only while every file in it is known: written by this job, or recorded
by an earlier generation with the size found on disk now. On a network file system those sizes
are looked up several at a time.
"""

from __future__ import annotations

import os
import threading
import time
from operator import attrgetter

from vfxcopy.core.jobs import TEMP_PREFIX
from vfxcopy.core.verify.hashes import directory_hashes as folder_hashes
from vfxcopy.core.verify.mhl_read import MHL_FOLDER, ManifestRecord

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.verify.mhl_write import ManifestEntry

_name = attrgetter("name")

# A folder with this many files recorded earlier has their sizes looked up by STAT_THREADS
# threads at once when it is on a network file system, where each lookup is a round trip to the
# server (sshfs without its attribute cache, 10,500 recorded files: 1.7-2.7 s one at a time).
# Locally a stat takes microseconds and threads only compete for the interpreter.
STAT_AHEAD_MIN = 64
STAT_THREADS = 8


def _on_network(root: str, known: list[bool]) -> bool:
    """Whether `root` is on a network file system (found once: `known` keeps the answer)."""
    if not known:
        from vfxcopy.core.pipeline.destfolder import fs_type, is_shared_fs

        known.append(is_shared_fs(fs_type(root)))
    return known[0]


def _stat_ahead(items: list[os.DirEntry[str]]) -> None:
    """Fill the stat cache of each DirEntry in `items`, STAT_THREADS at a time (the loop reading
    them then asks the server nothing)."""
    if len(items) < STAT_AHEAD_MIN:
        return

    def look(part: list[os.DirEntry[str]]) -> None:
        for item in part:
            try:
                item.stat(follow_symlinks=False)  # kept by the DirEntry; a failure is met again later
            except OSError:
                pass

    step = -(-len(items) // STAT_THREADS)
    threads = [threading.Thread(target=look, args=(items[i:i + step],), name="vfxcopy-mhl-stat", daemon=True)
               for i in range(0, len(items), step)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _own_leftover(name: str) -> bool:
    """Names a delivery's directory hash leaves out: ascmhl's defaults and vfxcopy's own working files
    (its temps, .vfxcopy-<job>-<n>.part, among them)."""
    return name in (".DS_Store", MHL_FOLDER) or name.startswith(TEMP_PREFIX)


def generation_folder_hashes(
    root: str, entries: list[ManifestEntry], earlier: dict[str, ManifestRecord] | None = None
) -> dict[str, tuple[str, str, str, float]]:
    """{folder rel path ('.' = root): (format, content, structure, mtime)} for folders whose files are all known.

    Known: written by this job (`entries`), or recorded by an earlier generation
    with the size found on disk (its recorded hash is used: nothing is read again).
    A folder with any other file, a link, or files in different formats gets no
    hash: it would not match what `ascmhl verify --directory_hash` computes from disk.
    """
    ours = {e.path: e for e in entries}
    recorded = earlier or {}
    network: list[bool] = []  # whether `root` is on a network file system, found when first needed
    folders = {os.path.dirname(e.path) for e in entries}
    out: dict[str, tuple[str, str, str, float]] = {}
    memo: dict[str, tuple[str, str, str] | None] = {}
    candidates: set[str] = set()  # every folder that holds an entry, and its parents up to the root

    def look_up(child: str) -> bool:
        """Whether the size of the file at `child` is looked up now: a file this job wrote is as it
        measured it; any other (recorded by an earlier generation, found in place) may have changed."""
        mine = ours.get(child)
        return mine is None or not mine.fresh

    def visit(rel: str) -> tuple[str, str, str] | None:
        if rel in memo:
            return memo[rel]
        memo[rel] = None
        full = os.path.join(root, rel) if rel else root
        children: list[tuple[str, str, str | None]] = []
        formats: set[str] = set()
        try:
            with os.scandir(full) as it:
                items = sorted(it, key=_name)
        except OSError:
            return None
        above = f"{rel}/" if rel else ""
        if len(items) >= STAT_AHEAD_MIN and _on_network(root, network):
            _stat_ahead([item for item in items if not _own_leftover(item.name) and look_up(above + item.name)
                         and item.is_file(follow_symlinks=False)])
        for item in items:
            name = item.name
            if _own_leftover(name):
                continue
            child = above + name
            # The kind from the listing (no stat).
            if item.is_dir(follow_symlinks=False):
                sub = visit(child)
                if sub is None:
                    return None
                formats.add(sub[0])
                children.append((name, sub[1], sub[2]))
                continue
            mine = ours.get(child)
            known = mine if mine is not None else recorded.get(child)
            if known is None or known.size is None or not item.is_file(follow_symlinks=False):
                return None
            if look_up(child) and item.stat(follow_symlinks=False).st_size != known.size:
                return None  # no longer the size measured or recorded
            formats.add(known.hash_format)
            children.append((name, known.hash, None))
        if len(formats) > 1:
            return None
        fmt = next(iter(formats), None) or (entries[0].hash_format if entries else "xxh128")
        content, structure = folder_hashes(fmt, children)
        memo[rel] = (fmt, content, structure)
        if rel in candidates:  # folders the job wrote into (and their parents), not the whole tree
            try:
                mtime = os.stat(full).st_mtime
            except OSError:
                mtime = time.time()
            out[rel or "."] = (fmt, content, structure, mtime)
        return memo[rel]

    for folder in folders:
        while True:
            candidates.add(folder)
            if not folder:
                break
            folder = os.path.dirname(folder)
    for folder in sorted(candidates, key=lambda f: f.count("/"), reverse=True):
        visit(folder)
    return out
