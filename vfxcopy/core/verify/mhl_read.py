"""Reading an ASC MHL history through the `ascmhl` reference library: nested histories, renames, directory hashes.

`ascmhl` is imported only here and only when a history is read (it costs
~0.2 s: lxml, click, pathspec), never its `cli` package (which calls the
network on import). Whatever the library raises on a corrupt, edited or
foreign history becomes a `ManifestError` naming the file and what to do.

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
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfxcopy.core.errors import ManifestError
from vfxcopy.core.verify.hashes import VERIFY_PREFERENCE

MHL_FOLDER = "ascmhl"
CHAIN_FILE = "ascmhl_chain.xml"
# Never "extra" in a delivery: ascmhl's defaults, a running job's temps, a farm job's chunk results.
IGNORE_PATTERNS = (".DS_Store", MHL_FOLDER, f"{MHL_FOLDER}/", ".vfxcopy-*.part", ".vfxcopy-farm")
_ORIGINAL = (None, "", "original")


@dataclass
class ManifestRecord:
    """What a history says about one file: the hash to check it against and the size then."""

    path: str
    hash_format: str
    hash: str
    size: int | None
    generation: int


@dataclass
class DirectoryRecord:
    """A folder's hashes in a history: content and structure, and the generation that recorded them.

    (A docstring also spares dataclass an inspect.signature call at import.)
    """

    path: str
    hash_format: str
    content: str
    structure: str | None
    generation: int


@dataclass
class History:
    """A destination's history, paths relative to its root (POSIX separators), nested histories folded in."""

    records: dict[str, ManifestRecord]
    ignore: list[str]
    generations: list[Path]
    directories: dict[str, DirectoryRecord] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)  # new path -> previous path
    nested: list[str] = field(default_factory=list)  # folders holding their own ascmhl/ history
    warnings: list[str] = field(default_factory=list)
    ignore_spec: Any = None  # a pathspec.PathSpec matching absolute paths, as ascmhl's traversal does
    chain: list[tuple[int, str, str, str]] = field(default_factory=list)  # (number, file name, format, hash)

    def ignored(self, full_path: str, is_dir: bool = False) -> bool:
        if self.ignore_spec is None:
            return False
        return bool(self.ignore_spec.match_file(full_path + ("/" if is_dir else "")))


_capture = threading.local()


def _install_log_capture() -> None:
    """ascmhl prints problems to stderr through click: collect them for the caller instead."""
    from ascmhl import logger

    if getattr(logger, "_vfxcopy_captured", False):
        return

    def collect(msg: str, *args: object) -> None:
        lines = getattr(_capture, "lines", None)
        if lines is not None:
            lines.append(msg % args if args else msg)

    logger.error = collect
    logger.info = collect
    logger._vfxcopy_captured = True


@contextmanager
def _captured_log() -> Iterator[list[str]]:
    lines: list[str] = []
    _capture.lines = lines
    try:
        yield lines
    finally:
        _capture.lines = None


def _explain(root: str, exc: BaseException) -> str:
    chain = os.path.join(root, MHL_FOLDER, CHAIN_FILE)
    text = str(getattr(exc, "message", "") or exc).strip() or type(exc).__name__
    name = type(exc).__name__
    if name == "ModifiedMHLManifestFileException":
        what = f"{text}: a manifest was modified after it was written (its C4 id differs from {CHAIN_FILE})"
    elif name == "MissingMHLManifestException":
        what = f"{text}: a manifest listed in {CHAIN_FILE} is missing"
    elif name == "NoMHLChainException":
        what = f"{chain}: the ascmhl/ folder has no {CHAIN_FILE}"
    elif name == "XMLSyntaxError":
        where = getattr(exc, "filename", None) or chain
        what = f"{where}: not valid XML ({text})"
    else:
        what = f"{chain}: the ASC MHL history cannot be read ({name}: {text})"
    return (f"{what}. The history at {os.path.join(root, MHL_FOLDER)} is damaged or not an ASC MHL 2.0 history; "
            "restore it from a backup (or move the ascmhl/ folder aside to verify against the job journal)")


def load_ascmhl(root: str) -> Any:
    """`ascmhl.history.MHLHistory` of `root`, or ManifestError; the library's complaints are returned in .warnings."""
    import ascmhl.history

    _install_log_capture()
    with _captured_log() as lines, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ascmhl asks pathspec for 'gitwildmatch'
        try:
            history = ascmhl.history.MHLHistory.load_from_path(root)
        except Exception as exc:  # a parser of untrusted files: whatever it raises means a bad history
            raise ManifestError(_explain(root, exc)) from exc
    history.vfxcopy_warnings = list(lines)
    return history


def _posix(path: str) -> str:
    return path.replace(os.sep, "/")


def _pick(entries: list[Any]) -> Any | None:
    """The entry to check against among one file's entries of one generation (fastest format first)."""
    usable = [e for e in entries if e.hash_string and e.hash_format in VERIFY_PREFERENCE]
    if not usable:
        return None
    return min(usable, key=lambda e: VERIFY_PREFERENCE.index(e.hash_format))


def load_history(root: str | os.PathLike[str]) -> History:
    """Read `root/ascmhl` (and every nested history below) into one History; ManifestError when it cannot be read."""
    root_str = os.path.abspath(os.fspath(root))
    folder = os.path.join(root_str, MHL_FOLDER)
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise ManifestError(f"{folder}: not a folder, so no ASC MHL history can be read or written here "
                            "(rename or move that file)")
    if not os.path.isdir(folder):
        raise ManifestError(f"{root_str}: no ASC MHL history ({MHL_FOLDER}/ folder missing)")
    if not os.path.exists(os.path.join(folder, CHAIN_FILE)):
        raise ManifestError(f"{root_str}: no ASC MHL history ({CHAIN_FILE} missing in {MHL_FOLDER}/)")
    with _utf8_alias(root_str) as alias:
        mhl = load_ascmhl(alias)
        if not mhl.hash_lists:
            raise ManifestError(f"{root_str}: no ASC MHL history ({CHAIN_FILE} lists no generation)")
        try:
            history = _fold(alias, mhl)
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise ManifestError(_explain(root_str, exc)) from exc
    if alias != root_str:
        history.generations = [Path(root_str) / os.path.relpath(p, alias) for p in history.generations]
    return history


@contextmanager
def _utf8_alias(root: str) -> Iterator[str]:
    """A path to `root` that is valid UTF-8 (ascmhl and lxml cannot take others): /proc/self/fd/N on Linux."""
    try:
        root.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        yield root
        return
    try:
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ManifestError(f"{root}: cannot open the folder ({exc.strerror})") from exc
    try:
        alias = f"/proc/self/fd/{fd}"
        yield alias if os.path.isdir(alias) else root
    finally:
        os.close(fd)


def _fold(root: str, mhl: Any) -> History:
    from ascmhl import ignore as mhl_ignore
    from ascmhl.history import MHLHistory

    records: dict[str, ManifestRecord] = {}
    directories: dict[str, DirectoryRecord] = {}
    renamed: dict[str, str] = {}
    owner: dict[str, str] = {}  # path -> prefix of the history that recorded it
    nested: list[str] = []
    generations: list[Path] = []
    # Parents before the histories nested in them (walk_child_histories yields children first).
    for hist in reversed(list(MHLHistory.walk_child_histories(mhl))):
        base = os.path.relpath(hist.get_root_path(), root)
        prefix = "" if base == "." else _posix(base) + "/"
        if prefix:
            nested.append(prefix.rstrip("/"))
        for hash_list in hist.hash_lists:
            generations.append(Path(hash_list.file_path))
            number = int(hash_list.generation_number or 0)
            for media in hash_list.media_hashes:
                if not media.path:
                    continue
                rel = prefix + _posix(media.path)
                if media.is_directory:
                    entry = _pick(media.hash_entries)
                    if entry is not None:
                        directories[rel] = DirectoryRecord(rel, entry.hash_format, entry.hash_string,
                                                           entry.structure_hash_string, number)
                    continue
                if media.previous_path:
                    old = prefix + _posix(media.previous_path)
                    renamed[rel] = old
                    if old in records and rel not in records:
                        records[rel] = ManifestRecord(rel, records[old].hash_format, records[old].hash,
                                                      records[old].size, records[old].generation)
                        owner[rel] = prefix
                    records.pop(old, None)
                original = _pick([e for e in media.hash_entries if e.action in _ORIGINAL])
                if original is None and rel not in records:
                    original = _pick([e for e in media.hash_entries if e.action == "verified"])
                if original is not None:
                    records[rel] = ManifestRecord(rel, original.hash_format, original.hash_string.strip(),
                                                  media.file_size, number)
                    owner[rel] = prefix
    # As ascmhl does, a file under a nested history is known only to that history.
    prefixes = sorted((n + "/" for n in nested), key=len, reverse=True)
    for rel in list(records):
        deepest = next((p for p in prefixes if rel.startswith(p)), "")
        if owner.get(rel, "") != deepest:
            del records[rel]
    chain = [(int(g.generation_number or 0), g.ascmhl_filename, g.hash_format, g.hash_string)
             for g in (mhl.chain.generations if mhl.chain is not None else [])]
    patterns = list(mhl.latest_ignore_patterns() or [])
    extra = [p for p in IGNORE_PATTERNS if p not in patterns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        spec = mhl_ignore.MHLIgnoreSpec(patterns or None, extra).get_path_spec()
    history = History(records, patterns or list(IGNORE_PATTERNS), generations, directories, renamed, nested,
                      list(getattr(mhl, "vfxcopy_warnings", [])), spec, chain)
    return history
