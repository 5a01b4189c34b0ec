"""Finding frame sequences: a folder read once, its files grouped into sequences and single files;
a frame or a pattern resolved to its sequence; command-line and dropped paths resolved together."""

from __future__ import annotations

import errno
import os
import re
import stat as stat_module
from collections import Counter
from collections.abc import Iterable

from vfxcopy.core.framenames import (
    _DIGITS,
    _is_sequence_group,
    _sort_key,
    _split_padding,
    natural_key,
    split_frame,
)
from vfxcopy.core.roundtrips import answers
from vfxcopy.core.sequence import Sequence

# A folder's visible files: name -> size in bytes (None when not statted).
Entries = dict[str, int | None]


def _group(directory: str, entries: Entries, stat: bool) -> list[Sequence]:
    """Group the files of one folder into sequences and single files."""
    groups: dict[tuple[str, str], tuple[list[str], list[int | None]]] = {}
    singles: list[tuple[str, int | None]] = []
    digit_chars = _DIGITS
    for name, size in entries.items():
        # split_frame's fast path inline: this loop runs once per file.
        stem, dot, ext = name.rpartition(".")
        head = stem.rstrip(digit_chars)
        if dot and len(head) != len(stem):
            digits = stem[len(head):]
            tail = dot + ext
            if head and head[-1] == "-" and (len(head) == 1 or head[-2] in "._"):
                head = head[:-1]
                digits = "-" + digits
        else:
            split = split_frame(name)
            if split is None:
                singles.append((name, size))
                continue
            head, digits, tail = split
        members = groups.get((head, tail))
        if members is None:
            groups[(head, tail)] = ([digits], [size])
        else:
            members[0].append(digits)
            members[1].append(size)

    found: list[Sequence] = []
    for (head, tail), (frames, sizes) in groups.items():
        if not _is_sequence_group(tail, len(frames)):
            singles.extend((head + f + tail, size) for f, size in zip(frames, sizes, strict=True))
            continue
        for pad, indexes in _split_padding(frames).items():
            total: int | None = None
            if len(indexes) == len(frames):  # one padding: the usual case, no index juggling
                numbers = sorted(map(int, frames))
                if stat:
                    total = sum(s or 0 for s in sizes)
            else:
                numbers = sorted(int(frames[i]) for i in indexes)
                if stat:
                    total = sum(sizes[i] or 0 for i in indexes)
            found.append(Sequence(directory, head, tail, pad, tuple(numbers), total))
    for name, size in singles:
        found.append(Sequence(directory, name, "", 0, (), size))
    return found


def group_files(directory: str, entries: Entries) -> list[Sequence]:
    """Group one folder's file names (name -> size) into sequences and single files (for core/tree.py)."""
    return _group(directory, entries, True)


# Listing by file descriptor: one stat per name relative to the open folder (no path
# walk per file), about 10% faster than DirEntry.stat() on 100,000 files.
_STAT_AT = os.stat in os.supports_dir_fd and os.listdir in os.supports_fd


def _read_folder(folder: str, stat: bool) -> tuple[Entries, list[str]]:
    """The visible files of `folder` (with sizes if `stat`) and its visible sub-folders; one read."""
    entries: Entries = {}
    subfolders: list[str] = []
    # Hidden files, and vfxcopy's own temporaries (`.vfxcopy-*.part`, see
    # jobs.is_temp_name), all start with a dot.
    if stat and _STAT_AT:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
        stat_at, is_dir = os.stat, stat_module.S_ISDIR  # once per file: no global lookups
        try:
            names = os.listdir(fd)
            # On a network file system each stat is a round trip (10,500 files on sshfs: 1.1-1.5 s one
            # at a time): asked several at a time there (hidden names are not asked: skipped below).
            looked = answers(folder, names, lambda n: os.stat(n, dir_fd=fd) if n[0] != "." else None)
            for name in names:
                if name[0] == ".":
                    continue
                try:
                    st = looked.get(name) or stat_at(name, dir_fd=fd)
                except OSError:
                    continue  # vanished or a dangling link: not a frame we could copy
                if is_dir(st.st_mode):
                    subfolders.append(os.path.join(folder, name))
                else:
                    entries[name] = st.st_size
        finally:
            os.close(fd)
        return entries, subfolders
    entries, subfolders, _ = read_listing(folder, stat)
    return entries, subfolders


Listing = tuple[Entries, list[str]]  # a folder's visible files and sub-folders, as _read_folder gives them


def read_listing(folder: str, stat: bool = False) -> tuple[Entries, list[str], bool]:
    """_read_folder's one read of `folder` (scandir), and whether it holds a folder of its own
    (not a link to one; hidden ones too): what the command line asks before it scans a source."""
    entries: Entries = {}
    subfolders: list[str] = []
    own_folder = False
    with os.scandir(folder) as it:
        for entry in it:
            name = entry.name
            try:
                if name[0] == ".":
                    own_folder = own_folder or entry.is_dir(follow_symlinks=False)
                    continue
                if entry.is_dir():
                    subfolders.append(entry.path)
                    own_folder = own_folder or not entry.is_symlink()
                    continue
                entries[name] = entry.stat().st_size if stat else None
            except OSError:
                continue
    return entries, subfolders, own_folder


def _read_matching(directory: str, head: str, tail: str, stat: bool) -> Entries:
    """Only the names in `directory` that could belong to `head`...`tail` (one read, few stats)."""
    entries: Entries = {}
    with os.scandir(directory) as it:
        for entry in it:
            n = entry.name
            if n.startswith(head) and n.endswith(tail) and n[0] != ".":
                try:
                    if not entry.is_dir():
                        entries[n] = entry.stat().st_size if stat else None
                except OSError:
                    continue
    return entries


class _Reader:
    """Folder reads for one request: each folder is read once, however many paths need it.

    A folder named whole is listed whole; a folder only needed for one frame's or
    one pattern's sequence is read with a name filter (so that `ls shot.1001.exr`
    in a folder of 100,000 files stats only that sequence's frames), unless
    several paths need it (`full`), then it is listed whole once and filtered.
    """

    def __init__(self, stat: bool, full: Iterable[str] = (), known: dict[str, Listing] | None = None) -> None:
        self.stat = stat
        self.full = set(full)
        self.listings: dict[str, Entries] = {}
        self.known = known if known is not None and not stat else {}  # read already (without sizes)

    def folder(self, folder: str) -> tuple[Entries, list[str]]:
        known = self.known.pop(folder, None)
        entries, subfolders = known if known is not None else _read_folder(folder, self.stat)
        self.listings[folder] = entries
        return entries, subfolders

    def matching(self, directory: str, head: str, tail: str) -> list[Sequence]:
        entries = self.listings.get(directory)
        if entries is None and directory in self.full:
            entries = self.folder(directory)[0]
        if entries is None:
            chosen = _read_matching(directory, head, tail, self.stat)
        else:
            chosen = {n: s for n, s in entries.items() if n.startswith(head) and n.endswith(tail)}
        return _group(directory, chosen, self.stat)


def _list_folder(folder: str, recursive: bool, reader: _Reader, out: dict[str, Entries]) -> None:
    """Add the visible files of `folder` (and of its sub-folders if recursive) to `out`."""
    entries, subfolders = reader.folder(folder)
    out[folder] = entries
    if recursive:
        for sub in sorted(subfolders, key=natural_key):
            _list_folder(sub, recursive, reader, out)


def scan(
    paths: Iterable[str | os.PathLike[str]], *, stat: bool = False, recursive: bool = False
) -> list[Sequence]:
    """Group any mix of files and folders into sequences and single files.

    A folder contributes its visible files (sub-folders only if `recursive`);
    files named explicitly are grouped with each other by folder, so a shell glob
    of some frames gives a sequence of just those frames. Raises FileNotFoundError
    for a path that does not exist. With `stat`, `total_size` holds the bytes.
    """
    return _scan(paths, _Reader(stat), recursive)


def _scan(paths: Iterable[str | os.PathLike[str]], reader: _Reader, recursive: bool) -> list[Sequence]:
    by_dir: dict[str, Entries] = {}
    files: list[str] = []
    for raw in paths:
        path = os.path.abspath(os.fspath(raw))
        if os.path.isdir(path):
            if path not in by_dir:
                _list_folder(path, recursive, reader, by_dir)
        elif os.path.lexists(path):
            files.append(path)
        else:
            raise FileNotFoundError(errno.ENOENT, "no such file or folder", os.fspath(raw))
    for path in files:
        directory, name = os.path.split(path)
        listed = reader.listings.get(directory)
        if listed is not None and name in listed:
            continue  # already listed with its folder
        by_dir.setdefault(directory, {})[name] = os.stat(path).st_size if reader.stat else None
    found: list[Sequence] = []
    for directory, entries in by_dir.items():
        found.extend(_group(directory, entries, reader.stat))
    found.sort(key=_sort_key)
    return found


def find_sequence(path: str | os.PathLike[str], *, stat: bool = False) -> Sequence:
    """The whole sequence a single frame belongs to (or a single-file Sequence).

    Only the frame's own folder is read. Raises FileNotFoundError if `path` is missing.
    """
    return _find_sequence(path, _Reader(stat))


def _find_sequence(path: str | os.PathLike[str], reader: _Reader) -> Sequence:
    full = os.path.abspath(os.fspath(path))
    if not os.path.lexists(full) or os.path.isdir(full):
        raise FileNotFoundError(errno.ENOENT, "no such file", os.fspath(path))
    directory, name = os.path.split(full)
    split = split_frame(name)
    if split is not None:
        head, _, tail = split
        for seq in reader.matching(directory, head, tail):
            if seq.is_single:
                if seq.head == name:
                    return seq
            elif seq.head == head and seq.tail == tail and seq.name(int(split[1])) == name:
                return seq
    size = os.stat(full).st_size if reader.stat else None  # no frame number, or e.g. a hidden file named explicitly
    return Sequence(directory, name, "", 0, (), size)


_PATTERN = r"^(.*?)(#+|@+|%0?(\d*)d|\$F(\d*))(.*)$"  # compiled on first use, by re's cache


def parse_pattern(text: str | os.PathLike[str]) -> tuple[str, str, str, int] | None:
    """'/a/shot.####.exr' (or %04d, $F4, @@@@) -> ('/a', 'shot.', '.exr', 4); None if no token."""
    directory, name = os.path.split(os.path.abspath(os.fspath(text)))
    m = re.match(_PATTERN, name, re.DOTALL)
    if m is None:
        return None
    head, token, printf_pad, houdini_pad, tail = m.groups()
    if token[0] in "#@":
        pad = len(token)
    elif token[0] == "%":
        pad = int(printf_pad) if printf_pad else 1
    else:
        pad = int(houdini_pad) if houdini_pad else 1
    return directory, head, tail, pad


def from_pattern(text: str | os.PathLike[str], *, stat: bool = False) -> Sequence:
    """The sequence on disk that a Nuke/Houdini/printf pattern names.

    Raises ValueError if `text` is not a pattern, FileNotFoundError if no frame matches.
    """
    return _from_pattern(text, _Reader(stat))


def _from_pattern(text: str | os.PathLike[str], reader: _Reader) -> Sequence:
    parsed = parse_pattern(text)
    if parsed is None:
        raise ValueError(f"not a sequence pattern: {text}")
    directory, head, tail, pad = parsed
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, "no such folder", directory)
    candidates = [
        s for s in reader.matching(directory, head, tail) if not s.is_single and s.head == head and s.tail == tail
    ]
    for seq in candidates:
        if seq.padding == pad:
            return seq
    # '#', '%d' and '$F' say "unpadded": accept the one sequence there is.
    if pad <= 1 and len(candidates) == 1:
        return candidates[0]
    raise FileNotFoundError(errno.ENOENT, "no frames match the pattern", os.fspath(text))


class SourceError(ValueError):
    """A source path that cannot be used as given; the message names the path and says why."""


def resolve(
    paths: Iterable[str | os.PathLike[str]], *, stat: bool = False, recursive: bool = False,
    listings: dict[str, Listing] | None = None,
) -> list[Sequence]:
    """Sources as a user gives them (folders, frames, patterns) -> sequences and single files.

    A folder gives every sequence and single file in it; a pattern
    (`shot.####.exr`, `shot.%04d.exr`, `shot.$F4.exr`) gives that sequence; files
    named together are grouped, and a frame named alone stands for its whole
    sequence, as when it is dropped on the window. One entry per sequence however
    many paths name it, and each folder is read once (`listings`: folders the caller has
    read already, by absolute path, as read_listing gives them). Raises SourceError for a
    path that does not exist, a pattern without frames or a folder that cannot be read.
    """
    folders: list[str] = []
    files: list[str] = []
    patterns: list[tuple[str, str]] = []  # (as given, its folder)
    for raw in paths:
        path = os.fspath(raw)
        try:
            is_dir = stat_module.S_ISDIR(os.stat(path).st_mode)
        except FileNotFoundError:
            is_dir = False
        except OSError as exc:  # e.g. a folder on the way that we may not enter
            raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
        if is_dir:
            folders.append(path)
        elif os.path.lexists(path):
            files.append(path)
        else:
            parsed = parse_pattern(path)
            if parsed is None:
                raise SourceError(f"no such file or folder: {path}")
            patterns.append((path, parsed[0]))
    try:
        reader = _Reader(stat, known=listings)
        in_folders = _scan(folders, reader, recursive)
        named = _scan(files, reader, False) if files else []
        alone = [s for s in named if len(s.frames) == 1]
        # Folders that several frames or patterns need are listed whole, once.
        needs = Counter([d for _, d in patterns] + [s.directory for s in alone])
        reader.full = {d for d, n in needs.items() if n > 1}
        found: list[Sequence] = []
        for path, _ in patterns:
            try:
                found.append(_from_pattern(path, reader))
            except FileNotFoundError:
                raise SourceError(f"no frames match the pattern {path}") from None
        found.extend(in_folders)  # patterns, folders, then named files: the order jobs are queued in
        for seq in named:
            if len(seq.frames) == 1:
                seq = _find_sequence(seq.path(seq.frames[0]), reader)
            found.append(seq)
    except OSError as exc:  # unreadable folder, dangling link, vanished file
        raise SourceError(f"cannot read {exc.filename or 'a source'}: {exc.strerror or exc}") from None
    return merge_sequences(found)


def merge_sequences(seqs: Iterable[Sequence]) -> list[Sequence]:
    """One entry per sequence even when several arguments name it; frames united, first order kept."""
    merged: dict[tuple[str, str, str, int], Sequence] = {}
    for seq in seqs:
        key = (seq.directory, seq.head, seq.tail, seq.padding)
        old = merged.get(key)
        if old is None:
            merged[key] = seq
        elif set(seq.frames) - set(old.frames):
            merged[key] = old.with_frames(set(old.frames) | set(seq.frames))  # size unknown now
    return list(merged.values())
