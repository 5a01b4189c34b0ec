"""ASC MHL manifests from the copy's own hashes, and re-verification of a destination against them.

A verified copy ends with one ASC MHL v2.0 generation in `<dest>/ascmhl/`
(`NNNN_<folder>_<UTC date>.mhl`) and the chain file `ascmhl_chain.xml`
listing every generation with its C4 id. The generation is written from the
hashes computed while copying, so the frames are not read a second time.
The XML follows the ASC MHL XSD element for element; the `ascmhl` reference
tools accept it (see tests/core/test_mhl.py). Writing a generation takes a
lock file in `ascmhl/`, so two jobs finishing into one folder at once get
generations N and N+1 rather than a torn chain.

`verify_destination` re-hashes a destination against its manifests (or, with
no `ascmhl/` folder, against the journal's hashes) and reports missing,
altered and extra files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from vfxcopy import __version__
from vfxcopy.core.errors import Cancelled, JobError
from vfxcopy.core.hashing import Hasher, new_hasher
from vfxcopy.core.jobs import (
    CancelToken,
    FrameResult,
    FrameStatus,
    JobState,
    LogMessage,
    Progress,
    Reporter,
    is_temp_name,
    null_reporter,
)

if TYPE_CHECKING:
    from vfxcopy.core.journal import Journal

MHL_NS = "urn:ASC:MHL:v2.0"
MHL_DIR_NS = "urn:ASC:MHL:DIRECTORY:v2.0"
MHL_FOLDER = "ascmhl"
CHAIN_FILE = "ascmhl_chain.xml"
LOCK_FILE = ".vfxcopy-mhl.lock"

# Our HashAlgo values and their ASC MHL element names (xxh3 in MHL is the 64-bit variant).
MHL_FORMAT = {"xxh3": "xxh128", "xxh64": "xxh64", "md5": "md5"}
# The order the XSD requires inside <hash> and directory containers.
MHL_FORMAT_ORDER = ("c4", "md5", "sha1", "xxh128", "xxh3", "xxh64")
# ascmhl's defaults plus our temporary files: a running job's .part files are never "extra";
# nor are a farm job's chunk results (core/farm: DEST/.vfxcopy-farm/<job>/).
IGNORE_PATTERNS = (".DS_Store", MHL_FOLDER, f"{MHL_FOLDER}/", ".vfxcopy-*.part", ".vfxcopy-farm")
CHUNK = 4 << 20


# -- hashing ---------------------------------------------------------------


def mhl_hasher(fmt: str) -> Hasher:
    """A hasher for an ASC MHL hash format name (c4 is handled by `c4_id`)."""
    ours = {mhl: algo for algo, mhl in MHL_FORMAT.items()}
    if fmt in ours:
        return new_hasher(ours[fmt])  # the very hashers the copier uses
    # Formats vfxcopy does not write but may find in a manifest made by another tool.
    if fmt == "xxh3":
        return xxhash.xxh3_64()
    if fmt == "sha1":
        return hashlib.sha1(usedforsecurity=False)
    raise ValueError(f"unsupported hash format {fmt!r}")


_C4_CHARSET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def c4_from_sha512(digest: bytes) -> str:
    """The C4 id of a SHA-512 digest: base58, left-padded with '1' to 88 characters, prefixed 'c4'."""
    value = int.from_bytes(digest, "big")
    chars: list[str] = []
    while value:
        value, rem = divmod(value, 58)
        chars.append(_C4_CHARSET[rem])
    return "c4" + "".join(reversed(chars)).rjust(88, "1")


def c4_id(data: bytes) -> str:
    return c4_from_sha512(hashlib.sha512(data).digest())


def hash_path(
    path: str,
    fmt: str,
    token: CancelToken | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> str:
    """Hex digest of a file in an ASC MHL format, cancellable between 4 MiB chunks."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        if fmt == "c4":
            sha = hashlib.sha512()
            for chunk in _chunks(fd, token, on_chunk):
                sha.update(chunk)
            return c4_from_sha512(sha.digest())
        hasher = mhl_hasher(fmt)
        for chunk in _chunks(fd, token, on_chunk):
            hasher.update(chunk)
        return hasher.hexdigest()
    finally:
        os.close(fd)


def _chunks(fd: int, token: CancelToken | None, on_chunk: Callable[[int], None] | None) -> Iterator[bytes]:
    while True:
        if token is not None:
            token.check()
        data = os.read(fd, CHUNK)
        if not data:
            return
        if on_chunk is not None:
            on_chunk(len(data))
        yield data


# -- writing a generation --------------------------------------------------


@dataclass
class ManifestEntry:
    """One file of a generation: path relative to the root, size, mtime and one hash."""

    path: str
    size: int
    mtime: float
    hash_format: str  # ASC MHL name: xxh128, xxh64, md5 ...
    hash: str


@dataclass
class ManifestResult:
    generation: int
    path: Path  # the .mhl file
    chain: Path
    entries: int
    skipped: list[str] = field(default_factory=list)  # names XML cannot carry (not valid UTF-8)
    failed: list[str] = field(default_factory=list)  # paths whose hash differs from an earlier generation


def _iso(ts: float | None = None) -> str:
    moment = dt.datetime.now(dt.timezone.utc) if ts is None else dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    return moment.astimezone().isoformat(timespec="seconds")


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _is_xml_safe(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return all(ch in "\t\n\r" or ord(ch) >= 0x20 for ch in text)


@dataclass
class _Generation:
    number: int
    name: str
    c4: str


def _read_chain(folder: Path) -> list[_Generation]:
    chain = folder / CHAIN_FILE
    if not chain.exists():
        return []
    root = ET.parse(chain).getroot()
    gens = []
    for item in root.iter(_q(MHL_DIR_NS, "hashlist")):
        name = item.findtext(_q(MHL_DIR_NS, "path")) or ""
        c4 = item.findtext(_q(MHL_DIR_NS, "c4")) or ""
        gens.append(_Generation(int(item.get("sequencenr") or 0), name, c4))
    return sorted(gens, key=lambda g: g.number)


@dataclass
class ManifestRecord:
    """What a history says about one file: its first ('original') hash and the size then."""

    path: str
    hash_format: str
    hash: str
    size: int | None
    generation: int


@dataclass
class History:
    records: dict[str, ManifestRecord]
    ignore: list[str]
    generations: list[Path]


def load_history(root: str | os.PathLike[str]) -> History:
    """Read `root/ascmhl`: each file's original hash (first generation that has it) and the ignore list.

    Raises JobError when a generation listed in the chain is missing or its C4 id no longer matches.
    """
    folder = Path(root) / MHL_FOLDER
    gens = _read_chain(folder)
    if not gens:
        raise JobError(f"{folder}: no ASC MHL history ({CHAIN_FILE} missing or empty)")
    records: dict[str, ManifestRecord] = {}
    ignore: list[str] = []
    paths = []
    for gen in gens:
        path = folder / gen.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise JobError(f"{path}: manifest listed in {CHAIN_FILE} cannot be read ({exc.strerror})") from exc
        if gen.c4 and c4_id(data) != gen.c4:
            raise JobError(f"{path}: manifest was modified after it was written (C4 id differs from the chain)")
        paths.append(path)
        root_el = ET.fromstring(data)
        patterns = [p.text or "" for p in root_el.iter(_q(MHL_NS, "pattern"))]
        if patterns:
            ignore = patterns
        for h in root_el.iter(_q(MHL_NS, "hash")):
            path_el = h.find(_q(MHL_NS, "path"))
            if path_el is None or not path_el.text:
                continue
            rel = path_el.text
            if rel in records:
                continue
            size_text = path_el.get("size")
            for fmt in ("md5", "sha1", "xxh128", "xxh3", "xxh64", "c4"):  # ascmhl's priority order
                el = h.find(_q(MHL_NS, fmt))
                if el is not None and el.text:
                    records[rel] = ManifestRecord(rel, fmt, el.text.strip(), int(size_text) if size_text else None,
                                                  gen.number)
                    break
    return History(records, ignore or list(IGNORE_PATTERNS), paths)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: generations from two processes at once are not serialised
        yield
        return
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_atomic(folder: Path, name: str, data: bytes) -> Path:
    """Write `folder/name` via a temporary name, fsynced, renamed, folder fsynced."""
    tmp = folder / f".vfxcopy-{os.getpid()}-{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
    final = folder / name
    os.replace(tmp, final)
    _fsync_dir(folder)
    return final


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the data files are already durable
    finally:
        os.close(fd)


def _xml_bytes(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


def write_generation(
    root: str | os.PathLike[str],
    entries: Iterable[ManifestEntry],
    *,
    process: str = "transfer",
    comment: str | None = None,
    now: float | None = None,
) -> ManifestResult:
    """Append one generation listing `entries` to `root/ascmhl` and update the chain."""
    root_path = Path(root)
    folder = root_path / MHL_FOLDER
    folder.mkdir(exist_ok=True)
    stamp = time.time() if now is None else now
    iso_now = _iso(stamp)
    skipped: list[str] = []
    failed: list[str] = []
    with _locked(folder):
        gens = _read_chain(folder)
        earlier = load_history(root_path).records if gens else {}
        number = (gens[-1].number if gens else 0) + 1
        folder_name = root_path.resolve().name or "root"
        if not _is_xml_safe(folder_name):
            folder_name = folder_name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            folder_name = "".join(ch if ch.isprintable() and ch != "\ufffd" else "_" for ch in folder_name)
        date = dt.datetime.fromtimestamp(stamp, dt.timezone.utc).strftime("%Y-%m-%d_%H%M%SZ")
        gen_name = f"{number:04d}_{folder_name}_{date}.mhl"

        ET.register_namespace("", MHL_NS)
        hashlist = ET.Element(_q(MHL_NS, "hashlist"), {"version": "2.0"})
        creator = ET.SubElement(hashlist, _q(MHL_NS, "creatorinfo"))
        ET.SubElement(creator, _q(MHL_NS, "creationdate")).text = iso_now
        ET.SubElement(creator, _q(MHL_NS, "hostname")).text = platform.node() or socket.gethostname()
        ET.SubElement(creator, _q(MHL_NS, "tool"), {"version": __version__}).text = "vfxcopy"
        if comment and _is_xml_safe(comment):
            ET.SubElement(creator, _q(MHL_NS, "comment")).text = comment
        pinfo = ET.SubElement(hashlist, _q(MHL_NS, "processinfo"))
        ET.SubElement(pinfo, _q(MHL_NS, "process")).text = process
        ign = ET.SubElement(pinfo, _q(MHL_NS, "ignore"))
        for pattern in IGNORE_PATTERNS:
            ET.SubElement(ign, _q(MHL_NS, "pattern")).text = pattern
        hashes = ET.SubElement(hashlist, _q(MHL_NS, "hashes"))
        count = 0
        for entry in sorted(entries, key=lambda e: e.path):
            if not _is_xml_safe(entry.path):
                skipped.append(entry.path)
                continue
            action = "original"
            before = earlier.get(entry.path)
            if before is not None and before.hash_format == entry.hash_format:
                action = "verified" if before.hash == entry.hash else "failed"
                if action == "failed":
                    failed.append(entry.path)
            h = ET.SubElement(hashes, _q(MHL_NS, "hash"))
            ET.SubElement(
                h, _q(MHL_NS, "path"), {"size": str(entry.size), "lastmodificationdate": _iso(entry.mtime)}
            ).text = entry.path
            ET.SubElement(h, _q(MHL_NS, entry.hash_format), {"action": action, "hashdate": iso_now}).text = entry.hash
            count += 1
        if count == 0:
            hashlist.remove(hashes)  # the XSD allows no <hashes>, but not an empty one

        data = _xml_bytes(hashlist)
        gen_path = _write_atomic(folder, gen_name, data)

        ET.register_namespace("", MHL_DIR_NS)
        chain = ET.Element(_q(MHL_DIR_NS, "ascmhldirectory"))
        for gen in [*gens, _Generation(number, gen_name, c4_id(data))]:
            item = ET.SubElement(chain, _q(MHL_DIR_NS, "hashlist"), {"sequencenr": str(gen.number)})
            ET.SubElement(item, _q(MHL_DIR_NS, "path")).text = gen.name
            ET.SubElement(item, _q(MHL_DIR_NS, "c4")).text = gen.c4
        chain_path = _write_atomic(folder, CHAIN_FILE, _xml_bytes(chain))
    return ManifestResult(number, gen_path, chain_path, count, skipped, failed)


def entries_from_frames(
    root: str, frames: Iterable[FrameResult], token: CancelToken | None = None
) -> tuple[list[ManifestEntry], list[str]]:
    """Manifest entries for the frames in place (done or skipped), using the copy's hashes.

    A frame without a recorded hash (skipped by name, without hashing) is hashed
    now; every other frame is not read again. Returns (entries, problems).
    """
    entries: list[ManifestEntry] = []
    problems: list[str] = []
    for fr in frames:
        if fr.status not in (FrameStatus.DONE, FrameStatus.SKIPPED) or not fr.dest:
            continue
        try:
            st = os.stat(fr.dest)
        except OSError as exc:
            problems.append(f"{fr.dest}: not in place for the manifest ({exc.strerror})")
            continue
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
        entries.append(ManifestEntry(rel, st.st_size, st.st_mtime, fmt, digest))
    return entries, problems


# -- verifying a destination -----------------------------------------------


@dataclass
class Mismatch:
    path: str
    expected: str
    actual: str
    hash_format: str


@dataclass
class VerifyReport:
    """What `verify_destination` found; `passed` is False on any missing, altered or extra file."""

    root: str
    reference: str  # "ascmhl" or "journal"
    ok: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    altered: list[Mismatch] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    bytes_checked: int = 0
    elapsed: float = 0.0
    cancelled: bool = False

    @property
    def passed(self) -> bool:
        return not (self.missing or self.altered or self.extra or self.errors or self.cancelled)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": _printable(self.root),
            "reference": self.reference,
            "passed": self.passed,
            "cancelled": self.cancelled,
            "files_ok": len(self.ok),
            "missing": [_printable(p) for p in self.missing],
            "altered": [
                {"path": _printable(m.path), "expected": m.expected, "actual": m.actual, "hash_format": m.hash_format}
                for m in self.altered
            ],
            "extra": [_printable(p) for p in self.extra],
            "errors": [_printable(e) for e in self.errors],
            "bytes_checked": self.bytes_checked,
            "elapsed": round(self.elapsed, 3),
        }


def _printable(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _ignored(rel: str, patterns: Iterable[str]) -> bool:
    import fnmatch

    parts = rel.split("/")
    for pattern in patterns:
        p = pattern.rstrip("/")
        if not p:
            continue
        if "/" in p:
            if fnmatch.fnmatchcase(rel, p.lstrip("/")):
                return True
        elif any(fnmatch.fnmatchcase(part, p) for part in parts):
            return True
    return False


def _walk(root: str, ignore: list[str]) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not _ignored(rel_dir + d, ignore))
        for name in filenames:
            rel = rel_dir + name
            if is_temp_name(name) or _ignored(rel, ignore):
                continue
            out.append(rel)
    return sorted(out)


def expected_from_journal(root: str, journal: Journal) -> dict[str, ManifestRecord]:
    """The journal's latest hash for every frame placed in `root` by a finished job."""
    records: dict[str, ManifestRecord] = {}
    real_root = os.path.realpath(root)
    for job in reversed(journal.jobs()):  # oldest first: later jobs win
        if os.path.realpath(job.spec.dest_dir) != real_root:
            continue
        for fr in journal.frames(job.job_id):
            if fr.status not in (FrameStatus.DONE, FrameStatus.SKIPPED) or not fr.hash:
                continue
            fmt = MHL_FORMAT.get(fr.hash_algo or "", "")
            if not fmt:
                continue
            rel = os.path.relpath(fr.dest, root).replace(os.sep, "/")
            if rel.startswith("../"):
                continue
            records[rel] = ManifestRecord(rel, fmt, fr.hash, fr.size, 0)
    return records


def verify_destination(
    path: str | os.PathLike[str],
    token: CancelToken | None = None,
    report: Reporter = null_reporter,
    journal: Journal | None = None,
) -> VerifyReport:
    """Re-hash `path` against its ASC MHL history (or the journal's hashes when it has none).

    Reports `Progress` (bytes of the files listed) through `report`; a cancel
    returns the partial report with `cancelled` set.
    """
    token = token or CancelToken()
    root = os.fspath(path)
    started = time.monotonic()
    if os.path.isdir(os.path.join(root, MHL_FOLDER)):
        history = load_history(root)
        expected, ignore, reference = history.records, history.ignore, "ascmhl"
        if journal is not None:
            # Names XML cannot carry (not valid UTF-8) are not in the manifest; the journal has them.
            for rel, rec in expected_from_journal(root, journal).items():
                if rel not in expected and not _is_xml_safe(rel):
                    expected[rel] = rec
    elif journal is not None:
        expected, ignore, reference = expected_from_journal(root, journal), list(IGNORE_PATTERNS), "journal"
        if not expected:
            raise JobError(f"{root}: no ASC MHL history and no hashes in the journal for this folder")
    else:
        raise JobError(f"{root}: no ASC MHL history ({MHL_FOLDER}/ folder missing)")
    if not os.path.isdir(root):
        raise JobError(f"{root}: not a folder")

    result = VerifyReport(root=root, reference=reference)
    on_disk = _walk(root, ignore)
    on_disk_set = set(on_disk)
    result.extra = [p for p in on_disk if p not in expected]
    todo = sorted(p for p in expected if not _ignored(p, ignore))
    present = [p for p in todo if p in on_disk_set]
    result.missing = [p for p in todo if p not in on_disk_set]
    sizes = {}
    for rel in present:
        try:
            sizes[rel] = os.path.getsize(os.path.join(root, rel))
        except OSError:
            sizes[rel] = 0
    total = sum(sizes.values())
    job_id = "verify"
    last = [0.0]
    done_bytes = [0]

    def tick(n: int) -> None:
        done_bytes[0] += n
        now = time.monotonic()
        if now - last[0] >= 0.1:
            last[0] = now
            report(Progress(job_id, JobState.RUNNING, len(present), frames_done=len(result.ok),
                            bytes_total=total, bytes_done=done_bytes[0]))

    try:
        for rel in present:
            rec = expected[rel]
            full = os.path.join(root, rel)
            try:
                actual = hash_path(full, rec.hash_format, token, on_chunk=tick)
            except OSError as exc:
                result.errors.append(f"{full}: cannot be read ({exc.strerror})")
                continue
            if actual.lower() == rec.hash.lower():
                result.ok.append(rel)
            else:
                result.altered.append(Mismatch(rel, rec.hash, actual, rec.hash_format))
                report(LogMessage(job_id, "error", f"{full}: altered ({rec.hash_format} {actual}, "
                                  f"manifest says {rec.hash})"))
    except Cancelled:
        result.cancelled = True
    result.bytes_checked = done_bytes[0]
    result.elapsed = time.monotonic() - started
    state = JobState.CANCELLED if result.cancelled else JobState.COMPLETED
    report(Progress(job_id, state, len(present), frames_done=len(result.ok),
                    frames_failed=len(result.altered) + len(result.errors),
                    bytes_total=total, bytes_done=done_bytes[0]))
    return result
