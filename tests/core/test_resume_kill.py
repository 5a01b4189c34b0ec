"""Crash safety: SIGKILL a real `vfxcopy copy` at random moments, then resume; durability order; stale frames."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import (
    CancelToken,
    CopyOptions,
    FrameResult,
    FrameStatus,
    JobSpec,
    JobState,
    LogMessage,
    is_temp_name,
    temp_name,
)
from vfxcopy.core.journal import Journal
from vfxcopy.core.resume import resume_job
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.core.verify import load_history, verify_destination

REPO = Path(__file__).resolve().parents[2]
LINUX = sys.platform.startswith("linux")


def mixed_sequence(folder: Path) -> list[Path]:
    """30 frames: mostly 96 KiB, three of 1.5 MiB (a few big plates among small ones)."""
    folder.mkdir(parents=True)
    paths = []
    rng = random.Random(5)
    for i, frame in enumerate(range(1001, 1031)):
        size = (3 << 19) if i in (4, 14, 24) else 96 << 10
        path = folder / f"plate.{frame}.exr"
        path.write_bytes(f"frame {frame}\n".encode() + rng.randbytes(size - 11))
        paths.append(path)
    return paths


def identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return (st.st_ino, st.st_ctime_ns)


def final_names(dest: Path) -> list[str]:
    try:
        return sorted(n for n in os.listdir(dest) if n.endswith(".exr") and not is_temp_name(n))
    except FileNotFoundError:
        return []


def temps(dest: Path) -> list[str]:
    try:
        return [n for n in os.listdir(dest) if is_temp_name(n)]
    except FileNotFoundError:
        return []


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="SIGKILL and /proc start times")
def test_sigkill_copy_at_random_moments_then_resume(tmp_path: Path) -> None:
    src = mixed_sequence(tmp_path / "src")
    source_bytes = {p.name: p.read_bytes() for p in src}
    rng = random.Random(int(os.environ.get("VFXCOPY_KILL_SEED", "20261121")))
    rounds = 22
    kinds = {"mid-frame": 0, "after-rename": 0}
    interrupted = 0
    kept_frames = 0
    in_place_not_recorded = 0  # renamed into place, killed before the journal commit
    with_temp = 0
    env = os.environ.copy()
    env["PYTHONPATH"] = str(REPO)
    started_all = time.monotonic()
    for n in range(rounds):
        dest = tmp_path / f"dst{n:02d}"
        kind = "after-rename" if n % 2 else "mid-frame"
        proc = subprocess.Popen(
            [sys.executable, "-m", "vfxcopy", "copy", str(src[0].parent), str(dest), "--bwlimit", "12M", "-q"],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while not temps(dest) and not final_names(dest) and proc.poll() is None:
                assert time.monotonic() < deadline, "the copy never started"
                time.sleep(0.002)
            if kind == "mid-frame":
                time.sleep(rng.uniform(0.0, 0.55))
            else:
                # Right after the k-th frame lands under its final name: between two frames,
                # usually before its journal commit (the case a resume must compare, not redo).
                target = rng.randint(1, 25)
                while len(final_names(dest)) < target and proc.poll() is None:
                    time.sleep(0.0005)
            at_kill = {name: identity(dest / name) for name in final_names(dest)}
            with_temp += bool(temps(dest))  # a frame was being written: the kill lands mid-frame
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(30)
        assert proc.returncode in (-signal.SIGKILL, 0), proc.stderr.read() if proc.stderr else b""
        kinds[kind] += 1

        with Journal() as journal:
            journal.recover()
            job = next(j for j in journal.jobs() if j.spec.dest_dir == str(dest))
            done_before = {Path(f.dest).name for f in journal.frames(job.job_id) if f.status is FrameStatus.DONE}
            assert done_before <= set(at_kill)  # never "done" in the journal before the file is in place
            in_place_not_recorded += len(set(at_kill) - done_before)
            if job.state is JobState.INTERRUPTED:
                interrupted += 1
                assert temps(dest) == []  # recover() removed the crashed job's temporary files
            else:
                assert job.state is JobState.COMPLETED  # it finished before the signal landed
            if n % 5 == 4:  # now and then through the command line, as a user would
                run = subprocess.run([sys.executable, "-m", "vfxcopy", "jobs", "resume", job.job_id[:8], "-q"],
                                     cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
                assert run.returncode == 0, run.stderr
            else:
                result = resume_job(job.job_id, journal, CancelToken())
                assert result.state is JobState.COMPLETED, result.message
            after = journal.get_job(job.job_id)
            assert after is not None and after.state is JobState.COMPLETED
            assert after.frames_done == 30
            assert journal.integrity_check() == "ok"

        assert final_names(dest) == sorted(source_bytes)
        for name, data in source_bytes.items():
            assert (dest / name).read_bytes() == data, f"round {n}: {name} differs from its source"
        assert temps(dest) == []
        for name, ident in at_kill.items():
            assert identity(dest / name) == ident, f"round {n}: {name} was in place before the kill and copied again"
        kept_frames += len(at_kill)
        assert verify_destination(dest).passed
        assert len(load_history(dest).records) == 30
    elapsed = time.monotonic() - started_all
    assert interrupted >= rounds * 2 // 3, f"only {interrupted} of {rounds} kills landed during the copy"
    assert kept_frames > 0
    assert with_temp >= rounds // 3, f"only {with_temp} kills caught a temporary file"
    print(f"\n{rounds} rounds ({kinds}), {interrupted} interrupted, {kept_frames} frames kept "
          f"({in_place_not_recorded} in place but not yet journaled), {with_temp} with a temp file, {elapsed:.1f} s")


def partial_copy(tmp_path: Path, journal: Journal, stop_after: int, count: int = 8) -> tuple[JobSpec, list[Path]]:
    src = make_byte_sequence(tmp_path / "src", count=count, size=20_000)
    # Without fsync the copier reports each frame as it lands (no batched committer), so
    # 'stop after this frame' stops after exactly `stop_after` frames.
    spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(tmp_path / "dst"), copy=CopyOptions(fsync=False))
    token = CancelToken()
    done = 0

    def report(event: object) -> None:
        nonlocal done
        if isinstance(event, FrameResult) and event.status is FrameStatus.DONE:
            done += 1
            if done == stop_after:
                token.stop_after_frame()

    result = run_job(spec, token, report, journal=journal)
    assert result.state is JobState.CANCELLED
    assert sum(f.status is FrameStatus.DONE for f in result.frames) == stop_after
    return spec, src


def test_resume_after_a_source_frame_changed(tmp_path: Path) -> None:
    with Journal() as journal:
        spec, src = partial_copy(tmp_path, journal, stop_after=4)
        dest = Path(spec.dest_dir)
        kept = {n: identity(dest / n) for n in ("plate.1001.exr", "plate.1003.exr", "plate.1004.exr")}
        src[1].write_bytes(b"re-rendered " + os.urandom(30_000))  # frame 1002, done already: new content, size
        events: list[object] = []
        result = resume_job(spec.job_id, journal, CancelToken(), events.append)
        assert result.state is JobState.COMPLETED
        warnings = [e.text for e in events if isinstance(e, LogMessage) and e.level == "warning"]
        assert any("plate.1002.exr" in w and "source changed" in w for w in warnings), warnings
        assert (dest / "plate.1002.exr").read_bytes() == src[1].read_bytes()
        for name, ident in kept.items():
            assert identity(dest / name) == ident
        redone = next(f for f in result.frames if f.frame == 1002)
        assert redone.status is FrameStatus.DONE and redone.index == 1
        assert [f.index for f in result.frames] == list(range(8))
        assert journal.frames(spec.job_id)[1].size == src[1].stat().st_size
        assert verify_destination(dest).passed  # the manifest has the new hash


def test_resume_redoes_frames_missing_or_altered_at_the_destination(tmp_path: Path) -> None:
    with Journal() as journal:
        spec, src = partial_copy(tmp_path, journal, stop_after=4)
        dest = Path(spec.dest_dir)
        (dest / "plate.1001.exr").unlink()
        altered = dest / "plate.1002.exr"
        st = altered.stat()
        with open(altered, "r+b") as fh:  # one byte, same size, mtime put back: only the hash can tell
            fh.seek(5000)
            byte = fh.read(1)[0]
            fh.seek(5000)
            fh.write(bytes([byte ^ 0xFF]))
        os.utime(altered, ns=(st.st_atime_ns, st.st_mtime_ns))
        untouched = {n: identity(dest / n) for n in ("plate.1003.exr", "plate.1004.exr")}

        quick = resume_job(spec.job_id, journal, CancelToken(), rehash=False)  # size/mtime only
        assert quick.state is JobState.COMPLETED
        assert (dest / "plate.1001.exr").read_bytes() == src[0].read_bytes()  # missing: redone
        assert altered.read_bytes() != src[1].read_bytes()  # quick check cannot see it

        events: list[object] = []
        full = resume_job(spec.job_id, journal, CancelToken(), events.append)
        assert full.state is JobState.COMPLETED
        assert altered.read_bytes() == src[1].read_bytes()
        texts = [e.text for e in events if isinstance(e, LogMessage)]
        assert any("plate.1002.exr" in t and "recorded hash" in t for t in texts), texts
        for name, ident in untouched.items():
            assert identity(dest / name) == ident
        assert all((dest / p.name).read_bytes() == p.read_bytes() for p in src)


def test_resume_of_unknown_or_live_job_is_refused(tmp_path: Path) -> None:
    from vfxcopy.core.errors import JobError

    with Journal() as journal:
        with pytest.raises(JobError, match="no job"):
            resume_job("nope", journal)
        src = make_byte_sequence(tmp_path / "src", count=2, size=100)
        spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(tmp_path / "dst"))
        journal.add_job(spec)
        conn = journal._conn()
        # Owned by a live process that is not us (pid 1 runs for as long as the machine does).
        conn.execute("UPDATE jobs SET state='running', pid=1, pid_start=NULL WHERE job_id=?", (spec.job_id,))
        with pytest.raises(JobError, match="another vfxcopy process"):
            resume_job(spec.job_id, journal)


@pytest.mark.skipif(not LINUX, reason="reads /proc/self/fd to name what is fsynced")
def test_durability_order_file_fsync_rename_dir_fsync_then_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frame is reported (and so journaled) only after its data was fsynced, renamed and the folder fsynced."""
    src = make_byte_sequence(tmp_path / "src", count=12, size=30_000)
    spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(tmp_path / "dst"), copy=CopyOptions(fsync=True))
    timeline: list[tuple[str, object]] = []
    real_fsync = os.fsync

    def spy_fsync(fd: int) -> None:
        real_fsync(fd)
        path = os.readlink(f"/proc/self/fd/{fd}")
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            timeline.append(("dir", frozenset(os.listdir(path))))
        else:
            timeline.append(("file", os.path.basename(path)))

    monkeypatch.setattr(os, "fsync", spy_fsync)
    with Journal() as journal:
        other = Journal(journal.path)  # another connection sees only what was committed

        def forward(event: object) -> None:
            if not isinstance(event, FrameResult) or event.status is not FrameStatus.DONE:
                return
            name = os.path.basename(event.dest)
            assert (Path(spec.dest_dir) / name).read_bytes() == Path(event.source).read_bytes()
            assert not (Path(spec.dest_dir) / temp_name(spec.job_id, event.index)).exists()
            # Whatever the journal has committed as done by now is in place with all its bytes.
            for row in other.frames(spec.job_id):
                if row.status is FrameStatus.DONE:
                    assert Path(row.dest).read_bytes() == Path(row.source).read_bytes()
            file_at = max(i for i, (kind, what) in enumerate(timeline)
                          if kind == "file" and what in (f"{event.index}.part", name))
            dir_at = [i for i, (kind, what) in enumerate(timeline)
                      if kind == "dir" and name in what]  # type: ignore[operator]
            assert dir_at and file_at < dir_at[0], f"{name}: folder fsynced before the file, or never"
            timeline.append(("reported", name))

        result = run_job(spec, CancelToken(), forward, journal=journal)
        assert [f.status for f in other.frames(spec.job_id)] == [FrameStatus.DONE] * 12
        other.close()
    assert result.state is JobState.COMPLETED
    assert sum(1 for kind, _ in timeline if kind == "reported") == 12


def test_resume_keeps_frame_indexes_with_a_frame_subset_rename_and_offset(tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=8, size=5000)
    spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(tmp_path / "dst"), frames=[1002, 1004, 1006, 1008],
                   rename_head="comp.", offset=100, copy=CopyOptions(fsync=False))
    token = CancelToken()
    with Journal() as journal:
        def stop_after_two(event: object) -> None:
            if isinstance(event, FrameResult) and event.index == 1:
                token.stop_after_frame()

        assert run_job(spec, token, stop_after_two, journal=journal).state is JobState.CANCELLED
        events: list[object] = []
        result = resume_job(spec.job_id, journal, CancelToken(), events.append)
        assert result.state is JobState.COMPLETED
        assert [(f.index, f.frame, Path(f.dest).name) for f in result.frames] == [
            (0, 1002, "comp.1102.exr"), (1, 1004, "comp.1104.exr"), (2, 1006, "comp.1106.exr"),
            (3, 1008, "comp.1108.exr")]
        reported = sorted((e.index, e.frame) for e in events if isinstance(e, FrameResult))
        assert reported == [(2, 1006), (3, 1008)]  # only the frames not done, under the job's own indexes
        rows = journal.frames(spec.job_id)
        assert [(r.index, r.frame, r.status) for r in rows] == [
            (i, f, FrameStatus.DONE) for i, f in enumerate([1002, 1004, 1006, 1008])]
        for frame in (1002, 1004, 1006, 1008):
            assert (tmp_path / "dst" / f"comp.{frame + 100}.exr").read_bytes() == src[frame - 1001].read_bytes()


def test_resume_repairs_a_single_file_job(tmp_path: Path) -> None:
    src = tmp_path / "src" / "notes.txt"
    src.parent.mkdir()
    src.write_text("camera report\n" * 100)
    spec = JobSpec(source=find_sequence(src), dest_dir=str(tmp_path / "dst"), copy=CopyOptions(fsync=False))
    assert spec.source.is_single
    with Journal() as journal:
        assert run_job(spec, journal=journal).state is JobState.COMPLETED
        copied = tmp_path / "dst" / "notes.txt"
        ident = identity(copied)
        nothing = resume_job(spec.job_id, journal)  # all in place: nothing copied
        assert nothing.state is JobState.COMPLETED and identity(copied) == ident

        copied.write_text("edited by hand")
        events: list[object] = []
        repaired = resume_job(spec.job_id, journal, report=events.append)
        assert repaired.state is JobState.COMPLETED
        assert copied.read_bytes() == src.read_bytes()
        assert any(isinstance(e, LogMessage) and "size changed" in e.text for e in events)
