"""The journal's constants, error and schema migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from vfxcopy.core.errors import VfxCopyError
from vfxcopy.core.jobs import (
    JobState,
)

JOURNAL_FILE = "journal.sqlite3"
BUSY_TIMEOUT_S = 30.0
ACTIVE_STATES = (JobState.PENDING, JobState.RUNNING, JobState.PAUSED)
FINISHED_STATES = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED)


class JournalError(VfxCopyError):
    """The journal cannot be opened or used (newer schema, unreadable file)."""


# -- schema ----------------------------------------------------------------


def _schema_v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE jobs (
            job_id TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            state TEXT NOT NULL,
            pid INTEGER,
            pid_start INTEGER,
            host TEXT NOT NULL DEFAULT '',
            created REAL NOT NULL,
            started REAL,
            finished REAL,
            message TEXT NOT NULL DEFAULT '',
            frames_total INTEGER NOT NULL DEFAULT 0
        )"""
    )
    conn.execute("CREATE INDEX jobs_state ON jobs(state)")
    conn.execute(
        """CREATE TABLE frames (
            job_id TEXT NOT NULL REFERENCES jobs(job_id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            frame INTEGER NOT NULL,
            source BLOB NOT NULL,
            dest BLOB NOT NULL,
            status TEXT NOT NULL,
            size INTEGER NOT NULL DEFAULT 0,
            hash TEXT,
            hash_algo TEXT,
            error TEXT,
            dest_mtime_ns INTEGER,
            dest_size INTEGER,
            src_size INTEGER,
            src_mtime_ns INTEGER,
            updated REAL NOT NULL,
            PRIMARY KEY (job_id, idx)
        )"""
    )


def _schema_v2(conn: sqlite3.Connection) -> None:
    # Small records other modules keep between runs (watch folders' handled sequences).
    conn.execute(
        """CREATE TABLE kv (
            namespace TEXT NOT NULL,
            key BLOB NOT NULL,
            value TEXT NOT NULL,
            updated REAL NOT NULL,
            PRIMARY KEY (namespace, key)
        )"""
    )


# Migration i takes the database from user_version i to i + 1. Append only.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_schema_v1, _schema_v2]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the database to `target` in one transaction; returns the version found before."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if found > SCHEMA_VERSION:
            raise JournalError(
                f"the journal was written by a newer vfxcopy (schema {found}, this one knows {SCHEMA_VERSION}); "
                "update vfxcopy or point VFXCOPY_DATA_DIR elsewhere"
            )
        for version in range(found, target):
            MIGRATIONS[version](conn)
        if target > found:
            conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
