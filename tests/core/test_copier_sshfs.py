"""Copies onto and from a real network file system: sshfs over loopback, served by an sshd of our own."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    CopyOptions,
    FrameStatus,
    JobSpec,
    JobState,
    VerifyMode,
    is_temp_name,
)
from vfxcopy.core.pipeline import prepare
from vfxcopy.core.pipeline import run_pipeline as copy_sequence
from vfxcopy.core.roundtrips import fs_type
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.sequence import Sequence

SSHD = "/usr/sbin/sshd"


def _why_not() -> str | None:
    for tool in ("sshfs", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt: openssh-server sshfs)"
    if not shutil.which("fusermount3") and not shutil.which("fusermount"):
        return "fusermount is not installed (apt: fuse3)"
    if not os.path.exists(SSHD):
        return "sshd is not installed (apt: openssh-server)"
    if not os.path.exists("/dev/fuse"):
        return "FUSE is not available here (/dev/fuse is missing)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sshfs_mount(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder mounted over sshfs from an sshd of our own on 127.0.0.1 (own keys, config and port)."""
    why = _why_not()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("sshfs")
    keys, remote, mount = root / "keys", root / "remote", root / "mnt"
    for d in (keys, remote, mount):
        d.mkdir()
    os.chmod(keys, 0o700)
    for name in ("host", "user"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True)
    shutil.copy(keys / "user.pub", keys / "authorized_keys")
    port = _free_port()
    config = keys / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {keys / 'host'}\nPidFile {keys / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {keys / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n"
        "Subsystem sftp internal-sftp\nLogLevel ERROR\n"
    )
    try:
        os.makedirs("/run/sshd", exist_ok=True)
    except OSError:
        pass
    sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    mounted = False
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if sshd.poll() is not None or time.monotonic() > deadline:
                    pytest.skip("sshd does not start here")
                time.sleep(0.05)
        user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        opts = (f"IdentityFile={keys / 'user'},StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,"
                "BatchMode=yes,LogLevel=ERROR")
        done = subprocess.run(["sshfs", "-p", str(port), "-o", opts, f"{user}@127.0.0.1:{remote}", str(mount)],
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            pytest.skip(f"sshfs cannot mount here: {done.stderr.strip()}")
        mounted = True
        assert fs_type(str(mount)) == "fuse.sshfs"
        yield mount
    finally:
        if mounted:
            unmount = shutil.which("fusermount3") or "fusermount"
            for _ in range(50):
                if subprocess.run([unmount, "-u", str(mount)], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
            else:
                subprocess.run([unmount, "-u", "-z", str(mount)], capture_output=True)
        sshd.terminate()
        sshd.wait(10)


def seq_of(paths: list[Path]) -> Sequence:
    head, tail = "plate.", ".exr"
    frames = tuple(int(p.name[len(head): -len(tail)]) for p in paths)
    return Sequence(str(paths[0].parent), head, tail, 4, frames)


def leftovers(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if is_temp_name(n) or n.startswith(".vfxcopy-")]


@pytest.mark.parametrize("opts", [CopyOptions(), CopyOptions(verify=VerifyMode.NONE, fsync=False)],
                         ids=["defaults", "no-hash-no-fsync"])
def test_copy_onto_sshfs_and_back(tmp_path: Path, sshfs_mount: Path, opts: CopyOptions) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=16, size=100 * 1024)
    tag = "d" if opts.fsync else "f"
    up = sshfs_mount / f"up-{tag}"
    result = copy_sequence(JobSpec(seq_of(paths), str(up), copy=opts), CancelToken(), lambda e: None)
    assert result.state is JobState.COMPLETED, result.message
    assert leftovers(up) == []
    for p in paths:
        assert (up / p.name).read_bytes() == p.read_bytes()
        assert (up / p.name).stat().st_mtime == pytest.approx(p.stat().st_mtime, abs=1.0)  # SFTP keeps seconds
    down = tmp_path / f"down-{tag}"
    back = copy_sequence(JobSpec(seq_of(sorted(up.iterdir())), str(down), copy=opts), CancelToken(), lambda e: None)
    assert back.state is JobState.COMPLETED, back.message
    assert sorted(os.listdir(down)) == sorted(p.name for p in paths)
    assert all((down / p.name).read_bytes() == p.read_bytes() for p in paths)


def test_sshfs_never_clobbers_and_skips_identical(tmp_path: Path, sshfs_mount: Path) -> None:
    """No renameat2 there: placing falls back to link + unlink, which refuses a taken name too."""
    paths = make_byte_sequence(tmp_path / "src", count=12, size=50 * 1024)
    dest = sshfs_mount / "conflicts"
    dest.mkdir()
    (dest / paths[2].name).write_bytes(b"someone else's file")
    (dest / paths[5].name).write_bytes(paths[5].read_bytes())
    result = copy_sequence(JobSpec(seq_of(paths), str(dest)), CancelToken(), lambda e: None)
    statuses = {Path(f.dest).name: f.status for f in result.frames}
    assert statuses[paths[2].name] is FrameStatus.FAILED
    assert statuses[paths[5].name] is FrameStatus.SKIPPED
    assert (dest / paths[2].name).read_bytes() == b"someone else's file"
    assert all(s is FrameStatus.DONE for n, s in statuses.items() if n not in (paths[2].name, paths[5].name))
    assert leftovers(dest) == []


def test_cancel_on_sshfs_leaves_nothing_partial(tmp_path: Path, sshfs_mount: Path) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=30, size=400 * 1024)
    dest = sshfs_mount / "cancelled"
    token = CancelToken()

    def report(event: object) -> None:
        if getattr(event, "status", None) is FrameStatus.DONE:
            token.cancel()

    result = copy_sequence(JobSpec(seq_of(paths), str(dest)), token, report)
    assert result.state is JobState.CANCELLED
    assert leftovers(dest) == []
    done = {Path(f.dest).name for f in result.frames if f.status is FrameStatus.DONE}
    assert set(os.listdir(dest)) == done and 1 <= len(done) < 30
    for name in done:
        assert (dest / name).read_bytes() == (tmp_path / "src" / name).read_bytes()


def test_several_in_flight_place_by_link_and_journal_rows_equal_the_files(
    tmp_path: Path, sshfs_mount: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On sshfs several frames are in flight (their temps spread over sub-folders of the run's temp
    folder), renameat2 is asked until sshfs refuses it once (then link + unlink at once), and each journal row's size and mtime, taken from the written temp,
    are what a stat of the placed file says afterwards (on the mount and on the server): a resume
    keeps every frame."""
    from vfxcopy.core.engine import run_job
    from vfxcopy.core.journal import Journal
    from vfxcopy.core.pipeline import place as placing
    from vfxcopy.core.resume import resume_job

    paths = make_byte_sequence(tmp_path / "src", count=24, size=60 * 1024)
    for i, p in enumerate(paths):  # nanoseconds that SFTP (whole seconds) cannot keep
        os.utime(p, ns=(1_700_000_000_000_000_000 + i * 1_000_000_123, 1_700_000_000_000_000_000 + i * 1_000_000_123))
    asked, linked_by, lanes = [0], set(), set()
    real_rename, real_link = placing._RENAMEAT2, placing.link_noreplace

    def renameat2(*args: object) -> int:
        asked[0] += 1
        return int(real_rename(*args))

    def link(src: str, dst: str, src_fd: int, dst_fd: int) -> None:
        linked_by.add(threading.current_thread().name)
        lanes.add(src.partition("/")[0])
        real_link(src, dst, src_fd, dst_fd)

    monkeypatch.setattr(placing, "_RENAMEAT2", renameat2 if real_rename is not None else None)
    monkeypatch.setattr(placing, "link_noreplace", link)
    dest = sshfs_mount / "journalled"
    with Journal(tmp_path / "journal.db") as journal:
        spec = JobSpec(seq_of(paths), str(dest))
        result = run_job(spec, CancelToken(), lambda e: None, journal=journal)
        assert result.state is JobState.COMPLETED, result.message
        assert all(f.status is FrameStatus.DONE and f.dest_stat is not None for f in result.frames)
        assert len(linked_by) > 1  # placed by several workers
        assert lanes == {f"lane{i}" for i in range(prepare.SHARED_FS_COPY_WORKERS)}  # temps in a sub-folder each
        # Only the items in flight before the first refusal (and the naming of the run's temp folder).
        assert asked[0] <= prepare.SHARED_FS_COPY_WORKERS + 1
        rows = journal.frames(spec.job_id)
        assert len(rows) == len(paths)
        remote = sshfs_mount.parent / "remote" / "journalled"  # the served folder: what the server has
        for row in rows:
            st = os.stat(row.dest)
            assert (row.dest_size, row.dest_mtime_ns) == (st.st_size, st.st_mtime_ns), row.dest
            on_server = os.stat(remote / Path(row.dest).name)
            assert (row.dest_size, row.dest_mtime_ns) == (on_server.st_size, on_server.st_mtime_ns), row.dest
        events: list[object] = []
        again = resume_job(spec.job_id, journal, CancelToken(), events.append, rehash=False)
        assert again.state is JobState.COMPLETED, again.message
        warnings = [e for e in events if getattr(e, "level", "") == "warning"]
        assert warnings == []  # not one frame seen as modified at the destination
    assert leftovers(dest) == []


def test_a_name_taken_while_frames_are_in_flight_on_sshfs_is_never_clobbered(
    tmp_path: Path, sshfs_mount: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another program creates final names after the run listed the folder, while several frames
    are in flight and placing goes by link: those frames fail, the files stay theirs."""
    from vfxcopy.core.pipeline import place as placing

    paths = make_byte_sequence(tmp_path / "src", count=20, size=40 * 1024)
    dest = sshfs_mount / "taken"
    taken = {paths[9].name, paths[15].name}
    real_link = placing.link_noreplace

    def link(src: str, dst: str, src_fd: int, dst_fd: int) -> None:
        if dst in taken and not (dest / dst).exists():
            (dest / dst).write_bytes(b"theirs")
        real_link(src, dst, src_fd, dst_fd)

    monkeypatch.setattr(placing, "link_noreplace", link)
    result = copy_sequence(JobSpec(seq_of(paths), str(dest)), CancelToken(), lambda e: None)
    assert result.state is JobState.FAILED
    for f in result.frames:
        name = Path(f.dest).name
        if name in taken:
            assert f.status is FrameStatus.FAILED and "another program" in (f.error or "")
            assert (dest / name).read_bytes() == b"theirs"
        else:
            assert f.status is FrameStatus.DONE
            assert (dest / name).read_bytes() == (tmp_path / "src" / name).read_bytes()
    assert leftovers(dest) == []


def test_cancel_with_frames_in_flight_on_sshfs_leaves_nothing_partial(tmp_path: Path, sshfs_mount: Path) -> None:
    """A cancel while several workers are mid-frame (writing, fsyncing): every name in the folder
    is a complete frame reported done, the private temp folder is gone, and the run ends promptly."""
    paths = make_byte_sequence(tmp_path / "src", count=40, size=300 * 1024)
    dest = sshfs_mount / "inflight"
    token = CancelToken()
    cancelled_at: list[float] = []

    def report(event: object) -> None:
        if not cancelled_at and getattr(event, "bytes_done", 0) > 2 * 300 * 1024:
            cancelled_at.append(time.monotonic())
            token.cancel()

    result = copy_sequence(JobSpec(seq_of(paths), str(dest)), token, report)
    ended = time.monotonic()
    assert result.state is JobState.CANCELLED
    assert cancelled_at and ended - cancelled_at[0] < 2.0
    assert leftovers(dest) == []
    done = {Path(f.dest).name for f in result.frames if f.status is FrameStatus.DONE}
    assert set(os.listdir(dest)) == done and len(done) < 40
    for name in done:
        assert (dest / name).read_bytes() == (tmp_path / "src" / name).read_bytes()


def test_the_report_thumbnails_of_an_upload_are_read_from_the_local_source(
    tmp_path: Path, sshfs_mount: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading frames back over the network for the job report's thumbnails (8 frames of 4K EXR:
    hundreds of MB) is not needed: a copied frame holds its source's bytes, hashed as they were
    copied. The strip still names the delivered frames (renamed here); a frame skipped because an
    identical one was there is read where it is."""
    import vfxcopy.core.thumbnail as thumbnail
    from vfxcopy.core.engine import run_job
    from vfxcopy.core.samples import make_exr_sequence

    paths = make_exr_sequence(tmp_path / "src", head="plate.", count=8, width=64, height=36)
    dest = sshfs_mount / "report-thumbs"
    dest.mkdir()
    renamed = [f"plate_v002.{1001 + i}.exr" for i in range(8)]
    (dest / renamed[7]).write_bytes(paths[7].read_bytes())  # skipped: identical, read on the mount
    read: list[str] = []
    real = thumbnail.make_thumbnail

    def recording(path: str, size: int) -> object:
        read.append(str(path))
        return real(path, size)

    monkeypatch.setattr(thumbnail, "make_thumbnail", recording)
    spec = JobSpec(seq_of(paths), str(dest), rename_head="plate_v002.")
    result = run_job(spec, CancelToken(), lambda e: None)
    assert result.state is JobState.COMPLETED, result.message
    # Over the network only the skipped frame; the copied ones from the local sources (made while
    # the copy ran, core/report_early.py, then again at the end because one frame was skipped).
    assert [p for p in read if p.startswith(str(sshfs_mount))] == [str(dest / renamed[7])]
    assert {p for p in read if not p.startswith(str(sshfs_mount))} == {str(p) for p in paths}
    (html,) = (dest / "ascmhl").glob("vfxcopy_report_*.html")
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 8
    assert re.findall(r"<figcaption>([^<]*)</figcaption>", page) == renamed  # the delivered frames' names


def test_folder_hashes_over_sshfs_look_up_recorded_sizes_several_at_a_time(
        tmp_path: Path, sshfs_mount: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a network file system each size a folder hash checks is a round trip: the recorded files'
    sizes are looked up by several threads at once, and the hashes are those made locally."""
    from vfxcopy.core.roundtrips import AHEAD_MIN as STAT_AHEAD_MIN
    from vfxcopy.core.verify import ManifestEntry, hash_path, write_generation
    from vfxcopy.core.verify.mhl_listing import TreeListing

    def deliver(root: Path) -> list[str]:
        texts = []
        for batch in range(3):
            entries = []
            for i in range(40):
                path = root / "plates" / f"p{batch}.{1001 + i}.exr"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(bytes([batch, i]) * 50)
                entries.append(ManifestEntry(f"plates/{path.name}", 100, 1.7e9, "xxh128",
                                             hash_path(str(path), "xxh128")))
            texts.append(Path(write_generation(root, entries, now=1.7e9).path).read_text())
        return [re.sub(r"<hostname>.*</hostname>|lastmodificationdate=\"[^\"]*\"", "", t) for t in texts]

    looked: list[int] = []
    real = TreeListing.look_up

    def counting(self: TreeListing, items: list[os.DirEntry[str]]) -> None:
        looked.append(len(items))
        real(self, items)

    stats_on_threads: list[str] = []

    def profile(frame: object, event: str, arg: object) -> None:  # threads started from now on
        if event == "c_call" and getattr(arg, "__name__", "") == "stat" and isinstance(
                getattr(arg, "__self__", None), os.DirEntry):
            stats_on_threads.append(threading.current_thread().name)

    monkeypatch.setattr(TreeListing, "look_up", counting)
    threading.setprofile(profile)
    try:
        remote = deliver(sshfs_mount / "history-hashes")
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
    assert stats_on_threads == ["vfxcopy-ahead"] * 80  # the 80 sizes, looked up by its threads
    # Second delivery: 40 recorded files (fewer than STAT_AHEAD_MIN: one at a time); third: 80.
    assert 40 < STAT_AHEAD_MIN <= 80
    assert looked == [40, 80]
    looked.clear()
    local = deliver(tmp_path / "history-hashes")
    assert looked == [] and local == remote  # locally one at a time; the same hashes
    assert "<roothash>" in remote[2] and ">plates</path>" in remote[2]
    # A recorded file whose size changed is still seen: the folders get no hash.
    (sshfs_mount / "history-hashes" / "plates" / "p0.1001.exr").write_bytes(b"changed")
    entry = ManifestEntry("extra.edl", 4, 1.7e9, "xxh128", hash_path(str(tmp_path / "history-hashes" / "plates"
                                                                          / "p0.1002.exr"), "xxh128"))
    (sshfs_mount / "history-hashes" / "extra.edl").write_bytes(b"x" * 4)
    text = Path(write_generation(sshfs_mount / "history-hashes", [entry]).path).read_text()
    assert "<roothash>" not in text and ">plates</path>" not in text


def test_a_folder_sshfs_lists_again_is_looked_up_by_threads_not_one_file_at_a_time(
        tmp_path: Path, sshfs_mount: Path) -> None:
    """sshfs lists a folder it has listed before from its own cache, without the files' kinds: each
    `is_dir()` of the search for nested histories was then a call to sshfs, one after the other
    (10,600 of them in a delivery folder). Seen from outside (strace), the listing's files are looked
    up by the listing's threads and the thread that searches asks about none of them itself."""
    import sys

    from vfxcopy.core.verify import mhl_listing

    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (apt: strace)")
    folder = sshfs_mount / "listed-again"
    (folder / "sub" / "ascmhl").mkdir(parents=True)
    names = [f"f.{i:04d}.exr" for i in range(200)]
    for name in names:
        (folder / name).write_bytes(b"q")
    for _ in range(2):
        os.listdir(folder)
    with os.scandir(folder) as it:
        assert mhl_listing._kinds_cost_a_call(list(it))  # the kinds did not come with this listing
    log = tmp_path / "strace.log"
    child = ("import sys\nfrom vfxcopy.core.verify.mhl_listing import TreeListing\n"
             "t = TreeListing(sys.argv[1])\nfound = [d for d, dirs, _ in t.walk(sys.argv[1]) if 'ascmhl' in dirs]\n"
             "print(found, t.looked_up(sys.argv[1]))\n")
    done = subprocess.run([strace, "-f", "-qq", "-e", "trace=newfstatat,statx,lstat,stat", "-o", str(log),
                           sys.executable, "-c", child, str(folder)], capture_output=True, text=True, timeout=120)
    if done.returncode != 0 and "ptrace" in done.stderr:
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [f"['{folder / 'sub'}']", "True"]
    by_thread: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        pid, _, call = line.partition(" ")
        looked = re.search(r'"([^"]*)"', call)
        if looked and os.path.dirname(looked.group(1)) == str(folder) and os.path.basename(looked.group(1)) in names:
            by_thread.setdefault(pid, set()).add(os.path.basename(looked.group(1)))
    main_pid = log.read_text().split(" ", 1)[0]
    searched = by_thread.pop(main_pid, set())
    assert len(searched) <= 8  # the few asked to learn that a kind costs a call here
    assert set().union(*by_thread.values()) | searched == set(names)
    assert len(by_thread) > 1  # several threads


def test_verify_on_sshfs_hashes_several_files_at_a_time(tmp_path: Path, sshfs_mount: Path,
                                                         verify_hashing_threads: set[str]) -> None:
    """Each open and read is a round trip there (10,500 files of 1 KB: 7.2-8.2 s one at a time)."""
    from vfxcopy.core.verify import verify_destination

    src = make_byte_sequence(tmp_path / "src", count=60, size=1500)
    dest = sshfs_mount / "verify-threads"
    from vfxcopy.core.engine import run_job

    assert run_job(JobSpec(source=seq_of(src), dest_dir=str(dest), copy=CopyOptions())).state is JobState.COMPLETED
    assert list((dest / "ascmhl").glob("0001_*.mhl"))
    (dest / src[7].name).write_bytes(b"changed on the server")
    report = verify_destination(dest)
    assert verify_hashing_threads == {"vfxcopy-verify"}
    assert [m.path for m in report.altered] == [src[7].name]
    assert report.ok == sorted(p.name for p in src if p != src[7]) and not report.missing


def test_ls_on_sshfs_asks_for_the_sizes_several_at_a_time(sshfs_mount: Path, tmp_path: Path) -> None:
    """Each size is a round trip there (10,500 files on sshfs without its cache: 4.1 s one at a time);
    locally they are asked one after the other as before."""
    from vfxcopy.core import roundtrips
    from vfxcopy.core.seqfind import scan

    def listing(folder: Path) -> list[tuple[str, int | None, tuple[int, ...]]]:
        return sorted((s.head, s.total_size, s.frames) for s in scan([str(folder)], stat=True))

    stats_on: list[str] = []

    def profile(frame: object, event: str, arg: object) -> None:
        if event == "c_call" and arg is os.stat:
            stats_on.append(threading.current_thread().name)

    results = {}
    for where in (sshfs_mount / "ls-ahead", tmp_path / "ls-ahead"):
        make_byte_sequence(where, head="plate.", count=150, size=700)
        (where / "notes.txt").write_text("notes")
        (where / "sub").mkdir()
        stats_on.clear()
        threading.setprofile(profile)
        try:
            results[where] = listing(where)
        finally:
            threading.setprofile(None)  # type: ignore[arg-type]
        if where.is_relative_to(sshfs_mount):
            assert set(stats_on) == {"vfxcopy-ahead"} and len(stats_on) == 152
        else:
            assert stats_on == []  # the threads were not started: one at a time in this thread
    remote, local = results.values()
    assert remote == local and ("plate.", 150 * 700, tuple(range(1001, 1151))) in remote
    assert roundtrips.THREADS > 1


def test_a_copy_from_sshfs_looks_at_its_sources_several_at_a_time(sshfs_mount: Path, tmp_path: Path) -> None:
    """The plan looks at each source once (its size, kept for the run): a round trip each there."""
    from vfxcopy.core import preview
    from vfxcopy.core.pipeline import plan

    src = make_byte_sequence(sshfs_mount / "plan-ahead", count=100, size=333)
    spec = JobSpec(source=seq_of(src), dest_dir=str(tmp_path / "out"), copy=CopyOptions())
    looked_on: list[str] = []
    real = plan.source_size

    def watched(path: str) -> tuple[int, os.stat_result | None]:
        looked_on.append(threading.current_thread().name)
        return real(path)

    plan.source_size = watched  # type: ignore[assignment]
    try:
        planned = preview.plan_job(spec)
    finally:
        plan.source_size = real  # type: ignore[assignment]
    assert set(looked_on) == {"vfxcopy-ahead"} and len(looked_on) == 100
    assert sum(item.size for item in planned.items) == 100 * 333
    result = copy_sequence(spec, CancelToken(), lambda e: None)
    assert result.state is JobState.COMPLETED and sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        p.name for p in src)


@pytest.mark.parametrize("policy", [ConflictPolicy.SKIP, ConflictPolicy.SKIP_IDENTICAL, ConflictPolicy.FAIL])
def test_frames_removed_from_another_machine_are_delivered_again_not_skipped(
        tmp_path: Path, sshfs_mount: Path, policy: ConflictPolicy) -> None:
    """A delivery's frames removed on the server (from another machine) a moment ago are still shown
    by sshfs's cache (it keeps names and attributes 20 s). Copied again, they are written, whatever
    the policy: a skip or a conflict rests on a file the server has. Before, `skip` skipped them
    (a delivery reported complete, its frames missing, exit 0), `fail` failed them "already exists",
    `skip-identical` failed them "the source file is missing". Files the server does have are
    skipped or refused as before, untouched."""
    paths = make_byte_sequence(tmp_path / "src", count=30, size=20 * 1024)
    dest = sshfs_mount / f"again-{policy.value}"
    remote = sshfs_mount.parent / "remote" / dest.name
    opts = CopyOptions(verify=VerifyMode.NONE, fsync=False, on_conflict=policy)
    first = copy_sequence(JobSpec(seq_of(paths), str(dest), copy=opts), CancelToken(), lambda e: None)
    assert first.state is JobState.COMPLETED, first.message
    kept = {paths[3].name: paths[3].read_bytes(), paths[7].name: b"theirs, on the server"}
    (remote / paths[7].name).write_bytes(kept[paths[7].name])
    for p in paths:
        if p.name not in kept:
            (remote / p.name).unlink()  # behind the mount's back
    assert sum(os.path.lexists(dest / p.name) for p in paths) > len(kept)  # the cache still shows removed ones

    again = copy_sequence(JobSpec(seq_of(paths), str(dest), copy=opts), CancelToken(), lambda e: None)
    statuses = {Path(f.dest).name: f.status for f in again.frames}
    removed = [p for p in paths if p.name not in kept]
    assert all(statuses[p.name] is FrameStatus.DONE for p in removed), {n: s for n, s in statuses.items()
                                                                         if n not in kept and s is not FrameStatus.DONE}
    assert all((remote / p.name).read_bytes() == p.read_bytes() for p in removed)
    expected = {ConflictPolicy.SKIP: (FrameStatus.SKIPPED, FrameStatus.SKIPPED),
                ConflictPolicy.SKIP_IDENTICAL: (FrameStatus.SKIPPED, FrameStatus.FAILED),
                ConflictPolicy.FAIL: (FrameStatus.FAILED, FrameStatus.FAILED)}[policy]
    assert (statuses[paths[3].name], statuses[paths[7].name]) == expected
    assert {n: (remote / n).read_bytes() for n in kept} == kept  # never replaced
    assert leftovers(remote) == []
