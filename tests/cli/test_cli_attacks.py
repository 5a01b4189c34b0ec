"""The command line under a hard kill, a full disk, a damaged manifest, odd names and a user without rights."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vfxcopy.core.jobs import is_temp_name
from vfxcopy.core.samples import make_big_file, make_byte_sequence


def vfxcopy(*args: str, timeout: float = 120, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vfxcopy", *args], capture_output=True, text=True,  # type: ignore[call-overload, no-any-return]
                          timeout=timeout, **kw)


def temps(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if is_temp_name(n)] if folder.exists() else []


def kill_mid_copy(src: Path, dest: Path, *extra: str) -> None:
    """Start `vfxcopy copy`, SIGKILL it once its temp folder holds bytes."""
    proc = subprocess.Popen([sys.executable, "-m", "vfxcopy", "copy", str(src), str(dest), "--bwlimit", "20M",
                             *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            written = [e for n in temps(dest) for e in os.scandir(dest / n)] if dest.exists() else []
            if any(e.stat().st_size > 0 for e in written):
                break
            time.sleep(0.01)
        else:
            pytest.fail("the copy never started writing")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_no_journal_kill_then_clean_leaves_nothing(tmp_path: Path) -> None:
    src = make_big_file(tmp_path / "src" / "plate.mov", 64 << 20)
    dest = tmp_path / "out"
    kill_mid_copy(src, dest, "--no-journal")
    left = temps(dest)
    assert left, "a hard kill leaves the run's private folder (nothing could remove it)"
    dry = vfxcopy("clean", str(dest), "--dry-run", "--json")
    assert dry.returncode == 0 and temps(dest) == left  # a dry run removes nothing
    time.sleep(2.1)  # older than a run that is just starting
    cleaned = vfxcopy("clean", str(dest))
    assert cleaned.returncode == 0, cleaned.stderr
    assert temps(dest) == [] and os.listdir(dest) == []
    assert "removed 1 leftover" in cleaned.stderr


def test_the_next_run_into_the_folder_removes_a_killed_runs_leftovers(tmp_path: Path) -> None:
    src = make_big_file(tmp_path / "src" / "plate.mov", 64 << 20)
    other = make_byte_sequence(tmp_path / "src2", count=2, size=1024)
    dest = tmp_path / "out"
    kill_mid_copy(src, dest, "--no-journal")
    assert temps(dest)
    proc = vfxcopy("copy", str(other[0].parent), str(dest), "--no-journal")
    assert proc.returncode == 0, proc.stderr
    assert temps(dest) == []


def test_clean_never_touches_a_live_run(tmp_path: Path) -> None:
    src = make_big_file(tmp_path / "src" / "plate.mov", 64 << 20)
    dest = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "vfxcopy", "copy", str(src), str(dest), "--bwlimit", "10M",
                             "--no-journal"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not temps(dest) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(2.5)
        assert vfxcopy("clean", str(dest)).returncode == 0
        assert temps(dest), "clean removed a live run's temporaries"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and temps(dest) == [] and not (dest / "plate.mov").exists(), err


def test_a_corrupt_manifest_chain_at_the_destination_fails_the_copy_clearly(tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=3, size=2048)
    dest = tmp_path / "out"
    (dest / "ascmhl").mkdir(parents=True)
    (dest / "ascmhl" / "ascmhl_chain.xml").write_text("<ascmhldirectory><hashlist>broken")
    proc = vfxcopy("copy", str(src[0].parent), str(dest))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "ascmhl_chain.xml" in proc.stderr
    assert temps(dest) == [] and not list((dest / "ascmhl").glob(".vfxcopy*"))
    assert all((dest / p.name).read_bytes() == p.read_bytes() for p in src)  # the frames themselves are fine


def test_jpeg_onto_a_full_disk_fails_frames_not_the_process(tmp_path: Path, tmpfs_mount, exr_seq_session) -> None:
    """libjpeg ends the whole process when a write fails: a free-space check before every frame."""
    from vfxcopy.core.samples import make_exr_sequence

    frames = make_exr_sequence(tmp_path / "src", count=12, width=640, height=360)
    small = tmpfs_mount("600k")
    proc = vfxcopy("convert", str(frames[0].parent), str(small), "--to", "jpg", "--quality", "100")
    assert proc.returncode == 1, proc.stderr  # not -11 (SIGSEGV) or -6 (SIGABRT)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("destination is full") == 1  # said once for the job
    assert temps(small) == []
    for p in small.iterdir():  # whatever is there is a whole image
        import OpenImageIO as oiio

        assert oiio.ImageBuf(str(p)).read(force=True), p


def test_disk_full_is_said_once_and_no_space_as_inodes_is_named(tmp_path: Path, tmpfs_mount) -> None:
    # Too big to fit: refused before any byte moves, with the shortfall.
    big = make_byte_sequence(tmp_path / "big", count=8, size=256 * 1024)
    small = tmpfs_mount("1m")
    proc = vfxcopy("copy", str(big[0].parent), str(small), "--verify", "none")
    assert proc.returncode == 2 and "short by" in proc.stderr, proc.stderr
    assert os.listdir(small) == []
    # It fits when the copy starts; another program fills the disk while it runs.
    src = make_byte_sequence(tmp_path / "src", count=8, size=64 * 1024)
    proc = subprocess.Popen([sys.executable, "-m", "vfxcopy", "copy", str(src[0].parent), str(small),
                             "--verify", "none", "--bwlimit", "128K"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (small / src[0].name).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    with open(small / "someone_elses.bin", "wb") as f:
        try:
            f.write(b"\0" * shutil.disk_usage(small).free)
        except OSError:
            pass  # full
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert err.count("destination is full") == 1, err
    assert temps(small) == []
    few = tmpfs_mount("64m,nr_inodes=6")  # room for bytes, not for files
    proc = vfxcopy("copy", str(src[0].parent), str(few), "--verify", "none")
    assert proc.returncode == 1
    # The free bytes are named, and they are not zero (the speed, "50.0 MiB/s", may end in 0.0 MiB).
    assert "inode" in proc.stderr and not re.search(r"[^.\d]0\.0 MiB free", proc.stderr), proc.stderr
    assert re.search(r"\d+\.\d MiB free", proc.stderr), proc.stderr
    assert temps(few) == []


def test_names_with_escape_characters_are_printed_escaped(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    evil = src / "shot\x1b[2J\x1b]0;pwned\x07.0001.exr"
    evil.write_bytes(b"x" * 100)
    proc = vfxcopy("copy", str(evil), str(tmp_path / "out"), "-v", "--verify", "none")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert (tmp_path / "out" / evil.name).read_bytes() == b"x" * 100


def test_a_source_without_read_permission_is_called_so_by_convert(tmp_path: Path, exr_seq_session) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run as another user")
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="vfxcopy-perm-"))  # pytest's own folders are private to root
    os.chmod(top, 0o755)
    src = top / "src"
    src.mkdir()
    for p in exr_seq_session[:3]:
        shutil.copy(p, src / p.name)
    os.chmod(src / exr_seq_session[1].name, 0o000)
    out = top / "out"
    out.mkdir()
    os.chown(out, 65534, 65534)
    env = dict(os.environ, VFXCOPY_DATA_DIR=str(out / ".data"), HOME=str(out))  # VFXCOPY_CONFIG_DIR stays root's: unreadable
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                           "vfxcopy", "convert", str(src), str(out), "--to", "jpg", "--no-journal"],
                          capture_output=True, text=True, timeout=120, env=env)
    try:
        if "Permission denied" in proc.stderr and "python" in proc.stderr.lower() and "vfxcopy" not in proc.stderr:
            pytest.skip("the project's interpreter is not readable by nobody here")
        assert "Traceback" not in proc.stderr, proc.stderr  # an unreadable settings file is no crash either
        assert proc.returncode == 1, proc.stderr
        assert "permission denied" in proc.stderr and "truncated or corrupt" not in proc.stderr
        assert str(src / exr_seq_session[1].name) in proc.stderr
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_a_farm_task_as_a_user_with_no_home_copies_and_says_what_it_could_not_keep() -> None:
    """A container on the farm runs the task as a user id the system does not know, with no HOME:
    there is no per-user folder for the settings or the journal. The copy runs with the defaults,
    each missing piece said once with what to set, no traceback; `jobs` says why it has nothing."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run as another user")
    import pwd
    import tempfile

    uid = 54321
    with pytest.raises(KeyError):
        pwd.getpwuid(uid)  # a user the system does not know
    top = Path(tempfile.mkdtemp(prefix="vfxcopy-nohome-"))  # pytest's own folders are private to root
    os.chmod(top, 0o777)
    try:
        src = make_byte_sequence(top / "src", count=4, size=1000)[0].parent
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}  # no HOME, no VFXCOPY_*
        user = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable, "-m", "vfxcopy"]
        proc = subprocess.run([*user, "copy", str(src), str(top / "out"), "-q"], capture_output=True, text=True,
                              timeout=120, env=env, cwd=top)
        if "Permission denied" in proc.stderr and "vfxcopy" not in proc.stderr:
            pytest.skip("the project's interpreter is not readable by another user here")
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        lines = proc.stderr.splitlines()
        assert len(lines) == 2, proc.stderr  # the settings and the journal, once each
        assert lines[0].startswith("vfxcopy copy: warning: no home folder: HOME is not set and user 54321 has "
                                   "none") and lines[0].endswith("no settings file is read, the defaults apply")
        assert lines[1].startswith("vfxcopy copy: warning: job journal unavailable (no home folder")
        assert sorted(os.listdir(top / "out")) == sorted([*os.listdir(src), "ascmhl"])  # verified: a manifest
        assert not (top / "~").exists()  # no folder named "~" made for the missing home
        jobs = subprocess.run([*user, "jobs"], capture_output=True, text=True, timeout=60, env=env, cwd=top)
        assert jobs.returncode == 2 and "Traceback" not in jobs.stderr
        assert "cannot open the job journal: no home folder" in jobs.stderr
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_a_full_disk_under_the_journal_never_stops_a_copy(tmp_path: Path, tmpfs_mount) -> None:  # type: ignore[no-untyped-def]
    """The journal's disk is full (its own folder on a small disk, or a home over quota): the copy
    runs without it, saying so once, and still writes its manifest (it was 'Internal error:
    OperationalError: database or disk is full' with a traceback, and nothing copied)."""
    data = tmpfs_mount("256k")
    src = make_byte_sequence(tmp_path / "src", count=20, size=50_000)[0].parent
    env = {**os.environ, "VFXCOPY_DATA_DIR": str(data / "vfxcopy")}
    first = vfxcopy("copy", str(src), str(tmp_path / "one"), "-q", env=env)  # the journal exists, then fills up
    assert first.returncode == 0 and first.stderr == "", first.stderr
    with open(data / "filler", "wb") as f:
        try:
            f.write(b"\0" * (1 << 20))
        except OSError:
            pass  # full
    proc = vfxcopy("copy", str(src), str(tmp_path / "two"), "-q", env=env)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr and "Internal error" not in proc.stderr, proc.stderr
    (said,) = proc.stderr.splitlines()  # once (opening it, or recording the job: where the disk ran out)
    assert "warning:" in said and "journal" in said and "cannot be resumed" in said, said
    assert sorted(os.listdir(tmp_path / "two")) == sorted([*os.listdir(src), "ascmhl"])
    check = vfxcopy("verify", str(tmp_path / "two"), "-q", env=env)
    assert check.returncode == 0, check.stderr


def test_a_preflight_policy_refuses_a_copy_before_any_byte_moves(tmp_path: Path) -> None:
    from vfxcopy.core.samples import make_exr_sequence

    frames = make_exr_sequence(tmp_path / "src", count=5)
    frames[2].write_bytes(frames[2].read_bytes()[:300])  # truncated
    dest = tmp_path / "out"
    refused = vfxcopy("copy", str(frames[0].parent), str(dest), "--preflight", "broken=refuse")
    assert refused.returncode == 1, refused.stderr
    assert str(frames[2]) in refused.stderr and "Traceback" not in refused.stderr
    assert not dest.exists() or os.listdir(dest) == []
    warned = vfxcopy("copy", str(frames[0].parent), str(dest), "--preflight", "broken=warn")
    assert warned.returncode == 0, warned.stderr
    assert "warning" in warned.stderr and str(frames[2]) in warned.stderr
    assert sorted(p.name for p in dest.glob("*.exr")) == sorted(p.name for p in frames)
    bad = vfxcopy("copy", str(frames[0].parent), str(tmp_path / "x"), "--preflight", "nonsense=refuse")
    assert bad.returncode == 2 and "--preflight" in bad.stderr
