"""`vfxcopy copy`: bytes, frame subsets, renaming, conflicts, refusals, progress, and cancel by signal."""

from __future__ import annotations

import io
import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vfxcopy.cli import main
from vfxcopy.cli.common import ProgressPrinter, parse_size
from vfxcopy.core.jobs import JobState, Progress, is_temp_name
from vfxcopy.core.samples import make_byte_sequence


def files(folder: Path) -> dict[str, bytes]:
    """The files of a folder (not its sub-folders, e.g. the ascmhl/ manifest folder)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()} if folder.exists() else {}


def temps(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if is_temp_name(n)] if folder.exists() else []


def vfxcopy(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vfxcopy", *args], capture_output=True, text=True, timeout=120, **kw)  # type: ignore[call-overload, no-any-return]


def test_copy_folder_bytes_identical_and_json(byte_seq: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = byte_seq[0].parent
    (src / "notes_2.txt").write_text("stray")
    dest = tmp_path / "dest"
    assert main(["copy", str(src), str(dest), "--json", "--no-fsync"]) == 0
    assert files(dest) == files(src)
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["exit_code"] == 0 and not report["cancelled"]
    jobs = {j["source"]: j for j in report["jobs"]}
    plate = jobs[str(src / "plate.####.exr")]
    assert plate["state"] == "completed"
    assert (plate["frames_total"], plate["frames_done"], plate["frames_failed"], plate["frames_skipped"]) == (10, 10, 0, 0)
    assert plate["bytes"] == 10 * 64 * 1024 and plate["failed"] == []
    assert plate["spec"]["origin"] == "cli" and plate["spec"]["dest_dir"] == str(dest)
    assert jobs[str(src / "notes_2.txt")]["frames_done"] == 1
    assert "plate.####.exr 1001-1010 -> " in captured.err  # the summary line


def test_copy_real_exr_frames_with_full_verification(exr_seq_session: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "out"
    proc = vfxcopy("copy", str(exr_seq_session[3]), str(dest), "--verify", "full", "--hash", "md5")
    assert proc.returncode == 0, proc.stderr
    assert files(dest) == files(exr_seq_session[0].parent)  # one frame brought the whole sequence


def test_copy_frames_subset_rename_and_offset(byte_seq: list[Path], tmp_path: Path) -> None:
    src = byte_seq[0].parent
    dest = tmp_path / "dest"
    code = main(["copy", str(src / "plate.####.exr"), str(dest), "--frames", "1002-1004,1009",
                 "--rename-head", "shot_020.", "--offset", "-1000", "-q"])
    assert code == 0
    got = files(dest)
    assert sorted(got) == ["shot_020.0002.exr", "shot_020.0003.exr", "shot_020.0004.exr", "shot_020.0009.exr"]
    for f in (1002, 1003, 1004, 1009):
        assert got[f"shot_020.{f - 1000:04d}.exr"] == (src / f"plate.{f}.exr").read_bytes()


def test_copy_flat_folder_notes_sub_folders_it_leaves(byte_seq: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = byte_seq[0].parent
    make_byte_sequence(src / "denoise", count=2, size=10)
    assert main(["copy", str(src), str(tmp_path / "dest"), "-q", "--flat"]) == 0  # without --flat: a tree job
    assert f"{src}: sub-folders are not copied" in capsys.readouterr().err
    assert not (tmp_path / "dest" / "denoise").exists()


def test_copy_given_frames_copies_just_those(byte_seq: list[Path], tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    assert main(["copy", str(byte_seq[0]), str(byte_seq[1]), str(dest), "-q"]) == 0
    assert sorted(files(dest)) == ["plate.1001.exr", "plate.1002.exr"]


def test_conflict_with_a_different_file_fails_that_frame_exit_1(
    byte_seq: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = byte_seq[0].parent
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "plate.1004.exr").write_bytes(b"someone else's frame")
    inode = (dest / "plate.1004.exr").stat().st_ino
    assert main(["copy", str(src), str(dest), "--json", "--no-fsync"]) == 1
    captured = capsys.readouterr()
    assert f"frame 1004 failed: {dest / 'plate.1004.exr'}" in captured.err
    assert "differs" in captured.err
    assert (dest / "plate.1004.exr").read_bytes() == b"someone else's frame"
    assert (dest / "plate.1004.exr").stat().st_ino == inode
    [job] = json.loads(captured.out)["jobs"]
    assert job["frames_failed"] == 1 and job["frames_done"] == 9
    assert job["failed"][0]["frame"] == 1004 and "differs" in job["failed"][0]["error"]
    assert all(files(dest)[p.name] == p.read_bytes() for p in byte_seq if p.name != "plate.1004.exr")
    # Running it again skips the identical frames and fails the same one: re-running is safe.
    assert main(["copy", str(src), str(dest), "--json"]) == 1
    [job] = json.loads(capsys.readouterr().out)["jobs"]
    assert (job["frames_skipped"], job["frames_failed"]) == (9, 1)


def test_dest_inside_source_is_refused_exit_2(byte_seq: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    src = byte_seq[0].parent
    assert main(["copy", str(src), str(src / "backup"), "--json"]) == 2
    captured = capsys.readouterr()
    assert "inside the source" in captured.err
    assert json.loads(captured.out)["exit_code"] == 2
    assert not (src / "backup").exists() or not any((src / "backup").iterdir())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["copy", "{src}/nope.0001.exr", "{dest}"], "no such file or folder"),
        (["copy", "{src}"], "at least one source and a destination"),
        (["copy", "{src}", "{dest}", "--frames", "10-1"], "--frames"),
        (["copy", "{src}", "{dest}", "--frames", "5000-5010"], "nothing to do"),
        (["copy", "{src}", "{dest}", "--bwlimit", "fast"], "--bwlimit"),
        (["copy", "{src}", "{dest}/plate.1001.exr"], "not a folder"),
    ],
)
def test_usage_errors_exit_2(
    byte_seq: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    src = byte_seq[0].parent
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "plate.1001.exr").write_bytes(b"x")
    assert main([a.format(src=src, dest=dest) for a in argv]) == 2
    assert message in capsys.readouterr().err
    assert sorted(os.listdir(dest)) == ["plate.1001.exr"]  # nothing written, not even a manifest


def test_parse_size_binary_units() -> None:
    assert parse_size("50M") == 50 * 1024 * 1024
    assert parse_size("1.5k") == 1536
    assert parse_size("2GiB") == 2 << 30
    assert parse_size("100") == 100
    with pytest.raises(ValueError):
        parse_size("5X")


def test_plain_progress_lines_for_logs(byte_seq: list[Path], tmp_path: Path) -> None:
    src = byte_seq[0].parent
    proc = vfxcopy("copy", str(src), str(tmp_path / "a"), "--no-fsync")
    assert proc.returncode == 0
    lines = proc.stderr.splitlines()
    assert "\r" not in proc.stderr
    assert lines[0].endswith("10 frames, 640.0 KiB")
    assert "completed, 10 copied" in lines[-1]
    proc = vfxcopy("copy", str(src), str(tmp_path / "b"), "-v", "--no-fsync")
    copied = [ln for ln in proc.stderr.splitlines() if ln.startswith("copied ")]
    assert len(copied) == 10 and str(src / "plate.1001.exr") in copied[0]
    # One frame, one file of a tree: said in the singular ("1 frames" and "1 files" before).
    proc = vfxcopy("copy", str(src / "plate.1001.exr"), str(tmp_path / "c"), "--frames", "1001", "--no-fsync")
    assert proc.returncode == 0 and proc.stderr.splitlines()[0].endswith(": 1 frame, 64.0 KiB")
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "sub" / "notes.txt").write_text("notes\n")
    proc = vfxcopy("copy", str(tmp_path / "tree"), str(tmp_path / "d"), "--no-fsync")
    assert proc.returncode == 0 and proc.stderr.splitlines()[0].endswith(": 1 file, 6 B")
    [report] = (tmp_path / "c" / "ascmhl").glob("vfxcopy_report_*.html")
    assert "all 1 frame in place" in report.read_text()


def test_terminal_progress_bar_redraws_one_line(byte_seq: list[Path], tmp_path: Path) -> None:
    """On a terminal the bar is one line redrawn with \\r; frames, MiB/s and ETA are shown."""
    src = byte_seq[0].parent
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "vfxcopy", "copy", str(src), str(tmp_path / "d"), "--bwlimit", "2M"],
            stdout=subprocess.PIPE, stderr=slave, timeout=120,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    err = b"".join(chunks).decode()
    assert proc.returncode == 0, err
    assert "\r" in err and "MiB/s" in err and "ETA" in err
    assert "/10 frames" in err
    assert err.count("\n") <= 3  # the bar does not scroll: one summary line at the end


def test_progress_printer_throttles_terminal_redraws() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter("job", stream=stream, tty=True)
    total = 2000
    for i in range(total):
        printer(Progress("j", JobState.RUNNING, frames_total=total, frames_done=i, bytes_total=total, bytes_done=i))
    printer(Progress("j", JobState.COMPLETED, frames_total=total, frames_done=total, bytes_total=total, bytes_done=total))
    draws = stream.getvalue().count("\r")
    assert 2 <= draws <= 10  # a burst of 2000 events draws a handful of times, the final state always
    assert f"{total}/{total} frames" in stream.getvalue()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_copy_cancels_cleanly_exit_128_plus_signal(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGINT exits 130, SIGTERM 143 (the exit-code contract); nothing partial is left."""
    src = tmp_path / "src"
    make_byte_sequence(src, count=10, size=3 * 1024 * 1024)
    dest = tmp_path / "dest"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vfxcopy", "copy", str(src), str(dest), "--bwlimit", "6M", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # Wait until at least one frame is in place and the next one is half written
        # (the limit makes each frame take about half a second).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            names = os.listdir(dest) if dest.exists() else []
            if any(n.startswith("plate.") for n in names) and temps(dest):
                break
            time.sleep(0.01)
        else:
            pytest.fail("the copy never got going")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    expected = 128 + int(sig)  # 130 for SIGINT, 143 for SIGTERM
    assert proc.returncode == expected, err
    assert temps(dest) == []
    done = files(dest)
    assert 1 <= len(done) < 10
    for name, data in done.items():
        assert data == (src / name).read_bytes(), name  # finished frames stay complete
    report = json.loads(out)
    assert report["cancelled"] and report["exit_code"] == expected
    [job] = report["jobs"]
    assert job["state"] == "cancelled" and job["frames_done"] == len(done)
    assert "cancelling" in err


def test_copy_jobs_are_journaled_unless_asked_not_to(byte_seq: list[Path], tmp_path: Path) -> None:
    from vfxcopy.core.journal import Journal

    src = byte_seq[0].parent
    assert main(["copy", str(src), str(tmp_path / "a"), "-q", "--no-journal"]) == 0
    with Journal() as journal:
        assert journal.jobs() == []
    assert main(["copy", str(src), str(tmp_path / "b"), "-q"]) == 0
    with Journal() as journal:
        [job] = journal.jobs()
        assert job.state is JobState.COMPLETED and job.frames_done == 10


def test_cancel_signals_set_the_token_once_and_restore_handlers() -> None:
    from vfxcopy.cli.common import CancelSignals
    from vfxcopy.core.jobs import CancelToken

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    token = CancelToken()
    with CancelSignals(token) as guard:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)  # a second signal while cancelling is ignored
        deadline = time.monotonic() + 5
        while not token.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        assert token.cancelled and guard.signum == signal.SIGTERM
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_headless_commands_load_no_gui_image_or_watch_library() -> None:
    """A farm node without display libraries runs copy and jobs; start-up pays only for what it uses."""
    code = (
        "import sys\n"
        "from vfxcopy.cli import build_parser\n"
        "import vfxcopy.cli.common, vfxcopy.cli.copy_cmd, vfxcopy.cli.jobs_cmd, vfxcopy.cli.watch_cmd\n"
        "build_parser().parse_args(['copy', 'a', 'b'])\n"
        "heavy = ('PySide6', 'OpenImageIO', 'numpy', 'watchdog', 'ascmhl')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_run_where_every_frame_fails_prints_the_first_failures_and_where_to_read_the_rest(tmp_path: Path) -> None:
    """30 frames that all exist at the destination (--on-conflict fail): 20 lines, then one saying where
    every failure can be read (it printed all of them, 2,952 lines for a 3,000-frame run)."""
    src = make_byte_sequence(tmp_path / "src", count=30, size=100)
    dest = tmp_path / "dest"
    assert vfxcopy("copy", "-q", "--no-fsync", str(src[0]), str(dest)).returncode == 0
    proc = vfxcopy("copy", "-q", "--no-fsync", "--on-conflict", "fail", str(src[0]), str(dest))
    assert proc.returncode == 1
    failed = [line for line in proc.stderr.splitlines() if line.startswith("vfxcopy: frame ")]
    assert len(failed) == 20 and failed[0].startswith("vfxcopy: frame 1001 failed: ")
    [more] = [line for line in proc.stderr.splitlines() if line.startswith("vfxcopy: more frames failed")]
    job_id = more.split("`vfxcopy jobs show ")[1].split("`")[0]
    shown = vfxcopy("jobs", "show", job_id)
    assert shown.returncode == 0 and shown.stdout.count("already exists") == 30
    assert "30 of 30 frames failed" in proc.stderr
    verbose = vfxcopy("copy", "-q", "-v", "--no-fsync", "--on-conflict", "fail", str(src[0]), str(dest))
    assert sum(line.startswith("vfxcopy: frame ") for line in verbose.stderr.splitlines()) == 30


def test_options_may_come_between_the_paths_as_with_cp_and_rsync(tmp_path: Path) -> None:
    """`vfxcopy copy SRC --frames 1001-1002 DEST` said "unrecognized arguments: DEST"."""
    src = make_byte_sequence(tmp_path / "src", count=4, size=100)
    proc = vfxcopy("copy", str(src[0]), "--frames", "1001-1002", str(tmp_path / "a"), "-q", "--no-fsync")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "a").glob("plate.*")) == ["plate.1001.exr", "plate.1002.exr"]
    # After `--` everything is a path, even a name that starts with a dash.
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "-odd.txt").write_text("x")
    proc = vfxcopy("copy", "-q", "--no-fsync", "--", "-odd.txt", str(tmp_path / "b"), cwd=tmp_path / "notes")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "b" / "-odd.txt").read_text() == "x"
    # An option nobody knows is still refused, wherever it is.
    proc = vfxcopy("copy", str(src[0]), "--bogus", str(tmp_path / "c"))
    assert proc.returncode == 2 and "unrecognized arguments: --bogus" in proc.stderr


def test_a_copy_of_chosen_frames_is_named_by_them(byte_seq: list[Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """With --frames the summary named the whole sequence ("plate.####.exr 1001-1010 -> …: 3 copied"):
    it names the frames the job copies."""
    assert main(["copy", str(byte_seq[0].parent), str(tmp_path / "out"), "--frames", "1003-1005"]) == 0
    err = capsys.readouterr().err
    assert f"plate.####.exr 1003-1005 -> {tmp_path / 'out'}: completed, 3 copied" in err, err
    assert main(["copy", str(byte_seq[0].parent), str(tmp_path / "one"), "--frames", "1007", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["jobs"][0]["spec"]["frames"] == [1007]


@pytest.mark.parametrize("command", ["copy", "check"])
def test_an_empty_frames_value_is_refused_not_read_as_all_frames(byte_seq: list[Path], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str], command: str) -> None:
    """`--frames "$CHUNK"` with the variable unset (a farm or shell script) took every frame of the
    sequence: an empty value is a usage error, exit 2, nothing written."""
    argv = [command, str(byte_seq[0].parent), *([str(tmp_path / "out")] if command == "copy" else [])]
    for empty in ("", "  "):
        assert main([*argv, "--frames", empty]) == 2
        assert "--frames: empty" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
