"""Network file systems, where each look at a file is a round trip to a server: telling them apart,
and asking several questions at once there.

Light on purpose (`vfxcopy ls` imports it): no job model, no engine.
"""

from __future__ import annotations

import os
from collections.abc import Callable

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import TypeVar

    A = TypeVar("A")
    T = TypeVar("T")

# Questions asked at once on a network file system (more gained nothing on sshfs; each thread
# waits for its own round trip, the interpreter lock is free meanwhile).
THREADS = 8
# Questions from which asking them several at a time pays (fewer: one at a time, no thread started).
AHEAD_MIN = 64
# A network or FUSE file system, whose flock another machine does not see (or nobody does).
_SHARED_FS_PREFIXES = ("nfs", "cifs", "smb", "fuse", "9p", "ceph", "glusterfs", "lustre", "gpfs", "beegfs",
                       "afs", "virtiofs", "ncpfs")


def fs_type(path: str) -> str:
    """The type of the file system `path` is on ("ext4", "tmpfs", "fuse.sshfs", ...), "" if unknown."""
    try:
        target = os.path.realpath(path)
        best, fstype = "", ""
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) < 5 or not right:
                    continue
                mount = fields[4].replace("\\040", " ")
                if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
                    best, fstype = mount, right.split()[0]
    except OSError:
        return ""
    return fstype


def is_shared_fs(fstype: str) -> bool:
    """A network or FUSE file system: every file operation may be a round trip to a server."""
    return fstype.startswith(_SHARED_FS_PREFIXES)


def on_network(path: str) -> bool:
    """Whether `path` is on a network (or FUSE) file system, where each look is a round trip."""
    return is_shared_fs(fs_type(path))


def answers(where: str, items: list[T], ask: Callable[[T], A]) -> dict[T, A]:
    """{item: ask(item)}, asked THREADS at a time, when there are AHEAD_MIN items or more and `where`
    is on a network file system; {} otherwise. An item whose question failed is left out: the
    caller's own loop asks it again, one at a time, and meets the failure there."""
    found: dict[T, A] = {}
    if len(items) >= AHEAD_MIN and on_network(where):
        ahead(items, lambda item: found.__setitem__(item, ask(item)))
    return found


def ahead(items: list[T], look: Callable[[T], object], threads: int = THREADS) -> None:
    """`look(item)` for every item, `threads` at once, for what it leaves behind (a DirEntry's stat,
    an answer in a dict): the caller's own loop then finds it there. A failure is left to that loop,
    which meets it again and reports it as it always does."""
    if not items:
        return
    import threading  # not imported by every command (`vfxcopy ls` of a local folder never needs it)

    def part(chunk: list[T]) -> None:
        for item in chunk:
            try:
                look(item)
            except Exception:  # noqa: BLE001 - met again, and reported, by the caller's loop
                pass

    step = -(-len(items) // threads)
    workers = [threading.Thread(target=part, args=(items[i:i + step],), name="vfxcopy-ahead", daemon=True)
               for i in range(0, len(items), step)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
