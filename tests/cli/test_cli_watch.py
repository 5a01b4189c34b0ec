"""`vfxcopy watch`: landed sequences are copied once; Ctrl-C/SIGTERM stop cleanly; restarts remember."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vfxcopy.cli import main
from vfxcopy.core.jobs import is_temp_name
from vfxcopy.core.journal import Journal, default_journal_path
from vfxcopy.core.samples import make_byte_sequence

TIMEOUT = 60.0


class WatchProcess:
    """`vfxcopy watch ... --json` in a child process; its JSON lines collected as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vfxcopy", "watch", *args, "--json", "--no-fsync", "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.events: list[dict[str, Any]] = []
        self.stderr = ""
        self._lock = threading.Lock()
        self._out = threading.Thread(target=self._read_out, daemon=True)
        self._err = threading.Thread(target=self._read_err, daemon=True)
        self._out.start()
        self._err.start()

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                self.events.append(json.loads(line))

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self.stderr += line

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e["event"] == kind]

    def wait_event(self, kind: str, count: int = 1) -> list[dict[str, Any]]:
        wait_for(lambda: len(self.of(kind)) >= count or self.proc.poll() is not None, what=kind)
        found = self.of(kind)
        assert len(found) >= count, f"process ended early: {self.proc.returncode}\n{self.stderr}"
        return found

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(TIMEOUT)
        self._out.join(TIMEOUT)
        self._err.join(TIMEOUT)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)


def wait_for(predicate: Callable[[], bool], timeout: float = TIMEOUT, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def drop_sequence(folder: Path, count: int, size: int, head: str = "plate.") -> list[Path]:
    """Frames written elsewhere and renamed in, as a render farm's delivery does."""
    staging = folder.parent / f".staging-{head}"
    paths = make_byte_sequence(staging, head=head, count=count, size=size)
    out = []
    for path in paths:
        target = folder / path.name
        os.replace(path, target)
        out.append(target)
    return out


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()} if folder.exists() else {}


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def test_watch_copies_a_landed_sequence_once_and_stops_with_0(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    watch = WatchProcess(str(inbox), "--to", str(out / "{head}"), "--settle", "0.5")
    try:
        watch.wait_event("watching")
        frames = drop_sequence(inbox, count=8, size=4096)
        (inbox / ".hidden.1001.exr").write_bytes(b"not this")
        finished = watch.wait_event("finished")
        time.sleep(1.0)  # a second job would be queued within the settle time
        code = watch.stop(signal.SIGINT)
    finally:
        watch.kill()
    assert code == 0, watch.stderr
    queued = watch.of("queued")
    assert len(queued) == 1 and len(finished) == 1
    assert queued[0]["frames"] == 8 and queued[0]["origin"] == f"watch:{inbox.name}"
    assert finished[0]["state"] == "completed" and finished[0]["frames_done"] == 8
    dest = out / "plate"
    assert files(dest) == {p.name: p.read_bytes() for p in frames}
    assert watch.of("stopped")[0]["exit_code"] == 0
    assert "queued plate.####.exr 1001-1008" in watch.stderr and "finished" in watch.stderr
    # The job is in the journal, marked with its origin, with every frame up to the last one.
    with Journal(default_journal_path()) as journal:
        job = journal.get_job(queued[0]["job_id"])
        assert job is not None and job.state.value == "completed" and job.spec.origin == f"watch:{inbox.name}"
        recorded = journal.frames(job.job_id)
        assert [f.frame for f in recorded] == list(range(1001, 1009))
        assert all(f.status.value == "done" and f.hash for f in recorded)


def test_restart_does_not_requeue_and_growth_makes_a_follow_up(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = (str(inbox), "--to", str(out), "--settle", "0.5")
    drop_sequence(inbox, count=5, size=2048)
    first = WatchProcess(*args)
    try:
        first.wait_event("finished")
        assert first.stop() == 0
    finally:
        first.kill()
    assert len(files(out)) == 5

    second = WatchProcess(*args)
    try:
        second.wait_event("watching")
        time.sleep(2.0)  # four settle times: a re-queue would have happened by now
        assert second.of("queued") == [], "a handled sequence was queued again after a restart"
        # Two more frames of the same sequence: one follow-up job with only those.
        extra = make_byte_sequence(tmp_path / "more", start=1006, count=2, size=2048)
        for path in extra:
            os.replace(path, inbox / path.name)
        queued = second.wait_event("queued")
        finished = second.wait_event("finished")
        assert second.stop() == 0
    finally:
        second.kill()
    assert queued[0]["follow_up"] is True and queued[0]["frames"] == 2
    assert finished[0]["frames_total"] == 2 and finished[0]["state"] == "completed"
    assert sorted(files(out)) == [f"plate.{f}.exr" for f in range(1001, 1008)]


def test_sigterm_cancels_the_running_job_cleanly_with_143(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    frames = drop_sequence(inbox, count=6, size=1 << 20)
    # 256 KiB/s: each 1 MiB frame takes seconds, so the job is surely running when cancelled.
    watch = WatchProcess(str(inbox), "--to", str(out), "--settle", "0.5", "--bwlimit", "256K")
    try:
        watch.wait_event("queued")
        time.sleep(0.5)
        code = watch.stop(signal.SIGTERM)
    finally:
        watch.kill()
    assert code == 143, watch.stderr  # 128 + SIGTERM, as the exit-code contract says
    finished = watch.of("finished")
    assert finished and finished[0]["state"] == "cancelled"
    assert watch.of("stopped")[0]["exit_code"] == 143
    assert not [n for n in os.listdir(out) if is_temp_name(n)] if out.exists() else True
    sources = {p.name: p.read_bytes() for p in frames}
    for name, data in files(out).items():
        assert data == sources[name], f"{name} is partial"

    # The frames the cancel left out are queued again next time, and only those.
    done_before = set(files(out))
    again = WatchProcess(str(inbox), "--to", str(out), "--settle", "0.5")
    try:
        queued = again.wait_event("queued")
        finished = again.wait_event("finished")
        assert again.stop() == 0
    finally:
        again.kill()
    assert queued[0]["frames"] == 6 - len(done_before)
    assert finished[0]["state"] == "completed"
    assert files(out) == sources


def test_a_watch_killed_mid_job_resumes_it_when_it_starts_again(inbox: Path, tmp_path: Path) -> None:
    """kill -9 (a crash, a reboot) while a landed sequence is copied: its frames are remembered as
    handled, so a restarted watch never queued them again, and its temporaries stayed. The next
    start removes them and resumes the job, copying only what it had not placed; once only."""
    out = tmp_path / "out"
    frames = drop_sequence(inbox, count=6, size=1 << 20)
    watch = WatchProcess(str(inbox), "--to", str(out), "--settle", "0.5", "--bwlimit", "1M")
    try:
        (queued,) = watch.wait_event("queued")
        wait_for(lambda: len(files(out)) >= 2, what="two frames placed")
        watch.proc.send_signal(signal.SIGKILL)
        watch.proc.wait(TIMEOUT)
    finally:
        watch.kill()
    placed = {name: os.stat(out / name).st_ino for name in files(out)}
    assert 2 <= len(placed) < 6
    assert [n for n in os.listdir(out) if n.startswith(".vfxcopy-")]  # what the kill left

    again = WatchProcess(str(inbox), "--to", str(out), "--settle", "0.5")
    try:
        (resumed,) = again.wait_event("queued")
        (finished,) = again.wait_event("finished")
        time.sleep(1.5)  # a settle time and more: nothing else is queued
        assert again.stop() == 0, again.stderr
    finally:
        again.kill()
    assert resumed["job_id"] == queued["job_id"] and resumed["resumed"] is True
    assert finished["state"] == "completed" and len(again.of("queued")) == 1
    assert finished["frames_done"] + finished["frames_skipped"] == 6 and finished["frames_failed"] == 0, finished
    assert {name: os.stat(out / name).st_ino for name in placed} == placed  # in place before: kept, not copied again
    assert files(out) == {p.name: p.read_bytes() for p in frames}
    assert sorted(n for n in os.listdir(out) if not n.endswith(".exr")) == ["ascmhl"]  # no temporaries

    third = WatchProcess(str(inbox), "--to", str(out), "--settle", "0.5")  # resumed once, not every start
    try:
        third.wait_event("watching")
        time.sleep(1.5)
        assert third.stop() == 0
    finally:
        third.kill()
    assert third.of("queued") == []


def test_a_job_with_failed_frames_makes_the_watch_exit_1(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "plate.1003.exr").write_bytes(b"a different file already delivered")
    watch = WatchProcess(str(inbox), "--to", str(out), "--settle", "0.5")
    try:
        watch.wait_event("watching")
        frames = drop_sequence(inbox, count=4, size=4096)
        finished = watch.wait_event("finished")
        code = watch.stop(signal.SIGINT)
    finally:
        watch.kill()
    assert code == 1, watch.stderr
    assert finished[0]["frames_failed"] == 1 and finished[0]["frames_done"] == 3
    assert watch.of("stopped")[0]["exit_code"] == 1 and watch.of("stopped")[0]["jobs_failed"] == 1
    assert "1 with failed frames" in watch.stderr
    assert watch.stderr.count("plate.1003.exr: exists and differs") == 1  # said once, with its path
    assert (out / "plate.1003.exr").read_bytes() == b"a different file already delivered"  # never clobbered
    assert (out / "plate.1004.exr").read_bytes() == frames[3].read_bytes()


def test_destination_linked_into_the_watched_folder_is_refused_exit_2(
    inbox: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (inbox / "copies").mkdir()
    link = tmp_path / "elsewhere"
    link.symlink_to(inbox / "copies")
    assert main(["watch", str(inbox), "--to", str(link / "{head}")]) == 2
    assert "inside the watched folder" in capsys.readouterr().err


def test_usage_errors_exit_2(inbox: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", str(tmp_path / "missing"), "--to", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["watch", str(inbox), "--to", str(inbox / "copies")]) == 2
    assert "inside the watched folder" in capsys.readouterr().err
    assert main(["watch", str(inbox), "--to", str(tmp_path / "o"), "--preset", "no such preset"]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert main(["watch", str(inbox), "--to", str(tmp_path / "{shot}")]) == 2
    assert "{shot}" in capsys.readouterr().err
    assert main(["watch", str(inbox), "--to", str(tmp_path / "o"), "--settle", "0"]) == 2
    assert "settle" in capsys.readouterr().err


def test_watch_with_a_preset_converts(inbox: Path, tmp_path: Path, exr_seq_session: list[Path]) -> None:
    import shutil

    out = tmp_path / "out"
    watch = WatchProcess(str(inbox), "--to", str(out / "{head}_{ext}"), "--preset", "PNG 8-bit sRGB",
                         "--settle", "0.5")
    try:
        watch.wait_event("watching")
        staging = tmp_path / "staging"
        staging.mkdir()
        for path in exr_seq_session[:4]:
            shutil.copy(path, staging / path.name)
            os.replace(staging / path.name, inbox / path.name)
        finished = watch.wait_event("finished")
        assert watch.stop() == 0
    finally:
        watch.kill()
    assert finished[0]["state"] == "completed" and finished[0]["spec"]["operation"] == "convert"
    pngs = sorted(p.name for p in (out / "shot_010_exr").glob("*.png"))
    assert pngs == [p.name.replace(".exr", ".png") for p in exr_seq_session[:4]]
    assert all((out / "shot_010_exr" / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in pngs)


def test_watch_lines_show_a_landed_name_escaped(inbox: Path, tmp_path: Path) -> None:
    """"queued" and "finished" printed a name holding a terminal escape sequence or a newline as it was."""
    out = tmp_path / "out"
    watch = WatchProcess(str(inbox), "--to", str(out), "--settle", "0.5")
    try:
        watch.wait_event("watching")
        staging = tmp_path / "staging"
        staging.mkdir()
        (staging / "esc\x1b[31mred\nn.1001.exr").write_bytes(b"x")
        os.replace(staging / "esc\x1b[31mred\nn.1001.exr", inbox / "esc\x1b[31mred\nn.1001.exr")
        watch.wait_event("finished")
        code = watch.stop(signal.SIGINT)
    finally:
        watch.kill()
    assert code == 0, watch.stderr
    assert "\x1b" not in watch.stderr
    assert "queued esc\\x1b[31mred\\x0an.####.exr 1001 (1 frame) ->" in watch.stderr, watch.stderr
    assert (out / "esc\x1b[31mred\nn.1001.exr").read_bytes() == b"x"
