"""SQLite journal of jobs and per-frame results: history, crash recovery and resume.

One database file (WAL, synchronous=FULL) in the application-data folder is
shared by the window and any number of command-line processes at once: every
thread uses its own connection, every write is a short `BEGIN IMMEDIATE`
transaction, and a busy timeout rides over the moments another process
writes. A job records the pid and start time of the process running it, so
`recover()` can tell a crashed job (process gone, or pid reused) from one that
another live process is still running.

Paths are stored as bytes (`os.fsencode`), so names that are not valid UTF-8
round-trip exactly; the spec is JSON with ASCII escapes for the same reason.

Other modules keep small records in the generic `kv` table (namespace, key,
JSON value): watch folders use it for the sequences they already handled. A
new table goes in as a new function appended to `MIGRATIONS`.
"""


from __future__ import annotations

import json
import os
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from vfxcopy.core.jobs import FrameStatus, JobSpec, JobState, Reporter, null_reporter
from vfxcopy.core.journal.frames import FrameRows
from vfxcopy.core.journal.jobrows import JobRows
from vfxcopy.core.journal.kv import KeyValues
from vfxcopy.core.journal.owner import (
    _HOST,
    _OWN_START,
    default_journal_path,
    process_alive,
    same_machine,
)
from vfxcopy.core.journal.recorder import FrameRecorder
from vfxcopy.core.journal.records import _frames_total, _safe_text
from vfxcopy.core.journal.schema import (
    ACTIVE_STATES,
    BUSY_TIMEOUT_S,
    FINISHED_STATES,
    JournalError,
    migrate,
    tally_jobs_sql,
)
from vfxcopy.core.sqlite import sqlite3

# -- the journal -----------------------------------------------------------


class Journal(FrameRows, JobRows, KeyValues):
    """The job/frame store; safe to share between threads (one connection each) and processes."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path: str = os.fspath(path) if path is not None else default_journal_path()
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        # Every thread's connection, with (a weak reference to) the thread that made it.
        self._connections: list[tuple[weakref.ref[threading.Thread], sqlite3.Connection]] = []
        self._closed = False
        # Rows a listing left out because they cannot be read (a damaged file, a newer vfxcopy's
        # record): (job id, why), for the commands to say; every other job is listed as usual.
        self.unreadable: dict[str, str] = {}
        try:
            migrate(self._conn())
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: cannot open the job journal ({exc})") from exc

    # -- connections --
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise JournalError(f"{self.path}: the journal is closed")
        # check_same_thread=False only so that close() may close every thread's connection;
        # each connection is otherwise used by the thread that made it.
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        _set_wal(conn)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        self._local.conn = conn
        with self._lock:
            # The connections of threads that ended without release_connection() (a job's thread in a
            # watch that runs for days) are closed now: each held the journal and its log open, two
            # file descriptors a job, until the journal was closed.
            ended = [c for t, c in self._connections if (thread := t()) is None or not thread.is_alive()]
            self._connections = [(t, c) for t, c in self._connections if c not in ended]
            self._connections.append((weakref.ref(threading.current_thread()), conn))
        for old in ended:
            old.close()
        return conn

    def release_connection(self) -> None:
        """Close the calling thread's connection (a thread that ends: the recorder's writer)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._lock:
            self._connections = [(t, c) for t, c in self._connections if c is not conn]
        conn.close()

    @contextmanager
    def _tx(self, synced: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction. `synced=False`: its commit does not wait for the disk (synchronous=NORMAL);
        it is made durable by the next synced commit (a job's state), which syncs the whole log."""
        conn = self._conn()
        if not synced:
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            if not synced:
                conn.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._connections = self._connections, []
        for _thread, conn in conns:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def integrity_check(self) -> str:
        """'ok' when SQLite finds the file sound."""
        return str(self._conn().execute("PRAGMA integrity_check").fetchone()[0])

    def schema_version(self) -> int:
        return int(self._conn().execute("PRAGMA user_version").fetchone()[0])

    # -- jobs --
    def add_job(self, spec: JobSpec, state: JobState = JobState.PENDING) -> None:
        """Record `spec` (new, or replacing the spec of a job not yet started); owned by this process."""
        now = time.time()
        text = json.dumps(spec.to_dict(), ensure_ascii=True)
        with self._tx() as conn:
            conn.execute(
                """INSERT INTO jobs (job_id, spec, state, pid, pid_start, host, created, frames_total)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(job_id) DO UPDATE SET spec=excluded.spec, state=excluded.state,
                       pid=excluded.pid, pid_start=excluded.pid_start, host=excluded.host,
                       frames_total=excluded.frames_total""",
                (spec.job_id, text, state.value, os.getpid(), _OWN_START, _HOST, now,
                 _frames_total(spec)),
            )

    def add_and_start(self, spec: JobSpec) -> None:
        """`add_job(spec)` then `start_job`, in one transaction (one fsync of the journal, not two)."""
        now = time.time()
        text = json.dumps(spec.to_dict(), ensure_ascii=True)
        with self._tx() as conn:
            conn.execute(
                """INSERT INTO jobs (job_id, spec, state, pid, pid_start, host, created, started, frames_total)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(job_id) DO UPDATE SET spec=excluded.spec, state=excluded.state,
                       pid=excluded.pid, pid_start=excluded.pid_start, host=excluded.host,
                       frames_total=excluded.frames_total, started=COALESCE(jobs.started, excluded.started),
                       finished=NULL, message=''""",
                (spec.job_id, text, JobState.RUNNING.value, os.getpid(), _OWN_START, _HOST, now, now,
                 _frames_total(spec)),
            )

    def start_job(self, job_id: str) -> None:
        """This process runs the job from now on."""
        with self._tx() as conn:
            conn.execute(
                """UPDATE jobs SET state=?, pid=?, pid_start=?, host=?, started=COALESCE(started, ?),
                   finished=NULL, message='' WHERE job_id=?""",
                (JobState.RUNNING.value, os.getpid(), _OWN_START, _HOST, time.time(), job_id),
            )

    def claim(self, job_id: str, force: bool = False) -> bool:
        """Take over a job that no live process runs (for resume); False if someone else runs it.

        `force` takes over a job recorded as running on another machine (whose process this
        machine cannot see): the user says that process is gone.
        """
        with self._tx() as conn:
            row = conn.execute(
                "SELECT state, pid, pid_start, host FROM jobs WHERE job_id=?", (job_id,)
            ).fetchone()
            if row is None:
                return False
            state, pid, pid_start, host = JobState(row[0]), row[1], row[2], row[3]
            gone = self._owner_gone(pid, pid_start, host) or (force and not same_machine(host))
            if state in ACTIVE_STATES and not gone:
                if not (pid == os.getpid() and pid_start == _OWN_START):
                    return False
            conn.execute(
                """UPDATE jobs SET state=?, pid=?, pid_start=?, host=?, started=COALESCE(started, ?),
                   finished=NULL, message='' WHERE job_id=?""",
                (JobState.RUNNING.value, os.getpid(), _OWN_START, _HOST, time.time(), job_id),
            )
            return True

    def update_spec(self, spec: JobSpec) -> None:
        """Record the spec again once the pipeline planned it (its output names)."""
        text = json.dumps(spec.to_dict(), ensure_ascii=True)
        with self._tx() as conn:
            conn.execute("UPDATE jobs SET spec=? WHERE job_id=?", (text, spec.job_id))

    def set_state(self, job_id: str, state: JobState, message: str = "") -> None:
        finished = time.time() if state.finished else None
        with self._tx() as conn:
            conn.execute(
                "UPDATE jobs SET state=?, message=?, finished=? WHERE job_id=?",
                (state.value, _safe_text(message) or "", finished, job_id),
            )
            if state.finished:  # its counts, kept for the listings (dropped if its frames change again)
                conn.execute(tally_jobs_sql("WHERE f.job_id=?"), (job_id,))

    def delete_job(self, job_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM frames WHERE job_id=?", (job_id,))
            conn.execute("DELETE FROM jobs WHERE job_id=?", (job_id,))

    def clear_history(self, states: Iterable[JobState] = FINISHED_STATES) -> int:
        """Forget finished jobs (never a running one); returns how many went."""
        values = tuple(s.value for s in states if s.finished)
        if not values:
            return 0
        marks = ",".join("?" * len(values))
        with self._tx() as conn:
            conn.execute(f"DELETE FROM frames WHERE job_id IN (SELECT job_id FROM jobs WHERE state IN ({marks}))", values)
            cur = conn.execute(f"DELETE FROM jobs WHERE state IN ({marks})", values)
            return int(cur.rowcount)

    def reporter(
        self, job_id: str, forward: Reporter = null_reporter, *, max_frames: int = 2048, max_delay: float = 0.1,
        background: bool = False,
    ) -> FrameRecorder:
        """A Reporter that commits the job's FrameResults, then passes every event on; see FrameRecorder
        (`background`: groups are committed by a thread of its own, `flush()` waits for them)."""
        return FrameRecorder(self, job_id, forward, max_frames=max_frames, max_delay=max_delay, background=background)

    # -- recovery --
    def _owner_gone(self, pid: int | None, pid_start: int | None, host: str) -> bool:
        if not same_machine(host):
            return False  # another machine's process: we cannot tell, so leave it alone
        return not process_alive(pid, pid_start)

    def recover(self) -> list[str]:
        """Mark jobs whose process is gone as interrupted and remove their temporary files.

        Called by the window and the command line at start. Returns the ids of
        the jobs it marked. A job still run by a live process is left alone.
        """
        marked: list[tuple[str, str]] = []
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT job_id, state, pid, pid_start, host, spec FROM jobs WHERE state IN "
                f"({','.join('?' * len(ACTIVE_STATES))})",
                tuple(s.value for s in ACTIVE_STATES),
            ).fetchall()
            now = time.time()
            for job_id, state, pid, pid_start, host, spec_text in rows:
                if not self._owner_gone(pid, pid_start, host):
                    continue
                message = (
                    "vfxcopy stopped before this job started"
                    if state == JobState.PENDING.value
                    else "vfxcopy stopped while this job was running"
                )
                conn.execute(
                    "UPDATE jobs SET state=?, message=?, finished=? WHERE job_id=?",
                    (JobState.INTERRUPTED.value, message, now, job_id),
                )
                # Frames caught in flight are not done: a resume does them again.
                conn.execute(
                    "UPDATE frames SET status=? WHERE job_id=? AND status=?",
                    (FrameStatus.PENDING.value, job_id, FrameStatus.RUNNING.value),
                )
                try:
                    dest_dir = str(json.loads(spec_text).get("dest_dir") or "")
                except (ValueError, AttributeError):
                    dest_dir = ""  # a damaged record: its temporaries cannot be found (`vfxcopy clean` can)
                marked.append((job_id, dest_dir))
        for job_id, dest_dir in marked:
            if dest_dir:
                remove_temps(dest_dir, job_id)
        return [job_id for job_id, _ in marked]


def remove_temps(dest_dir: str, job_id: str) -> list[str]:
    """Delete `job_id`'s temporaries in `dest_dir` left by runs that died (never another job's, never
    a live run's); returns their paths."""
    from vfxcopy.core.pipeline.destfolder import sweep

    return sweep(dest_dir, job_id, min_age=0)


def open_journal(path: str | os.PathLike[str] | None = None) -> Journal:
    """The default journal (or the one at `path`)."""
    return Journal(path)


def _set_wal(conn: sqlite3.Connection) -> None:
    """Put the journal in WAL mode, waiting for another process doing the same.

    SQLite answers this pragma "database is locked" at once, without its busy timeout, while
    another connection converts a new journal: two commands started together with a new data
    folder (a farm node starting tasks, a user's two copies) left one of them without a journal
    (1 of 150 opens, six processes at once). It is asked again for up to BUSY_TIMEOUT_S."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    pause = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", None) == _SQLITE_BUSY or "locked" in str(exc)
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


_SQLITE_BUSY = 5
