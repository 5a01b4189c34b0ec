"""Planning a run: the items, their names (decided once, recorded with the job), the rename version."""

from __future__ import annotations

import os
import stat
import time

from vfxcopy.core import naming
from vfxcopy.core.errors import JobError
from vfxcopy.core.jobs import ConflictPolicy, JobSpec
from vfxcopy.core.writers.base import Item

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import Any

# How long the sizes the pre-flight found (remember_sources) stand in for the run's own lstat:
# the command line runs a job milliseconds after its pre-flight; a job started later looks again.
SEEN_FRESH_S = 5.0


def source_size(path: str) -> tuple[int, os.stat_result | None]:
    """A source's size (a link's target's) and its lstat; (0, None) where it cannot be read."""
    try:
        lst = os.lstat(path)
    except OSError:
        return 0, None
    if stat.S_ISLNK(lst.st_mode):
        try:
            return os.stat(path).st_size, lst
        except OSError:
            return 0, lst
    return (lst.st_size if stat.S_ISREG(lst.st_mode) else 0), lst


def plan_items(spec: JobSpec, movie: bool) -> list[Item]:
    """One item per selected frame (or the single file), or one item for a whole movie."""
    src = spec.source
    names = naming.dest_names(spec)
    if spec.tree is not None:
        return _tree_items(spec, names)
    if src.is_single:
        (path,) = src.path_strs()
        size, lst = source_size(path)
        return [Item(0, 0, path, names[0], size, lst, [(0, 0, path)] if movie else None)]
    frames = spec.selected_frames()
    if len(names) != (1 if movie else len(frames)):
        raise JobError(f"{spec.dest_dir}: the job's recorded names do not match its frames; run it as a new job")
    inputs = list(zip(range(len(frames)), frames, src.path_strs(frames), strict=True))
    if movie:
        total = 0
        for _i, _f, path in inputs:
            total += source_size(path)[0]
        first = inputs[0] if inputs else (0, 0, str(src.path()))
        return [Item(0, first[1], first[2], names[0], total, None, inputs)]
    seen = recall_sources(spec)
    items = []
    for (index, frame, path), name in zip(inputs, names, strict=True):
        size, lst = seen.get(path) or source_size(path)
        items.append(Item(index, frame, path, name, size, lst))
    return items


def remember_sources(spec: JobSpec, seen: dict[str, tuple[int, os.stat_result | None]]) -> None:
    """What the pre-flight found of `spec`'s sources (source_size per path), for the run to use
    instead of a second lstat per item if it starts within SEEN_FRESH_S (20,000 frames: 55 ms)."""
    _remember(spec, "_seen_sources", seen)


def recall_sources(spec: JobSpec) -> dict[str, tuple[int, os.stat_result | None]]:
    return _recall(spec, "_seen_sources") or {}


def remember_listing(spec: JobSpec, names: list[str]) -> None:
    """The names the pre-flight read in `spec`'s destination folder, for the run to use instead of
    listing it again if it starts within SEEN_FRESH_S (a folder of 10,000 files on sshfs without its
    cache: 75 ms a listing). Only a hint, as the run's own listing is: a name made meanwhile is never
    clobbered (placing refuses it)."""
    _remember(spec, "_seen_listing", names)


def recall_listing(spec: JobSpec) -> list[str] | None:
    return _recall(spec, "_seen_listing")  # type: ignore[no-any-return]


def _remember(spec: JobSpec, key: str, value: object) -> None:
    spec.__dict__[key] = (time.monotonic(), value)  # not a field: never saved with the job


def _recall(spec: JobSpec, key: str) -> Any:
    """What the pre-flight remembered under `key`, once, if it is fresh (else None)."""
    entry = spec.__dict__.pop(key, None)
    if entry is None or time.monotonic() - entry[0] > SEEN_FRESH_S:
        return None
    return entry[1]


def _tree_items(spec: JobSpec, names: list[str]) -> list[Item]:
    """A tree's items: each file or link under its relative path; `frame` is its index in the whole tree."""
    from vfxcopy.core.tree import check_relative, spec_items

    chosen = spec_items(spec)
    if len(names) != len(chosen):
        raise JobError(f"{spec.dest_dir}: the job's recorded names do not match its items; run it as a new job")
    indexes = spec.selected_frames()
    root = spec.source.directory
    items = []
    for index, (entry, name, number) in enumerate(zip(chosen, names, indexes, strict=True)):
        why = check_relative(name) or check_relative(entry["path"])
        if why:
            raise JobError(f"{name!r}: {why}; refused (a tree's names stay inside the destination)")
        path = os.path.join(root, *entry["path"].split("/"))
        size, lst = source_size(path)
        if entry.get("kind") == "link":
            size = 0  # reproduced as a link: no bytes (a link followed out of the tree is sized when copied)
        items.append(Item(index, number, path, name, size, lst))
    return items


def choose_version(spec: JobSpec, items: list[Item], dest_fd: int) -> str | None:
    """The `rename` policy: one version for the whole job, the lowest whose names are all free.

    Returns a line for the log when the names changed. Only for names not recorded
    yet: a job whose names were recorded keeps them (a resume never re-plans).
    """
    if spec.copy.on_conflict is not ConflictPolicy.RENAME or spec.names is not None or not items:
        return None
    if spec.tree is not None:  # refused before the run (naming a tree's versions is not designed yet)
        return None

    def taken(name: str) -> bool:
        try:
            os.stat(name, dir_fd=dest_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        except OSError:
            return True
        return True

    if not any(taken(item.name) for item in items):
        return None
    names = [item.name for item in items]
    versioned = naming.first_free_version(names, naming.version_base(spec, names), taken)
    if versioned is None:
        raise JobError(f"{spec.dest_dir}: no free version name found for policy 'rename'")
    for item, name in zip(items, versioned, strict=True):
        item.name = name
    return f"names taken; writing as {versioned[0]} (policy 'rename')"
