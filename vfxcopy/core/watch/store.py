"""What a watch rule has handled already (per sequence, the frame sizes queued); survives restarts."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from vfxcopy.core.journal import Journal, data_dir, open_journal
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.sqlite import sqlite3

log = logging.getLogger(__name__)

SeqKey = tuple[str, str, str]  # directory, head, tail


def key_text(key: SeqKey) -> str:
    return "\0".join(key)



class HandledStore(Protocol):
    """Per rule and sequence: the frame sizes already queued."""

    def load(self, rule: str, key: str) -> dict[int, int]: ...

    def record(self, rule: str, key: str, sizes: dict[int, int]) -> None: ...


class MemoryHandledStore:
    """Forgets everything at exit; for tests and `--no-remember` style runs."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], dict[int, int]] = {}
        self._lock = threading.Lock()

    def load(self, rule: str, key: str) -> dict[int, int]:
        with self._lock:
            return dict(self._data.get((rule, key), {}))

    def record(self, rule: str, key: str, sizes: dict[int, int]) -> None:
        with self._lock:
            self._data[(rule, key)] = dict(sizes)


WATCH_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS watch_handled (
    rule TEXT NOT NULL,
    seq_key TEXT NOT NULL,
    sizes TEXT NOT NULL,
    frames INTEGER NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (rule, seq_key)
)
"""


class SqliteHandledStore:
    """The early stand-alone store (a small SQLite file); kept to read and migrate old records."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else Path(data_dir()) / "watch.sqlite"
        self._lock = threading.Lock()
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30)
        if not self._ready:
            with conn:
                conn.execute(WATCH_TABLE_SQL)
            self._ready = True
        return conn

    def load(self, rule: str, key: str) -> dict[int, int]:
        with self._lock:
            conn = self._connect()
            try:
                row = conn.execute(
                    "SELECT sizes FROM watch_handled WHERE rule = ? AND seq_key = ?", (rule, key)
                ).fetchone()
            finally:
                conn.close()
        return _sizes_from_json(row[0]) if row else {}

    def record(self, rule: str, key: str, sizes: dict[int, int]) -> None:
        text = json.dumps({str(f): s for f, s in sorted(sizes.items())})
        with self._lock:
            conn = self._connect()
            try:
                with conn:
                    conn.execute(
                        "INSERT OR REPLACE INTO watch_handled (rule, seq_key, sizes, frames, updated) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (rule, key, text, len(sizes), time.time()),
                    )
            finally:
                conn.close()


def _sizes_from_json(text: str) -> dict[int, int]:
    try:
        raw = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    return {int(f): int(s) for f, s in raw.items()}


HANDLED_NAMESPACE = "watch-handled:"  # + rule name, in the journal's kv table


class JournalHandledStore:
    """Handled sequences in the job journal's kv table: one record per rule and sequence."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def load(self, rule: str, key: str) -> dict[int, int]:
        value = self.journal.kv_get(HANDLED_NAMESPACE + rule, key)
        if not isinstance(value, dict):
            return {}
        return {int(f): int(s) for f, s in value.items()}

    def record(self, rule: str, key: str, sizes: dict[int, int]) -> None:
        self.journal.kv_set(HANDLED_NAMESPACE + rule, key, {str(f): s for f, s in sorted(sizes.items())})

    def forget(self, rule: str) -> int:
        """Drop every record of `rule` (a rule deleted for good); returns how many."""
        return self.journal.kv_delete(HANDLED_NAMESPACE + rule)


def migrate_legacy_store(journal: Journal, legacy: str | os.PathLike[str] | None = None) -> int:
    """Move records of the early stand-alone watch.sqlite into the journal, once; returns how many.

    Records already in the journal win; the old file is renamed to *.migrated so
    that this runs only once.
    """
    path = Path(legacy) if legacy is not None else Path(data_dir()) / "watch.sqlite"
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(path, timeout=30)
        try:
            rows = conn.execute("SELECT rule, seq_key, sizes FROM watch_handled").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.warning("watch: cannot read the old store %s: %s", path, exc)
        return 0
    moved = 0
    for rule, key, text in rows:
        if journal.kv_get(HANDLED_NAMESPACE + rule, key) is None:
            journal.kv_set(HANDLED_NAMESPACE + rule, key, _sizes_from_json(text))
            moved += 1
    try:
        path.rename(path.with_name(path.name + ".migrated"))
    except OSError as exc:
        log.warning("watch: cannot rename %s after migrating it: %s", path, exc)
    return moved


def default_store(journal: Journal | None = None) -> HandledStore:
    """The journal-backed store (the default journal unless one is given), old records migrated."""
    journal = journal or open_journal()
    migrate_legacy_store(journal)
    return JournalHandledStore(journal)


def release_frames(store: HandledStore, rule: str, sequence: Sequence, frames: Iterable[int] | None = None) -> None:
    """Forget in `store` that these frames were handled, so the rule queues them again next start."""
    key = key_text((sequence.directory, sequence.head, sequence.tail))
    sizes = store.load(rule, key)
    for frame in sequence.frames if frames is None else frames:
        sizes.pop(frame, None)
    store.record(rule, key, sizes)
