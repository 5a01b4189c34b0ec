"""The XML of an ASC MHL history as the reference library's parsers read it: one generation, and the chain.

Element for element what `ascmhl`'s hashlist_xml_parser and chain_xml_parser take
from a file (namespaces stripped from the names, as they strip them), read with
expat: a file's hashes with their actions, a folder's content and structure
hashes, the ignore patterns, references to nested generations; the chain's
numbered generations with their C4 ids. mhl_read makes a history of them. Runs of
<hash> elements in the layout vfxcopy and ascmhl write are read without expat's
callbacks, into the same entries (see _fast_hash_list).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import Any

# The hash formats ascmhl knows (its ascmhl_supported_hashformats): other elements are not hashes.
HASH_FORMATS = frozenset(("md5", "sha1", "xxh128", "xxh3", "xxh64", "c4"))


class Entry:
    """One hash of a file or folder: format, value, action, and a folder's structure hash."""

    __slots__ = ("action", "fmt", "structure", "value")

    def __init__(self, fmt: str, value: str | None, action: str | None, structure: str | None = None) -> None:
        self.fmt, self.value, self.action, self.structure = fmt, value, action, structure


class Media:
    """A <hash> or <directoryhash> of a generation."""

    __slots__ = ("entries", "is_dir", "path", "previous", "size")

    def __init__(self, is_dir: bool) -> None:
        self.is_dir = is_dir
        self.path: str | None = None
        self.size: int | None = None
        self.previous: str | None = None
        self.entries: list[Entry] = []


class HashList:
    """What one generation file says: its hashes, ignore patterns and references to nested generations."""

    __slots__ = ("file_path", "ignore", "media", "number", "references")

    def __init__(self, file_path: str, number: int = 0) -> None:
        self.file_path = file_path
        self.number = number
        self.media: list[Media] = []
        self.ignore: list[str] = []
        self.references: list[tuple[str | None, str | None]] = []  # (path, c4)


def media_entry(path: str, size: int | None, fmt: str, value: str, action: str, *,
                structure: str | None = None) -> Media:
    """A file's (or, with `structure`, a folder's) entry as the reader makes it from a generation's XML."""
    media = Media(structure is not None)
    media.path, media.size = path, size
    media.entries.append(Entry(fmt, value, action, structure))
    return media


class BadHistory(Exception):
    """A history that cannot be read: the message says what is wrong with which file."""


_CREATOR, _PROCESS, _IGNORE, _REFERENCE = "creator", "process", "ignore", "reference"


def read_history_file(path: str) -> bytes:
    """The bytes of a history file (BadHistory when it cannot be read; FileNotFoundError as such)."""
    from vfxcopy.core.readfile import read_regular_file

    try:
        # Read whole first: a FIFO named like a history file is refused at once instead of hanging.
        return read_regular_file(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise BadHistory(f"{path}: cannot be read ({exc.strerror})") from exc


def _parse(path: str, start: Any, end: Any, data: bytes | None = None) -> None:
    """Run expat over `path` (or `data`, read from it) without namespaces in the names (ascmhl strips
    them too); `end` gets the text."""
    from xml.parsers import expat  # 2 M instructions, against 12 M for ElementTree

    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    texts: list[list[str]] = []

    def on_start(name: str, attrs: dict[str, str]) -> None:
        texts.append([])
        start(name.rsplit("}", 1)[-1], attrs)

    def on_end(name: str) -> None:
        text = "".join(texts.pop()) or None
        end(name.rsplit("}", 1)[-1], text)

    def on_text(data: str) -> None:
        if texts:
            texts[-1].append(data)

    def on_doctype(*_: object) -> None:
        # ASC MHL files have no DTD: one can only declare entities (expanded or external), refused here.
        raise BadHistory(f"{path}: holds a document type declaration (<!DOCTYPE>), which ASC MHL files never "
                         "have; refused")

    parser.StartDoctypeDeclHandler = on_doctype
    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    parser.CharacterDataHandler = on_text
    if data is None:
        data = read_history_file(path)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise BadHistory(f"{path}: not valid XML ({exc})") from exc
    except LookupError as exc:  # a declaration naming an encoding Python does not know
        raise BadHistory(f"{path}: not valid XML ({exc})") from exc


def parse_hash_list(path: str, number: int = 0, data: bytes | None = None) -> HashList:
    """One generation file (its bytes `data`, when the caller has read them), read as ascmhl's
    hashlist_xml_parser reads it (ManifestError-free: raises BadHistory)."""
    if data is None:
        data = read_history_file(path)
    return _fast_hash_list(path, number, data) or _hash_list(path, number, data)


def _hash_list(path: str, number: int, data: bytes, runs: list[list[Media]] | None = None) -> HashList:
    """The generation in `data`, read with expat. `runs`: runs of <hash> elements read by
    _fast_hash_list, which `data` holds as one <vfxcopy-run/> element each, in that order."""
    places: list[int] = []  # where each run's entries go among the others'
    hash_list = HashList(path, number)
    current: Any = None  # None, one of the markers above, or a Media
    stack: list[Any] = []
    attrs_of: list[dict[str, str]] = []
    structure = False

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal current, structure
        attrs_of.append(attrs)
        if current is None:
            if tag == _RUN and runs is not None:
                places.append(len(hash_list.media))
            elif tag == "creatorinfo":
                current = _CREATOR
            elif tag == "processinfo":
                current = _PROCESS
            elif tag == "hash":
                current = Media(False)
            elif tag == "directoryhash":
                current = Media(True)
            elif tag == "hashlistreference":
                current = [None, None]
        if current is _PROCESS:
            if tag == "ignore":
                stack.append(current)
                current = _IGNORE
            elif tag == "roothash":
                stack.append(current)
                current = Media(True)
        elif isinstance(current, Media):
            if tag == "structure":
                structure = True
            elif tag == "content":
                structure = False

    def end(tag: str, text: str | None) -> None:
        nonlocal current
        attrs = attrs_of.pop()
        if current is None:
            return
        if current is _CREATOR:
            if tag == "creatorinfo":
                current = None
        elif current is _PROCESS:
            if tag == "processinfo":
                current = None
        elif current is _IGNORE:
            if tag == "pattern":
                hash_list.ignore.append(text or "")
            elif tag == "ignore":
                current = stack.pop()
            else:
                current = None
        elif isinstance(current, Media):
            if tag == "path":
                current.path = text
                size = attrs.get("size")
                current.size = int(size) if size else None
            elif tag in HASH_FORMATS:
                if current.is_dir and structure:
                    found = next((e for e in current.entries if e.fmt == tag), None)
                    if found is None:
                        raise BadHistory(f"{path}: a directory's {tag} structure hash has no content hash")
                    found.structure = text
                else:
                    current.entries.append(Entry(tag, text, attrs.get("action")))
            elif tag in ("hash", "directoryhash"):
                if current.path != ".":  # ascmhl keeps a "." entry as the root hash, not as a folder
                    hash_list.media.append(current)
                current = None
            elif tag == "roothash":
                current = stack.pop()
            elif tag == "previousPath":
                current.previous = text
        elif isinstance(current, list):
            if tag == "path":
                current[0] = text
            elif tag == "c4":
                current[1] = text
            elif tag == "hashlistreference":
                hash_list.references.append((current[0], current[1]))
                current = None

    _parse(path, start, end, data)
    if runs is not None:
        if len(places) != len(runs):
            raise _NotOurs  # a run was not where <hash> elements are read (in a comment, a CDATA section...)
        for place, media in reversed(list(zip(places, runs, strict=False))):  # as many: checked above
            hash_list.media[place:place] = media
    return hash_list


# -- generations as vfxcopy (and ascmhl) lay them out, read without a callback per element ----------
#
# Most of a generation is its <hash> elements, one per file, written in one layout. expat calls
# Python six times for each (start and end of hash, path and the hash value), about 10 us a file:
# a copy into a folder holding 100 generations of 100 files each read 10,000 of them, at every
# run. Runs of <hash> elements in exactly that layout are read here with one regular expression
# per file instead, and the rest of the file (its head, folder hashes, references, any element
# in another layout) with expat as before, each run standing in it as one empty element; the
# two together make the same HashList. What the expression does not take (an entity, a control
# character, another layout, a second hash format) is left to expat; a file declaring another
# encoding, or where a stand-in is not read where <hash> elements are (a comment, a CDATA
# section, inside another element we read), is read by expat whole; so is a file expat refuses,
# for its message. tests/core/test_mhl_fast.py holds the two readings equal.

_RUN = "vfxcopy-run"
_STAND_IN = f"<{_RUN}/>"
_RUN_BYTES = _RUN.encode()
_XML_DECLARATIONS = (b'<?xml version="1.0" encoding="UTF-8"?>\n', b"<?xml version='1.0' encoding='UTF-8'?>\n")
# One <hash> of one file with one hash, an element a line; the text of a name holds no markup, entity or
# control character.
_DATE = r"[0-9T:+\-Z.]*"
_HASH_RE = (
    r' *<hash>\n *<path size="([0-9]+)" lastmodificationdate="' + _DATE + r'">([^<>&\x00-\x1f\ufffe\uffff]*)</path>\n'
    r' *<(md5|sha1|xxh128|xxh3|xxh64|c4) action="(original|verified|failed)" hashdate="' + _DATE
    + r'">([0-9A-Za-z]*)</\3>\n *</hash>\n')
_compiled: Any = None  # (the <hash> expression, the start of a line opening a <hash>), on first use


class _NotOurs(Exception):
    """A stand-in was not read where <hash> elements are: read the file with expat."""


def _fast_hash_list(path: str, number: int, data: bytes) -> HashList | None:
    """The generation in `data` with its runs of <hash> elements in our layout read by one
    expression each, or None: read it with expat (see above)."""
    global _compiled
    if not data.startswith(_XML_DECLARATIONS) or _RUN_BYTES in data:
        return None
    if _compiled is None:
        import re

        _compiled = (re.compile(_HASH_RE), re.compile(r"(?m)^ *<hash>\n"))
    entry, line = _compiled
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None  # expat says where
    runs: list[list[Media]] = []
    parts: list[str] = []
    done = 0  # text before this is in parts, or in a run
    found = line.search(text)
    while found is not None:
        pos = start = found.start()
        media: list[Media] = []
        match = entry.match(text, pos)
        while match is not None:
            pos = match.end()
            size, name, fmt, action, value = match.groups()
            if name != ".":  # as expat's reader: a "." entry is the root's, not a file
                item = Media(False)
                item.path, item.size = name or None, int(size)
                item.entries.append(Entry(fmt, value or None, action))
                media.append(item)
            match = entry.match(text, pos)
        if pos > start:
            parts += (text[done:start], _STAND_IN)
            runs.append(media)
            done = pos
        found = line.search(text, max(pos, found.end()))
    if not runs:
        return None
    parts.append(text[done:])
    try:
        return _hash_list(path, number, "".join(parts).encode("utf-8"), runs)
    except Exception:  # noqa: BLE001 - whatever it is, expat reads the file as it is and says it
        return None


def parse_chain(path: str) -> list[tuple[int, str, str, str]]:
    """The chain file's generations: (number, file name, hash format, hash), as ascmhl's chain parser reads them."""
    items: list[tuple[int, str, str, str]] = []
    current: list[Any] | None = None

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal current
        if current is None and tag == "hashlist":
            current = [attrs.get("sequencenr"), None, None, None]

    def end(tag: str, text: str | None) -> None:
        nonlocal current
        if current is None:
            return
        if tag == "path":
            current[1] = text
        elif tag in HASH_FORMATS:
            current[2], current[3] = tag, text
        elif tag == "hashlist":
            number, name, fmt, digest = current
            try:
                items.append((int(number or 0), name or "", fmt or "", digest or ""))
            except ValueError:
                raise BadHistory(f"{path}: generation number {number!r} is not a number") from None
            current = None

    _parse(path, start, end)
    return items
