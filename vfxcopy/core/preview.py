"""Before any byte moves: a job's plan (items, final names, conflicts and what the policy does) and free space per destination.

Nothing here writes: `--dry-run` prints `plan_job`'s answer, and the command refuses
a run when `shortfalls` finds a destination without room for what will be written.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from vfxcopy.core import naming
from vfxcopy.core.datamethods import Record
from vfxcopy.core.jobs import ConflictPolicy, JobSpec

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from dataclasses import dataclass as record
    from typing import Any
else:
    from vfxcopy.core.datamethods import record

MANIFEST_BYTES_PER_ITEM = 400  # an ASC MHL <hash> entry plus the job report's row, rounded up


# repr and == shared (core/datamethods.py): the same results, made without compiling them per class;
# made per item, __init__ is written out as @dataclass would write it (see FrameResult in core/jobs.py).
@dataclass(init=False, repr=False, eq=False)
class PlannedItem(Record):
    """One item of a plan: where from, where to, its size and what the run would do with it."""

    source: str
    dest: str
    size: int
    action: str  # write | overwrite | skip | skip-if-identical | fail | link
    note: str = ""

    def __init__(self, source: str, dest: str, size: int, action: str, note: str = "") -> None:
        self.source = source
        self.dest = dest
        self.size = size
        self.action = action
        self.note = note

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "dest": self.dest, "size": self.size, "action": self.action, "note": self.note}


@record(repr=False, eq=False)
class JobPlan(Record):
    """What a job would do before it runs: its items, folders, bytes to write and notes."""

    spec: JobSpec
    items: list[PlannedItem] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)  # folders the job makes (a tree's)
    bytes_to_write: int = 0  # what the destination must hold (file blocks rounded up)
    notes: list[str] = field(default_factory=list)
    anchor: str = ""  # the destination folder, or its first existing ancestor if it is not made yet
    free: int | None = None  # bytes free there when planned (None: unknown)

    @property
    def conflicts(self) -> list[PlannedItem]:
        return [i for i in self.items if i.action not in ("write", "link")]

    def contents(self) -> list[tuple[str, int, int]]:
        """A tree's sequences, files and links (label, items, bytes); [] for a sequence job."""
        if self.spec.tree is None:
            return []
        from vfxcopy.core.tree import summarize

        return summarize(self.spec)

    def to_dict(self) -> dict[str, Any]:
        return {
            "contents": [{"label": label, "items": n, "bytes": size} for label, n, size in self.contents()],
            "name": self.spec.display_name(), "source": self.spec.source.directory if self.spec.tree is not None
            else self.spec.source.pattern(), "dest_dir": self.spec.dest_dir, "tree": self.spec.tree is not None,
            "items": [i.to_dict() for i in self.items], "folders": self.folders,
            "conflicts": len(self.conflicts), "bytes_to_write": self.bytes_to_write, "notes": self.notes,
        }


def _existing_ancestor(path: str) -> str:
    current = os.path.abspath(path)
    while not os.path.exists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def _space(anchor: str) -> tuple[int, int | None]:
    """(block size, bytes an unprivileged writer may still use) of the file system of the existing folder `anchor`."""
    try:
        st = os.statvfs(anchor)
    except OSError:
        return 4096, None
    return st.f_frsize or 4096, st.f_bavail * st.f_frsize


def _round(size: int, block: int) -> int:
    return -(-size // block) * block if size else 0


def _sources(spec: JobSpec) -> list[tuple[str, int, bool]]:
    """(source path, size, is a link reproduced as a link) per item, in the job's order."""
    out: list[tuple[str, int, bool]] = []
    if spec.tree is not None:
        from vfxcopy.core.tree import spec_items

        for e in spec_items(spec):
            path = os.path.join(spec.source.directory, *e["path"].split("/"))
            out.append((path, 0 if e.get("kind") == "link" else int(e.get("size") or 0), e.get("kind") == "link"))
        return out
    src = spec.source
    paths = src.path_strs(None if src.is_single else spec.selected_frames())  # no Path per frame (20,000: 0.2 s)
    from vfxcopy.core.pipeline.plan import remember_sources, source_size
    from vfxcopy.core.roundtrips import answers

    seen = answers(src.directory or ".", paths, source_size)  # a round trip each on a network file system
    for path in paths:
        found = seen.get(path) or source_size(path)
        seen[path] = found
        out.append((path, found[0], False))
    remember_sources(spec, seen)  # the run that follows looks at each source once, not twice
    return out


def plan_job(spec: JobSpec) -> JobPlan:
    """What running `spec` now would do, item by item; reads the destination, writes nothing."""
    from vfxcopy.core.pipeline.plan import remember_listing

    plan = JobPlan(spec)
    names = naming.dest_names(spec)
    policy = spec.copy.on_conflict
    # The destination (or the folder it will be made in) is looked at once for all of this: on a
    # network file system each look is a round trip.
    plan.anchor = _existing_ancestor(spec.dest_dir)
    block, plan.free = _space(plan.anchor)
    missing = plan.anchor != os.path.abspath(spec.dest_dir)  # not made yet: nothing in it, nor in its sub-folders
    if policy is ConflictPolicy.RENAME and spec.names is None and spec.tree is None and not missing:
        def taken(name: str) -> bool:
            return os.path.lexists(os.path.join(spec.dest_dir, name))

        if any(taken(n) for n in names):
            versioned = naming.first_free_version(names, naming.version_base(spec, names), taken)
            if versioned is not None:
                plan.notes.append(f"names taken; would write as {versioned[0]} (policy 'rename')")
                names = versioned
    if spec.tree is not None:
        from vfxcopy.core.tree import spec_folders

        for folder in spec_folders(spec):
            full = os.path.join(spec.dest_dir, folder)
            if missing:
                plan.folders.append(folder)
            elif os.path.islink(full) or (os.path.lexists(full) and not os.path.isdir(full)):
                plan.notes.append(f"{full}: exists and is not a folder (a file or a link); the job would fail "
                                  "before writing anything")
            elif not os.path.isdir(full):
                plan.folders.append(folder)
    need = len(plan.folders) * block
    listings: dict[str, set[str]] = {}  # one listing per destination folder, not a stat per item
    flat = os.path.dirname(os.path.join(spec.dest_dir, "x"))  # the folder of a name without '/'
    prefix = os.path.join(spec.dest_dir, "")  # os.path.join(dest_dir, name) is prefix + name for a relative name
    for (source, size, is_link), name in zip(_sources(spec), names, strict=False):
        dest = prefix + name if not name.startswith("/") else name
        item = PlannedItem(source, dest, size, "link" if is_link else "write")
        folder, base = (flat, name) if "/" not in name else (os.path.dirname(dest), os.path.basename(dest))
        if folder not in listings:
            try:
                under = missing and (folder == flat or folder.startswith(prefix))
                names_there = [] if under else os.listdir(folder)
            except OSError:
                names_there = []
            else:
                if folder == flat and not under:  # the run reads the folder once, not twice
                    remember_listing(spec, names_there)
            listings[folder] = set(names_there)
        dst: os.stat_result | None = None
        if base in listings[folder]:
            try:
                dst = os.lstat(dest)
            except OSError:
                dst = None
        if dst is not None:
            item.action, item.note = _conflict(spec, policy, name, size, dst)
        if item.action in ("write", "overwrite"):
            need += _round(size, block)
        plan.items.append(item)
    if spec.copy.verify.value != "none":
        need += 2 * block + MANIFEST_BYTES_PER_ITEM * len(plan.items)  # the manifest, its chain, the report
    plan.bytes_to_write = need
    return plan


def _conflict(spec: JobSpec, policy: ConflictPolicy, name: str, size: int, dst: os.stat_result) -> tuple[str, str]:
    choices = spec.conflict_choices or {}
    if name in choices:
        policy = ConflictPolicy(choices[name])
    if policy is ConflictPolicy.SKIP:
        return "skip", "exists; left as it is (policy 'skip')"
    if policy is ConflictPolicy.OVERWRITE:
        return "overwrite", "exists; replaced once the new copy is complete (policy 'overwrite')"
    if policy is ConflictPolicy.FAIL:
        return "fail", "exists; this item fails (policy 'fail')"
    if policy is ConflictPolicy.SKIP_IDENTICAL:
        if not stat.S_ISREG(dst.st_mode):
            return "fail", "exists and is not a regular file; this item fails"
        if dst.st_size != size:
            return "fail", f"exists with another size ({dst.st_size} bytes); this item fails (policy 'skip-identical')"
        return "skip-if-identical", "exists with the same size; skipped if its content is identical, else fails"
    return "fail", "exists; taken since the names were chosen"


@record(repr=False, eq=False)
class Shortfall(Record):
    """A file system that cannot hold what the jobs would write there (bytes needed and free)."""

    dest_dir: str  # the first destination on that file system
    needed: int
    free: int

    @property
    def missing(self) -> int:
        return self.needed - self.free

    def message(self) -> str:
        return (f"{self.dest_dir}: not enough free space: {self.needed} bytes to write, {self.free} bytes free, "
                f"short by {self.missing} bytes (free some space or choose another destination); nothing was copied")


def by_destination(plans: list[JobPlan]) -> list[tuple[str, int, int | None]]:
    """(destination file system's first folder, bytes to write, bytes free) per file system."""
    groups: dict[int | str, list[Any]] = {}
    for plan in plans:  # made by plan_job: its anchor and free space are known
        try:
            key: int | str = os.stat(plan.anchor).st_dev
        except OSError:
            key = plan.anchor
        group = groups.setdefault(key, [plan.spec.dest_dir, 0, plan.free])
        group[1] += plan.bytes_to_write
    return [(g[0], g[1], g[2]) for g in groups.values()]


def shortfalls(plans: list[JobPlan]) -> list[Shortfall]:
    """Destinations (one per file system) whose free space is less than what the jobs will write."""
    return [Shortfall(dest, need, free) for dest, need, free in by_destination(plans)
            if free is not None and need > free]
