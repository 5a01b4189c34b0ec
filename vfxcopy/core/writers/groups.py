"""The groups of jobs that share one read (JobSpec.group), by key: made on first use, dropped when empty.

Used by the fan-out of copies (fanout.py) and the shared decode of renditions
(shared_decode.py); each keeps its own kind of group and says when one is empty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

G = TypeVar("G")


class Registry(Generic[G]):
    """Live groups by key; every method may be called from any thread."""

    def __init__(self, make: Callable[[str], G]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._groups: dict[str, G] = {}

    def get(self, key: str) -> G:
        """The group `key`, made if there is none."""
        with self._lock:
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = self._make(key)
            return group

    def find(self, key: str) -> G | None:
        with self._lock:
            return self._groups.get(key)

    def leave(self, key: str, member_id: str, remove: Callable[[G, str], bool]) -> None:
        """`remove(group, member_id)` takes the member out and says whether the group is now empty;
        an empty group is dropped (a later member starts a new one). Safe to call twice."""
        with self._lock:
            group = self._groups.get(key)
            if group is not None and remove(group, member_id):
                del self._groups[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._groups)
