"""Hashes, ASC MHL manifests (written from the copy's hashes, read as `ascmhl` reads them), and destination verification.

Rooms: `hashes` (digests, C4, directory hashes), `files` (safe temps, the
folder lock, leftovers), `mhl_write` (one generation per verified job),
`mhl_entries` (its entries, from what the copy measured), `mhl_folders` (its folder
hashes), `mhl_listing` (one listing of each folder, shared by the history and the hashes),
`mhl_parse` (one generation or chain file, with expat), `mhl_read` (a whole
history, nested ones included, and what this process wrote or read),
`destination` (missing/altered/extra), `checksums` (md5sum/xxhsum lists).
No copy imports `ascmhl`; `vfxcopy verify` loads it only for ignore patterns that are more
than plain names (mhl_read.NameSpec matches those).

Each name below is imported from its room on first use (PEP 562): a verified copy
writes a manifest and never needs `destination` or `checksums`, and importing every
room cost every `vfxcopy copy` a few milliseconds of its start.
"""

from __future__ import annotations

import importlib

from vfxcopy.core.errors import JobError, ManifestError
from vfxcopy.core.textsafe import printable

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.verify.checksums import (
        CHECKSUM_EXTENSIONS,
        read_checksum_list,
        verify_checksum_list,
        write_checksum_list,
    )
    from vfxcopy.core.verify.destination import (
        Mismatch,
        VerifyReport,
        expected_from_journal,
        verify_destination,
    )
    from vfxcopy.core.verify.files import OLD_LOCK_FILE as LOCK_FILE
    from vfxcopy.core.verify.files import (
        is_manifest_temp,
        manifest_lock,
        sweep_leftovers,
        write_files,
    )
    from vfxcopy.core.verify.hashes import (
        CHUNK,
        MHL_FORMAT,
        MHL_FORMAT_ORDER,
        c4_from_sha512,
        c4_id,
        hash_path,
        mhl_hasher,
    )
    from vfxcopy.core.verify.mhl_entries import entries_from_frames
    from vfxcopy.core.verify.mhl_read import (
        CHAIN_FILE,
        IGNORE_PATTERNS,
        MHL_FOLDER,
        History,
        ManifestRecord,
        load_history,
    )
    from vfxcopy.core.verify.mhl_write import (
        MHL_DIR_NS,
        MHL_NS,
        ManifestEntry,
        ManifestResult,
        write_generation,
    )

# name -> (room, its name there). LOCK_FILE: the lock file older versions left behind;
# nothing creates it any more.
_ROOMS: dict[str, tuple[str, str]] = {
    **{n: ("checksums", n) for n in (
        "CHECKSUM_EXTENSIONS", "read_checksum_list", "verify_checksum_list", "write_checksum_list")},
    **{n: ("destination", n) for n in ("Mismatch", "VerifyReport", "expected_from_journal", "verify_destination")},
    **{n: ("files", n) for n in ("OLD_LOCK_FILE", "is_manifest_temp", "manifest_lock", "sweep_leftovers",
                                  "write_files")},
    "LOCK_FILE": ("files", "OLD_LOCK_FILE"),
    **{n: ("hashes", n) for n in ("CHUNK", "MHL_FORMAT", "MHL_FORMAT_ORDER", "c4_from_sha512", "c4_id", "hash_path",
                                   "mhl_hasher")},
    **{n: ("mhl_read", n) for n in ("CHAIN_FILE", "IGNORE_PATTERNS", "MHL_FOLDER", "History", "ManifestRecord",
                                     "load_history")},
    **{n: ("mhl_write", n) for n in ("MHL_DIR_NS", "MHL_NS", "ManifestEntry", "ManifestResult", "write_generation")},
    "entries_from_frames": ("mhl_entries", "entries_from_frames"),
}
_SUBMODULES = frozenset({"checksums", "destination", "files", "hashes", "mhl_entries", "mhl_read", "mhl_write"})


def __getattr__(name: str) -> object:
    """A name of a room (or a room itself), imported on first use and kept."""
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    where = _ROOMS.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    room, attr = where
    value = getattr(importlib.import_module(f"{__name__}.{room}"), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_ROOMS, *_SUBMODULES})


__all__ = [
    "CHAIN_FILE",
    "CHECKSUM_EXTENSIONS",
    "CHUNK",
    "IGNORE_PATTERNS",
    "LOCK_FILE",
    "MHL_DIR_NS",
    "MHL_FOLDER",
    "MHL_FORMAT",
    "MHL_FORMAT_ORDER",
    "MHL_NS",
    "History",
    "JobError",
    "ManifestEntry",
    "ManifestError",
    "ManifestRecord",
    "ManifestResult",
    "Mismatch",
    "VerifyReport",
    "c4_from_sha512",
    "c4_id",
    "entries_from_frames",
    "expected_from_journal",
    "hash_path",
    "is_manifest_temp",
    "load_history",
    "manifest_lock",
    "mhl_hasher",
    "printable",
    "read_checksum_list",
    "sweep_leftovers",
    "verify_checksum_list",
    "verify_destination",
    "write_checksum_list",
    "write_files",
    "write_generation",
]
