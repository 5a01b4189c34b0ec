"""The pipeline's tree parts: sub-folders of the destination (made without following links, one fd each) and links.

A tree job's items have relative names ("sub/dir/plate.1001.exr"). Every folder is
made before any byte moves, component by component relative to its parent's fd
(mkdir never follows a link; each folder is opened O_NOFOLLOW, so a link planted
at a folder's name is refused, not written through). Items are then placed with
the same no-clobber rename as flat jobs, from the run's private temp folder (in the
top destination folder, same file system) into their sub-folder's fd.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time

from vfxcopy.core.errors import JobError, explain
from vfxcopy.core.jobs import ConflictPolicy, FrameStatus
from vfxcopy.core.pipeline import place as placing
from vfxcopy.core.writers.base import Item

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.pipeline.steps import ItemSteps

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class Folders:
    """The destination's sub-folders of one tree job: an fd per folder, each listed at most once."""

    def __init__(self, dest_fd: int, dest_dir: str) -> None:
        self.dest_dir = dest_dir
        self.fds: dict[str, int] = {"": dest_fd}
        self.listings: dict[str, set[str] | None] = {}
        self.lock = threading.Lock()

    def make(self, folders: list[str]) -> None:
        """Make (or open) every folder, parents first; JobError naming the folder when one cannot be."""
        for rel in folders:
            if rel in self.fds:
                continue
            parent, _, name = rel.rpartition("/")
            parent_fd = self.fds[parent]
            path = os.path.join(self.dest_dir, rel)
            created = False
            try:
                os.mkdir(name, 0o777, dir_fd=parent_fd)
                created = True
            except FileExistsError:
                pass
            except OSError as exc:
                raise JobError(explain(exc, path, "destination").replace(": ", ": cannot make the folder: ", 1)) from exc
            try:
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=parent_fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise JobError(f"{path}: exists and is not a folder (a file or a link); nothing was written "
                                   "through it (move it away or choose another destination)") from exc
                raise JobError(explain(exc, path, "destination")) from exc
            self.fds[rel] = fd
            if created:
                self.listings[rel] = set()  # new: nothing to list

    def locate(self, name: str) -> tuple[int, str]:
        """The fd of `name`'s folder and its last component."""
        folder, _, base = name.rpartition("/")
        return self.fds[folder], base

    def might_exist(self, name: str) -> bool:
        """False only when `name`'s folder was listed (or made) and the name was not in it."""
        folder, _, base = name.rpartition("/")
        with self.lock:
            if folder not in self.listings:
                try:
                    self.listings[folder] = set(os.listdir(self.fds[folder]))
                except OSError:
                    self.listings[folder] = None
            listing = self.listings[folder]
        return listing is None or base in listing

    def fsync_all(self) -> str | None:
        """Make every sub-folder's new names durable; the first error, or None."""
        error = None
        for rel, fd in self.fds.items():
            if rel:
                try:
                    os.fsync(fd)
                except OSError as exc:
                    error = error or f"{os.path.join(self.dest_dir, rel)}: {exc.strerror}"
        return error

    def close(self) -> None:
        for rel, fd in list(self.fds.items()):
            if rel:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.fds = {"": self.fds[""]}


def copy_link(run: ItemSteps, item: Item, started: float) -> bool:
    """Reproduce the link `item` at the destination; False when it is to be copied as a file instead.

    A link pointing into the tree is reproduced (an absolute target made relative); one
    pointing out fails its item unless following links is allowed (then its target is copied).
    """
    from vfxcopy.core.tree import link_target_in_tree

    rel = os.path.relpath(item.src, run.spec.source.directory).replace(os.sep, "/")
    try:
        target = os.readlink(item.src)
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # no longer a link: copy what is there now
            return False
        run.fail(item, explain(exc, item.src, "source"), started)
        return True
    new_target = link_target_in_tree(run.spec.source.directory, rel, target)
    if new_target is None:
        if run.opts.follow_symlinks:
            return False
        run.fail(item, f"{item.src}: is a symlink to {target}, outside the tree; not copied "
                 "(copy the target itself, or allow following symlinks)", started)
        return True
    fd, base = run.locate(item)
    dest = run.dest_path(item.name)
    try:
        dst = os.stat(base, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        dst = None
    except OSError as exc:
        run.fail(item, explain(exc, dest, "destination"), started)
        return True
    policy = run.policy_for(item)
    overwrite = False
    if dst is not None:
        if stat.S_ISLNK(dst.st_mode) and os.readlink(base, dir_fd=fd) == new_target:
            run.skip(item, started)  # the same link is there
            return True
        if policy is ConflictPolicy.SKIP:
            run.skip(item, started)
            return True
        if policy is not ConflictPolicy.OVERWRITE or stat.S_ISDIR(dst.st_mode):
            run.fail(item, f"{dest}: already exists and is not the same link (choose overwrite or skip)", started)
            return True
        overwrite = True
    temps = run.temps
    assert temps is not None
    temp = temps.reserve(item.index, ".link")
    try:
        os.symlink(new_target, temp.name, dir_fd=temps.fd)
        placing.place(temp.name, temps.fd, base, fd, dest, overwrite)
        temp.placed = True
        temps.forget(temp)
    except placing.PlaceConflict as exc:
        temps.discard(temp)
        run.fail(item, str(exc), started)
        return True
    except OSError as exc:
        temps.discard(temp)
        run.fail(item, explain(exc, dest, "destination"), started)
        return True
    run.finish_item(item, run.new_result(item, FrameStatus.DONE, elapsed=time.monotonic() - started))
    return True


def is_tree_link(item: Item) -> bool:
    return item.lst is not None and stat.S_ISLNK(item.lst.st_mode)
