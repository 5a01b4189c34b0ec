"""The journal's `frames` table: one row per frame of a job (its result, and the sizes and times
that tell a resume whether the files are unchanged); mixed into Journal, which owns the connection."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable

from vfxcopy.core.jobs import FrameResult, FrameStatus
from vfxcopy.core.journal.records import _frame_row, _unfs

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from vfxcopy.core.journal.rows import JournalFrame
    from vfxcopy.core.sqlite import sqlite3


class FrameRows:
    """Journal's frame rows (journal/store.py): recording them, reading them, their statuses."""

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _tx(self, synced: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def record_frame(self, result: FrameResult) -> None:
        """Commit one frame's result (its own small transaction)."""
        self.record_frames([result])

    def record_frames(self, results: Iterable[FrameResult]) -> None:
        """Commit a group of results in one transaction, FRAME_ROWS_PER_STATEMENT rows per statement.

        One INSERT of many rows, not executemany's one statement step per row: sqlite3 lets go of
        the interpreter lock at each step, and the copying thread then waited for it back at every
        row (20,000 rows written while 200,000 stats ran: the stats took 0.43 s with a step per
        row, 0.37 s with 60 rows a step, 0.32 s alone)."""
        now = time.time()
        rows = [_frame_row(r, now) for r in results]
        if not rows:
            return
        # Not synced: a frame's row only says that its file, already durable and in place, needs
        # no compare at a resume. Power lost before the job's next state change loses at most these
        # rows, and a resume compares those files (as it does the ones placed but not yet reported).
        # Synced, each group was an fdatasync of the journal on the destination's disk, in the copy's
        # way (781 frames: 36 of them).
        with self._tx(synced=False) as conn:
            step = FRAME_ROWS_PER_STATEMENT
            for start in range(0, len(rows), step):
                part = rows[start:start + step]
                conn.execute(_insert_frames_sql(len(part)), [value for row in part for value in row])

    def frames(self, job_id: str, problems_only: bool = False) -> list[JournalFrame]:
        """The job's frame rows in order; `problems_only`: those that failed or carry an error text
        (what a table row keeps in memory), without reading and decoding every other row."""
        from vfxcopy.core.journal.rows import JournalFrame  # not made by a run that only writes (start-up)

        where = " AND (status = 'failed' OR (error IS NOT NULL AND error != ''))" if problems_only else ""
        rows = self._conn().execute(
            f"""SELECT job_id, idx, frame, source, dest, status, size, hash, hash_algo, error,
                       dest_mtime_ns, dest_size, src_size, src_mtime_ns, updated
                FROM frames WHERE job_id=?{where} ORDER BY idx""",
            (job_id,),
        ).fetchall()
        return [
            JournalFrame(
                job_id=r[0], index=int(r[1]), frame=int(r[2]), source=_unfs(r[3]), dest=_unfs(r[4]),
                status=_status(r[5]), size=int(r[6] or 0), hash=r[7], hash_algo=r[8], error=r[9],
                dest_mtime_ns=r[10], dest_size=r[11], src_size=r[12], src_mtime_ns=r[13], updated=r[14],
            )
            for r in rows
        ]

    def frame_states(self, job_id: str, total: int) -> list[FrameStatus]:
        """The status of each of the job's `total` frames by index (pending where no row says): what a
        table row shows of a job of an earlier session, without reading its paths. A job whose rows
        are all done, one per index, is told so by an aggregate; others read (index, status) only.
        (The window opened in 2.8 s with a journal of 50 jobs of up to 20,000 frames when every row
        was read whole.)"""
        conn = self._conn()
        done = FrameStatus.DONE.value
        rows, done_rows, low, high = conn.execute(
            "SELECT COUNT(*), SUM(status = ?), MIN(idx), MAX(idx) FROM frames WHERE job_id=?", (done, job_id),
        ).fetchone()
        if rows == total and done_rows == total and total and low == 0 and high == total - 1:
            return [FrameStatus.DONE] * total  # one row per index (the key), every one done
        states = [FrameStatus.PENDING] * total
        for index, value in conn.execute("SELECT idx, status FROM frames WHERE job_id=?", (job_id,)):
            if 0 <= index < total:
                states[index] = _status(value)
        return states


_STATUSES = {s.value: s for s in FrameStatus}


def _status(value: object) -> FrameStatus:
    """A frame row's status; one that cannot be read (a damaged row) is pending: a resume does it again."""
    return _STATUSES.get(value, FrameStatus.PENDING) if isinstance(value, str) else FrameStatus.PENDING


# Rows of the frames table per INSERT: 60 x 15 values stay under the 999 bound of older SQLite builds.
FRAME_ROWS_PER_STATEMENT = 60


@functools.lru_cache(maxsize=8)
def _insert_frames_sql(rows: int) -> str:
    values = ",".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return f"""INSERT INTO frames (job_id, idx, frame, source, dest, status, size, hash, hash_algo, error,
                                  dest_mtime_ns, dest_size, src_size, src_mtime_ns, updated)
               VALUES {values}
               ON CONFLICT(job_id, idx) DO UPDATE SET frame=excluded.frame, source=excluded.source,
                   dest=excluded.dest, status=excluded.status, size=excluded.size, hash=excluded.hash,
                   hash_algo=excluded.hash_algo, error=excluded.error,
                   dest_mtime_ns=excluded.dest_mtime_ns, dest_size=excluded.dest_size,
                   src_size=excluded.src_size, src_mtime_ns=excluded.src_mtime_ns,
                   updated=excluded.updated"""
