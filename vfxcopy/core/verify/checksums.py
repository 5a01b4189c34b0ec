"""Checksum lists that `md5sum -c` and `xxhsum -c` accept, written from a delivery's hashes, and checked back.

The list lives in `<dest>/ascmhl/` (which ASC MHL tools ignore) and names
files relative to the delivery root, so it is checked with
`cd DEST && md5sum -c ascmhl/NAME.md5` (or `xxhsum -c ascmhl/NAME.xxh128`).
Lines are GNU style `HASH  NAME`; a name with a newline or a backslash is
written the way GNU coreutils and xxhsum escape it (a leading `\\`, then
`\\\\` and `\\n`); names are written as their exact bytes.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from vfxcopy.core.errors import Cancelled, ManifestError
from vfxcopy.core.jobs import CancelToken, JobState, LogMessage, Progress, Reporter, null_reporter
from vfxcopy.core.verify.destination import Mismatch, VerifyReport
from vfxcopy.core.verify.files import write_files
from vfxcopy.core.verify.hashes import MHL_FORMAT, hash_path
from vfxcopy.core.verify.mhl_read import MHL_FOLDER
from vfxcopy.core.verify.mhl_write import ManifestEntry

# ASC MHL format -> file extension of its list (the tools pick the algorithm from the digest length:
# 32 hex digits are MD5 for md5sum and XXH128 for xxhsum, 16 are XXH64).
CHECKSUM_EXTENSIONS = {"md5": "md5", "xxh128": "xxh128", "xxh64": "xxh64"}
_GNU_LINE = re.compile(rb"^(\\?)([0-9a-fA-F]{8,128}) [ *](.*)$")
_BSD_LINE = re.compile(rb"^(\\?)(MD5|XXH64|XXH128) \((.*)\) = ([0-9a-fA-F]+)$")


def checksum_format(algo: str) -> str:
    """The ASC MHL format name for `algo` (ours: xxh3/xxh64/md5, or MHL's: xxh128/xxh64/md5)."""
    fmt = MHL_FORMAT.get(algo, algo)
    if fmt not in CHECKSUM_EXTENSIONS:
        raise ValueError(f"no checksum-list tool for {algo!r}: use one of md5, xxh128 (xxh3), xxh64")
    return fmt


def _line(digest: str, rel: str) -> bytes:
    name = os.fsencode(rel)
    if b"\\" in name or b"\n" in name or b"\r" in name:
        name = name.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
        return b"\\" + digest.encode("ascii") + b"  " + name + b"\n"
    return digest.encode("ascii") + b"  " + name + b"\n"


def write_checksum_list(
    dest_dir: str | os.PathLike[str],
    entries: Iterable[ManifestEntry],
    algo: str,
    *,
    name: str | None = None,
    token: CancelToken | None = None,
) -> Path:
    """Write `<dest>/ascmhl/<name>.<ext>` for `entries` in `algo`; returns its path.

    Entries recorded in another format are hashed now. The list is written
    through a temp and never replaces an existing list (ManifestError then).
    """
    fmt = checksum_format(algo)
    root = Path(dest_dir)
    folder = root / MHL_FOLDER
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise ManifestError(f"{folder}: cannot create the folder for the checksum list ({exc.strerror})") from exc
    lines: list[bytes] = []
    for entry in sorted(entries, key=lambda e: e.path):
        digest = entry.hash
        if entry.hash_format != fmt:
            try:
                digest = hash_path(str(root / entry.path), fmt, token)
            except OSError as exc:
                raise ManifestError(f"{root / entry.path}: cannot be read for the checksum list ({exc.strerror})") from exc
        lines.append(_line(digest.lower(), entry.path))
    stem = name or f"vfxcopy_{time.strftime('%Y-%m-%d_%H%M%S')}"
    (path,) = write_files(folder, [(f"{stem}.{CHECKSUM_EXTENSIONS[fmt]}", b"".join(lines), False)],
                          "the checksum list", token)
    return Path(path)


def read_checksum_list(path: str | os.PathLike[str], algo: str | None = None) -> list[tuple[str, str, str]]:
    """(format, digest, relative name) of every line; ManifestError on a line that is not a checksum line."""
    list_path = Path(path)
    from vfxcopy.core.readfile import read_regular_file

    try:
        data = read_regular_file(list_path)
    except OSError as exc:
        raise ManifestError(f"{list_path}: cannot read the checksum list ({exc.strerror})") from exc
    default = checksum_format(algo) if algo else CHECKSUM_EXTENSIONS.get(list_path.suffix.lstrip(".").lower(), "")
    out: list[tuple[str, str, str]] = []
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip() or raw.startswith(b"#"):
            continue
        bsd = _BSD_LINE.match(raw)
        gnu = None if bsd else _GNU_LINE.match(raw)
        if bsd:
            escaped, fmt, name, digest = bsd.group(1), bsd.group(2).decode().lower(), bsd.group(3), bsd.group(4)
        elif gnu:
            escaped, digest, name = gnu.group(1), gnu.group(2), gnu.group(3)
            by_length = {16: "xxh64", 32: default if default in ("md5", "xxh128") else "md5"}
            fmt = by_length.get(len(digest), "")
        else:
            raise ManifestError(f"{list_path}:{number}: not a checksum line (expected 'HASH  NAME')")
        if not fmt:
            raise ManifestError(f"{list_path}:{number}: a {len(digest) * 4}-bit hash; only MD5, XXH64 and XXH128 "
                                "lists can be checked")
        if escaped:
            name = name.replace(b"\\\\", b"\0").replace(b"\\n", b"\n").replace(b"\\r", b"\r").replace(b"\0", b"\\")
        out.append((fmt, digest.decode("ascii").lower(), os.fsdecode(name)))
    return out


def verify_checksum_list(
    list_path: str | os.PathLike[str],
    root: str | os.PathLike[str],
    token: CancelToken | None = None,
    report: Reporter = null_reporter,
    algo: str | None = None,
) -> VerifyReport:
    """Check every file a checksum list names (relative to `root`): missing or altered; a list claims no 'extra'."""
    token = token or CancelToken()
    started = time.monotonic()
    base = os.path.abspath(os.fspath(root))
    result = VerifyReport(root=base, reference=f"checksum list {os.fspath(list_path)}")
    lines = read_checksum_list(list_path, algo)
    try:
        for fmt, digest, rel in lines:
            token.check()
            full = os.path.join(base, rel)
            try:
                actual = hash_path(full, fmt, token, on_chunk=lambda n: None)
            except FileNotFoundError:
                result.missing.append(rel)
                continue
            except OSError as exc:
                result.errors.append(f"{full}: cannot be read ({exc.strerror})")
                continue
            result.bytes_checked += os.path.getsize(full)
            if actual == digest:
                result.ok.append(rel)
            else:
                result.altered.append(Mismatch(rel, digest, actual, fmt))
                report(LogMessage("verify", "error", f"{full}: altered ({fmt} {actual}, list says {digest})"))
    except Cancelled:
        result.cancelled = True
    result.elapsed = time.monotonic() - started
    report(Progress("verify", JobState.CANCELLED if result.cancelled else JobState.COMPLETED, len(lines),
                    frames_done=len(result.ok), frames_failed=len(result.altered) + len(result.errors)))
    return result
