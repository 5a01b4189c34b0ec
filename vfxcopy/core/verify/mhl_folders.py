"""The folder hashes of an ASC MHL generation (content and structure, as ascmhl computes them),
made from the hashes this job measured and those the history recorded: nothing is read again.

A folder gets its hashes only while every file in it is known: written by this job, or recorded
by an earlier generation with the size found on disk now. On a network file system those sizes
are looked up several at a time.
"""

from __future__ import annotations

import os
import time

from vfxcopy.core.jobs import TEMP_PREFIX
from vfxcopy.core.roundtrips import AHEAD_MIN
from vfxcopy.core.verify.hashes import directory_hashes as folder_hashes
from vfxcopy.core.verify.mhl_listing import TreeListing
from vfxcopy.core.verify.mhl_read import MHL_FOLDER, ManifestRecord

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.verify.mhl_write import ManifestEntry


def _own_leftover(name: str) -> bool:
    """Names a delivery's directory hash leaves out: ascmhl's defaults and vfxcopy's own working files
    (its temps, .vfxcopy-<job>-<n>.part, among them)."""
    return name in (".DS_Store", MHL_FOLDER) or name.startswith(TEMP_PREFIX)


def generation_folder_hashes(
    root: str, entries: list[ManifestEntry], earlier: dict[str, ManifestRecord] | None = None,
    listing: TreeListing | None = None,
) -> dict[str, tuple[str, str, str, float]]:
    """{folder rel path ('.' = root): (format, content, structure, mtime)} for folders whose files are all known.

    Known: written by this job (`entries`), or recorded by an earlier generation
    with the size found on disk (its recorded hash is used: nothing is read again).
    A folder with any other file, a link, or files in different formats gets no
    hash: it would not match what `ascmhl verify --directory_hash` computes from disk.
    `listing`: the folders as listed for reading the history (mhl_listing), shared.
    """
    root = os.path.abspath(root)
    listing = TreeListing(root) if listing is None else listing
    ours = {e.path: e for e in entries}
    recorded = earlier or {}
    folders = {os.path.dirname(e.path) for e in entries}
    out: dict[str, tuple[str, str, str, float]] = {}
    memo: dict[str, tuple[str, str, str] | None] = {}
    candidates: set[str] = set()  # every folder that holds an entry, and its parents up to the root

    def look_up(child: str) -> bool:
        """Whether the size of the known file at `child` is looked up now: a file this job wrote is as
        it measured it; any other (recorded by an earlier generation, found in place) may have changed."""
        mine = ours.get(child)
        return child in recorded if mine is None else not mine.fresh

    def visit(rel: str) -> tuple[str, str, str] | None:
        if rel in memo:
            return memo[rel]
        memo[rel] = None
        full = os.path.join(root, rel) if rel else root
        children: list[tuple[str, str, str | None]] = []
        formats: set[str] = set()
        try:
            items = listing.entries(full)
        except OSError:
            return None
        above = f"{rel}/" if rel else ""
        if len(items) >= AHEAD_MIN and not listing.looked_up(full) and listing.network():
            # The files whose size the loop below checks; their kinds come with it (no question asked
            # here: where the listing left the kinds out, asking one is a round trip).
            listing.look_up([item for item in items if not _own_leftover(item.name) and look_up(above + item.name)])
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
