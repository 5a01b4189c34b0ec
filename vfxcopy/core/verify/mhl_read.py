"""Reading an ASC MHL history with our own small reader: chains, generations, nested histories, renames, directory hashes.

The reader follows the reference library (`ascmhl`) element for element (the
XML itself is read in mhl_parse, with expat): the chain file, every
`NNNN_*.mhl` generation (also those the chain lacks), each generation's C4 id
checked against the chain (an edited or missing manifest is refused, as
`ascmhl` refuses it), nested histories found as `ascmhl` finds them (a walk of
the tree; a folder holding `ascmhl/` is that history's), hash-list references
checked. It does not import `ascmhl`, which cost every
verified copy that continued a history 0.1 s (lxml, click, dateutil, pathspec);
`vfxcopy verify` matches plain name ignore patterns itself (NameSpec), and loads
`ascmhl.ignore` for any other pattern, on first use. tests/core/test_mhl.py reads
histories that `ascmhl create` wrote.

Files read or written in this process are remembered by their identity (device,
inode, size, mtime and ctime: any write or `touch` changes the ctime), so the
next job of a run into the same folder does not parse and hash again what it
has just written; a file that changed in any way is read again.

Which hash a file is checked against: the NEWEST generation that delivered the
file (action "original", or no action) — so a frame legitimately replaced by a
later job (`--on-conflict overwrite`) is checked against its new content. A
"failed" entry (a later check that found the file altered) is never a
reference; a renamed file (`previousPath`) keeps its old record. (`ascmhl
verify` checks against the first original instead: after an overwrite it
reports the new frame as a mismatch, we do not.)
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable

from vfxcopy.core.datamethods import SlotRecord
from vfxcopy.core.errors import ManifestError
from vfxcopy.core.verify.hashes import VERIFY_PREFERENCE, c4_id, hash_bytes
from vfxcopy.core.verify.mhl_listing import TreeListing
from vfxcopy.core.verify.mhl_parse import (
    BadHistory,
    Entry,
    HashList,
    parse_chain,
    parse_hash_list,
    read_history_file,
)

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import Any

MHL_FOLDER = "ascmhl"
CHAIN_FILE = "ascmhl_chain.xml"
# Never "extra" in a delivery: ascmhl's defaults, a running job's temps, a farm job's chunk results.
IGNORE_PATTERNS = (".DS_Store", MHL_FOLDER, f"{MHL_FOLDER}/", ".vfxcopy-*.part", ".vfxcopy-farm")
ASCMHL_DEFAULT_IGNORE = (".DS_Store", MHL_FOLDER, f"{MHL_FOLDER}/")
_ORIGINAL = (None, "", "original")
_VERIFIED = ("verified",)
_GENERATION_NAME = r"^(\d{4,})(?:_(.+))?$"  # compiled when a history is read


class ManifestRecord(SlotRecord):
    """What a history says about one file: the hash to check it against and the size then."""

    __slots__ = ("path", "hash_format", "hash", "size", "generation")

    def __init__(self, path: str, hash_format: str, hash: str, size: int | None, generation: int) -> None:
        self.path, self.hash_format, self.hash, self.size, self.generation = path, hash_format, hash, size, generation


class DirectoryRecord(SlotRecord):
    """A folder's hashes in a history: content and structure, and the generation that recorded them."""

    __slots__ = ("path", "hash_format", "content", "structure", "generation")

    def __init__(self, path: str, hash_format: str, content: str, structure: str | None, generation: int) -> None:
        self.path, self.hash_format, self.content, self.structure = path, hash_format, content, structure
        self.generation = generation


class History(SlotRecord):
    """A destination's history, paths relative to its root (POSIX separators), nested histories folded in."""

    __slots__ = ("records", "ignore", "generations", "directories", "renamed", "nested", "warnings", "ignore_spec",
                 "chain")

    def __init__(
        self,
        records: dict[str, ManifestRecord],
        ignore: list[str],
        generations: list[str],
        directories: dict[str, DirectoryRecord] | None = None,
        renamed: dict[str, str] | None = None,
        nested: list[str] | None = None,
        warnings: list[str] | None = None,
        ignore_spec: Any = None,
        chain: list[tuple[int, str, str, str]] | None = None,
    ) -> None:
        self.records = records
        self.ignore = ignore
        self.generations = generations
        self.directories = {} if directories is None else directories
        self.renamed = {} if renamed is None else renamed  # new path -> previous path
        self.nested = [] if nested is None else nested  # folders holding their own ascmhl/ history
        self.warnings = [] if warnings is None else warnings
        self.ignore_spec = ignore_spec  # NameSpec or pathspec's PathSpec (absolute paths), made on first use
        self.chain = [] if chain is None else chain  # (number, file name, format, hash)

    def ignored(self, full_path: str, is_dir: bool = False) -> bool:
        if self.ignore_spec is None:
            if not self.ignore:
                return False
            self.ignore_spec = ignore_spec(self.ignore)
        # pathspec's patterns are regular expressions whose `.` matches no line break: a folder above
        # with one in its name made every pattern miss (a delivery's own ascmhl/ files were "extra").
        # No pattern can hold a line break (XML), so one stands in for it.
        return bool(self.ignore_spec.match_file(full_path.replace("\n", "_") + ("/" if is_dir else "")))


def ignore_spec(patterns: list[str]) -> Any:
    """What `ascmhl verify` matches paths with: the history's patterns (or ascmhl's defaults) and ours.

    Patterns that are plain names, with `*` at most and a trailing `/` for folders (the defaults,
    ours, `*.tmp`), are matched by NameSpec as gitwildmatch matches them, without importing
    ascmhl and pathspec (about 60 ms of every `vfxcopy verify`); any other pattern goes to them."""
    import warnings

    # The list MHLIgnoreSpec(patterns or None, ours not in them) builds: ascmhl's defaults when the
    # history has none, then ours, each once.
    merged = list(dict.fromkeys([*(patterns or ASCMHL_DEFAULT_IGNORE), *IGNORE_PATTERNS]))
    simple = NameSpec.of(merged)
    if simple is not None:
        return simple
    # pathspec's gitwildmatch, exactly as the reference tool builds it (only `vfxcopy verify` walks with it)
    from ascmhl import ignore as mhl_ignore

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ascmhl asks pathspec for 'gitwildmatch'
        return mhl_ignore.MHLIgnoreSpec(merged).get_path_spec()


class NameSpec:
    """gitwildmatch for patterns that name a file or folder at any depth: `NAME` (a file or a folder
    and all below it), `NAME/` (a folder and all below it), `*` standing for any characters but `/`.
    `match_file` answers as pathspec's PathSpec.match_file does (tests/core/test_mhl.py compares them)."""

    __slots__ = ("regex",)

    def __init__(self, regex: re.Pattern[str]) -> None:
        self.regex = regex

    @classmethod
    def of(cls, patterns: list[str]) -> NameSpec | None:
        """The spec for `patterns`, or None if one of them is more than a name (see the class)."""
        alternatives = []
        for pattern in patterns:
            name, folder = (pattern[:-1], True) if pattern.endswith("/") else (pattern, False)
            if (not name or name.strip() != name or name.startswith("#") or "**" in name or name == "*"
                    or any(c in name for c in "/\\?[]!")):
                return None
            body = "[^/]*".join(re.escape(part) for part in name.split("*"))
            alternatives.append(body + ("/" if folder else "(?:/|$)"))
        if not alternatives:
            return None
        return cls(re.compile("^(?:.+/)?(?:" + "|".join(alternatives) + ")"))

    def match_file(self, path: str) -> bool:
        if path.startswith("/"):  # made relative, as pathspec does
            path = path[1:]
        elif path.startswith("./"):
            path = path[2:]
        return self.regex.match(path) is not None


# -- what this process has read or written (see the module's docstring) ---------------


def _identity(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


# path (or (path, format)) -> (identity, what it holds). Generations are kept up to _KEEP_ENTRIES
# hashes in all (about 6 MB; the window stays small after big jobs), the newest first.
_hash_lists: dict[Any, tuple[tuple[int, ...], Any]] = {}
_chains: dict[Any, tuple[tuple[int, ...], Any]] = {}
_digests: dict[Any, tuple[tuple[int, ...], Any]] = {}
_KEEP_ENTRIES = 20_000
_KEEP_FILES = 1_000
_lock = threading.Lock()  # the window runs several jobs at once


def _keep(cache: dict[Any, tuple[tuple[int, ...], Any]], key: Any, ident: tuple[int, ...], value: Any) -> None:
    with _lock:
        cache.pop(key, None)
        if cache is _hash_lists and len(value.media) > _KEEP_ENTRIES:
            return  # read again if asked: one parse of a generation this big is nothing beside its copy
        cache[key] = (ident, value)
        while len(cache) > _KEEP_FILES:  # oldest first
            cache.pop(next(iter(cache)))
        if cache is _hash_lists:
            kept = sum(len(h.media) for _, h in cache.values())
            while kept > _KEEP_ENTRIES:
                kept -= len(cache.pop(next(iter(cache)))[1].media)


def remember(path: str, hash_list: HashList | None = None, chain: list[tuple[int, str, str, str]] | None = None,
             c4: str | None = None) -> None:
    """Note what the file at `path` holds now (a generation, a chain, its C4 id): read again only once it changes."""
    path = os.path.abspath(path)  # as load_history spells it
    ident = _identity(path)
    if ident is None:
        return
    if hash_list is not None:
        _keep(_hash_lists, path, ident, hash_list)
    if chain is not None:
        _keep(_chains, path, ident, list(chain))
    if c4 is not None:
        _keep(_digests, (path, "c4"), ident, c4)


def _known(cache: dict[Any, tuple[tuple[int, ...], Any]], key: Any, path: str) -> Any:
    hit = cache.get(key)
    if hit is None:
        return None
    if _identity(path) != hit[0]:
        with _lock:
            cache.pop(key, None)
        return None
    return hit[1]


def _read_once(cache: dict[Any, tuple[tuple[int, ...], Any]], key: Any, path: str, read: Callable[[], Any]) -> Any:
    """What `read()` makes of the file at `path`: remembered under `key` while the file's identity
    stays the same, and kept only if the file did not change while it was read."""
    known = _known(cache, key, path)
    if known is not None:
        return known
    before = _identity(path)
    value = read()
    if before is not None and _identity(path) == before:  # not changed while it was read
        _keep(cache, key, before, value)
    return value


# The bytes of the generation files one load has read: (identity while read, or None if it
# changed meanwhile; bytes). A generation is read once for its C4 id and its entries: what is
# parsed is what was checked against the chain (read twice, a file swapped between the two reads
# was parsed unchecked), and over a network file system each read is several round trips.
Read = dict[str, tuple["tuple[int, ...] | None", bytes]]
READ_AHEAD_MIN = 8  # generations a load reads several at a time on a network file system


def _bytes(path: str, read: Read) -> tuple[tuple[int, ...] | None, bytes]:
    got = read.get(path)
    if got is None:
        before = _identity(path)
        data = read_history_file(path)
        got = read[path] = (before if before is not None and _identity(path) == before else None, data)
    return got


def _hash_list(path: str, number: int, read: Read) -> HashList:
    hash_list: HashList | None = _known(_hash_lists, path, path)
    got, hit = read.get(path), _hash_lists.get(path)
    if got is not None and (hit is None or hit[0] != got[0]):
        hash_list = None  # this load read (and checked) the file: the entries of those bytes, not another version's
    if hash_list is None:
        ident, data = _bytes(path, read)
        hash_list = parse_hash_list(path, number, data)
        if ident is not None:
            _keep(_hash_lists, path, ident, hash_list)
    hash_list.number = number
    return hash_list


def _chain(path: str) -> list[tuple[int, str, str, str]]:
    return list(_read_once(_chains, path, path, lambda: parse_chain(path)))  # a copy: the caller's to change


def _digest(path: str, fmt: str, read: Read) -> str:
    """The hash of a generation file in `fmt` (the chain's C4 id, in practice). Taken from memory
    only while its entries are too: entries parsed now are parsed from the bytes hashed now."""
    digest: str | None = None
    if path not in read and _known(_hash_lists, path, path) is not None:
        digest = _known(_digests, (path, fmt), path)
    if digest is None:
        ident, data = _bytes(path, read)
        digest = c4_id(data) if fmt == "c4" else hash_bytes(fmt, data)
        if ident is not None:
            _keep(_digests, (path, fmt), ident, digest)
    return digest


# -- a history and the histories nested in it, as ascmhl's MHLHistory loads them --------


class _Folder:
    """One history: its root, chain, generations in order and nested histories (by path relative to it)."""

    __slots__ = ("chain", "children", "hash_lists", "mappings", "root")

    def __init__(self, root: str) -> None:
        self.root = root
        self.chain: list[tuple[int, str, str, str]] = []
        self.hash_lists: list[HashList] = []
        self.children: list[_Folder] = []
        self.mappings: dict[str, _Folder] = {}

    def walk(self) -> list[_Folder]:
        """Nested histories first, then this one (ascmhl's walk_child_histories)."""
        out: list[_Folder] = []
        for child in self.children:
            out.extend(child.walk())
        out.append(self)
        return out


def _load(root: str, warnings: list[str], read: Read, listing: TreeListing) -> _Folder:
    folder = os.path.join(root, MHL_FOLDER)
    chain_path = os.path.join(folder, CHAIN_FILE)
    history = _Folder(root)
    if os.path.exists(folder) and not os.path.exists(chain_path):
        raise BadHistory(f"{chain_path}: the ascmhl/ folder has no {CHAIN_FILE}")
    if os.path.exists(chain_path):
        history.chain = _chain(chain_path)
    if len(history.chain) >= READ_AHEAD_MIN and listing.network():  # each read is several round trips there
        listing.ahead([p for p in (os.path.join(folder, c[1]) for c in history.chain) if p not in _hash_lists],
                      lambda path: _bytes(path, read))
    for _number, name, fmt, digest in history.chain:
        listing.check()
        expected = os.path.join(folder, name)
        if not os.path.exists(expected):
            raise BadHistory(f"Missing ASC MHL manifest in history at path {expected}: a manifest listed in "
                       f"{CHAIN_FILE} is missing")
        try:
            found = _digest(expected, fmt, read)
        except ValueError:
            raise BadHistory(f"{chain_path}: {name} is listed with the hash format {fmt!r}, which ASC MHL does not know") \
                from None
        if found != digest:
            raise BadHistory(f"Modified ASC MHL manifest in history at path {expected}: a manifest was modified after "
                       f"it was written (its C4 id differs from {CHAIN_FILE})")
    lists: list[HashList] = []
    try:
        names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    except OSError as exc:
        raise BadHistory(f"{folder}: cannot be listed ({exc.strerror})") from exc
    for name in names:
        if name.startswith("._") or not name.endswith(".mhl"):
            continue  # ._ files: macOS metadata a copy through another system can leave
        match = re.match(_GENERATION_NAME, name[: -len(".mhl")])
        if match is None:
            warnings.append(f"name of ascmhl file {name} does not conform to naming convention")
            continue
        lists.append(_hash_list(os.path.join(folder, name), int(match.group(1)), read))
    lists.sort(key=lambda h: h.number)
    history.hash_lists = lists
    # Nested histories: a folder below holding ascmhl/ is that history's, with everything beneath it.
    for dirpath, dirnames, _files in listing.walk(root):
        if dirpath != root and MHL_FOLDER in dirnames:
            history.children.append(_load(dirpath, warnings, read, listing))
            dirnames.clear()
    for child in history.children:
        rel = os.path.relpath(child.root, root)
        history.mappings[rel] = child
        for sub_rel, sub in child.mappings.items():
            history.mappings[os.path.join(rel, sub_rel)] = sub
    _check_references(history, warnings, read)
    return history


def _check_references(history: _Folder, warnings: list[str], read: Read) -> None:
    """A generation's references to nested generations: a C4 id that differs is reported, as ascmhl logs it."""
    for hash_list in history.hash_lists:
        for ref_path, ref_hash in hash_list.references:
            child = history.mappings.get(os.path.dirname(os.path.dirname(ref_path or "")))
            if child is None:
                return  # as ascmhl: an unknown reference ends the check
            name = os.path.basename(ref_path or "")
            referenced = next((h for h in child.hash_lists if os.path.basename(h.file_path) == name), None)
            if referenced is None:
                raise BadHistory(f"{hash_list.file_path}: references {ref_path}, which the nested history does not hold")
            found = _digest(referenced.file_path, "c4", read)
            if found != ref_hash:
                warnings.append(f"ASC MHL file: {hash_list.file_path}")
                warnings.append(f'  referenced manifest file "{referenced.file_path}"')
                warnings.append(f"  should have hash:  {ref_hash}")
                warnings.append(f"  but file has hash: {found}")


def _explain(root: str, what: str) -> str:
    return (f"{what}. The history at {os.path.join(root, MHL_FOLDER)} is damaged or not an ASC MHL 2.0 history; "
            "restore it from a backup (or move the ascmhl/ folder aside to verify against the job journal)")


def _posix(path: str) -> str:
    return path.replace(os.sep, "/")


_USABLE = frozenset(VERIFY_PREFERENCE)


def _pick(entries: list[Entry], actions: tuple[str | None, ...] | None = None) -> Entry | None:
    """The entry to check against among one file's entries of one generation (fastest format first),
    of those recorded with one of `actions` (None: any)."""
    if len(entries) == 1:  # one hash, the usual case: the answer without the lists below
        only = entries[0]
        usable = (actions is None or only.action in actions) and only.value and only.fmt in _USABLE
        return only if usable else None
    found = [e for e in entries if (actions is None or e.action in actions) and e.value and e.fmt in _USABLE]
    if not found:
        return None
    return min(found, key=lambda e: VERIFY_PREFERENCE.index(e.fmt))


def load_history(root: str | os.PathLike[str], listing: TreeListing | None = None) -> History:
    """Read `root/ascmhl` (and every nested history below) into one History; ManifestError when it cannot
    be read. `listing`: the folders of `root` as the caller's next steps will use them (shared)."""
    root_str = os.path.abspath(os.fspath(root))
    folder = os.path.join(root_str, MHL_FOLDER)
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise ManifestError(f"{folder}: not a folder, so no ASC MHL history can be read or written here "
                            "(rename or move that file)")
    if not os.path.isdir(folder):
        raise ManifestError(f"{root_str}: no ASC MHL history ({MHL_FOLDER}/ folder missing)")
    if not os.path.exists(os.path.join(folder, CHAIN_FILE)):
        raise ManifestError(f"{root_str}: no ASC MHL history ({CHAIN_FILE} missing in {MHL_FOLDER}/)")
    warnings: list[str] = []
    try:
        top = _load(root_str, warnings, {}, TreeListing(root_str) if listing is None else listing)
        if not top.hash_lists:
            raise ManifestError(f"{root_str}: no ASC MHL history ({CHAIN_FILE} lists no generation)")
        history = _fold(root_str, top)
    except BadHistory as exc:
        raise ManifestError(_explain(root_str, str(exc))) from exc
    except (OSError, UnicodeError) as exc:
        raise ManifestError(_explain(root_str, f"{os.path.join(root_str, MHL_FOLDER)}: the ASC MHL history cannot "
                                               f"be read ({type(exc).__name__}: {exc})")) from exc
    except (ValueError, TypeError, AttributeError) as exc:  # a field of the wrong kind, e.g. a size that is no number
        raise ManifestError(_explain(root_str, f"{os.path.join(root_str, MHL_FOLDER, CHAIN_FILE)}: the ASC MHL "
                                               f"history cannot be read ({type(exc).__name__}: {exc})")) from exc
    history.warnings = warnings
    return history


def _fold(root: str, top: _Folder) -> History:
    records: dict[str, ManifestRecord] = {}
    directories: dict[str, DirectoryRecord] = {}
    renamed: dict[str, str] = {}
    owner: dict[str, str] = {}  # path -> prefix of the history that recorded it
    nested: list[str] = []
    generations: list[str] = []  # the generation files' paths
    # Parents before the histories nested in them (walk yields children first).
    for hist in reversed(top.walk()):
        base = os.path.relpath(hist.root, root)
        prefix = "" if base == "." else _posix(base) + "/"
        if prefix:
            nested.append(prefix.rstrip("/"))
        for hash_list in hist.hash_lists:
            generations.append(hash_list.file_path)
            number = hash_list.number
            for media in hash_list.media:
                if not media.path:
                    continue
                rel = prefix + _posix(media.path)
                if media.is_dir:
                    entry = _pick(media.entries)
                    if entry is not None:
                        directories[rel] = DirectoryRecord(rel, entry.fmt, entry.value or "", entry.structure, number)
                    continue
                if media.previous:
                    old = prefix + _posix(media.previous)
                    renamed[rel] = old
                    if old in records and rel not in records:
                        records[rel] = ManifestRecord(rel, records[old].hash_format, records[old].hash,
                                                      records[old].size, records[old].generation)
                        owner[rel] = prefix
                    records.pop(old, None)
                original = _pick(media.entries, _ORIGINAL)
                if original is None and rel not in records:
                    original = _pick(media.entries, _VERIFIED)
                if original is not None:
                    records[rel] = ManifestRecord(rel, original.fmt, (original.value or "").strip(), media.size,
                                                  number)
                    owner[rel] = prefix
    # As ascmhl does, a file under a nested history is known only to that history.
    prefixes = sorted((n + "/" for n in nested), key=len, reverse=True)
    for rel in list(records) if prefixes else ():  # no nested history: every owner is the top one
        deepest = next((p for p in prefixes if rel.startswith(p)), "")
        if owner.get(rel, "") != deepest:
            del records[rel]
    # The latest generation's patterns, or ascmhl's defaults when it lists none.
    latest = top.hash_lists[-1].ignore if top.hash_lists else []
    patterns = list(dict.fromkeys(latest)) or list(ASCMHL_DEFAULT_IGNORE)
    return History(records, patterns, generations, directories, renamed, nested, [], None, list(top.chain))
