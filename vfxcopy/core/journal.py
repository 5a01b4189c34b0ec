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
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from vfxcopy.core.errors import VfxCopyError
from vfxcopy.core.jobs import (
    Event,
    FrameResult,
    FrameStatus,
    JobSpec,
    JobState,
    LogMessage,
    Reporter,
    null_reporter,
)

JOURNAL_FILE = "journal.sqlite3"
BUSY_TIMEOUT_S = 30.0
ACTIVE_STATES = (JobState.PENDING, JobState.RUNNING, JobState.PAUSED)
FINISHED_STATES = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED)


class JournalError(VfxCopyError):
    """The journal cannot be opened or used (newer schema, unreadable file)."""


# -- where it lives --------------------------------------------------------


def data_dir() -> Path:
    """The per-user application-data folder (VFXCOPY_DATA_DIR overrides it)."""
    override = os.environ.get("VFXCOPY_DATA_DIR")
    if override:
        return Path(override)
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.environ.get("APPDATA")
        return Path(base) / "vfxcopy" if base else home / "AppData" / "Local" / "vfxcopy"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "vfxcopy"
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else home / ".local" / "share") / "vfxcopy"


def default_journal_path() -> Path:
    return data_dir() / JOURNAL_FILE


# -- process identity ------------------------------------------------------


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks after boot (Linux), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    rest = data.rsplit(b")", 1)[-1].split()
    try:
        return int(rest[19])  # field 22, counted from field 3 (state)
    except (IndexError, ValueError):
        return None


def _linux_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            rest = fh.read().rsplit(b")", 1)[-1].split()
        return rest[0].decode("ascii", "replace") if rest else None
    except OSError:
        return None


def process_alive(pid: int | None, start_time: int | None) -> bool:
    """True if `pid` runs and is the same process as when `start_time` was taken."""
    if not pid or pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if os.path.isdir("/proc/self"):
        state = _linux_state(pid)
        if state is None or state in ("Z", "X"):
            return False  # gone, or a zombie waiting for its parent: it will do no more work
        if start_time is not None and process_start_time(pid) != start_time:
            return False  # the pid was reused by another process
    return True


def _windows_process_alive(pid: int) -> bool:
    # os.kill(pid, 0) would terminate the process on Windows: ask the kernel instead.
    if sys.platform != "win32":
        return False
    import ctypes

    kernel32 = ctypes.windll.kernel32
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return False
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


_OWN_START: int | None = process_start_time(os.getpid())
def _machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
            if text:
                return text
        except OSError:
            continue
    return ""


# A job's owner: host name and machine id. The machine id tells this machine's jobs apart from
# another's even when the host name changed (DHCP, a laptop on another network) since the job ran.
_MACHINE = _machine_id()
_HOST = f"{socket.gethostname()}#{_MACHINE}" if _MACHINE else socket.gethostname()


def same_machine(host: str) -> bool:
    """Was a job recorded with `host` run on this machine? (pids are only meaningful here)."""
    if not host or host == _HOST:
        return True
    name, _, machine = host.partition("#")
    if machine and _MACHINE:
        return machine == _MACHINE
    return name == _HOST.partition("#")[0]


# -- records ---------------------------------------------------------------


def _fs(path: str) -> bytes:
    return os.fsencode(path)


def _unfs(blob: bytes | str | None) -> str:
    if blob is None:
        return ""
    if isinstance(blob, str):
        return blob
    return os.fsdecode(blob)


def _safe_text(text: str | None) -> str | None:
    """Text that sqlite can store: lone surrogates (undecodable names) become \\x escapes."""
    if text is None:
        return None
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass
class JournalFrame:
    """One frame's last recorded result."""

    job_id: str
    index: int
    frame: int
    source: str
    dest: str
    status: FrameStatus
    size: int = 0
    hash: str | None = None
    hash_algo: str | None = None
    error: str | None = None
    dest_mtime_ns: int | None = None
    dest_size: int | None = None
    src_size: int | None = None
    src_mtime_ns: int | None = None
    updated: float = 0.0

    def to_result(self) -> FrameResult:
        return FrameResult(
            job_id=self.job_id,
            index=self.index,
            frame=self.frame,
            source=self.source,
            dest=self.dest,
            status=self.status,
            size=self.size,
            hash=self.hash,
            hash_algo=self.hash_algo,
            error=self.error,
        )


@dataclass
class JournalJob:
    """A job as the journal knows it (spec, state, owner, counts)."""

    spec: JobSpec
    state: JobState
    created: float
    started: float | None = None
    finished: float | None = None
    message: str = ""
    pid: int | None = None
    pid_start: int | None = None
    host: str = ""
    frames_total: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # FrameStatus value -> frames
    bytes_done: int = 0

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    @property
    def frames_done(self) -> int:
        return self.counts.get("done", 0) + self.counts.get("skipped", 0)

    @property
    def frames_failed(self) -> int:
        return self.counts.get("failed", 0)

    @property
    def resumable(self) -> bool:
        return self.state in (JobState.INTERRUPTED, JobState.CANCELLED, JobState.FAILED)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {
            "job_id": self.job_id,
            "name": self.spec.display_name(),
            "state": self.state.value,
            "operation": self.spec.operation.value,
            "source": self.spec.source.pattern(),
            "dest_dir": self.spec.dest_dir,
            "origin": self.spec.origin,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "message": self.message,
            "pid": self.pid,
            "frames_total": self.frames_total,
            "frames_done": self.frames_done,
            "frames_failed": self.frames_failed,
            "frames_skipped": self.counts.get("skipped", 0),
            "bytes_done": self.bytes_done,
            "resumable": self.resumable,
        }


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


# -- the journal -----------------------------------------------------------


class Journal:
    """The job/frame store; safe to share between threads (one connection each) and processes."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_journal_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
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
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._connections = self._connections, []
        for conn in conns:
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

    def get_job(self, job_id: str) -> JournalJob | None:
        jobs = self._select_jobs("WHERE j.job_id=?", (job_id,))
        return jobs[0] if jobs else None

    def find_jobs(self, prefix: str) -> list[JournalJob]:
        """Jobs whose id starts with `prefix` (users type the first few characters)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self._select_jobs("WHERE j.job_id LIKE ? ESCAPE '\\'", (escaped + "%",))

    def jobs(self, states: Iterable[JobState] | None = None, limit: int | None = None) -> list[JournalJob]:
        """Jobs newest first, optionally only those in `states`."""
        where, params = "", cast(tuple[Any, ...], ())
        if states is not None:
            values = tuple(s.value for s in states)
            where = f"WHERE j.state IN ({','.join('?' * len(values))})"
            params = values
        tail = f" LIMIT {int(limit)}" if limit else ""
        return self._select_jobs(where, params, tail)

    def history(self, limit: int | None = None) -> list[JournalJob]:
        """Finished jobs, newest first (the window's history)."""
        return self.jobs(FINISHED_STATES, limit)

    def _select_jobs(self, where: str, params: tuple[Any, ...], tail: str = "") -> list[JournalJob]:
        conn = self._conn()
        rows = conn.execute(
            f"""SELECT j.job_id, j.spec, j.state, j.created, j.started, j.finished, j.message,
                       j.pid, j.pid_start, j.host, j.frames_total
                FROM jobs j {where} ORDER BY j.created DESC, j.rowid DESC{tail}""",
            params,
        ).fetchall()
        out: list[JournalJob] = []
        for row in rows:
            counts: dict[str, int] = {}
            bytes_done = 0
            for status, n, size in conn.execute(
                "SELECT status, COUNT(*), SUM(size) FROM frames WHERE job_id=? GROUP BY status", (row[0],)
            ):
                counts[status] = int(n)
                if status == FrameStatus.DONE.value:
                    bytes_done = int(size or 0)
            out.append(
                JournalJob(
                    spec=JobSpec.from_dict(json.loads(row[1])),
                    state=JobState(row[2]),
                    created=row[3],
                    started=row[4],
                    finished=row[5],
                    message=row[6] or "",
                    pid=row[7],
                    pid_start=row[8],
                    host=row[9] or "",
                    frames_total=int(row[10] or 0),
                    counts=counts,
                    bytes_done=bytes_done,
                )
            )
        return out

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

    # -- frames --
    def record_frame(self, result: FrameResult) -> None:
        """Commit one frame's result (its own small transaction)."""
        self.record_frames([result])

    def record_frames(self, results: Iterable[FrameResult]) -> None:
        rows = [_frame_row(r) for r in results]
        if not rows:
            return
        with self._tx() as conn:
            conn.executemany(
                """INSERT INTO frames (job_id, idx, frame, source, dest, status, size, hash, hash_algo, error,
                                      dest_mtime_ns, dest_size, src_size, src_mtime_ns, updated)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(job_id, idx) DO UPDATE SET frame=excluded.frame, source=excluded.source,
                       dest=excluded.dest, status=excluded.status, size=excluded.size, hash=excluded.hash,
                       hash_algo=excluded.hash_algo, error=excluded.error,
                       dest_mtime_ns=excluded.dest_mtime_ns, dest_size=excluded.dest_size,
                       src_size=excluded.src_size, src_mtime_ns=excluded.src_mtime_ns,
                       updated=excluded.updated""",
                rows,
            )

    def frames(self, job_id: str) -> list[JournalFrame]:
        rows = self._conn().execute(
            """SELECT job_id, idx, frame, source, dest, status, size, hash, hash_algo, error,
                      dest_mtime_ns, dest_size, src_size, src_mtime_ns, updated
               FROM frames WHERE job_id=? ORDER BY idx""",
            (job_id,),
        ).fetchall()
        return [
            JournalFrame(
                job_id=r[0], index=int(r[1]), frame=int(r[2]), source=_unfs(r[3]), dest=_unfs(r[4]),
                status=FrameStatus(r[5]), size=int(r[6] or 0), hash=r[7], hash_algo=r[8], error=r[9],
                dest_mtime_ns=r[10], dest_size=r[11], src_size=r[12], src_mtime_ns=r[13], updated=r[14],
            )
            for r in rows
        ]

    def reporter(
        self, job_id: str, forward: Reporter = null_reporter, *, max_frames: int = 32, max_delay: float = 0.1
    ) -> FrameRecorder:
        """A Reporter that commits the job's FrameResults, then passes every event on; see FrameRecorder."""
        return FrameRecorder(self, job_id, forward, max_frames=max_frames, max_delay=max_delay)

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
                dest_dir = str(json.loads(spec_text).get("dest_dir", ""))
                marked.append((job_id, dest_dir))
        for job_id, dest_dir in marked:
            remove_temps(dest_dir, job_id)
        return [job_id for job_id, _ in marked]

    # -- key/value records for other modules --
    def kv_set(self, namespace: str, key: str, value: Any) -> None:
        with self._tx() as conn:
            conn.execute(
                """INSERT INTO kv (namespace, key, value, updated) VALUES (?, ?, ?, ?)
                   ON CONFLICT(namespace, key) DO UPDATE SET value=excluded.value, updated=excluded.updated""",
                (namespace, _fs(key), json.dumps(value, ensure_ascii=True), time.time()),
            )

    def kv_get(self, namespace: str, key: str, default: Any = None) -> Any:
        row = self._conn().execute(
            "SELECT value FROM kv WHERE namespace=? AND key=?", (namespace, _fs(key))
        ).fetchone()
        return json.loads(row[0]) if row else default

    def kv_delete(self, namespace: str, key: str | None = None) -> int:
        """Delete one key, or the whole namespace when `key` is None."""
        with self._tx() as conn:
            if key is None:
                cur = conn.execute("DELETE FROM kv WHERE namespace=?", (namespace,))
            else:
                cur = conn.execute("DELETE FROM kv WHERE namespace=? AND key=?", (namespace, _fs(key)))
            return int(cur.rowcount)

    def kv_items(self, namespace: str) -> dict[str, Any]:
        rows = self._conn().execute("SELECT key, value FROM kv WHERE namespace=?", (namespace,)).fetchall()
        return {_unfs(k): json.loads(v) for k, v in rows}


class FrameRecorder:
    """The engine's reporter when a journal is on: records FrameResults in small group commits.

    The copier reports a frame only once its file is fsynced, renamed and its
    folder fsynced, so recording here keeps the order the journal promises: a
    frame is never "done" in the journal before it is in place. Frames are
    committed together, at most `max_frames` at a time and never more than
    `max_delay` seconds after they were reported (checked on every event: the
    engine reports progress many times a second), because each commit with
    synchronous=FULL costs an fsync of the journal (about 5 ms per frame here
    when committed one by one). A crash loses at most the frames in flight and
    these few: they are in place, and a resume compares them instead of copying
    them again. Call `flush()` when the job ends. Events are passed on
    unchanged; a journal failure is reported once as a warning and never stops
    the copy.
    """

    def __init__(
        self, journal: Journal, job_id: str, forward: Reporter, *, max_frames: int = 32, max_delay: float = 0.1
    ) -> None:
        self.journal = journal
        self.job_id = job_id
        self.forward = forward
        self.max_frames = max(1, max_frames)
        self.max_delay = max_delay
        self._buffer: list[FrameResult] = []
        self._first = 0.0
        self._lock = threading.Lock()
        self._warned = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, FrameResult) and event.job_id == self.job_id:
            with self._lock:
                if not self._buffer:
                    self._first = time.monotonic()
                self._buffer.append(event)
        if self._due():
            self.flush()
        self.forward(event)

    def _due(self) -> bool:
        with self._lock:
            return bool(self._buffer) and (
                len(self._buffer) >= self.max_frames or time.monotonic() - self._first >= self.max_delay
            )

    def flush(self) -> None:
        """Commit every frame reported so far."""
        with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return
            try:
                self.journal.record_frames(batch)
            except (sqlite3.Error, JournalError) as exc:
                if self._warned:
                    return
                self._warned = True
                warning = LogMessage(self.job_id, "warning",
                                     f"{self.journal.path}: cannot record frames ({exc}); this job may not be resumable")
            else:
                return
        self.forward(warning)


def remove_temps(dest_dir: str, job_id: str) -> list[str]:
    """Delete `job_id`'s temporaries in `dest_dir` left by runs that died (never another job's, never
    a live run's); returns their paths."""
    from vfxcopy.core.pipeline.temps import sweep

    return sweep(dest_dir, job_id, min_age=0)


def _frames_total(spec: JobSpec) -> int:
    frames = spec.selected_frames()
    return len(frames) if frames else 1


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _frame_row(r: FrameResult) -> tuple[Any, ...]:
    dst = _stat(r.dest) if r.status in (FrameStatus.DONE, FrameStatus.SKIPPED) and r.dest else None
    src = _stat(r.source) if r.status in (FrameStatus.DONE, FrameStatus.SKIPPED) and r.source else None
    return (
        r.job_id,
        r.index,
        r.frame,
        _fs(r.source),
        _fs(r.dest),
        r.status.value,
        r.size,
        r.hash,
        r.hash_algo,
        _safe_text(r.error),
        dst.st_mtime_ns if dst else None,
        dst.st_size if dst else None,
        src.st_size if src else None,
        src.st_mtime_ns if src else None,
        time.time(),
    )


def open_journal(path: str | os.PathLike[str] | None = None) -> Journal:
    """The default journal (or the one at `path`)."""
    return Journal(path)
