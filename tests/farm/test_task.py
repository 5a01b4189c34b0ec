"""The farm task contract: chunk results on shared storage, progress lines, exit codes, retries, merge."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import OpenImageIO as oiio
import pytest

from vfxcopy.core.farm.backends import results_status
from vfxcopy.core.farm.plan import FarmJob, PlanError, chunk_for_time, merge_job, plan_job, split_frames
from vfxcopy.core.farm.task import ChunkResult, read_chunk_results, run_task
from vfxcopy.core.jobs import CancelToken, ConflictPolicy, FrameStatus, JobState, temp_name


def _task(job: FarmJob, frames: str, *extra: str) -> subprocess.Popen[str]:
    step = job.steps[0]
    return subprocess.Popen([sys.executable, "-m", "vfxcopy", "farm", "task", "--spec", str(job.folder / step.spec_file),
                             "--frames", frames, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_split_contiguous_chunks_never_span_a_gap() -> None:
    chunks = split_frames([1001, 1002, 1003, 1004, 1005, 1010, 1011], 3)
    assert [(c.first, c.last, c.count) for c in chunks] == [(1001, 1003, 3), (1004, 1010, 3), (1011, 1011, 1)]
    assert chunk_for_time(300, 2.5) == 120
    assert chunk_for_time(1, 30) == 1
    with pytest.raises(PlanError):
        split_frames([1, 2], 0)


def test_plan_refuses_rename_and_keeps_a_movie_in_one_task(small_exrs: Path, tmp_path: Path, farm) -> None:
    spec = farm.convert_spec(small_exrs, tmp_path / "out")
    spec.copy.on_conflict = ConflictPolicy.RENAME
    with pytest.raises(PlanError, match="rename"):
        plan_job([("main", spec, [])], chunk=4)
    proxies = farm.convert_spec(small_exrs, tmp_path / "out")
    movie = farm.convert_spec(small_exrs, tmp_path / "out", to="mp4")
    job = plan_job([("proxies", proxies, []), ("movie", movie, ["proxies"])], chunk=5)
    assert [c.frames_arg for c in job.step("proxies").chunks] == ["1001-1005", "1006-1010", "1011-1012"]
    assert [c.frames_arg for c in job.step("movie").chunks] == ["1001-1012"]
    assert job.step("movie").depends_on == ["proxies"]
    again = FarmJob.load(job.folder)
    assert again.to_dict() == job.to_dict()
    assert again.spec("movie").job_id == again.spec("proxies").job_id == job.job_id


def test_task_records_every_frame_and_progress_only_rises(small_exrs: Path, tmp_path: Path, farm) -> None:
    dest = tmp_path / "out"
    job = farm.farm_job(farm.convert_spec(small_exrs, dest), chunk=6)
    proc = _task(job, "1001-1006")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    progress = [float(line.split(":", 1)[1]) for line in out.splitlines() if line.startswith("openjd_progress:")]
    assert progress and progress[-1] == 100.0
    assert progress == sorted(set(progress)), progress  # strictly rising
    assert any(line.startswith("openjd_status:") for line in out.splitlines())
    data = json.loads((job.folder / "chunk-1001-1006.json").read_text())
    rec = ChunkResult.from_dict(data)
    assert rec.state is JobState.COMPLETED and rec.exit_code == 0 and rec.job_id == job.job_id
    assert [f.frame for f in rec.frames] == list(range(1001, 1007))
    for fr in rec.frames:
        assert fr.status is FrameStatus.DONE and fr.hash and fr.hash_algo == "xxh3"
        assert rec.dest_sizes[fr.dest] == os.path.getsize(fr.dest) > 0
    assert sorted(p.name for p in dest.glob("*.jpg")) == [f"shot_010.{n}.jpg" for n in range(1001, 1007)]
    assert not farm.partials(dest)


def test_chunks_run_side_by_side_then_merge_writes_a_manifest_ascmhl_accepts(
        small_exrs: Path, tmp_path: Path, farm) -> None:
    dest = tmp_path / "out"
    job = farm.farm_job(farm.convert_spec(small_exrs, dest), chunk=4)
    dest.mkdir(exist_ok=True)
    # Stray temporaries: one of this job (a killed attempt), one of another job that must survive.
    (dest / temp_name(f"{job.job_id}-c1009-dead00", 0)).write_bytes(b"partial")
    (dest / temp_name("otherjob0000", 0)).write_bytes(b"not ours")
    procs = [_task(job, c.frames_arg) for c in job.steps[0].chunks]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    merged = merge_job(job)
    assert merged.state is JobState.COMPLETED and merged.exit_code == 0, merged.missing
    assert len(merged.frames) == 12 and merged.manifest and merged.report
    assert farm.partials(dest) == [temp_name("otherjob0000", 0)]
    check = farm.ascmhl_verify(dest)
    assert check.returncode == 0, check.stdout + check.stderr
    # The merged state is readable from the shared storage alone.
    assert json.loads((job.folder / "merged.json").read_text())["counts"] == {"done": 12}


def test_a_farm_copy_of_several_chunks_ends_with_one_generation_and_one_report(
        small_exrs: Path, tmp_path: Path, farm) -> None:
    """Each chunk task is a verified copy, but the history gets one generation for the job, from
    its merge step (as `vfxcopy copy` of the whole would), not one more per chunk: a job of 50
    chunks made 51 generations and 51 reports, each written under the folder's lock."""
    from vfxcopy.core.jobs import CopyOptions, JobSpec
    from vfxcopy.core.seqfind import find_sequence
    from vfxcopy.core.verify import load_history

    dest = tmp_path / "out"
    seq = find_sequence(str(sorted(small_exrs.iterdir())[0]))
    job = farm.farm_job(JobSpec(seq, str(dest), copy=CopyOptions()), chunk=4)
    assert len(job.steps[0].chunks) == 3
    procs = [_task(job, c.frames_arg) for c in job.steps[0].chunks]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert not (dest / "ascmhl").exists()  # the chunks leave the history to the merge
    merged = merge_job(job)
    assert merged.state is JobState.COMPLETED and merged.manifest and merged.report
    names = sorted(os.listdir(dest / "ascmhl"))
    assert len([n for n in names if n.endswith(".mhl")]) == 1, names
    assert len([n for n in names if n.endswith(".html")]) == 1 and len([n for n in names if n.endswith(".csv")]) == 1
    history = load_history(dest)
    assert len(history.records) == 12 and [n for n, *_ in history.chain] == [1]
    check = farm.ascmhl_verify(dest)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_merge_that_cannot_write_the_manifest_fails_saying_why_and_can_run_again(
        small_exrs: Path, tmp_path: Path, farm) -> None:
    """The delivery's history is damaged (or its disk full): the merge used to end in a traceback
    and the job showed 'merging' for ever. It fails, exit 1, with the cause and what to do in
    its problems and in `farm status`; once the history is set aside, the merge runs again."""
    from vfxcopy.core.farm.backends import results_status
    from vfxcopy.core.jobs import CopyOptions, JobSpec
    from vfxcopy.core.seqfind import find_sequence

    dest = tmp_path / "out"
    (dest / "ascmhl").mkdir(parents=True)
    (dest / "ascmhl" / "ascmhl_chain.xml").write_text("not xml")
    seq = find_sequence(str(sorted(small_exrs.iterdir())[0]))
    job = farm.farm_job(JobSpec(seq, str(dest), copy=CopyOptions()), chunk=6)
    for p in [_task(job, c.frames_arg) for c in job.steps[0].chunks]:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    merged = merge_job(job)
    assert merged.state is JobState.FAILED and merged.exit_code == 1 and merged.manifest is None
    (problem,) = merged.problems
    assert "cannot write the ASC MHL manifest" in problem and "ascmhl_chain.xml: not valid XML" in problem
    assert "move the ascmhl/ folder aside" in problem
    state = results_status(job)
    assert state["state"] == "failed" and state["merge_problems"] == [problem]
    cli = subprocess.run([sys.executable, "-m", "vfxcopy", "farm", "merge", str(job.folder / "job.json")],
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr and "not valid XML" in cli.stderr, cli.stderr
    os.rename(dest / "ascmhl", tmp_path / "ascmhl.damaged")
    again = merge_job(job)
    assert again.state is JobState.COMPLETED and again.manifest and again.problems == []
    assert results_status(job)["state"] == "completed" and results_status(job)["merge_problems"] == []


def test_retried_task_skips_done_frames_and_keeps_their_inodes(small_exrs: Path, tmp_path: Path, farm) -> None:
    dest = tmp_path / "out"
    spec = farm.convert_spec(small_exrs, dest)
    job = farm.farm_job(spec, chunk=12)
    spec = job.spec("main")
    first = run_task(spec, 1001, 1006, emit=lambda line: None)
    assert first.state is JobState.COMPLETED
    inodes = {p.name: p.stat().st_ino for p in dest.glob("*.jpg")}
    (dest / "shot_010.1004.jpg").unlink()  # one frame lost: the retry redoes it, and only it
    again = run_task(spec, 1001, 1006, emit=lambda line: None)
    assert again.state is JobState.COMPLETED
    statuses = {f.frame: f.status for f in again.frames}
    assert statuses.pop(1004) is FrameStatus.DONE
    assert set(statuses.values()) == {FrameStatus.SKIPPED}
    for name, ino in inodes.items():
        if name != "shot_010.1004.jpg":
            assert (dest / name).stat().st_ino == ino, name


def test_a_stale_attempt_cannot_undo_a_good_chunk_record(small_exrs: Path, tmp_path: Path, farm) -> None:
    dest = tmp_path / "out"
    job = farm.farm_job(farm.convert_spec(small_exrs, dest), chunk=12)
    spec = job.spec("main")
    good = run_task(spec, 1001, 1004, emit=lambda line: None)
    token = CancelToken()
    token.cancel()  # a late attempt that gets nowhere (cancelled before its first frame)
    stale = run_task(spec, 1001, 1004, token, emit=lambda line: None)
    assert stale.state is JobState.CANCELLED
    (rec,) = read_chunk_results(job.folder)
    assert {f.frame: f.status for f in rec.frames} == {f.frame: FrameStatus.DONE for f in good.frames}


def test_sigterm_mid_chunk_exits_143_with_nothing_partial(big_exrs: Path, tmp_path: Path, farm) -> None:
    dest = tmp_path / "out"
    job = farm.farm_job(farm.convert_spec(big_exrs, dest, to="exr"), chunk=30)
    proc = _task(job, "1001-1030")
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("openjd_progress:"):
            break
    proc.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    proc.wait(60)
    latency = time.monotonic() - sent
    assert proc.returncode == 143
    assert not farm.partials(dest)
    (rec,) = read_chunk_results(job.folder)
    assert rec.state is JobState.CANCELLED and rec.exit_code == 130
    done = [f for f in rec.frames if f.status is FrameStatus.DONE]
    assert 0 < len(done) < 30
    for f in done:  # what is in place is whole
        buf = oiio.ImageBuf(f.dest)
        assert buf.read(force=True), f.dest
        assert buf.spec().width == 1024
    assert sorted(p.name for p in dest.glob("*.exr")) == sorted(os.path.basename(f.dest) for f in done)
    print(f"SIGTERM to exit: {latency * 1000:.0f} ms")


def test_copy_and_convert_run_as_farm_tasks_with_job_id_and_results_dir(
        small_exrs: Path, tmp_path: Path, farm) -> None:
    conv = subprocess.run([sys.executable, "-m", "vfxcopy", "convert", str(small_exrs), str(tmp_path / "conv"),
                           "--to", "png", "--frames", "1001-1004", "--job-id", "farmjob00001", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert conv.returncode == 0, conv.stderr
    assert "openjd_progress: 100.0" in conv.stderr  # progress lines stay off the JSON on stdout
    task = json.loads(conv.stdout)["farm_task"]
    assert task["job_id"] == "farmjob00001" and task["attempt"].startswith("farmjob00001-c1001-")
    (rec,) = read_chunk_results(tmp_path / "conv" / ".vfxcopy-farm" / "farmjob00001")
    assert (rec.first, rec.last, rec.state) == (1001, 1004, JobState.COMPLETED)
    assert [f.status for f in rec.frames] == [FrameStatus.DONE] * 4
    results = tmp_path / "shared" / "results"
    copy = subprocess.run([sys.executable, "-m", "vfxcopy", "copy", str(small_exrs), str(tmp_path / "copy"),
                           "--frames", "1005-1008", "--job-id", "farmjob00002", "--results-dir", str(results)],
                          capture_output=True, text=True, timeout=120)
    assert copy.returncode == 0, copy.stderr
    (rec,) = read_chunk_results(results)
    assert [(f.frame, f.status, f.size) for f in rec.frames] == [
        (n, FrameStatus.DONE, (small_exrs / f"shot_010.{n}.exr").stat().st_size) for n in range(1005, 1009)]
    assert all(f.hash and f.hash_algo == "xxh3" for f in rec.frames)  # the copy's own source hashes
    assert not (tmp_path / "copy" / ".vfxcopy-farm").exists()


def test_chunk_size_by_task_time_from_a_measured_frame(small_exrs: Path, tmp_path: Path, farm) -> None:
    from vfxcopy.core.farm.plan import measure_frame_seconds

    dest = tmp_path / "out"
    spec = farm.convert_spec(small_exrs, dest)
    per = measure_frame_seconds(spec)
    assert per is not None and 0 < per < 30
    assert not list(dest.glob("*.jpg")) and not any((dest / ".vfxcopy-farm").iterdir())  # the trial is gone
    job = plan_job([("main", spec, [])], task_seconds=per * 4, frame_seconds=per)
    assert [c.count for c in job.steps[0].chunks] == [4, 4, 4]


def test_merge_of_an_unfinished_job_writes_no_manifest_but_sweeps(small_exrs: Path, tmp_path: Path, farm) -> None:
    dest = tmp_path / "out"
    job = farm.farm_job(farm.convert_spec(small_exrs, dest), chunk=6)
    spec = job.spec("main")
    run_task(spec, 1001, 1006, emit=lambda line: None)
    stray = dest / temp_name(f"{job.job_id}-c1007-0a0a0a", 2)
    stray.write_bytes(b"left by a killed task")
    merged = merge_job(job)
    assert (merged.state, merged.exit_code, merged.manifest) == (JobState.FAILED, 1, None)
    assert merged.missing == ["main 1007-1012: no result"]
    assert merged.swept == [str(stray)] and not stray.exists()
    assert not (dest / "ascmhl").exists()
    token = CancelToken()
    token.cancel()
    run_task(spec, 1007, 1012, token, emit=lambda line: None)
    merged = merge_job(job)
    assert (merged.state, merged.exit_code, merged.manifest) == (JobState.CANCELLED, 130, None)
    assert results_status(job)["state"] == "cancelled"
    run_task(spec, 1007, 1012, emit=lambda line: None)  # the retry
    assert results_status(job)["state"] == "merging"  # every chunk done, no manifest yet
    merged = merge_job(job)
    assert (merged.state, merged.exit_code) == (JobState.COMPLETED, 0) and merged.manifest
    assert results_status(job)["state"] == "completed"


def test_a_bad_frame_fails_the_task_with_exit_1_and_a_reason(small_exrs: Path, tmp_path: Path, farm) -> None:
    import shutil

    src = tmp_path / "src"
    shutil.copytree(small_exrs, src)
    bad = src / "shot_010.1003.exr"
    bad.write_bytes(bad.read_bytes()[:200])  # truncated on the way to the farm
    dest = tmp_path / "out"
    job = farm.farm_job(farm.convert_spec(src, dest), chunk=4)
    proc = _task(job, "1001-1004")
    out, _err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    fail = [line for line in out.splitlines() if line.startswith("openjd_fail:")]
    assert fail and "1 of 4 frames failed" in fail[0]
    (rec,) = read_chunk_results(job.folder)
    statuses = {f.frame: f.status for f in rec.frames}
    assert statuses == {1001: FrameStatus.DONE, 1002: FrameStatus.DONE, 1003: FrameStatus.FAILED,
                        1004: FrameStatus.DONE}
    (failed,) = [f for f in rec.frames if f.status is FrameStatus.FAILED]
    assert str(bad) in (failed.error or "")
    assert not (dest / "shot_010.1003.jpg").exists() and not farm.partials(dest)
