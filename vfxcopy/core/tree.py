"""A folder tree -> one job's items: every file (frames of sequences included), links, folders; include/exclude.

Rules (`--include`/`--exclude`, in the order given; rsync-like):

- Each path of the tree, relative to its root with `/` separators, is matched against
  the rules in order; the FIRST rule that matches decides (include or exclude). A path
  no rule matches is included.
- A pattern ending in `/` matches folders only (`cache/`). A pattern with a `/`
  elsewhere is matched against the whole relative path from the root (a leading `/`
  anchors it: `/plates/*.exr`); a pattern without `/` is matched against the last
  component at any depth (`*.tmp`).
- `*` matches anything but `/`, `**` matches anything including `/`, `?` one character
  but `/`, `[abc]` one of a set.
- An excluded folder is not entered (as rsync): to keep only EXRs at any depth, write
  `--include '*/' --include '*.exr' --exclude '*'`.

Defaults after the rules (for a tree whose root holds an ASC MHL history, litter is
copied too: the history may list it, and the copy continues that history): OS litter (`.DS_Store`, `Thumbs.db`, `desktop.ini`, `._*`
AppleDouble files, `.Spotlight-V100/`, `.Trashes/`, `.fseventsd/`, `.TemporaryItems/`)
is skipped; every other hidden file is copied. A rule that matches a litter name
wins (`--include .DS_Store` copies them). vfxcopy's own temporaries are never copied.

Symbolic links are reproduced as links. A link that points out of the tree is
listed in `Tree.links_out`: the command refuses it unless asked to copy what it
points to (`follow_symlinks`), then its target is copied as a file.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vfxcopy.core.errors import PATH_MAX
from vfxcopy.core.framenames import natural_key
from vfxcopy.core.jobs import TEMP_PREFIX, JobSpec
from vfxcopy.core.readfile import kind_of
from vfxcopy.core.seqfind import group_files
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.textsafe import shortened
from vfxcopy.core.units import plural

MHL_FOLDER = "ascmhl"
LITTER_NAMES = frozenset({".DS_Store", "Thumbs.db", "ehthumbs.db", "desktop.ini", ".Spotlight-V100", ".Trashes",
                          ".fseventsd", ".TemporaryItems", ".DocumentRevisions-V100", ".apdisk"})
FILE, DIR, LINK = "file", "dir", "link"


class TreeError(ValueError):
    """The tree cannot be read or a rule is malformed; the message names the path."""


def is_litter(name: str) -> bool:
    """OS litter that is skipped by default: Finder and Explorer droppings, AppleDouble files."""
    return name in LITTER_NAMES or name.startswith("._")


# -- include / exclude --------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    include: bool
    pattern: str
    dirs_only: bool
    anchored: bool
    regex: re.Pattern[str]

    def matches(self, rel: str, is_dir: bool) -> bool:
        if self.dirs_only and not is_dir:
            return False
        subject = rel if self.anchored else rel.rsplit("/", 1)[-1]
        return self.regex.fullmatch(subject) is not None


def _glob_regex(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                # '**/' also matches no folder at all ('a/**/b' matches 'a/b').
                if pattern.startswith("**/", i):
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) or pattern.startswith("[]", i) else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def make_rule(include: bool, pattern: str) -> Rule:
    if not pattern or pattern == "/":
        raise TreeError(f"empty {'include' if include else 'exclude'} pattern")
    dirs_only = pattern.endswith("/")
    body = pattern.rstrip("/")
    anchored = "/" in body
    body = body.lstrip("/")
    try:
        regex = re.compile(_glob_regex(body), re.DOTALL)
    except re.error as exc:
        raise TreeError(f"pattern {pattern!r}: {exc}") from None
    return Rule(include, pattern, dirs_only, anchored, regex)


def make_rules(pairs: Iterable[tuple[bool, str]]) -> list[Rule]:
    """Rules from (include?, pattern) pairs in command-line order."""
    return [make_rule(inc, pat) for inc, pat in pairs]


def wanted(rel: str, is_dir: bool, rules: list[Rule], litter: bool = False) -> bool:
    """The first matching rule decides; then the defaults (litter out unless `litter`, everything else in)."""
    for rule in rules:
        if rule.matches(rel, is_dir):
            return rule.include
    name = rel.rsplit("/", 1)[-1]
    return not ((is_litter(name) and not litter) or name.startswith(TEMP_PREFIX))


# -- the tree -----------------------------------------------------------------------------


@dataclass
class Entry:
    path: str  # relative to the root, '/' separators
    kind: str  # FILE | DIR | LINK
    size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "size": self.size}


@dataclass
class Tree:
    root: str
    entries: list[Entry] = field(default_factory=list)  # folders first (parents before children), then items
    sequences: list[Sequence] = field(default_factory=list)  # directory relative to the root ('' for the root)
    skipped: list[str] = field(default_factory=list)  # excluded by a rule or a default
    special: list[tuple[str, str]] = field(default_factory=list)  # (relative path, what it is): never copied
    links_out: list[tuple[str, str]] = field(default_factory=list)  # (relative path, target) pointing out
    unreadable: list[str] = field(default_factory=list)  # messages: folders that could not be listed
    has_history: bool = False  # the root holds an ASC MHL history: litter is copied too

    @property
    def items(self) -> list[Entry]:
        return [e for e in self.entries if e.kind != DIR]

    @property
    def folders(self) -> list[Entry]:
        return [e for e in self.entries if e.kind == DIR]

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self.entries)


def special_note(tree: Tree, shown: int = 5) -> str | None:
    """What the copy leaves out because it is no file (a FIFO, a socket, a device), in one line; None
    when there is none. Said by the command line and the New job dialog alike."""
    if not tree.special:
        return None
    listed = ", ".join(f"{rel} ({kind})" for rel, kind in tree.special[:shown])
    more = f" and {len(tree.special) - shown} more" if len(tree.special) > shown else ""
    count = len(tree.special)
    return (f"{tree.root}: {plural(count, 'item is', 'items are')} not a file or a folder and "
            f"{'is' if count == 1 else 'are'} not copied: {listed}{more}")


def link_target_in_tree(root: str, rel: str, target: str) -> str | None:
    """The target a copy of link `rel` (target `target`) gets, or None if it points out of the tree.

    Relative targets are kept as they are; an absolute target inside the tree is made
    relative, so that the copy points into the copy, not back into the source.
    """
    real_root = os.path.realpath(root)
    link_dir = os.path.dirname(os.path.join(real_root, rel))
    resolved = os.path.normpath(target if os.path.isabs(target) else os.path.join(link_dir, target))
    if not (resolved == real_root or resolved.startswith(real_root.rstrip("/") + "/")):
        return None
    # The lexical answer is not enough: a link through another link may still lead out.
    full = os.path.join(root, rel)
    if os.path.exists(full):
        real = os.path.realpath(full)
        if not (real == real_root or real.startswith(real_root.rstrip("/") + "/")):
            return None
    if os.path.isabs(target):
        return os.path.relpath(resolved, link_dir)
    return target


def scan_tree(root: str, rules: list[Rule] | None = None, *, follow_links_out: bool = False) -> Tree:
    """Every folder, file and link below `root` that the rules keep, in a stable natural order.

    Raises TreeError when `root` is not a readable folder. Sub-folders that cannot be
    read are listed in `unreadable` (the command refuses them before copying).
    """
    rules = rules or []
    root = os.path.abspath(root)
    try:
        st = os.stat(root)
    except OSError as exc:
        raise TreeError(f"cannot read {root}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise TreeError(f"{root}: not a folder")
    tree = Tree(root)
    files: list[Entry] = []
    # A source with an ASC MHL history is offloaded whole: its history may list litter too, and a
    # destination that continues the history must hold every file the history names.
    tree.has_history = os.path.isfile(os.path.join(root, MHL_FOLDER, "ascmhl_chain.xml"))
    _walk(tree, root, "", rules, follow_links_out, files)
    tree.entries.extend(files)
    return tree


def _walk(tree: Tree, root: str, rel_dir: str, rules: list[Rule], follow: bool, files: list[Entry]) -> None:
    folder = os.path.join(root, rel_dir) if rel_dir else root
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | (os.O_NOFOLLOW if rel_dir else 0))
    except OSError as exc:
        tree.unreadable.append(_cannot_read(folder, exc))
        return
    try:
        names = sorted(os.listdir(fd), key=natural_key)
        here: dict[str, int | None] = {}
        subdirs: list[str] = []
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                lst = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    tree.unreadable.append(_cannot_read(os.path.join(folder, name), exc))
                continue
            is_dir = stat.S_ISDIR(lst.st_mode)
            if not wanted(rel, is_dir, rules, tree.has_history):
                tree.skipped.append(rel)
                continue
            if is_dir:
                subdirs.append(name)
            elif stat.S_ISLNK(lst.st_mode):
                target = os.readlink(name, dir_fd=fd)
                if link_target_in_tree(root, rel, target) is not None:
                    files.append(Entry(rel, LINK))
                elif follow and os.path.isfile(os.path.join(folder, name)):
                    size = os.stat(os.path.join(folder, name)).st_size
                    files.append(Entry(rel, FILE, size))
                    here[name] = size
                else:
                    tree.links_out.append((rel, target))
            elif stat.S_ISREG(lst.st_mode):
                files.append(Entry(rel, FILE, lst.st_size))
                here[name] = lst.st_size
            else:  # FIFOs, sockets, devices: never copied, and said (special_note)
                tree.special.append((rel, kind_of(lst.st_mode)))
        if here:
            tree.sequences.extend(s for s in group_files(rel_dir, here) if not s.is_single)
        for name in subdirs:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            tree.entries.append(Entry(rel, DIR))
            _walk(tree, root, rel, rules, follow, files)
    finally:
        os.close(fd)


# -- a tree as a job ----------------------------------------------------------------------


def _cannot_read(path: str, exc: OSError) -> str:
    """Why a path of the tree cannot be listed, in one line (a path past the system's limit is
    shortened: it runs to thousands of characters)."""
    if exc.errno == errno.ENAMETOOLONG:
        return (f"{shortened(path)}: the path is longer than this system opens ({PATH_MAX:,} bytes at most); "
                "shorten its folder names, or leave it out with --exclude")
    return f"{path}: cannot be read ({exc.strerror})"


def is_tree_folder(folder: str) -> bool:
    """A folder that is copied as one tree job (command line, a drop on the window): it holds a
    sub-folder other than litter; an ascmhl/ history counts (the copy brings it along and continues it)."""
    try:
        with os.scandir(folder) as it:
            return any(e.is_dir(follow_symlinks=False) and not is_litter(e.name) and not e.name.startswith(TEMP_PREFIX)
                       for e in it)
    except OSError:
        return False


def tree_spec_entries(tree: Tree) -> list[dict[str, Any]]:
    """What JobSpec.tree records: folders, then the items in copy order."""
    return [e.to_dict() for e in tree.entries]


def spec_items(spec: JobSpec) -> list[dict[str, Any]]:
    """The job's items (files and links) in order; `spec.frames`, if set, selects them by index."""
    assert spec.tree is not None
    items = [e for e in spec.tree if e.get("kind") != DIR]
    if spec.frames is None:
        return items
    return [items[i] for i in spec.frames if 0 <= i < len(items)]


def spec_folders(spec: JobSpec) -> list[str]:
    """Every folder the job makes at the destination (those of its items included), parents first."""
    assert spec.tree is not None
    seen: dict[str, None] = {}
    for e in spec.tree:
        rel = e["path"] if e.get("kind") == DIR else os.path.dirname(e["path"])
        parts = [p for p in rel.split("/") if p]
        for i in range(1, len(parts) + 1):
            seen.setdefault("/".join(parts[:i]), None)
    return list(seen)


def summarize(spec: JobSpec) -> list[tuple[str, int, int]]:
    """A tree job's contents as users read them (the window's details pane, the dry run): one line per
    sequence ('shot/plates/plate.####.exr 1001-1100'), per other file and per link, with its item
    count and bytes, in the job's order."""
    assert spec.tree is not None
    by_folder: dict[str, dict[str, int | None]] = {}
    links: list[str] = []
    for e in spec_items(spec):
        if e.get("kind") == LINK:
            links.append(e["path"])
            continue
        folder, _, name = e["path"].rpartition("/")
        by_folder.setdefault(folder, {})[name] = int(e.get("size") or 0)
    out: list[tuple[str, int, int]] = []
    for folder, names in by_folder.items():
        for seq in group_files(folder, names):
            label = os.path.join(folder, seq.display()) if folder else seq.display()
            out.append((label, max(1, len(seq.frames)), seq.total_size or 0))
    out.extend((f"{rel} (link)", 1, 0) for rel in links)
    return out


def check_relative(rel: str) -> str | None:
    """Why `rel` cannot be a name inside the destination (absolute, '..', empty parts, NUL), or None."""
    if not rel or rel.startswith("/") or "\0" in rel:
        return "is not a relative path"
    if any(part in ("", ".", "..") for part in rel.split("/")):
        return "has an empty, '.' or '..' component"
    if any(len(os.fsencode(part)) > 255 for part in rel.split("/")):
        return "has a component longer than 255 bytes"
    return None


def tree_job(root: str, dest_dir: str, tree: Tree, **kw: Any) -> JobSpec:
    """One job for the whole tree: its source is the root folder, its items recorded with it."""
    name = kw.pop("name", None) or (os.path.basename(root.rstrip("/")) or root) + "/"
    spec = JobSpec(source=Sequence(os.path.abspath(root), "", "", 0, ()), dest_dir=dest_dir,
                   tree=tree_spec_entries(tree), name=name, **kw)
    # ASC MHL histories in the tree are copied so that the destination continues them; at a
    # destination that already has them (a second run), its own history is kept, never replaced.
    history = {e.path: "skip" for e in tree.items if MHL_FOLDER in e.path.split("/")[:-1]}
    if history:
        spec.conflict_choices = {**(spec.conflict_choices or {}), **history}
    return spec
