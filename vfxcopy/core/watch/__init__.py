"""Watch folders: rules (what to do), landing (when a sequence has settled), the watcher (events and
scans), the handled store (never twice).

Rules and the store load without watchdog, so a command or dialog that only
edits rules stays light; the watcher's names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vfxcopy.core.watch.landing import Clock, Landed, LandingTracker, ManualClock, parse_frame_name
from vfxcopy.core.watch.rules import (
    DEFAULT_RESCAN_INTERVAL,
    DEFAULT_SETTLE,
    DESTINATION_TOKENS,
    WatchError,
    WatchRule,
    destination_tokens,
    make_spec,
    rule_name_from_origin,
)
from vfxcopy.core.watch.store import (
    HANDLED_NAMESPACE,
    WATCH_TABLE_SQL,
    HandledStore,
    JournalHandledStore,
    MemoryHandledStore,
    SeqKey,
    SqliteHandledStore,
    default_store,
    key_text,
    migrate_legacy_store,
    release_frames,
)

if TYPE_CHECKING:
    from vfxcopy.core.watch.watcher import FolderWatcher, ObserverFactory, OnLanded, default_observer

_WATCHER_NAMES = frozenset({"FolderWatcher", "ObserverFactory", "OnLanded", "default_observer"})

__all__ = [
    "DEFAULT_RESCAN_INTERVAL", "DEFAULT_SETTLE", "DESTINATION_TOKENS", "HANDLED_NAMESPACE", "WATCH_TABLE_SQL",
    "Clock", "FolderWatcher", "HandledStore", "JournalHandledStore", "Landed", "LandingTracker", "ManualClock", "MemoryHandledStore",
    "ObserverFactory", "OnLanded", "SeqKey", "SqliteHandledStore", "WatchError", "WatchRule", "default_observer",
    "default_store", "destination_tokens", "key_text", "make_spec", "migrate_legacy_store", "parse_frame_name",
    "release_frames", "rule_name_from_origin",
]


def __getattr__(name: str) -> Any:
    # The watcher needs watchdog (its observers start threads and hook logging): load it when asked.
    if name in _WATCHER_NAMES:
        return getattr(importlib.import_module("vfxcopy.core.watch.watcher"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
