"""Writing one ASC MHL generation from the copy's own hashes (frames are not read a second time).

A verified copy ends with one ASC MHL v2.0 generation in `<dest>/ascmhl/`
(`NNNN_<folder>_<UTC date>.mhl`) and the chain file `ascmhl_chain.xml`
listing every generation with its C4 id. The XML follows the ASC MHL XSD
element for element; the `ascmhl` reference tools accept it (tests/core/test_mhl.py).
Folders whose every file is in the generation also get ASC MHL directory
hashes (content and structure), the root too when the job wrote all of it.

Safety: generations are serialised by a lock on the ascmhl folder (no lock
file); the generation and the chain are written as fsynced temps first and
put in place together (see `files.write_files`), so a full disk or a kill
never leaves a partial manifest under its final name.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import re
import stat
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from vfxcopy import __version__
from vfxcopy.core.errors import ManifestError
from vfxcopy.core.jobs import CancelToken, FrameResult, FrameStatus, is_temp_name
from vfxcopy.core.verify.files import (
    LOCK_TIMEOUT,
    manifest_error,
    manifest_lock,
    sweep_locked,
    write_files,
)
from vfxcopy.core.verify.hashes import MHL_FORMAT, c4_id, hash_path
from vfxcopy.core.verify.hashes import directory_hashes as folder_hashes
from vfxcopy.core.verify.mhl_read import CHAIN_FILE, IGNORE_PATTERNS, MHL_FOLDER, ManifestRecord, load_history

MHL_NS = "urn:ASC:MHL:v2.0"
MHL_DIR_NS = "urn:ASC:MHL:DIRECTORY:v2.0"


@dataclass
class ManifestEntry:
    """One file of a generation: path relative to the root, size, mtime and one hash.

    `fresh`: written by this job (so its content is new: a file it replaced gets a
    new original hash); otherwise it was found in place and is compared with the history.
    """

    path: str
    size: int
    mtime: float
    hash_format: str  # ASC MHL name: xxh128, xxh64, md5 ...
    hash: str
    fresh: bool = True


@dataclass
class ManifestResult:
    """What one write_generation did: the generation, its files, and names left out or replaced.

    (A docstring also spares dataclass an inspect.signature call at import.)
    """

    generation: int
    path: Path  # the .mhl file
    chain: Path
    entries: int
    skipped: list[str] = field(default_factory=list)  # names XML cannot carry (not valid UTF-8)
    failed: list[str] = field(default_factory=list)  # found in place, but hashing differently from the history
    replaced: list[str] = field(default_factory=list)  # written anew by this job over a file the history had
    directories: int = 0  # directory hashes written (the root's included)
    swept: list[str] = field(default_factory=list)  # leftovers of killed manifest writes removed first
    nested: list[ManifestResult] = field(default_factory=list)  # generations written into nested histories


def _iso(ts: float | None = None) -> str:
    if ts is not None:
        second = math.floor(ts)
        # The frames of a job share a few seconds: one conversion per second. fromtimestamp rounds
        # to microseconds, so a time this close to the next second is converted on its own.
        if ts - second < 0.999999:
            return _iso_of_second(second)
    moment = dt.datetime.now(dt.timezone.utc) if ts is None else dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    return moment.astimezone().isoformat(timespec="seconds")


@functools.lru_cache(maxsize=1024)
def _iso_of_second(second: int) -> str:
    return dt.datetime.fromtimestamp(second, dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def _hostname() -> str:
    """platform.node() without importing platform and socket (4 ms of a verified copy's start)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket  # pragma: no cover - not POSIX

    return socket.gethostname()  # pragma: no cover


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


# The control characters XML 1.0 does not allow (below 0x20 except tab, line feed and return).
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def is_xml_safe(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return _XML_UNSAFE.search(text) is None  # one regex search, not a generator step per character


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


def _xml_bytes(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


def _own_leftover(name: str) -> bool:
    """Names a delivery's directory hash leaves out: ascmhl's defaults and vfxcopy's own working files."""
    return name in (".DS_Store", MHL_FOLDER) or name.startswith(".vfxcopy-") or is_temp_name(name)


def _directory_hashes(
    root: Path, entries: list[ManifestEntry], earlier: dict[str, ManifestRecord] | None = None
) -> dict[str, tuple[str, str, str, float]]:
    """{folder rel path ('.' = root): (format, content, structure, mtime)} for folders whose files are all known.

    Known: written by this job (`entries`), or recorded by an earlier generation
    with the size found on disk (its recorded hash is used: nothing is read again).
    A folder with any other file, a link, or files in different formats gets no
    hash: it would not match what `ascmhl verify --directory_hash` computes from disk.
    """
    by_path: dict[str, ManifestEntry] = {}
    for rel, rec in (earlier or {}).items():
        if rec.size is not None:
            by_path[rel] = ManifestEntry(rel, rec.size, 0.0, rec.hash_format, rec.hash, fresh=False)
    by_path.update((e.path, e) for e in entries)
    folders = {os.path.dirname(e.path) for e in entries}
    out: dict[str, tuple[str, str, str, float]] = {}
    memo: dict[str, tuple[str, str, str] | None] = {}
    candidates: set[str] = set()  # every folder that holds an entry, and its parents up to the root

    def visit(rel: str) -> tuple[str, str, str] | None:
        if rel in memo:
            return memo[rel]
        memo[rel] = None
        full = root / rel if rel else root
        children: list[tuple[str, str, str | None]] = []
        formats: set[str] = set()
        try:
            with os.scandir(full) as it:
                items = sorted(it, key=lambda d: d.name)
        except OSError:
            return None
        for item in items:
            if _own_leftover(item.name):
                continue
            child = f"{rel}/{item.name}" if rel else item.name
            st = item.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                sub = visit(child)
                if sub is None:
                    return None
                formats.add(sub[0])
                children.append((item.name, sub[1], sub[2]))
            elif stat.S_ISREG(st.st_mode) and child in by_path and by_path[child].size == st.st_size:
                formats.add(by_path[child].hash_format)
                children.append((item.name, by_path[child].hash, None))
            else:
                return None
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


def _folder_label(root_path: Path) -> str:
    name = root_path.resolve().name or "root"
    if not is_xml_safe(name):
        name = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        name = "".join(ch if ch.isprintable() and ch != "\ufffd" else "_" for ch in name)
    return name


def write_generation(
    root: str | os.PathLike[str],
    entries: Iterable[ManifestEntry],
    *,
    process: str = "transfer",
    comment: str | None = None,
    now: float | None = None,
    token: CancelToken | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
    directory_hashes: bool = True,
) -> ManifestResult:
    """Append one generation listing `entries` to `root/ascmhl` and update the chain.

    Files under a sub-folder that has its own history (a nested `ascmhl/`, as
    offload tools leave on camera cards) go into a generation of that history,
    as `ascmhl create` does; their results are in `.nested` and folded into
    this result's lists. Raises ManifestError (path, cause, what to do) when a
    history cannot be read or a generation cannot be written — nothing partial
    is left — and Cancelled when `token` is cancelled (also while waiting for
    another writer's lock).
    """
    root_path = Path(root)
    groups = _by_history(root_path, sorted(entries, key=lambda e: e.path))
    nested: list[ManifestResult] = []
    for prefix in sorted((p for p in groups if p), key=lambda p: p.count("/"), reverse=True):
        sub = _write_one(root_path / prefix, groups[prefix], process, comment, now, token, lock_timeout,
                         directory_hashes)
        nested.append(sub)
    result = _write_one(root_path, groups.get("", []), process, comment, now, token, lock_timeout,
                        directory_hashes)
    result.nested = nested
    for prefix, sub in zip(sorted((p for p in groups if p), key=lambda p: p.count("/"), reverse=True), nested,
                           strict=True):
        result.entries += sub.entries
        result.skipped += [f"{prefix}/{p}" for p in sub.skipped]
        result.failed += [f"{prefix}/{p}" for p in sub.failed]
        result.replaced += [f"{prefix}/{p}" for p in sub.replaced]
        result.swept += sub.swept
    return result


def _by_history(root: Path, entries: list[ManifestEntry]) -> dict[str, list[ManifestEntry]]:
    """Entries grouped by the deepest folder below `root` holding an `ascmhl/` history, paths made relative to it."""
    has_history: dict[str, bool] = {}
    groups: dict[str, list[ManifestEntry]] = {"": []}
    for entry in entries:
        owner = ""
        folder = os.path.dirname(entry.path)
        while folder:
            if folder not in has_history:
                has_history[folder] = (root / folder / MHL_FOLDER / CHAIN_FILE).is_file()
            if has_history[folder]:
                owner = folder
                break
            folder = os.path.dirname(folder)
        if owner:
            rel = entry.path[len(owner) + 1:]
            entry = ManifestEntry(rel, entry.size, entry.mtime, entry.hash_format, entry.hash, entry.fresh)
        groups.setdefault(owner, []).append(entry)
    return groups


def _write_one(
    root_path: Path,
    entry_list: list[ManifestEntry],
    process: str,
    comment: str | None,
    now: float | None,
    token: CancelToken | None,
    lock_timeout: float,
    directory_hashes: bool,
) -> ManifestResult:
    """One generation in `root_path/ascmhl` (see write_generation)."""
    folder = root_path / MHL_FOLDER
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise manifest_error(folder, "the ASC MHL folder", exc) from exc
    if not folder.is_dir() or folder.is_symlink():
        raise ManifestError(f"{folder}: not a folder; cannot write the ASC MHL manifest there (move it aside)")
    stamp = time.time() if now is None else now
    iso_now = _iso(stamp)
    with manifest_lock(folder, token, lock_timeout):
        swept = sweep_locked(folder)
        chain_items: list[tuple[int, str, str, str]] = []
        earlier: dict[str, ManifestRecord] = {}
        if (folder / CHAIN_FILE).exists():
            history = load_history(root_path)
            earlier, chain_items = history.records, history.chain
            numbers = [n for n, *_ in chain_items] + [_number(p.name) for p in history.generations
                                                      if p.parent == folder]
        else:
            numbers = [_number(n) for n in os.listdir(folder) if n.endswith(".mhl")]
        number = max([0, *numbers]) + 1
        date = dt.datetime.fromtimestamp(stamp, dt.timezone.utc).strftime("%Y-%m-%d_%H%M%SZ")
        gen_name = f"{number:04d}_{_folder_label(root_path)}_{date}.mhl"

        result = ManifestResult(number, folder / gen_name, folder / CHAIN_FILE, 0, swept=swept)
        safe = []
        for entry in entry_list:
            if is_xml_safe(entry.path):
                safe.append(entry)
            else:
                result.skipped.append(entry.path)
        dirs = _directory_hashes(root_path, safe, earlier) if directory_hashes and safe else {}
        data = _generation_xml(safe, earlier, dirs, result, process, comment, iso_now)

        ET.register_namespace("", MHL_DIR_NS)
        chain = ET.Element(_q(MHL_DIR_NS, "ascmhldirectory"))
        for num, name, fmt, digest in [*chain_items, (number, gen_name, "c4", c4_id(data))]:
            item = ET.SubElement(chain, _q(MHL_DIR_NS, "hashlist"), {"sequencenr": str(num)})
            ET.SubElement(item, _q(MHL_DIR_NS, "path")).text = name
            ET.SubElement(item, _q(MHL_DIR_NS, fmt or "c4")).text = digest
        write_files(folder, [(gen_name, data, False), (CHAIN_FILE, _xml_bytes(chain), True)],
                    "the ASC MHL manifest", token)
    return result


def _number(name: str) -> int:
    head = name.split("_", 1)[0]
    return int(head) if head.isdigit() else 0


def _generation_xml(
    entries: list[ManifestEntry],
    earlier: dict[str, ManifestRecord],
    dirs: dict[str, tuple[str, str, str, float]],
    result: ManifestResult,
    process: str,
    comment: str | None,
    iso_now: str,
) -> bytes:
    ET.register_namespace("", MHL_NS)
    hashlist = ET.Element(_q(MHL_NS, "hashlist"), {"version": "2.0"})
    creator = ET.SubElement(hashlist, _q(MHL_NS, "creatorinfo"))
    ET.SubElement(creator, _q(MHL_NS, "creationdate")).text = iso_now
    ET.SubElement(creator, _q(MHL_NS, "hostname")).text = _hostname()
    ET.SubElement(creator, _q(MHL_NS, "tool"), {"version": __version__}).text = "vfxcopy"
    if comment and is_xml_safe(comment):
        ET.SubElement(creator, _q(MHL_NS, "comment")).text = comment
    pinfo = ET.SubElement(hashlist, _q(MHL_NS, "processinfo"))
    ET.SubElement(pinfo, _q(MHL_NS, "process")).text = process
    if "." in dirs:
        _dir_hash(pinfo, "roothash", None, dirs["."], iso_now)
    ign = ET.SubElement(pinfo, _q(MHL_NS, "ignore"))
    for pattern in IGNORE_PATTERNS:
        ET.SubElement(ign, _q(MHL_NS, "pattern")).text = pattern
    hashes = ET.SubElement(hashlist, _q(MHL_NS, "hashes"))
    for entry in entries:
        action = "original"
        before = earlier.get(entry.path)
        if before is not None and before.hash_format == entry.hash_format:
            same = before.hash.lower() == entry.hash.lower()
            if same:
                action = "verified"
            elif entry.fresh:
                result.replaced.append(entry.path)  # a new delivery of that name: its new original
            else:
                action = "failed"
                result.failed.append(entry.path)
        h = ET.SubElement(hashes, _q(MHL_NS, "hash"))
        ET.SubElement(
            h, _q(MHL_NS, "path"), {"size": str(entry.size), "lastmodificationdate": _iso(entry.mtime)}
        ).text = entry.path
        ET.SubElement(h, _q(MHL_NS, entry.hash_format), {"action": action, "hashdate": iso_now}).text = entry.hash
        result.entries += 1
    for rel, value in sorted(dirs.items()):
        if rel != ".":
            _dir_hash(hashes, "directoryhash", rel, value, iso_now)
    result.directories = len(dirs)
    if len(hashes) == 0:
        hashlist.remove(hashes)  # the XSD allows no <hashes>, but not an empty one
    return _xml_bytes(hashlist)


def _dir_hash(parent: ET.Element, tag: str, rel: str | None, value: tuple[str, str, str, float], iso_now: str) -> None:
    fmt, content, structure, mtime = value
    el = ET.SubElement(parent, _q(MHL_NS, tag))
    if rel is not None:
        ET.SubElement(el, _q(MHL_NS, "path"), {"lastmodificationdate": _iso(mtime)}).text = rel
    for kind, digest in (("content", content), ("structure", structure)):
        box = ET.SubElement(el, _q(MHL_NS, kind))
        ET.SubElement(box, _q(MHL_NS, fmt), {"action": "original", "hashdate": iso_now}).text = digest


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
    for fr in frames:
        if token is not None:
            token.check()
        if fr.status not in (FrameStatus.DONE, FrameStatus.SKIPPED) or not fr.dest:
            continue
        try:
            st = os.stat(fr.dest)
        except OSError as exc:
            problems.append(f"{fr.dest}: not in place for the manifest ({exc.strerror})")
            continue
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
        entries.append(ManifestEntry(rel, st.st_size, st.st_mtime, fmt, digest, fresh=fr.status is FrameStatus.DONE))
    return entries, problems
