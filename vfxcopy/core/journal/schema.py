"""The journal's constants, error and schema migrations."""

from __future__ import annotations

from collections.abc import Callable

from vfxcopy.core.errors import VfxCopyError
from vfxcopy.core.jobs import (
    JobState,
)
from vfxcopy.core.sqlite import sqlite3

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


# Each job's frame counts by status, kept so that a listing of jobs does not count a job's frames
# every time (`vfxcopy jobs` of a journal of 400,000 frame rows: 0.16 s of its 0.3 s). Not a schema
# version: a vfxcopy that knows nothing of it opens the journal as before, and the triggers, which
# live in the journal, drop a job's counts at any change to its frames, whoever writes them; so a
# job's counts are either right or missing (then counted, as before).
TALLY_SQL = (
    "CREATE TABLE IF NOT EXISTS job_tally (job_id TEXT PRIMARY KEY, tally TEXT NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS job_tally_ins AFTER INSERT ON frames BEGIN "
    "DELETE FROM job_tally WHERE job_id=NEW.job_id; END",
    "CREATE TRIGGER IF NOT EXISTS job_tally_upd AFTER UPDATE ON frames BEGIN "
    "DELETE FROM job_tally WHERE job_id IN (NEW.job_id, OLD.job_id); END",
    "CREATE TRIGGER IF NOT EXISTS job_tally_del AFTER DELETE ON frames BEGIN "
    "DELETE FROM job_tally WHERE job_id=OLD.job_id; END",
    "CREATE TRIGGER IF NOT EXISTS job_tally_job AFTER DELETE ON jobs BEGIN "
    "DELETE FROM job_tally WHERE job_id=OLD.job_id; END",
)
# 'status count bytes' per status, ';' between: what a job's counts are kept as.
_TALLY_ROWS = ("SELECT f.job_id AS job_id, f.status || ' ' || COUNT(*) || ' ' || CAST(TOTAL(f.size) AS INTEGER) AS part "
               "FROM frames f {where} GROUP BY f.job_id, f.status")


def tally_jobs_sql(where: str) -> str:
    """Keep the counts of the jobs whose frames `where` selects (frames as `f`, jobs as `j`)."""
    return (f"INSERT OR REPLACE INTO job_tally (job_id, tally) SELECT job_id, group_concat(part, ';') "
            f"FROM ({_TALLY_ROWS.format(where=where)}) GROUP BY job_id")


def parse_tally(text: str) -> tuple[dict[str, int], int] | None:
    """(frames per status, bytes of the done frames) from a kept tally; None if it cannot be read."""
    counts: dict[str, int] = {}
    done_bytes = 0
    try:
        for part in text.split(";") if text else ():
            status, n, size = part.split(" ")
            counts[status] = int(n)
            if status == "done":
                done_bytes = int(size)
    except ValueError:
        return None
    return counts, done_bytes


def _add_tally(conn: sqlite3.Connection) -> None:
    """The kept counts and their triggers, once; the counts of every finished job are filled in."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='trigger' AND name='job_tally_job'").fetchone():
        return
    for sql in TALLY_SQL:
        conn.execute(sql)
    marks = ",".join("?" * len(FINISHED_STATES))
    conn.execute(tally_jobs_sql(f"JOIN jobs j ON j.job_id = f.job_id WHERE j.state IN ({marks})"),
                 tuple(s.value for s in FINISHED_STATES))


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
        if target == SCHEMA_VERSION:
            _add_tally(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
