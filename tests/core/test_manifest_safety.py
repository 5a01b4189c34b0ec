"""Manifest and report writes leave nothing behind: no lock file, no temp after a kill, nothing partial on a full disk.

Also: a damaged or foreign history is a clear ManifestError, a held lock can be
cancelled (Cancel, SIGTERM) or times out with a message, and the report's
thumbnail step neither reads huge or non-image frames nor ignores Cancel.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vfxcopy.core.engine import run_job
from vfxcopy.core.errors import Cancelled, ManifestError
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    CopyOptions,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
)
from vfxcopy.core.report import report_paths, write_job_report
from vfxcopy.core.samples import make_byte_sequence, make_exr_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.core.verify import (
    CHAIN_FILE,
    ManifestEntry,
    load_history,
    sweep_leftovers,
    verify_destination,
    write_generation,
)

REPO = Path(__file__).resolve().parents[2]


def copied(src_dir: Path, dest: Path, count: int = 4, size: int = 20_000, seed: int = 0,
           **opts: object) -> tuple[JobSpec, JobResult]:
    src = make_byte_sequence(src_dir, count=count, size=size, seed=seed)
    spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(dest), copy=CopyOptions(**opts))  # type: ignore[arg-type]
    result = run_job(spec)
    assert result.state is JobState.COMPLETED, result.message
    return spec, result


def entries_for(dest: Path, names: list[str]) -> list[ManifestEntry]:
    from vfxcopy.core.verify import hash_path

    out = []
    for name in names:
        st = (dest / name).stat()
        out.append(ManifestEntry(name, st.st_size, st.st_mtime, "xxh128", hash_path(str(dest / name), "xxh128")))
    return out


@pytest.fixture
def lock_holder() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Start another process that holds the manifest lock of a folder (as a stalled vfxcopy would)."""
    procs: list[subprocess.Popen[str]] = []

    def hold(folder: Path) -> subprocess.Popen[str]:
        code = ("import fcntl, os, sys, time\n"
                "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
                "fcntl.flock(fd, fcntl.LOCK_EX)\n"
                "print('locked', flush=True)\n"
                "time.sleep(120)\n")
        proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        procs.append(proc)
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


def test_a_verified_copy_leaves_no_lock_or_temp_in_the_delivery(tmp_path: Path) -> None:
    dest = tmp_path / "delivery"
    spec, _ = copied(tmp_path / "src", dest)
    copied(tmp_path / "src2", dest, seed=1, on_conflict=ConflictPolicy.OVERWRITE)  # a second job: generation 2 under the lock
    names = sorted(os.listdir(dest / "ascmhl"))
    html, csv = report_paths(spec)
    assert os.path.basename(html) in names and os.path.basename(csv) in names
    assert [n for n in names if n.startswith(".")] == []  # no lock file, no temp, nothing hidden
    assert len([n for n in names if n.endswith(".mhl")]) == 2 and CHAIN_FILE in names
    assert sorted(p.name for p in dest.iterdir()) == ["ascmhl"] + [f"plate.{f}.exr" for f in range(1001, 1005)]


def test_two_writers_at_once_get_consecutive_generations(tmp_path: Path) -> None:
    dest = tmp_path / "d"
    make_byte_sequence(dest, count=8, size=1000)
    names = sorted(p.name for p in dest.iterdir())
    errors: list[BaseException] = []

    def write(part: list[str]) -> None:
        try:
            write_generation(dest, entries_for(dest, part))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(names[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = load_history(dest)
    assert sorted(int(os.path.basename(p)[:4]) for p in history.generations) == [1, 2, 3, 4]
    assert sorted(history.records) == names
    assert [n for n in os.listdir(dest / "ascmhl") if n.startswith(".")] == []


KILLED_WRITER = """
import os, sys, time
from pathlib import Path
from vfxcopy.core.verify import ManifestEntry, write_generation
def stall(fd):  # the manifest temp is written; the machine stalls here and is killed
    print("writing", flush=True)
    time.sleep(120)
os.fsync = stall
dest = Path(sys.argv[1])
write_generation(dest, [ManifestEntry("plate.1001.exr", 5, 0.0, "xxh128", "0" * 32)])
"""


def test_a_kill_during_the_manifest_write_leaves_a_temp_that_the_next_write_sweeps(tmp_path: Path) -> None:
    dest = tmp_path / "delivery"
    copied(tmp_path / "src", dest)
    before = sorted(os.listdir(dest / "ascmhl"))
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(dest)], stdout=subprocess.PIPE, text=True,
                            cwd=REPO)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    proc.kill()
    proc.wait()
    leftovers = sorted(set(os.listdir(dest / "ascmhl")) - set(before))
    assert len(leftovers) == 1 and leftovers[0].startswith(".vfxcopy-mhl-") and leftovers[0].endswith(".tmp")
    assert verify_destination(dest).passed  # the chain and generation 1 are untouched

    # What `vfxcopy clean DEST` calls: only our own leftovers go; lookalikes stay.
    (dest / "ascmhl" / "notes.tmp").write_text("a user's file")
    (dest / "ascmhl" / ".vfxcopy-mhl-12-nothex.tmp").write_text("not a name vfxcopy makes")
    os.symlink("/etc/hostname", dest / "ascmhl" / ".vfxcopy-mhl-1-0123456789abcdef.tmp")
    removed = sweep_leftovers(dest)
    assert removed == [str(dest / "ascmhl" / leftovers[0])]
    assert {"notes.tmp", ".vfxcopy-mhl-12-nothex.tmp", ".vfxcopy-mhl-1-0123456789abcdef.tmp"} <= set(
        os.listdir(dest / "ascmhl"))
    assert Path("/etc/hostname").exists()

    # A kill again, then a normal job: its manifest write sweeps the temp first.
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(dest)], stdout=subprocess.PIPE, text=True,
                            cwd=REPO)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    proc.kill()
    proc.wait()
    result = write_generation(dest, entries_for(dest, ["plate.1001.exr"]))
    assert len(result.swept) == 1 and ".vfxcopy-mhl-" in result.swept[0]
    assert not [n for n in os.listdir(dest / "ascmhl") if n.startswith(".vfxcopy-mhl-") and n[13:14].isdigit()
                and not n.startswith(".vfxcopy-mhl-1-") and not n.startswith(".vfxcopy-mhl-12-")]


def test_old_versions_lock_file_is_removed_unless_someone_holds_it(tmp_path: Path) -> None:
    import fcntl

    dest = tmp_path / "delivery"
    copied(tmp_path / "src", dest)
    old_lock = dest / "ascmhl" / ".vfxcopy-mhl.lock"
    old_lock.write_bytes(b"")
    fd = os.open(old_lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # an older vfxcopy writing right now
    try:
        assert sweep_leftovers(dest) == []
        assert old_lock.exists()
    finally:
        os.close(fd)
    old_temp = dest / "ascmhl" / f".vfxcopy-4242-{CHAIN_FILE}.tmp"  # an older version's temp after a kill
    old_temp.write_text("<partial")
    assert sweep_leftovers(dest) == [str(old_temp), str(old_lock)]
    assert not old_lock.exists() and not old_temp.exists()


def test_waiting_for_a_held_lock_can_be_cancelled_or_gives_up_with_a_message(
    tmp_path: Path, lock_holder: Callable[[Path], subprocess.Popen[str]]
) -> None:
    dest = tmp_path / "delivery"
    make_byte_sequence(dest, count=2, size=100)
    (dest / "ascmhl").mkdir()
    lock_holder(dest / "ascmhl")
    entries = entries_for(dest, ["plate.1001.exr"])

    token = CancelToken()
    timer = threading.Timer(0.3, token.cancel)
    timer.start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        write_generation(dest, entries, token=token)
    assert time.monotonic() - started < 2

    with pytest.raises(ManifestError, match="another process") as info:
        write_generation(dest, entries, lock_timeout=0.4)
    assert str(dest / "ascmhl") in str(info.value) and "vfxcopy jobs" in str(info.value)
    assert sorted(os.listdir(dest / "ascmhl")) == []  # nothing written while waiting


SIGTERM_WRITER = """
import sys
from pathlib import Path
from vfxcopy.cli.common import CancelSignals
from vfxcopy.core.errors import Cancelled
from vfxcopy.core.jobs import CancelToken
from vfxcopy.core.verify import ManifestEntry, write_generation
token = CancelToken()
with CancelSignals(token) as guard:
    print("waiting", flush=True)
    try:
        write_generation(Path(sys.argv[1]), [ManifestEntry("plate.1001.exr", 100, 0.0, "xxh128", "0" * 32)],
                         token=token)
    except Cancelled:
        sys.exit(guard.exit_code)
sys.exit(0)
"""


def test_sigterm_stops_a_process_waiting_for_the_lock(
    tmp_path: Path, lock_holder: Callable[[Path], subprocess.Popen[str]]
) -> None:
    dest = tmp_path / "delivery"
    make_byte_sequence(dest, count=1, size=100)
    (dest / "ascmhl").mkdir()
    lock_holder(dest / "ascmhl")
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_WRITER, str(dest)], stdout=subprocess.PIPE, text=True,
                            cwd=REPO)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "waiting"
    time.sleep(0.3)  # let it reach the wait for the lock
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 143
    assert time.monotonic() - sent < 2
    assert os.listdir(dest / "ascmhl") == []


def fill(mnt: Path, leave: int) -> None:
    """Fill the file system at `mnt` up to `leave` bytes of free space."""
    with open(mnt / "filler", "wb") as fh:
        block = b"\0" * 65536
        try:
            while True:
                fh.write(block)
                fh.flush()
        except OSError:
            pass
    os.truncate(mnt / "filler", os.path.getsize(mnt / "filler") - leave)


@pytest.mark.needs_root
def test_disk_full_during_the_manifest_is_a_clear_error_and_leaves_nothing_partial(
    tmp_path: Path, tmpfs_mount: Callable[[str], Path]
) -> None:
    mnt = tmpfs_mount("4m")
    dest = mnt / "delivery"
    make_byte_sequence(dest, head="plate_with_a_rather_long_name_to_make_the_manifest_big.", count=300, size=1000)
    names = sorted(p.name for p in dest.iterdir())
    entries = entries_for(dest, names)
    write_generation(dest, entries[:10])  # generation 1: must survive untouched
    gen1 = sorted(os.listdir(dest / "ascmhl"))
    chain = (dest / "ascmhl" / CHAIN_FILE).read_bytes()
    fill(mnt, leave=16 * 1024)  # the next generation (~150 KB) does not fit

    with pytest.raises(ManifestError) as info:
        write_generation(dest, entries)
    message = str(info.value)
    assert str(dest / "ascmhl") in message and "No space left" in message and "free some space" in message
    assert sorted(os.listdir(dest / "ascmhl")) == gen1  # no generation 2, no temp
    assert (dest / "ascmhl" / CHAIN_FILE).read_bytes() == chain

    # The report: the same all-or-nothing rule.
    spec = JobSpec(source=find_sequence(dest / names[0]), dest_dir=str(dest))
    frames = [FrameResult(spec.job_id, i, 1001 + i, str(dest / n), str(dest / n), FrameStatus.DONE, 1000, e.hash,
                          "xxh3") for i, (n, e) in enumerate(zip(names, entries, strict=True))]
    with pytest.raises(ManifestError, match="No space left"):
        write_job_report(spec, JobResult(spec.job_id, JobState.COMPLETED, frames), frames, None, thumbnails=False)
    assert sorted(os.listdir(dest / "ascmhl")) == gen1
    os.unlink(mnt / "filler")
    assert write_generation(dest, entries).generation == 2  # with space again, all is well
    assert verify_destination(dest).passed


@pytest.mark.parametrize(
    "damage",
    ["garbage chain", "truncated chain", "foreign generation", "generation not xml", "missing generation"],
)
def test_a_damaged_or_foreign_history_is_a_clear_manifest_error(tmp_path: Path, damage: str) -> None:
    from vfxcopy.core.verify import c4_id

    dest = tmp_path / "delivery"
    copied(tmp_path / "src", dest)
    folder = dest / "ascmhl"
    chain = folder / CHAIN_FILE
    (gen,) = folder.glob("*.mhl")

    def relist(data: bytes) -> None:
        """Replace the generation and list its new C4 in the chain, as another tool would."""
        text = chain.read_text().replace(c4_id(gen.read_bytes()), c4_id(data))
        gen.write_bytes(data)
        chain.write_text(text)

    if damage == "garbage chain":
        chain.write_bytes(os.urandom(300))
    elif damage == "truncated chain":
        chain.write_bytes(chain.read_bytes()[:120])
    elif damage == "foreign generation":
        relist(b'<?xml version="1.0"?><hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0"><hashes><hash>'
               b'<path size="many">plate.1001.exr</path><md5 action="original">zz</md5></hash></hashes></hashlist>')
    elif damage == "generation not xml":
        relist(b"\x00\x01 this is not a manifest")
    else:
        gen.unlink()
    with pytest.raises(ManifestError) as info:
        verify_destination(dest)
    message = str(info.value)
    assert str(folder) in message and "restore it from a backup" in message
    with pytest.raises(ManifestError):
        write_generation(dest, entries_for(dest, ["plate.1001.exr"]))  # a copy into it: same error
    assert not [n for n in os.listdir(folder) if n.startswith("0002") or n.startswith(".")]


def test_report_thumbnails_skip_huge_and_non_image_frames_and_honour_cancel(tmp_path: Path) -> None:
    dest = tmp_path / "dst"
    frames_src = make_exr_sequence(tmp_path / "src", count=3)
    dest.mkdir()
    paths = []
    for p in frames_src:
        paths.append(dest / p.name)
        paths[-1].write_bytes(p.read_bytes())
    huge = dest / "shot_010.0004.exr"
    with open(huge, "wb") as fh:
        fh.truncate(3 << 30)  # sparse 3 GiB of zeros: OpenImageIO probed such a file for over a minute
    zeros = dest / "shot_010.0005.exr"
    zeros.write_bytes(b"\0" * 100_000)
    paths += [huge, zeros]
    spec = JobSpec(source=find_sequence(paths[0]), dest_dir=str(dest))
    frames = [FrameResult(spec.job_id, i, i + 1, str(p), str(p), FrameStatus.DONE, p.stat().st_size)
              for i, p in enumerate(paths)]
    result = JobResult(spec.job_id, JobState.COMPLETED, frames)

    started = time.monotonic()
    html_name, _csv = write_job_report(spec, result, frames, None)
    html = Path(html_name)
    assert time.monotonic() - started < 20
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "shot_010.0004.exr: no thumbnail (3.0 GiB, above the 256.0 MiB thumbnail limit)" in page
    assert "shot_010.0005.exr: no thumbnail (not an image file)" in page

    html.unlink()
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        write_job_report(spec, result, frames, None, token=token)
    assert [n for n in os.listdir(dest / "ascmhl") if not n.endswith(".csv")] == []


def test_a_planted_ascmhl_link_is_refused_not_written_through(tmp_path: Path) -> None:
    dest = tmp_path / "delivery"
    make_byte_sequence(dest, count=2, size=100)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, dest / "ascmhl")
    with pytest.raises(ManifestError, match="ascmhl"):
        write_generation(dest, entries_for(dest, ["plate.1001.exr"]))
    spec = JobSpec(source=find_sequence(dest / "plate.1001.exr"), dest_dir=str(dest))
    with pytest.raises(ManifestError):
        write_job_report(spec, JobResult(spec.job_id, JobState.COMPLETED, []), [], None, thumbnails=False)
    assert list(elsewhere.iterdir()) == []
