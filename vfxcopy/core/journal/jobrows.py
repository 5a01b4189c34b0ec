"""The journal's `jobs` table read back: a job, jobs by state or date, their destinations, with each
job's frame counts (kept for a finished job, counted for the others); mixed into Journal, which owns
the connection."""

from __future__ import annotations

import json
from collections.abc import Iterable

from vfxcopy.core.jobs import FrameStatus, JobSpec, JobState
from vfxcopy.core.journal.schema import FINISHED_STATES, JournalError, parse_tally
from vfxcopy.core.sqlite import sqlite3

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import Any

    from vfxcopy.core.journal.rows import JournalJob


class JobRows:
    """Journal's job listings (journal/store.py)."""

    unreadable: dict[str, str]  # job id -> why its record cannot be read (set by Journal)

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def get_job(self, job_id: str) -> JournalJob | None:
        jobs = self._select_jobs("WHERE j.job_id=?", (job_id,))
        return jobs[0] if jobs else None

    def find_jobs(self, prefix: str) -> list[JournalJob]:
        """Jobs whose id starts with `prefix` (users type the first few characters)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self._select_jobs("WHERE j.job_id LIKE ? ESCAPE '\\'", (escaped + "%",))

    def jobs(self, states: Iterable[JobState] | None = None, limit: int | None = None) -> list[JournalJob]:
        """Jobs newest first, optionally only those in `states`."""
        where = ""
        params: tuple[Any, ...] = ()
        if states is not None:
            values = tuple(s.value for s in states)
            where = f"WHERE j.state IN ({','.join('?' * len(values))})"
            params = values
        tail = f" LIMIT {int(limit)}" if limit else ""
        return self._select_jobs(where, params, tail)

    def created_between(self, since: float, until: float) -> list[JournalJob]:
        """Jobs created at `since` or later and before `until` (timestamps), newest first; only these
        are built and their frames counted (`vfxcopy report` of a week in a journal of months)."""
        return self._select_jobs("WHERE j.created >= ? AND j.created < ?", (since, until))

    def history(self, limit: int | None = None) -> list[JournalJob]:
        """Finished jobs, newest first (the window's history)."""
        return self.jobs(FINISHED_STATES, limit)

    def dest_dirs(self) -> list[tuple[str, str]]:
        """(job id, destination folder) of every job whose record can be read, oldest first: what
        `verify` matches a folder against, without building the jobs or counting their frames.

        SQLite takes the folder out of each record (json_extract: a record holds every frame
        number and name of its job, and parsing them all in Python took most of the time); a
        name that is not valid UTF-8 comes back as bytes that are not either, and that record
        is read whole, as is every record where SQLite has no JSON functions."""
        conn = self._conn()
        try:
            rows = conn.execute("SELECT job_id, CAST(json_extract(spec, '$.dest_dir') AS BLOB), NULL FROM jobs "
                                "ORDER BY created, rowid").fetchall()
        except sqlite3.OperationalError:  # no JSON functions in this SQLite, or a record that is not JSON
            rows = conn.execute("SELECT job_id, NULL, spec FROM jobs ORDER BY created, rowid").fetchall()
        out: list[tuple[str, str]] = []
        for job_id, extracted, text in rows:
            try:
                dest = extracted.decode() if isinstance(extracted, bytes) else None
            except UnicodeDecodeError:
                dest = None
            if dest is None:
                if text is None:
                    (text,) = conn.execute("SELECT spec FROM jobs WHERE job_id=?", (job_id,)).fetchone() or ("",)
                try:
                    dest = json.loads(text).get("dest_dir")
                except (ValueError, TypeError, AttributeError):
                    continue  # a damaged record (`vfxcopy jobs` names it)
            if isinstance(dest, str) and dest:
                out.append((str(job_id), dest))
        return out

    def _select_jobs(self, where: str, params: tuple[Any, ...], tail: str = "") -> list[JournalJob]:
        from vfxcopy.core.journal.rows import JournalJob  # not made by a run that only writes (start-up)

        conn = self._conn()
        rows = conn.execute(
            f"""SELECT j.job_id, j.spec, j.state, j.created, j.started, j.finished, j.message,
                       j.pid, j.pid_start, j.host, j.frames_total, t.tally
                FROM jobs j LEFT JOIN job_tally t ON t.job_id = j.job_id {where} ORDER BY j.created DESC, j.rowid DESC{tail}""",
            params,
        ).fetchall()
        out: list[JournalJob] = []
        for row in rows:
            try:
                spec, state = _read_spec(row[1]), JobState(row[2])
            except (JournalError, ValueError) as exc:
                self.unreadable[str(row[0])] = str(exc)
                continue
            kept = parse_tally(row[11]) if row[11] is not None else None
            counts, bytes_done = kept if kept is not None else self._count_frames(conn, row[0])
            out.append(
                JournalJob(
                    spec=spec,
                    state=state,
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

    @staticmethod
    def _count_frames(conn: sqlite3.Connection, job_id: str) -> tuple[dict[str, int], int]:
        counts: dict[str, int] = {}
        bytes_done = 0
        for status, n, size in conn.execute(
            "SELECT status, COUNT(*), SUM(size) FROM frames WHERE job_id=? GROUP BY status", (job_id,)
        ):
            counts[status] = int(n)
            if status == FrameStatus.DONE.value:
                bytes_done = int(size or 0)
        return counts, bytes_done



def _read_spec(text: object) -> JobSpec:
    """A job's recorded spec; JournalError saying what is wrong with a record that cannot be read."""
    try:
        data = json.loads(text) if isinstance(text, (str, bytes)) else None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return JobSpec.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise JournalError(f"its record cannot be read ({type(exc).__name__}: {exc})") from None
