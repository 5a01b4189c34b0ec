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

import os
import re
import time
from collections.abc import Iterable

from vfxcopy import __version__
from vfxcopy.core.datamethods import SlotRecord
from vfxcopy.core.errors import ManifestError
from vfxcopy.core.jobs import CancelToken
from vfxcopy.core.stamps import hostname, iso_time, whole_second
from vfxcopy.core.textsafe import is_utf8
from vfxcopy.core.verify.files import (
    LOCK_TIMEOUT,
    manifest_error,
    manifest_lock,
    sweep_locked,
    write_files,
)
from vfxcopy.core.verify.hashes import c4_id
from vfxcopy.core.verify.mhl_folders import generation_folder_hashes
from vfxcopy.core.verify.mhl_listing import TreeListing
from vfxcopy.core.verify.mhl_parse import HashList, media_entry
from vfxcopy.core.verify.mhl_read import (
    CHAIN_FILE,
    IGNORE_PATTERNS,
    MHL_FOLDER,
    ManifestRecord,
    load_history,
    remember,
)

MHL_NS = "urn:ASC:MHL:v2.0"
MHL_DIR_NS = "urn:ASC:MHL:DIRECTORY:v2.0"


class ManifestEntry(SlotRecord):
    """One file of a generation: path relative to the root, size, mtime and one hash.

    `fresh`: written by this job (so its content is new: a file it replaced gets a
    new original hash); otherwise it was found in place and is compared with the history.
    """

    __slots__ = ("path", "size", "mtime", "hash_format", "hash", "fresh")

    def __init__(self, path: str, size: int, mtime: float, hash_format: str, hash: str, fresh: bool = True) -> None:
        self.path, self.size, self.mtime = path, size, mtime
        self.hash_format = hash_format  # ASC MHL name: xxh128, xxh64, md5 ...
        self.hash, self.fresh = hash, fresh


class ManifestResult(SlotRecord):
    """What one write_generation did: the generation, its files, and names left out or replaced."""

    __slots__ = ("generation", "path", "chain", "entries", "skipped", "failed", "replaced", "directories", "swept",
                 "nested")

    def __init__(
        self,
        generation: int,
        path: str,
        chain: str,
        entries: int,
        skipped: list[str] | None = None,
        failed: list[str] | None = None,
        replaced: list[str] | None = None,
        directories: int = 0,
        swept: list[str] | None = None,
        nested: list[ManifestResult] | None = None,
    ) -> None:
        self.generation = generation
        self.path = path  # the .mhl file
        self.chain = chain
        self.entries = entries
        self.skipped = [] if skipped is None else skipped  # names XML cannot carry (not valid UTF-8)
        self.failed = [] if failed is None else failed  # found in place, hashing differently from the history
        self.replaced = [] if replaced is None else replaced  # written anew over a file the history had
        self.directories = directories  # directory hashes written (the root's included)
        self.swept = [] if swept is None else swept  # leftovers of killed manifest writes removed first
        self.nested = [] if nested is None else nested  # generations written into nested histories


# The control characters XML 1.0 does not allow (below 0x20 except tab, line feed and return).
_XML_UNSAFE = "[\x00-\x08\x0b\x0c\x0e-\x1f]"  # compiled on first use (a printable name needs no search)


def is_xml_safe(text: str) -> bool:
    if not is_utf8(text):
        return False
    # A printable name has no control character at all; others get one regex search.
    return text.isprintable() or re.search(_XML_UNSAFE, text) is None


# The XML is written as text, laid out as ElementTree.indent lays it out: building a tree to
# serialise it cost every verified copy ElementTree's import (12 M instructions, 3 ms).
# A carriage return is written as a reference: a parser reads a raw one back as a line feed.
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;",
                       "\t": "&#09;"})
_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _xml_text(text: str) -> str:
    """`text` as element content: translate() costs about 1 us a name, four `in` tests a tenth of it."""
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        return text.translate(_TEXT)
    return text


class _Xml:
    """An XML document written line by line: one element per line, two spaces per level."""

    def __init__(self) -> None:
        self.lines: list[str] = [_HEAD]
        self.depth = 0

    def open(self, tag: str, attrs: str = "") -> None:
        self.lines.append(f"{'  ' * self.depth}<{tag}{attrs}>\n")
        self.depth += 1

    def close(self, tag: str) -> None:
        self.depth -= 1
        self.lines.append(f"{'  ' * self.depth}</{tag}>\n")

    def leaf(self, tag: str, text: str, attrs: str = "") -> None:
        self.lines.append(f"{'  ' * self.depth}<{tag}{attrs}>{_xml_text(text)}</{tag}>\n")

    def data(self) -> bytes:
        return "".join(self.lines).encode("utf-8")


def _attrs(**values: str) -> str:
    return "".join(f' {name}="{value.translate(_ATTR)}"' for name, value in values.items())


def _folder_label(root_path: str) -> str:
    name = os.path.basename(os.path.realpath(root_path)) or "root"
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
    root_path = os.fspath(root)
    groups = _by_history(root_path, sorted(entries, key=lambda e: e.path))
    nested: list[ManifestResult] = []
    for prefix in sorted((p for p in groups if p), key=lambda p: p.count("/"), reverse=True):
        sub = _write_one(os.path.join(root_path, prefix), groups[prefix], process, comment, now, token, lock_timeout,
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


def _by_history(root: str, entries: list[ManifestEntry]) -> dict[str, list[ManifestEntry]]:
    """Entries grouped by the deepest folder below `root` holding an `ascmhl/` history, paths made relative to it."""
    has_history: dict[str, bool] = {}
    groups: dict[str, list[ManifestEntry]] = {"": []}
    for entry in entries:
        owner = ""
        folder = os.path.dirname(entry.path)
        while folder:
            if folder not in has_history:
                has_history[folder] = os.path.isfile(os.path.join(root, folder, MHL_FOLDER, CHAIN_FILE))
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
    root_path: str,
    entry_list: list[ManifestEntry],
    process: str,
    comment: str | None,
    now: float | None,
    token: CancelToken | None,
    lock_timeout: float,
    directory_hashes: bool,
) -> ManifestResult:
    """One generation in `root_path/ascmhl` (see write_generation)."""
    folder = os.path.join(root_path, MHL_FOLDER)
    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    except OSError as exc:
        raise manifest_error(folder, "the ASC MHL folder", exc) from exc
    if not os.path.isdir(folder) or os.path.islink(folder):
        raise ManifestError(f"{folder}: not a folder; cannot write the ASC MHL manifest there (move it aside)")
    stamp = time.time() if now is None else now
    iso_now = iso_time(stamp)
    with manifest_lock(folder, token, lock_timeout):
        # Listed once, under the lock, for the sweep and for the next generation's number.
        try:
            names = os.listdir(folder)
        except OSError as exc:
            raise manifest_error(folder, "the ASC MHL folder", exc) from exc
        swept = sweep_locked(folder, names=names)
        gone = {os.path.basename(path) for path in swept}
        chain_items: list[tuple[int, str, str, str]] = []
        earlier: dict[str, ManifestRecord] = {}
        chain_path = os.path.join(folder, CHAIN_FILE)
        # One listing of each folder (after the copy, under the lock) for both of the steps below.
        tree = TreeListing(os.path.abspath(root_path), token)
        if CHAIN_FILE in names and os.path.exists(chain_path):
            history = load_history(root_path, tree)
            earlier, chain_items = history.records, history.chain
            here = os.path.normpath(folder)
            numbers = [n for n, *_ in chain_items] + [_number(os.path.basename(p)) for p in history.generations
                                                      if os.path.dirname(os.path.normpath(p)) == here]
        else:
            numbers = [_number(n) for n in names if n.endswith(".mhl") and n not in gone]
        number = max([0, *numbers]) + 1
        date = time.strftime("%Y-%m-%d_%H%M%SZ", time.gmtime(whole_second(stamp)))
        gen_name = f"{number:04d}_{_folder_label(root_path)}_{date}.mhl"

        gen_path = os.path.join(folder, gen_name)
        result = ManifestResult(number, gen_path, chain_path, 0, swept=swept)
        safe = []
        for entry in entry_list:
            if is_xml_safe(entry.path):
                safe.append(entry)
            else:
                result.skipped.append(entry.path)
        dirs = generation_folder_hashes(root_path, safe, earlier, tree) if directory_hashes and safe else {}
        written = HashList(os.path.abspath(gen_path), number)
        data = _generation_xml(safe, earlier, dirs, result, process, comment, iso_now, written)
        c4 = c4_id(data)
        items = [*chain_items, (number, gen_name, "c4", c4)]
        chain = _Xml()
        chain.open("ascmhldirectory", _attrs(xmlns=MHL_DIR_NS))
        for num, name, fmt, digest in items:
            chain.open("hashlist", _attrs(sequencenr=str(num)))
            chain.leaf("path", name)
            chain.leaf(fmt or "c4", digest)
            chain.close("hashlist")
        chain.close("ascmhldirectory")
        write_files(folder, [(gen_name, data, False), (CHAIN_FILE, chain.data(), True)],
                    "the ASC MHL manifest", token)
        # The next job of this run into this folder reads both back from memory (mhl_read).
        remember(gen_path, hash_list=written, c4=c4)
        remember(chain_path, chain=[(n, name, fmt or "c4", d) for n, name, fmt, d in items])
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
    written: HashList,
) -> bytes:
    """The generation's XML; `written` gets what a reader finds in it (for mhl_read's memory)."""
    xml = _Xml()
    xml.open("hashlist", _attrs(xmlns=MHL_NS, version="2.0"))
    xml.open("creatorinfo")
    xml.leaf("creationdate", iso_now)
    xml.leaf("hostname", hostname())
    xml.leaf("tool", "vfxcopy", _attrs(version=__version__))
    if comment and is_xml_safe(comment):
        xml.leaf("comment", comment)
    xml.close("creatorinfo")
    xml.open("processinfo")
    xml.leaf("process", process)
    if "." in dirs:
        _dir_hash(xml, "roothash", None, dirs["."], iso_now)
    xml.open("ignore")
    for pattern in IGNORE_PATTERNS:
        xml.leaf("pattern", pattern)
    xml.close("ignore")
    written.ignore = list(IGNORE_PATTERNS)
    xml.close("processinfo")
    if entries or any(rel != "." for rel in dirs):  # the XSD allows no <hashes>, but not an empty one
        xml.open("hashes")
    lines, pad, hashdate = xml.lines, "  " * xml.depth, iso_now.translate(_ATTR)
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
        # One string per file: what open/leaf/leaf/close write (sizes, dates, actions and formats need no
        # escaping), without their calls and attribute escaping per element (20,000 frames: 0.17 -> 0.06 s).
        fmt = entry.hash_format
        lines.append(f'{pad}<hash>\n{pad}  <path size="{entry.size}" lastmodificationdate="{iso_time(entry.mtime)}">'
                     f'{_xml_text(entry.path)}</path>\n{pad}  <{fmt} action="{action}" hashdate="{hashdate}">'
                     f'{_xml_text(entry.hash)}</{fmt}>\n{pad}</hash>\n')
        written.media.append(media_entry(entry.path, entry.size, entry.hash_format, entry.hash, action))
        result.entries += 1
    for rel, value in sorted(dirs.items()):
        if rel != ".":
            _dir_hash(xml, "directoryhash", rel, value, iso_now)
            written.media.append(media_entry(rel, None, value[0], value[1], "original", structure=value[2]))
    result.directories = len(dirs)
    if xml.depth == 2:
        xml.close("hashes")
    xml.close("hashlist")
    return xml.data()


def _dir_hash(xml: _Xml, tag: str, rel: str | None, value: tuple[str, str, str, float], iso_now: str) -> None:
    fmt, content, structure, mtime = value
    xml.open(tag)
    if rel is not None:
        xml.leaf("path", rel, _attrs(lastmodificationdate=iso_time(mtime)))
    for kind, digest in (("content", content), ("structure", structure)):
        xml.open(kind)
        xml.leaf(fmt, digest, _attrs(action="original", hashdate=iso_now))
        xml.close(kind)
    xml.close(tag)
