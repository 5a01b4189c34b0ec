"""Path checks before any byte moves: dest inside source, same file, traversal, symlinks out."""

from __future__ import annotations

import os
import stat

from vfxcopy.core.errors import SafetyError
from vfxcopy.core.jobs import JobSpec

NAME_MAX = 255  # bytes, for one path component on Linux/macOS file systems


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _ancestors(path: str) -> list[str]:
    """`path` and each parent up to the root (lexical, after abspath)."""
    out = []
    current = os.path.abspath(path)
    while True:
        out.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            return out
        current = parent


def is_same_or_inside(dest: str | os.PathLike[str], source_dir: str | os.PathLike[str]) -> bool:
    """True if `dest` (existing or not) is `source_dir` or lies anywhere below it.

    Compares (st_dev, st_ino) of every existing ancestor of `dest`, both along
    the path as written and along its resolved path, so a symlink or a bind
    mount that leads back into the source cannot hide it.
    """
    src_id = _identity(os.fspath(source_dir))
    if src_id is None:
        return False
    dest_s = os.fspath(dest)
    # A folder on both chains (all of them, without links) is looked at once: on a network file
    # system each look is a round trip, and a missing one is not remembered by the kernel.
    seen: dict[str, tuple[int, int] | None] = {}
    for chain in (_ancestors(dest_s), _ancestors(os.path.realpath(dest_s))):
        for ancestor in chain:
            if ancestor not in seen:
                seen[ancestor] = _identity(ancestor)
            if seen[ancestor] == src_id:
                return True
    return False


def check_name(name: str, what: str = "name") -> None:
    """Refuse a file name (one component) that could escape its folder or is unusable."""
    if not name:
        return
    if "\0" in name:
        raise SafetyError(f"the {what} {name!r} contains a NUL character; choose another {what}")
    if "/" in name or (os.sep != "/" and os.sep in name) or (os.altsep and os.altsep in name):
        raise SafetyError(
            f"the {what} {name!r} contains a path separator and would write outside the "
            f"destination folder; give a plain name"
        )
    if name in (".", ".."):
        raise SafetyError(f"the {what} {name!r} is a path traversal; give a plain name")
    if len(os.fsencode(name)) > NAME_MAX:
        raise SafetyError(f"the {what} {name!r} is longer than {NAME_MAX} bytes; choose a shorter one")


def check_job(spec: JobSpec) -> None:
    """Raise SafetyError if running `spec` could damage data; does nothing on disk."""
    if spec.rename_head is not None:
        check_name(spec.rename_head, "new head")
    check_name(spec.source.head + spec.source.tail, "source name")
    if not spec.dest_dir:
        raise SafetyError("no destination folder given")
    if "\0" in spec.dest_dir:
        raise SafetyError("the destination folder contains a NUL character")
    source_dir = spec.source.directory or "."
    if is_same_or_inside(spec.dest_dir, source_dir):
        where = (
            "is the source folder"
            if _identity(spec.dest_dir) == _identity(source_dir)
            else "is inside the source folder"
        )
        raise SafetyError(
            f"destination {spec.dest_dir} {where} {source_dir} (checked by device and inode, "
            f"through symlinks and bind mounts); choose a folder outside the source"
        )


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True if both paths exist and are the same inode (hard link, symlink, bind mount)."""
    ia, ib = _identity(os.fspath(a)), _identity(os.fspath(b))
    return ia is not None and ia == ib


def same_folder(a: str, b: str) -> bool:
    """Whether two destinations are one folder: the same path, the same path once links are
    followed (also a link to a folder not made yet), or the same device and inode (a bind mount)."""
    return a == b or os.path.realpath(a) == os.path.realpath(b) or same_file(a, b)


def symlink_escape(path: str | os.PathLike[str], source_dir: str | os.PathLike[str]) -> str | None:
    """If `path` is a symlink whose target lies outside `source_dir`, the resolved target.

    None for a regular file or a link that stays inside the source folder.
    """
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISLNK(st.st_mode):
        return None
    target = os.path.realpath(path)
    root = os.path.realpath(source_dir)
    try:
        inside = os.path.commonpath([target, root]) == root
    except ValueError:
        inside = False
    return None if inside else target

