"""The SQLite job journal: round trips, odd names, migration, recovery, several processes at once."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from vfxcopy.core import journal as journal_mod
from vfxcopy.core.jobs import (
    FrameResult,
    FrameStatus,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
    temp_name,
)
from vfxcopy.core.journal import (
    Journal,
    JournalError,
    default_journal_path,
    process_alive,
    process_start_time,
)
from vfxcopy.core.sequence import Sequence

REPO = Path(__file__).resolve().parents[2]


def make_spec(src: Path, dest: Path, frames: int = 4, head: str = "plate.") -> JobSpec:
    seq = Sequence(str(src), head, ".exr", 4, tuple(range(1001, 1001 + frames)))
    return JobSpec(source=seq, dest_dir=str(dest), origin="test")


def frame_result(spec: JobSpec, index: int, status: FrameStatus = FrameStatus.DONE, **kw: object) -> FrameResult:
    frame = spec.selected_frames()[index]
    return FrameResult(
        job_id=spec.job_id,
        index=index,
        frame=frame,
        source=str(spec.source.path(frame)),
        dest=os.path.join(spec.dest_dir, spec.source.name(frame)),
        status=status,
        **kw,  # type: ignore[arg-type]
    )


def run_python(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env or os.environ.copy(),
    )


def test_default_path_follows_data_dir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VFXCOPY_DATA_DIR", str(tmp_path / "elsewhere"))
    assert default_journal_path() == str(tmp_path / "elsewhere" / "journal.sqlite3")
    with Journal() as j:
        assert os.path.exists(j.path)
        assert j.schema_version() == journal_mod.SCHEMA_VERSION


def test_wal_full_sync_and_integrity(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as j:
        conn = j._conn()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert j.integrity_check() == "ok"


def test_frame_rows_wait_for_no_disk_and_the_next_state_change_syncs_them(tmp_path: Path) -> None:
    """A group of frame rows commits at synchronous=NORMAL (no fdatasync of the journal on the
    copy's disk for each group), a job's state at FULL, which syncs the whole log, those rows
    included; the connection is left at FULL, also when a frames commit fails."""
    spec = make_spec(tmp_path / "src", tmp_path / "dst")
    with Journal(tmp_path / "j.db") as j:
        conn = j._conn()
        said: list[str] = []
        conn.set_trace_callback(said.append)
        j.add_job(spec)
        j.start_job(spec.job_id)
        j.record_frames([frame_result(spec, i, size=10, hash="ab", hash_algo="xxh3") for i in range(3)])
        j.set_state(spec.job_id, JobState.COMPLETED, "done")
        conn.set_trace_callback(None)
        level = "FULL"
        at_commit: list[tuple[str, str]] = []  # (what the transaction wrote, the sync level it committed at)
        wrote = ""
        for statement in said:
            words = " ".join(statement.split())
            if words.startswith("PRAGMA synchronous="):
                level = words.split("=", 1)[1]
            elif words.startswith(("INSERT", "UPDATE")) and not wrote:
                wrote = words.split("(")[0].split(" SET")[0].strip()
            elif words == "COMMIT":
                at_commit.append((wrote, level))
                wrote = ""
        assert ("INSERT INTO frames", "NORMAL") in at_commit
        assert [lvl for what, lvl in at_commit if not what.startswith("INSERT INTO frames")] == ["FULL"] * (
            len(at_commit) - 1)
        assert at_commit[-1][1] == "FULL"  # the job's last state, after its frames
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        with pytest.raises(sqlite3.Error):
            j.record_frames([frame_result(spec, 0, size=object())])  # type: ignore[arg-type]
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert len(j.frames(spec.job_id)) == 3


def test_spec_state_and_frames_round_trip(tmp_path: Path) -> None:
    spec = make_spec(tmp_path / "src", tmp_path / "dst")
    spec.copy.bwlimit = 1234
    with Journal(tmp_path / "j.db") as j:
        j.add_job(spec)
        job = j.get_job(spec.job_id)
        assert job is not None
        assert job.state is JobState.PENDING
        assert job.spec.to_dict() == spec.to_dict()
        assert job.pid == os.getpid()
        assert job.frames_total == 4

        j.start_job(spec.job_id)
        j.record_frame(frame_result(spec, 0, size=10, hash="ab", hash_algo="xxh3"))
        j.record_frame(frame_result(spec, 1, FrameStatus.FAILED, error="disk on fire"))
        j.record_frame(frame_result(spec, 2, FrameStatus.SKIPPED, size=7))
        j.set_state(spec.job_id, JobState.FAILED, "1 frame failed")

        job = j.get_job(spec.job_id)
        assert job is not None
        assert job.state is JobState.FAILED and job.finished is not None and job.started is not None
        assert (job.frames_done, job.frames_failed, job.bytes_done) == (2, 1, 10)
        frames = j.frames(spec.job_id)
        assert [f.status for f in frames] == [FrameStatus.DONE, FrameStatus.FAILED, FrameStatus.SKIPPED]
        assert frames[0].hash == "ab" and frames[1].error == "disk on fire"
        assert frames[0].to_result().dest == os.path.join(spec.dest_dir, "plate.1001.exr")

        # A later result for the same frame replaces the earlier one (a resume redid it).
        j.record_frame(frame_result(spec, 1, size=10, hash="cd", hash_algo="xxh3"))
        assert j.frames(spec.job_id)[1].status is FrameStatus.DONE
        assert j.frames(spec.job_id)[1].error is None


def test_names_that_are_not_utf8_round_trip(tmp_path: Path) -> None:
    raw_dir = os.fsencode(tmp_path) + b"/src\xff"
    os.makedirs(raw_dir)
    src_dir = os.fsdecode(raw_dir)
    head = os.fsdecode(b"pl\xe9te.")  # latin-1 é: not UTF-8
    seq = Sequence(src_dir, head, ".exr", 4, (1, 2))
    spec = JobSpec(source=seq, dest_dir=os.fsdecode(os.fsencode(tmp_path) + b"/dst\xff"))
    path = Path(seq.path(1))
    path.write_bytes(b"x" * 5)
    with Journal(tmp_path / "j.db") as j:
        j.add_job(spec)
        result = FrameResult(spec.job_id, 0, 1, str(path), os.path.join(spec.dest_dir, seq.name(1)),
                             FrameStatus.FAILED, error=f"{path}: cannot read")
        j.record_frame(result)
        job = j.get_job(spec.job_id)
        assert job is not None
        assert os.fsencode(job.spec.source.head) == b"pl\xe9te."
        assert os.fsencode(job.spec.dest_dir).endswith(b"/dst\xff")
        frame = j.frames(spec.job_id)[0]
        assert os.fsencode(frame.source) == os.fsencode(str(path))
        assert os.fsencode(frame.dest).endswith(b"/dst\xff/pl\xe9te.0001.exr")
        assert frame.error is not None and "cannot read" in frame.error


def test_migration_from_version_1_keeps_jobs(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    spec = make_spec(tmp_path / "src", tmp_path / "dst")
    conn = sqlite3.connect(db, isolation_level=None)
    journal_mod.migrate(conn, target=1)
    conn.execute(
        "INSERT INTO jobs (job_id, spec, state, created) VALUES (?, ?, ?, ?)",
        (spec.job_id, json.dumps(spec.to_dict()), "completed", 1.0),
    )
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert not conn.execute("SELECT name FROM sqlite_master WHERE name='kv'").fetchall()
    conn.close()

    with Journal(db) as j:
        assert j.schema_version() == 2
        job = j.get_job(spec.job_id)
        assert job is not None and job.state is JobState.COMPLETED
        j.kv_set("watch_handled", "/shots/a.####.exr", {"size": 3})
        assert j.kv_get("watch_handled", "/shots/a.####.exr") == {"size": 3}


def _kept(db: Path, job_id: str) -> str | None:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT tally FROM job_tally WHERE job_id=?", (job_id,)).fetchone()
    finally:
        conn.close()
    return None if row is None else str(row[0])


def test_a_finished_jobs_counts_are_kept_and_dropped_whenever_its_frames_change(tmp_path: Path) -> None:
    """A listing reads a finished job's counts instead of counting its frames; any change to the
    frames drops them (a resume's frame, a recovery, a vfxcopy that knows nothing of them), so the
    listing is never wrong: what it shows is what counting shows."""
    db = tmp_path / "j.db"
    spec = make_spec(tmp_path / "src", tmp_path / "dst", frames=4)
    with Journal(db) as j:
        j.add_and_start(spec)
        j.record_frames([frame_result(spec, i, size=100 + i) for i in range(3)]
                        + [frame_result(spec, 3, FrameStatus.FAILED, error="bad")])
        assert _kept(db, spec.job_id) is None  # running: counted
        j.set_state(spec.job_id, JobState.FAILED, "1 frame failed")
        assert _kept(db, spec.job_id) is not None
        job = j.get_job(spec.job_id)
        assert job is not None and job.counts == {"done": 3, "failed": 1} and job.bytes_done == 303

        j.record_frame(frame_result(spec, 3, size=7))  # a resume does the failed frame
        assert _kept(db, spec.job_id) is None
        job = j.get_job(spec.job_id)
        assert job is not None and job.counts == {"done": 4} and job.bytes_done == 310
        j.set_state(spec.job_id, JobState.COMPLETED)

    conn = sqlite3.connect(db, isolation_level=None)  # an older vfxcopy, which keeps no counts
    conn.execute("UPDATE frames SET status='failed' WHERE job_id=? AND idx=0", (spec.job_id,))
    conn.close()
    assert _kept(db, spec.job_id) is None
    with Journal(db) as j:
        job = j.get_job(spec.job_id)
        assert job is not None and job.counts == {"done": 3, "failed": 1} and job.bytes_done == 210
        j.delete_job(spec.job_id)
    assert _kept(db, spec.job_id) is None


def test_an_older_journal_gets_the_counts_of_its_finished_jobs(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    done, running = (make_spec(tmp_path / "src", tmp_path / f"dst{i}", frames=2) for i in range(2))
    with Journal(db) as j:
        for spec in (done, running):
            j.add_and_start(spec)
            j.record_frames([frame_result(spec, i, size=5) for i in range(2)])
        j.set_state(done.job_id, JobState.COMPLETED)
    conn = sqlite3.connect(db, isolation_level=None)  # as the journal of the version before
    for name in ("job_tally_ins", "job_tally_upd", "job_tally_del", "job_tally_job"):
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE job_tally")
    conn.close()
    with Journal(db) as j:
        assert _kept(db, done.job_id) == "done 2 10" and _kept(db, running.job_id) is None
        assert [(job.state, job.counts, job.bytes_done) for job in j.jobs()] == [
            (JobState.RUNNING, {"done": 2}, 10), (JobState.COMPLETED, {"done": 2}, 10)]


def test_journal_from_a_newer_vfxcopy_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {journal_mod.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(JournalError, match="newer vfxcopy"):
        Journal(db)


def test_kv_namespaces(tmp_path: Path) -> None:
    odd = os.fsdecode(b"/in/\xff.exr")
    with Journal(tmp_path / "j.db") as j:
        j.kv_set("watch_handled", odd, [1, 2])
        j.kv_set("watch_handled", "b", None)
        j.kv_set("other", "b", "x")
        assert j.kv_items("watch_handled") == {odd: [1, 2], "b": None}
        assert j.kv_delete("watch_handled", "b") == 1
        assert j.kv_get("watch_handled", "b", "gone") == "gone"
        assert j.kv_delete("watch_handled") == 1
        assert j.kv_items("other") == {"b": "x"}


def test_clear_history_keeps_unfinished_jobs(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as j:
        specs = [make_spec(tmp_path / "s", tmp_path / f"d{i}") for i in range(4)]
        for spec, state in zip(specs, [JobState.COMPLETED, JobState.FAILED, JobState.RUNNING, JobState.PENDING],
                               strict=True):
            j.add_job(spec)
            j.record_frame(frame_result(spec, 0))
            j.set_state(spec.job_id, state)
        assert {job.job_id for job in j.history()} == {specs[0].job_id, specs[1].job_id}
        assert j.clear_history() == 2
        assert {job.job_id for job in j.jobs()} == {specs[2].job_id, specs[3].job_id}
        assert j.frames(specs[0].job_id) == []
        assert len(j.frames(specs[2].job_id)) == 1


def test_find_jobs_by_prefix(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as j:
        a = make_spec(tmp_path, tmp_path)
        a.job_id = "abc123000000"
        b = make_spec(tmp_path, tmp_path)
        b.job_id = "abd123000000"
        j.add_job(a)
        j.add_job(b)
        assert [x.job_id for x in j.find_jobs("abc")] == [a.job_id]
        assert len(j.find_jobs("ab")) == 2
        assert j.find_jobs("a%") == []


def test_reporter_group_commits_frames_and_forwards_everything(tmp_path: Path) -> None:
    spec = make_spec(tmp_path / "src", tmp_path / "dst", frames=6)
    seen: list[object] = []
    with Journal(tmp_path / "j.db") as j:
        j.add_job(spec)
        other = sqlite3.connect(j.path)  # what another process (a resume after a crash) would see

        def committed() -> int:
            return int(other.execute("SELECT COUNT(*) FROM frames WHERE job_id=?", (spec.job_id,)).fetchone()[0])

        report = j.reporter(spec.job_id, seen.append, max_frames=3, max_delay=60.0)
        events = [
            Progress(spec.job_id, JobState.RUNNING, 6),
            frame_result(spec, 0, size=3),
            frame_result(spec, 1, size=3),
            LogMessage(spec.job_id, "info", "hi"),
        ]
        for event in events:
            report(event)
        assert seen == events  # passed on at once, in order
        assert committed() == 0  # two frames wait for a group commit
        report(frame_result(spec, 2, size=3))
        assert committed() == 3  # the third fills the group
        report(frame_result(spec, 3, size=3))
        report.flush()  # the engine flushes when the job ends
        assert committed() == 4

        # A frame is never kept waiting longer than max_delay: the next event of any kind commits it.
        timed = j.reporter(spec.job_id, seen.append, max_frames=100, max_delay=0.05)
        timed(frame_result(spec, 4, size=3))
        assert committed() == 4
        time.sleep(0.06)
        timed(Progress(spec.job_id, JobState.RUNNING, 6))
        assert committed() == 5
        other.close()


def test_background_reporter_commits_off_the_reporting_thread_in_order_and_flush_waits(tmp_path: Path) -> None:
    """The engine's recorder: due groups are committed by a thread of its own; flush() returns
    only when every frame reported so far is in the journal; a frame reported twice keeps its
    last result (groups land in order)."""
    spec = make_spec(tmp_path / "src", tmp_path / "dst", frames=40)
    seen: list[object] = []
    with Journal(tmp_path / "j.db") as j:
        j.add_job(spec)
        other = sqlite3.connect(j.path)
        reporting = threading.get_ident()
        writers: set[int] = set()
        real = j.record_frames

        def recording(results: list[FrameResult]) -> None:
            writers.add(threading.get_ident())
            time.sleep(0.02)  # a slow disk: the reporting thread must not wait for it
            real(results)

        j.record_frames = recording  # type: ignore[method-assign]
        report = j.reporter(spec.job_id, seen.append, max_frames=4, max_delay=60.0, background=True)
        for i in range(40):
            report(frame_result(spec, i, size=3))
        report(frame_result(spec, 7, status=FrameStatus.FAILED, error="late news"))
        assert len(seen) == 41  # every event passed on at once
        report.flush()
        rows = dict(other.execute("SELECT idx, status FROM frames WHERE job_id=?", (spec.job_id,)).fetchall())
        assert len(rows) == 40
        assert rows[7] == FrameStatus.FAILED.value and rows[8] == FrameStatus.DONE.value
        assert any(w != reporting for w in writers)  # the groups were committed by the writer thread
        other.close()


def test_background_reporter_says_a_journal_failure_once_from_the_reporting_thread(tmp_path: Path) -> None:
    spec = make_spec(tmp_path / "src", tmp_path / "dst", frames=8)
    seen: list[tuple[object, int]] = []
    with Journal(tmp_path / "j.db") as j:
        j.add_job(spec)

        def broken(results: list[FrameResult]) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        j.record_frames = broken  # type: ignore[method-assign]
        report = j.reporter(spec.job_id, lambda e: seen.append((e, threading.get_ident())), max_frames=2,
                            max_delay=60.0, background=True)
        for i in range(8):
            report(frame_result(spec, i))
        report.flush()
        warnings = [(e, t) for e, t in seen if isinstance(e, LogMessage)]
        assert len(warnings) == 1
        message, thread = warnings[0]
        assert "disk I/O error" in message.text and "may not be resumable" in message.text  # type: ignore[attr-defined]
        assert thread == threading.get_ident()


def test_process_identity() -> None:
    start = process_start_time(os.getpid())
    if sys.platform.startswith("linux"):
        assert start is not None and start > 0
    assert process_alive(os.getpid(), start)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not process_alive(proc.pid, None)
    if start is not None:
        assert not process_alive(os.getpid(), start + 1)  # same pid, other start time: a reused pid


OWNER = """
    import os, sys, time
    from vfxcopy.core.journal import Journal
    from vfxcopy.core.jobs import JobSpec
    from vfxcopy.core.sequence import Sequence
    j = Journal(sys.argv[1])
    spec = JobSpec(source=Sequence(sys.argv[2], "plate.", ".exr", 4, (1, 2)), dest_dir=sys.argv[3],
                   job_id=sys.argv[4])
    j.add_job(spec)
    j.start_job(spec.job_id)
    for i in range(2):
        open(os.path.join(sys.argv[3], f".vfxcopy-{spec.job_id}-{i}.part"), "wb").close()
    print("ready", flush=True)
    if sys.argv[5] == "stay":
        time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process start times are read from /proc")
def test_recover_marks_dead_jobs_and_leaves_live_ones(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    dest = tmp_path / "dst"
    dest.mkdir()
    Journal(db).close()
    dead = run_python(OWNER, str(db), str(tmp_path / "src"), str(dest), "deadjob00001", "exit")
    assert dead.wait(30) == 0, dead.stderr.read() if dead.stderr else ""
    live = run_python(OWNER, str(db), str(tmp_path / "src"), str(dest), "livejob00001", "stay")
    try:
        assert live.stdout is not None and live.stdout.readline().strip() == "ready"
        # Someone else's temp file and a finished frame next to them must survive.
        other_temp = dest / temp_name("otherjob0001", 0)
        other_temp.write_bytes(b"keep")
        (dest / "plate.0001.exr").write_bytes(b"done frame")

        with Journal(db) as j:
            assert j.recover() == ["deadjob00001"]
            dead_job = j.get_job("deadjob00001")
            assert dead_job is not None and dead_job.state is JobState.INTERRUPTED
            assert "stopped while this job was running" in dead_job.message
            live_job = j.get_job("livejob00001")
            assert live_job is not None and live_job.state is JobState.RUNNING
            # A live owner keeps its job: nobody else may claim it for a resume.
            assert not j.claim("livejob00001")
            names = sorted(os.listdir(dest))
            assert names == sorted([
                other_temp.name, "plate.0001.exr",
                temp_name("livejob00001", 0), temp_name("livejob00001", 1),
            ])
            assert j.recover() == []  # nothing new on a second call

            live.kill()
            live.wait(30)
            assert j.recover() == ["livejob00001"]
            assert sorted(os.listdir(dest)) == sorted([other_temp.name, "plate.0001.exr"])
            assert j.claim("livejob00001")
            job = j.get_job("livejob00001")
            assert job is not None and job.state is JobState.RUNNING and job.pid == os.getpid()
    finally:
        if live.poll() is None:
            live.kill()
            live.wait(30)


def test_recover_treats_a_reused_pid_as_gone(tmp_path: Path) -> None:
    if process_start_time(os.getpid()) is None:
        pytest.skip("no process start times on this platform")
    spec = make_spec(tmp_path / "src", tmp_path / "dst")
    with Journal(tmp_path / "j.db") as j:
        j.add_job(spec)
        j.start_job(spec.job_id)
        assert j.recover() == []  # ours and alive
        # Same pid, but the recorded start time belongs to an earlier process with that pid.
        conn = j._conn()
        conn.execute("UPDATE jobs SET pid_start = pid_start - 1 WHERE job_id=?", (spec.job_id,))
        assert j.recover() == [spec.job_id]


WRITER = """
    import sys
    from vfxcopy.core.journal import Journal
    from vfxcopy.core.jobs import FrameResult, FrameStatus, JobSpec
    from vfxcopy.core.sequence import Sequence
    j = Journal(sys.argv[1])
    n = int(sys.argv[3])
    spec = JobSpec(source=Sequence("/s", "p.", ".exr", 4, tuple(range(n))), dest_dir="/d", job_id=sys.argv[2])
    j.add_job(spec)
    j.start_job(spec.job_id)
    for i in range(n):
        j.record_frame(FrameResult(spec.job_id, i, i, f"/s/p.{i:04d}.exr", f"/d/p.{i:04d}.exr",
                                   FrameStatus.DONE, size=i))
        if i % 10 == 0:
            j.jobs()
            j.recover()
    j.set_state(spec.job_id, __import__("vfxcopy.core.jobs").core.jobs.JobState.COMPLETED)
"""


def test_several_processes_and_threads_share_one_journal(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    n = 60
    procs = [run_python(WRITER, str(db), f"proc{i:08d}", str(n)) for i in range(3)]
    errors: list[BaseException] = []
    with Journal(db) as j:

        def thread_writer(k: int) -> None:
            try:
                spec = make_spec(tmp_path / "s", tmp_path / "d", frames=n)
                spec.job_id = f"thread{k:06d}"
                j.add_job(spec)
                for i in range(n):
                    j.record_frame(frame_result(spec, i, size=1))
                j.set_state(spec.job_id, JobState.COMPLETED)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=thread_writer, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for p in procs:
            assert p.wait(60) == 0, p.stderr.read() if p.stderr else ""
        assert errors == []
        jobs = j.jobs()
        assert len(jobs) == 5
        assert all(job.state is JobState.COMPLETED for job in jobs)
        assert all(job.frames_done == n for job in jobs)
        assert j.integrity_check() == "ok"


@pytest.mark.parametrize("fails", ["add_and_start", "set_state", "update_spec"])
def test_a_journal_that_fails_never_stops_a_copy(tmp_path: Path, byte_seq: list[Path],
                                                 monkeypatch: pytest.MonkeyPatch, fails: str) -> None:
    """The journal's disk fills up (or its file goes read-only) as the job starts, is planned or
    ends: the copy completes and writes its manifest; what the journal missed is said once."""
    from vfxcopy.core.engine import run_job
    from vfxcopy.core.seqfind import scan

    def full(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    journal = Journal(tmp_path / "journal.sqlite3")
    monkeypatch.setattr(journal, fails, full)
    spec = JobSpec(scan([str(byte_seq[0].parent)])[0], str(tmp_path / "out"))
    said: list[LogMessage] = []
    result = run_job(spec, report=lambda e: said.append(e) if isinstance(e, LogMessage) else None, journal=journal)
    assert result.state is JobState.COMPLETED and result.exit_code == 0
    assert sorted(os.listdir(tmp_path / "out")) == sorted([p.name for p in byte_seq] + ["ascmhl"])
    warnings = [m.text for m in said if m.level == "warning"]
    assert len(warnings) == 1 and "the job journal cannot" in warnings[0] and "disk is full" in warnings[0], warnings
    journal.close()


@pytest.mark.parametrize("damage", ["{garbage", '{"dest_dir": "/x"}', "[]", "null"])
def test_a_damaged_job_record_is_left_out_said_and_breaks_nothing(tmp_path: Path, byte_seq: list[Path],
                                                                  damage: str) -> None:
    """One job's record the journal cannot read (a damaged file, a newer vfxcopy's record), even one
    of a job still marked running by a dead process: every copy crashed in the journal's recovery at
    its start, and `vfxcopy jobs` with a traceback. Now the row is left out of listings, said, and
    recovered as interrupted; the other jobs and new copies go on."""
    env = {**os.environ, "VFXCOPY_DATA_DIR": str(tmp_path / "data")}
    cli = [sys.executable, "-m", "vfxcopy"]
    src = str(byte_seq[0].parent)
    for dest in ("one", "two"):
        done = subprocess.run([*cli, "copy", src, str(tmp_path / dest), "-q"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    path = tmp_path / "data" / "journal.sqlite3"
    with sqlite3.connect(path) as conn:
        (damaged,) = conn.execute("SELECT job_id FROM jobs ORDER BY created LIMIT 1").fetchone()
        conn.execute("UPDATE jobs SET spec=?, state='running', pid=999999999 WHERE job_id=?", (damage, damaged))
    three = subprocess.run([*cli, "copy", src, str(tmp_path / "three"), "-q"], env=env, capture_output=True, text=True)
    assert three.returncode == 0 and "Traceback" not in three.stderr, three.stderr
    assert len(os.listdir(tmp_path / "three")) == len(byte_seq) + 1  # the frames and the manifest
    listed = subprocess.run([*cli, "jobs", "--json"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    data = json.loads(listed.stdout)
    assert len(data["jobs"]) == 2 and [u["job_id"] for u in data["unreadable"]] == [damaged]
    assert f"warning: job {damaged} in the journal" in listed.stderr and "left out" in listed.stderr
    shown = subprocess.run([*cli, "jobs", "show", damaged], env=env, capture_output=True, text=True)
    assert shown.returncode == 2 and "Traceback" not in shown.stderr and "cannot be shown or resumed" in shown.stderr
    with Journal(path) as journal:
        assert journal.recover() == []  # marked once already, by the copy's start
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT state FROM jobs WHERE job_id=?", (damaged,)).fetchone()[0] == "interrupted"
        assert {j.job_id for j in journal.jobs()} == {j["job_id"] for j in data["jobs"]}
        assert damaged in journal.unreadable


def test_a_frame_row_with_a_status_it_cannot_read_is_done_again(tmp_path: Path) -> None:
    spec = make_spec(tmp_path / "src", tmp_path / "dst")
    with Journal(tmp_path / "j.sqlite3") as journal:
        journal.add_job(spec)
        journal.record_frames([frame_result(spec, 0), frame_result(spec, 1)])
        with sqlite3.connect(journal.path) as conn:
            conn.execute("UPDATE frames SET status='from-the-future' WHERE idx=1")
        assert [f.status for f in journal.frames(spec.job_id)] == [FrameStatus.DONE, FrameStatus.PENDING]


def test_a_resume_whose_journal_cannot_record_its_end_still_completes(tmp_path: Path, byte_seq: list[Path],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The same rule as a run's (test_a_journal_that_fails_never_stops_a_copy) for a resume: the
    frames are copied and the manifest written; the end the journal cannot record is said once."""
    from vfxcopy.core.engine import run_job
    from vfxcopy.core.resume import resume_job
    from vfxcopy.core.seqfind import scan

    journal = Journal(tmp_path / "journal.sqlite3")
    spec = JobSpec(scan([str(byte_seq[0].parent)])[0], str(tmp_path / "out"))
    assert run_job(spec, journal=journal).state is JobState.COMPLETED
    (tmp_path / "out" / byte_seq[2].name).unlink()
    journal.set_state(spec.job_id, JobState.INTERRUPTED, "stopped")

    def full(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(journal, "set_state", full)
    said: list[LogMessage] = []
    result = resume_job(spec.job_id, journal, report=lambda e: said.append(e) if isinstance(e, LogMessage) else None)
    assert result.state is JobState.COMPLETED
    assert (tmp_path / "out" / byte_seq[2].name).read_bytes() == byte_seq[2].read_bytes()
    warnings = [m.text for m in said if m.level == "warning"]
    assert any("the job journal cannot record the job's end (database or disk is full)" in w for w in warnings), said
    journal.close()


@pytest.mark.parametrize("damaged", [False, True], ids=["every-record-json", "one-record-not-json"])
def test_verify_finds_a_folders_frames_among_odd_and_damaged_records(tmp_path: Path, damaged: bool) -> None:
    """What `verify` checks a folder against from the journal: the frames every job placed there,
    the later job winning, whether the job named the folder through a link or by a name that is not
    valid UTF-8; jobs elsewhere and records that cannot be read are passed over. A record that is
    not JSON at all makes SQLite's JSON reading fail: the records are then read one by one."""
    from vfxcopy.core.verify.destination import expected_from_journal

    odd = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/d\xffst"))
    os.mkdir(odd)
    os.symlink(odd, tmp_path / "latest")
    jobs = [make_spec(tmp_path / "src", tmp_path / "elsewhere"),
            make_spec(tmp_path / "src", odd),
            make_spec(tmp_path / "src", tmp_path / "latest")]  # the same folder, through a link
    with Journal(tmp_path / "j.sqlite3") as journal:
        for n, spec in enumerate(jobs):
            journal.add_job(spec)
            journal.record_frames([frame_result(spec, i, hash=f"{n}{i}" * 8, hash_algo="xxh64", size=9)
                                   for i in range(2 if n == 2 else 4)])
        if damaged:
            broken = make_spec(tmp_path / "src", odd)
            journal.add_job(broken)
            with sqlite3.connect(journal.path) as conn:
                conn.execute("UPDATE jobs SET spec='{garbage' WHERE job_id=?", (broken.job_id,))
        assert [job_id for job_id, _ in journal.dest_dirs()] == [s.job_id for s in jobs]
        assert journal.dest_dirs()[1][1] == str(odd)
        found = expected_from_journal(str(odd), journal)
    assert {rel: rec.hash for rel, rec in found.items()} == {
        "plate.1001.exr": "20" * 8, "plate.1002.exr": "21" * 8,  # the later job, through the link
        "plate.1003.exr": "12" * 8, "plate.1004.exr": "13" * 8,
    }


def test_a_reports_range_takes_the_jobs_created_in_it_from_the_first_second_to_before_the_last(
    tmp_path: Path,
) -> None:
    specs = [make_spec(tmp_path / "src", tmp_path / f"d{n}") for n in range(4)]
    with Journal(tmp_path / "j.sqlite3") as journal:
        for n, spec in enumerate(specs):
            journal.add_job(spec)
            with sqlite3.connect(journal.path) as conn:
                conn.execute("UPDATE jobs SET created=? WHERE job_id=?", (1000.0 + 10 * n, spec.job_id))
        journal.record_frames([frame_result(specs[1], 0, size=7)])
        picked = journal.created_between(1010.0, 1030.0)
    assert [j.job_id for j in picked] == [specs[2].job_id, specs[1].job_id]  # newest first; 1030 is out
    assert picked[1].counts == {"done": 1} and picked[1].bytes_done == 7


def test_frame_states_give_each_index_its_status_as_the_rows_say(tmp_path: Path) -> None:
    """What the window shows of a job of an earlier session, without reading its rows' paths: every
    index done when every row is, else each row's status (an unreadable one pending), pending where
    no row is, and a row outside the job's frames left out."""
    whole = make_spec(tmp_path / "src", tmp_path / "a", frames=6)
    mixed = make_spec(tmp_path / "src", tmp_path / "b", frames=6)
    with Journal(tmp_path / "j.sqlite3") as journal:
        journal.add_job(whole)
        journal.add_job(mixed)
        journal.record_frames([frame_result(whole, i) for i in range(6)])
        journal.record_frames([frame_result(mixed, 0), frame_result(mixed, 1, FrameStatus.FAILED, error="gone"),
                               frame_result(mixed, 2, FrameStatus.SKIPPED), frame_result(mixed, 4)])
        with sqlite3.connect(journal.path) as conn:
            conn.execute("UPDATE frames SET status='???' WHERE job_id=? AND idx=4", (mixed.job_id,))
            conn.execute("""INSERT INTO frames (job_id, idx, frame, source, dest, status, updated)
                            SELECT job_id, 9, 1010, source, dest, 'done', updated FROM frames
                            WHERE job_id=? AND idx=0""", (mixed.job_id,))
        done, pending, failed, skipped = FrameStatus.DONE, FrameStatus.PENDING, FrameStatus.FAILED, FrameStatus.SKIPPED
        assert journal.frame_states(whole.job_id, 6) == [done] * 6
        assert journal.frame_states(whole.job_id, 7) == [done] * 6 + [pending]  # a frame with no row
        assert journal.frame_states(mixed.job_id, 6) == [done, failed, skipped, pending, pending, pending]
        assert [f.index for f in journal.frames(mixed.job_id, problems_only=True)] == [1]
        assert journal.frame_states(mixed.job_id, 0) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files through /proc")
def test_threads_that_end_without_releasing_their_connection_do_not_keep_the_journal_open(tmp_path: Path) -> None:
    """A watch runs a job per thread for days: each ended job's connection held the journal and its
    log open (two file descriptors a job) until the journal was closed. They are closed as the next
    thread connects; the connections of live threads are left alone."""
    import threading

    def journal_files_open() -> int:
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                count += os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path / "j.sqlite3"))
            except OSError:
                pass
        return count

    journal = Journal(tmp_path / "j.sqlite3")
    specs = [make_spec(tmp_path / "src", tmp_path / f"d{n}") for n in range(30)]
    for spec in specs:  # one job a thread, none releasing its connection
        thread = threading.Thread(target=journal.add_job, args=(spec,))
        thread.start()
        thread.join()
    holding = threading.Event()
    release = threading.Event()

    def live_reader() -> None:
        journal.get_job(specs[0].job_id)
        holding.set()
        release.wait(10)
        assert journal.get_job(specs[1].job_id) is not None  # its connection was not closed under it

    reader = threading.Thread(target=live_reader)
    reader.start()
    assert holding.wait(10)
    assert len(journal.jobs()) == 30  # a thread connecting sweeps the ended ones
    assert journal_files_open() <= 6, journal_files_open()  # main thread, the live reader, the shared memory
    release.set()
    reader.join()
    journal.close()
    assert journal_files_open() == 0


OPEN_AT = textwrap.dedent("""
    import sys, time
    from vfxcopy.core.journal import Journal
    start = float(sys.argv[2])
    time.sleep(max(0.0, start - 0.01 - time.time()))
    while time.time() < start:  # the last 10 ms spun: the opens begin within microseconds of each other
        pass
    try:
        Journal(sys.argv[1]).close()
        print("ok")
    except Exception as exc:
        print("failed:", exc)
""")


def test_commands_started_together_with_a_new_data_folder_all_get_the_journal(tmp_path: Path) -> None:
    """SQLite answers the WAL pragma "database is locked" at once (no busy timeout) while another
    connection converts a new journal: one of two commands started together ran without one."""
    import random

    rng = random.Random(3)
    outcomes: list[str] = []
    for round_no in range(12):
        path = tmp_path / f"data{round_no}" / "journal.sqlite3"
        path.parent.mkdir()
        start = time.time() + 0.5
        procs = [subprocess.Popen([sys.executable, "-c", OPEN_AT, str(path), str(start + rng.random() * 0.004)],
                                  stdout=subprocess.PIPE, text=True) for _ in range(8)]
        outcomes += [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outcomes == ["ok"] * len(outcomes)


def test_a_busy_wal_pragma_is_asked_again_and_other_errors_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    from vfxcopy.core.journal import store

    class Conn:
        def __init__(self, errors: list[str]) -> None:
            self.errors, self.calls = errors, 0

        def execute(self, sql: str) -> None:
            assert sql == "PRAGMA journal_mode=WAL"
            self.calls += 1
            if self.errors:
                raise sqlite3.OperationalError(self.errors.pop(0))

    busy = Conn(["database is locked", "database is locked"])
    store._set_wal(busy)  # type: ignore[arg-type]
    assert busy.calls == 3
    other = Conn(["disk I/O error"])
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        store._set_wal(other)  # type: ignore[arg-type]
    assert other.calls == 1
    monkeypatch.setattr(store, "BUSY_TIMEOUT_S", 0.05)
    stuck = Conn(["database is locked"] * 1000)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        store._set_wal(stuck)  # type: ignore[arg-type]
    assert time.monotonic() - started < 1.0 and stuck.calls > 2
