"""One listing of each folder of a destination, shared by the steps that read its ASC MHL history and
write the next generation: the search for nested histories and the folder hashes.

Each of those steps used to list the destination again (10,600 names: a few milliseconds locally,
60-100 ms a listing on sshfs). On a network file system asking a file's kind or size is a round
trip to the server, and sshfs lists a folder it has listed before from its own cache *without* the
kinds, so that every `is_dir()` then asks the server: the search for nested histories made 10,600
such calls one after the other. Here a folder is listed once per TreeListing; where asking a kind
costs a call, the whole listing is looked up several at a time, and every later question about
those entries (kind, size) is answered from what the DirEntry keeps.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from operator import attrgetter

from vfxcopy.core.roundtrips import AHEAD_MIN, ahead, on_network

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import TypeVar

    from vfxcopy.core.jobs import CancelToken

    T = TypeVar("T")

# A listing of AHEAD_MIN entries or more on a network file system is looked up roundtrips.THREADS at
# a time when a look is needed (sshfs without its attribute cache, 10,500 recorded files: 1.7-2.7 s
# one at a time). Locally a stat takes microseconds and threads only compete for the interpreter.
# Asking the kind of an entry whose listing said it takes well under a microsecond; one that needs
# the server at least tens (sshfs answering from its attribute cache), a round trip otherwise.
_KIND_PROBE = 8
_KIND_FREE_S = 2e-6

_name = attrgetter("name")


def _lstat(item: os.DirEntry[str]) -> object:
    return item.stat(follow_symlinks=False)  # kept by the DirEntry, with the kind


def _kinds_cost_a_call(items: list[os.DirEntry[str]]) -> bool:
    """Whether the listing left out the kinds (sshfs, listing from its cache): asking a few of them
    took longer than reading what a listing says. The entries asked keep their answer."""
    start = time.perf_counter()
    for item in items[:_KIND_PROBE]:
        try:
            item.is_dir(follow_symlinks=False)
        except OSError:
            pass
    return time.perf_counter() - start > _KIND_PROBE * _KIND_FREE_S


class TreeListing:
    """The entries of each folder under `root`, listed once, sorted by name."""

    def __init__(self, root: str, token: CancelToken | None = None) -> None:
        self.root = root
        self.token = token  # checked before each listing and each look (Cancelled)
        self._folders: dict[str, list[os.DirEntry[str]]] = {}
        self._looked: set[str] = set()  # folders whose every entry was looked up already
        self._probed: set[str] = set()  # folders where it was asked whether a kind costs a call
        self._network: bool | None = None

    def check(self) -> None:
        """Cancelled when the caller's token is (while a history is read: round trips on a network)."""
        if self.token is not None:
            self.token.check()

    def ahead(self, items: list[T], look: Callable[[T], object]) -> None:
        """roundtrips.ahead with the token checked before each look (a cancel: each thread's next
        look raises at once, and this returns), then once more (Cancelled)."""

        def checked(item: T) -> None:
            self.check()
            look(item)

        ahead(items, checked)
        self.check()

    def look_up(self, items: list[os.DirEntry[str]]) -> None:
        """Each entry's stat (and kind), kept by it, several at a time (when AHEAD_MIN or more)."""
        if len(items) >= AHEAD_MIN:
            self.ahead(items, _lstat)

    def network(self) -> bool:
        """Whether the root is on a network file system (found once)."""
        if self._network is None:
            self._network = on_network(self.root)
        return self._network

    def looked_up(self, folder: str) -> bool:
        """Whether every entry of `folder` was looked up when it was listed."""
        return folder in self._looked

    def entries(self, folder: str, kinds: bool = False) -> list[os.DirEntry[str]]:
        """`folder`'s entries, sorted by name; OSError when it cannot be listed (asked again next time).

        `kinds`: the caller asks every entry's kind (where that costs a call, all are looked up
        first, several at a time). A caller that stops at the first entry it does not know (the
        folder hashes) looks up only what it needs itself."""
        self.check()
        found = self._folders.get(folder)
        if found is None:
            with os.scandir(folder) as it:
                found = sorted(it, key=_name)
            self._folders[folder] = found
        if kinds and folder not in self._probed and len(found) >= AHEAD_MIN and self.network():
            self._probed.add(folder)
            if _kinds_cost_a_call(found):
                self.ahead(found, _lstat)
                self._looked.add(folder)
        return found

    def walk(self, top: str) -> Iterator[tuple[str, list[str], list[str]]]:
        """What `os.walk(top)` yields (top-down; links to folders listed among the folders but not
        entered; a folder that cannot be listed skipped; the caller may prune the folders it is
        given), from this listing, names in name order."""
        pending = [top]
        while pending:
            folder = pending.pop()
            try:
                items = self.entries(folder, kinds=True)
            except OSError:
                continue
            dirs: list[str] = []
            files: list[str] = []
            links: set[str] = set()
            for item in items:
                try:
                    is_dir = item.is_dir()
                    if is_dir and item.is_symlink():
                        links.add(item.name)
                except OSError:
                    is_dir = False
                (dirs if is_dir else files).append(item.name)
            yield folder, dirs, files
            pending.extend(os.path.join(folder, name) for name in reversed(dirs) if name not in links)
