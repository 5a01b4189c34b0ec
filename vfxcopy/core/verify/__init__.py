"""Hashes, ASC MHL manifests (written from the copy's hashes, read through `ascmhl`), and destination verification.

Rooms: `hashes` (digests, C4, directory hashes), `files` (safe temps, the
folder lock, leftovers), `mhl_write` (one generation per verified job),
`mhl_read` (a history through the reference library, nested ones included),
`destination` (missing/altered/extra), `checksums` (md5sum/xxhsum lists).
Importing this package does not import `ascmhl`; reading a history does.
"""

from __future__ import annotations

from vfxcopy.core.errors import JobError, ManifestError
from vfxcopy.core.textsafe import printable
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
from vfxcopy.core.verify.files import (
    OLD_LOCK_FILE,
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
    entries_from_frames,
    write_generation,
)

LOCK_FILE = OLD_LOCK_FILE  # the lock file older versions left behind; nothing creates it any more

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
