"""The one pipeline, tried as an attacker and a demanding user would (issue: one frame pipeline)."""

from __future__ import annotations

import os
import shutil
import stat
import threading
import time
from pathlib import Path

import pytest

from vfxcopy.core import naming
from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    ConvertOptions,
    CopyOptions,
    Event,
    FrameStatus,
    JobSpec,
    JobState,
    Operation,
    Progress,
    is_temp_name,
)
from vfxcopy.core.journal import Journal
from vfxcopy.core.pipeline import run_pipeline
from vfxcopy.core.pipeline.destfolder import sweep
from vfxcopy.core.resume import resume_job
from vfxcopy.core.samples import make_byte_sequence, make_exr_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.core.sequence import Sequence


def exr_copy(exr_seq_session: list[Path], folder: Path, count: int = 6) -> Sequence:
    folder.mkdir(parents=True, exist_ok=True)
    for p in exr_seq_session[:count]:
        shutil.copy(p, folder / p.name)
    return find_sequence(folder / exr_seq_session[0].name)


def leftovers(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if is_temp_name(n) or n.startswith(".vfxcopy-")] if folder.exists() else []


# -- temporaries nobody else can touch ---------------------------------------------------------


@pytest.mark.parametrize("to", ["exr", "jpg"])
def test_links_planted_at_every_guessable_temp_name_redirect_nothing(
    exr_seq_session: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, to: str
) -> None:
    """vfxcopy 0.1 converted through `dest/.vfxcopy-<job>-<i>.part` opened by path: a link planted
    there was written through and renamed into place. Now no temp lives at a guessable name."""
    seq = exr_copy(exr_seq_session, tmp_path / "src")
    dest = tmp_path / "out"
    dest.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    spec = JobSpec(seq, str(dest), Operation.CONVERT, convert=ConvertOptions(to=to))
    for i in range(len(seq.frames)):
        for name in (f".vfxcopy-{spec.job_id}-{i}.part", f".vfxcopy-{spec.job_id}-{i}.part.{to}"):
            os.symlink(victim, dest / name)
    result = run_pipeline(spec, CancelToken(), lambda e: None)
    assert result.state is JobState.COMPLETED, result.message
    assert victim.read_bytes() == b"precious"
    for f in result.frames:
        st = os.lstat(f.dest)
        assert stat.S_ISREG(st.st_mode) and st.st_size > 100  # a real image, not a renamed link


def test_a_link_planted_at_the_private_folder_name_is_refused_not_followed(
    byte_seq: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even an attacker who guesses the private folder's name cannot make us write elsewhere."""
    from vfxcopy.core.pipeline import temps

    dest = tmp_path / "out"
    dest.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    from vfxcopy.core.pipeline import prepare

    monkeypatch.setattr(temps, "new_nonce", lambda: "deadbeef")
    spec = JobSpec(find_sequence(byte_seq[0]), str(dest))
    link = dest / f".vfxcopy-{spec.job_id}-deadbeef.part"
    os.symlink(elsewhere, link)
    # The run's first sweep removes a link at its own temp names (the name, never the target).
    result = run_pipeline(spec, CancelToken(), lambda e: None)
    assert result.state is JobState.COMPLETED and os.listdir(elsewhere) == [] and not link.exists()
    # Planted after that sweep (a race): mkdir refuses the name, the job fails, nothing is followed.
    spec2 = JobSpec(find_sequence(byte_seq[0]), str(tmp_path / "out2"))
    (tmp_path / "out2").mkdir()
    os.symlink(elsewhere, tmp_path / "out2" / f".vfxcopy-{spec2.job_id}-deadbeef.part")
    monkeypatch.setattr(prepare, "sweep_listed", lambda *a, **k: [])
    result = run_pipeline(spec2, CancelToken(), lambda e: None)
    assert result.state is JobState.FAILED and str(tmp_path / "out2") in result.message
    assert os.listdir(elsewhere) == []
    assert not any(p.suffix == ".exr" for p in (tmp_path / "out2").iterdir())


def test_temps_live_in_a_private_folder_made_for_this_run(byte_seq: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "out"
    seen: list[tuple[str, int]] = []

    def report(event: Event) -> None:
        if isinstance(event, Progress) and dest.exists() and not seen:
            for entry in os.scandir(dest):
                if is_temp_name(entry.name):
                    seen.append((entry.name, stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)))

    result = run_pipeline(JobSpec(find_sequence(byte_seq[0]), str(dest)), CancelToken(), report)
    assert result.state is JobState.COMPLETED
    assert seen and seen[0][1] == 0o700 and os.path.isdir(dest / seen[0][0]) is False  # gone at the end
    assert leftovers(dest) == []


# -- the same rules for every operation ------------------------------------------------------


@pytest.mark.parametrize("to", ["jpg", "mp4"])
def test_conversions_and_movies_are_fsynced_before_they_are_reported(
    exr_seq_session: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, to: str
) -> None:
    seq = exr_copy(exr_seq_session, tmp_path / "src", count=4)
    synced: set[str] = set()
    real = os.fsync

    def spy(fd: int) -> None:
        real(fd)
        if stat.S_ISREG(os.fstat(fd).st_mode):
            synced.add(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))

    monkeypatch.setattr(os, "fsync", spy)
    dest = tmp_path / "out"
    result = run_pipeline(JobSpec(seq, str(dest), Operation.CONVERT, convert=ConvertOptions(to=to)),
                          CancelToken(), lambda e: None)
    assert result.state is JobState.COMPLETED, result.message
    outputs = {os.path.basename(f.dest) for f in result.frames}
    # fsynced under its temp name (inside the private folder), before being put in place
    temps = {f"{i}.part" for i in range(len(seq.frames))} | {f"{i}.{to}.part" for i in range(len(seq.frames))}
    assert synced & temps and not outputs & synced
    assert len(synced & temps) == len(outputs)


def test_a_conversion_with_a_failed_frame_is_failed_and_resumable(
    exr_seq_session: list[Path], tmp_path: Path
) -> None:
    seq = exr_copy(exr_seq_session, tmp_path / "src", count=5)
    bad = Path(seq.path(seq.frames[2]))
    good_bytes = bad.read_bytes()
    bad.write_bytes(good_bytes[: len(good_bytes) // 3])
    dest = tmp_path / "out"
    spec = JobSpec(seq, str(dest), Operation.CONVERT, convert=ConvertOptions(to="exr", compression="zip"))
    with Journal() as journal:
        result = run_job(spec, CancelToken(), lambda e: None, journal=journal)
        assert result.state is JobState.FAILED and result.exit_code == 1
        assert "1 of 5 frames failed" in result.message
        job = journal.get_job(spec.job_id)
        assert job is not None and job.resumable
        inodes = {p.name: p.stat().st_ino for p in dest.glob("*.exr")}
        bad.write_bytes(good_bytes)  # the frame is re-rendered
        again = resume_job(spec.job_id, journal)
    assert again.state is JobState.COMPLETED, again.message
    assert len(list(dest.glob("*.exr"))) == 5
    for name, ino in inodes.items():
        assert (dest / name).stat().st_ino == ino  # only the failed frame was written again


# -- names decided once ---------------------------------------------------------------------


@pytest.mark.parametrize(("to", "tail"), [("tiff", "_matte.exr"), ("jpeg", ".exr"), ("mp4", ".exr")])
def test_the_names_the_dialog_shows_are_the_names_the_engine_writes(
    tmp_path: Path, to: str, tail: str
) -> None:
    paths = make_exr_sequence(tmp_path / "src", count=3, tail=tail)
    seq = find_sequence(paths[0])
    spec = JobSpec(seq, str(tmp_path / "out"), Operation.CONVERT, convert=ConvertOptions(to=to), offset=100,
                   rename_head="hero.")
    planned = naming.planned_names(spec)
    pattern = naming.dest_pattern(spec)
    result = run_pipeline(spec, CancelToken(), lambda e: None)
    assert result.state is JobState.COMPLETED, result.message
    written = sorted(n for n in os.listdir(tmp_path / "out") if not n.startswith("."))
    assert written == sorted(planned)
    if to != "mp4":
        # Copy Path's pattern names exactly those files.
        found = find_sequence(os.path.join(tmp_path / "out", planned[0]))
        assert os.path.join(tmp_path / "out", found.pattern()) == pattern
    assert spec.names == planned  # recorded with the job


def test_resume_of_a_rename_job_never_writes_the_name_the_policy_protected(tmp_path: Path) -> None:
    """0.1 re-planned names on resume: it could write over the unversioned file that 'rename'
    protected, or split one job's frames over two versions."""
    src = make_byte_sequence(tmp_path / "src", count=6, size=32 * 1024)
    dest = tmp_path / "out"
    dest.mkdir()
    theirs = {}
    for p in src[:3]:  # frames already delivered by someone else: the rename policy protects them
        (dest / p.name).write_bytes(b"theirs " + p.name.encode())
        theirs[p.name] = (dest / p.name).read_bytes()
    spec = JobSpec(find_sequence(src[0]), str(dest), copy=CopyOptions(on_conflict=ConflictPolicy.RENAME))
    token = CancelToken()
    done: list[str] = []

    def report(event: Event) -> None:
        if getattr(event, "status", None) is FrameStatus.DONE:
            done.append(event.dest)  # type: ignore[union-attr]
            if len(done) == 3:
                token.cancel()

    with Journal() as journal:
        first = run_job(spec, token, report, journal=journal)
        assert first.state is JobState.CANCELLED
        assert all("plate_v2." in d for d in done)
        # Meanwhile the unversioned names all exist (someone delivered the rest too), and one of
        # our finished frames went stale at the destination.
        for p in src[3:]:
            (dest / p.name).write_bytes(b"theirs " + p.name.encode())
            theirs[p.name] = (dest / p.name).read_bytes()
        Path(done[0]).write_bytes(b"stale")
        again = resume_job(spec.job_id, journal)
    assert again.state is JobState.COMPLETED, again.message
    for name, data in theirs.items():
        assert (dest / name).read_bytes() == data  # never touched
    ours = sorted(p.name for p in dest.glob("plate_v2.*"))
    assert ours == [p.name.replace("plate.", "plate_v2.") for p in src]  # one version, whole
    for p in src:
        assert (dest / p.name.replace("plate.", "plate_v2.")).read_bytes() == p.read_bytes()
    assert not list(dest.glob("plate_v3.*"))


# -- sources that are not files --------------------------------------------------------------


@pytest.mark.parametrize("operation", ["copy", "convert"])
def test_a_fifo_named_like_a_frame_fails_at_once_and_never_blocks(
    exr_seq_session: list[Path], tmp_path: Path, operation: str
) -> None:
    seq = exr_copy(exr_seq_session, tmp_path / "src", count=4)
    fifo = Path(seq.path(seq.frames[1]))
    fifo.unlink()
    os.mkfifo(fifo)
    spec = JobSpec(seq, str(tmp_path / "out"))
    if operation == "convert":
        spec = JobSpec(seq, str(tmp_path / "out"), Operation.CONVERT, convert=ConvertOptions(to="jpg"))
    box: dict[str, object] = {}
    worker = threading.Thread(target=lambda: box.update(r=run_pipeline(spec, CancelToken(), lambda e: None)))
    t0 = time.monotonic()
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the job hangs on a FIFO"
    assert time.monotonic() - t0 < 20
    result = box["r"]
    bad = result.frames[1]  # type: ignore[attr-defined]
    assert bad.status is FrameStatus.FAILED and "FIFO" in (bad.error or "") and str(fifo) in (bad.error or "")
    assert [f.status for i, f in enumerate(result.frames) if i != 1] == [FrameStatus.DONE] * 3  # type: ignore[attr-defined]


def test_a_folder_named_like_a_frame_fails_that_frame(byte_seq: list[Path], tmp_path: Path) -> None:
    byte_seq[4].unlink()
    byte_seq[4].mkdir()
    seq = Sequence(str(byte_seq[0].parent), "plate.", ".exr", 4, tuple(range(1001, 1011)))
    result = run_pipeline(JobSpec(seq, str(tmp_path / "out")), CancelToken(), lambda e: None)
    assert result.frames[4].status is FrameStatus.FAILED and "folder" in (result.frames[4].error or "")
    assert sum(f.status is FrameStatus.DONE for f in result.frames) == 9


# -- a source changed in place ---------------------------------------------------------------


def test_a_source_rewritten_in_place_with_its_mtime_put_back_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync tool rewrites the frame while we copy it and restores its mtime (touch -r):
    size and mtime match, only the change time (which no program can set) tells."""
    from vfxcopy.core.writers import copy as copy_writer

    src = make_byte_sequence(tmp_path / "src", count=2, size=8 << 20)
    victim = src[0]
    before = victim.stat()
    real = copy_writer.check_unchanged

    def meddle(path: str, st: os.stat_result) -> None:
        if path == str(victim):
            with open(victim, "r+b") as f:
                f.seek(1000)
                f.write(b"X" * 100)
            os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))
        real(path, st)

    monkeypatch.setattr(copy_writer, "check_unchanged", meddle)
    result = run_pipeline(JobSpec(find_sequence(src[0]), str(tmp_path / "out")), CancelToken(), lambda e: None)
    assert result.frames[0].status is FrameStatus.FAILED and "source changed" in (result.frames[0].error or "")
    assert not (tmp_path / "out" / victim.name).exists()
    assert result.frames[1].status is FrameStatus.DONE


# -- leftovers after a hard kill -------------------------------------------------------------


def test_sweep_removes_dead_runs_only(tmp_path: Path) -> None:
    import fcntl

    dest = tmp_path / "out"
    dest.mkdir()
    dead = dest / ".vfxcopy-aaaa-11111111.part"
    dead.mkdir(mode=0o700)
    (dead / "3.part").write_bytes(b"half")
    live = dest / ".vfxcopy-bbbb-22222222.part"
    live.mkdir(mode=0o700)
    (live / "1.part").write_bytes(b"writing")
    fd = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    (dest / "frame.0001.exr").write_bytes(b"finished")
    (dest / ".vfxcopy-notes.txt").write_bytes(b"not a temp name")
    try:
        assert sweep(str(dest), min_age=0) == [str(dead)]
        assert live.exists() and (live / "1.part").exists()
        assert sorted(os.listdir(dest)) == sorted([live.name, "frame.0001.exr", ".vfxcopy-notes.txt"])
    finally:
        os.close(fd)


def test_a_job_killed_under_another_host_name_is_recovered_and_resumable(tmp_path: Path) -> None:
    """A laptop on another network: same machine, new host name. 0.1 left such a job 'running'
    forever with its temps, and resume refused with no way out."""
    from vfxcopy.core import journal as journal_mod

    src = make_byte_sequence(tmp_path / "src", count=3, size=4096)
    spec = JobSpec(find_sequence(src[0]), str(tmp_path / "out"))
    dead = tmp_path / "out" / f".vfxcopy-{spec.job_id}-0badc0de.part"
    dead.mkdir(parents=True)
    (dead / "1.part").write_bytes(b"half")
    with Journal() as journal:
        journal.add_job(spec)
        machine = journal_mod._MACHINE
        with journal._tx() as conn:
            conn.execute("UPDATE jobs SET state='running', pid=999999, pid_start=1, host=? WHERE job_id=?",
                         (f"old-name#{machine}", spec.job_id))
        assert spec.job_id in journal.recover()
        assert not dead.exists()
        result = resume_job(spec.job_id, journal)
        assert result.state is JobState.COMPLETED
        # Another machine's job: refused with the way out named, then taken over with force.
        other = JobSpec(find_sequence(src[0]), str(tmp_path / "out2"))
        journal.add_job(other)
        with journal._tx() as conn:
            conn.execute("UPDATE jobs SET state='running', pid=4242, pid_start=1, host='farmnode#0123' "
                         "WHERE job_id=?", (other.job_id,))
        assert other.job_id not in journal.recover()
        with pytest.raises(Exception, match="--force"):
            resume_job(other.job_id, journal)
        assert resume_job(other.job_id, journal, force=True).state is JobState.COMPLETED


def test_a_movie_with_a_failed_frame_is_resumed_as_a_whole_movie(exr_seq_session: list[Path], tmp_path: Path) -> None:
    """A movie is one output: its resume writes the whole movie again, under the name it owns."""
    from vfxcopy.core.writers.movie import count_frames

    seq = exr_copy(exr_seq_session, tmp_path / "src", count=6)
    bad = Path(seq.path(seq.frames[3]))
    good = bad.read_bytes()
    bad.write_bytes(good[:200])
    dest = tmp_path / "out"
    spec = JobSpec(seq, str(dest), Operation.CONVERT, convert=ConvertOptions(to="mp4"))
    with Journal() as journal:
        first = run_job(spec, CancelToken(), lambda e: None, journal=journal)
        assert first.state is JobState.FAILED and [f.frame for f in first.failed] == [seq.frames[3]]
        movie = dest / "shot_010.mp4"
        assert count_frames(str(movie)) == 6  # held frame keeps the timing
        bad.write_bytes(good)
        again = resume_job(spec.job_id, journal)
    assert again.state is JobState.COMPLETED, again.message
    assert sorted(os.listdir(dest)) == ["shot_010.mp4"]  # the same name, no second version, no temp
    assert count_frames(str(movie)) == 6


@pytest.mark.parametrize("how", ["cancel", "stop"])
def test_copy_and_convert_end_with_the_same_words(exr_seq_session: list[Path], tmp_path: Path, how: str) -> None:
    """One vocabulary: a cancelled or stopped copy and conversion say the same thing."""
    seq = exr_copy(exr_seq_session, tmp_path / "src", count=6)
    messages = []
    for op in ("copy", "convert"):
        token = CancelToken()

        def report(event: Event, token: CancelToken = token) -> None:
            if getattr(event, "status", None) is FrameStatus.DONE:
                token.cancel() if how == "cancel" else token.stop_after_frame()

        spec = JobSpec(seq, str(tmp_path / op), copy=CopyOptions(fsync=False))
        if op == "convert":
            spec = JobSpec(seq, str(tmp_path / op), Operation.CONVERT, convert=ConvertOptions(to="jpg", threads=1),
                           copy=CopyOptions(fsync=False))
        result = run_pipeline(spec, token, report)
        assert result.state is JobState.CANCELLED and result.exit_code == 130
        assert leftovers(tmp_path / op) == []
        messages.append(result.message)
    if how == "cancel":
        assert messages[0] == messages[1] == "Cancelled after 1 of 6 frames"
    else:
        assert messages[0] == messages[1] == f"Stopped after frame {seq.frames[0]}; 5 frames not done"
