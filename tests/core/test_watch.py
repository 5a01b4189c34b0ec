"""Watch folders: sequences are queued once, after they finish landing, and never twice."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchdog.observers.polling import PollingObserver

from vfxcopy.core.jobs import Operation, temp_name
from vfxcopy.core.journal import Journal
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.watch import (
    FolderWatcher,
    JournalHandledStore,
    ManualClock,
    MemoryHandledStore,
    SqliteHandledStore,
    WatchError,
    WatchRule,
    default_store,
    make_spec,
    migrate_legacy_store,
    parse_frame_name,
    rule_name_from_origin,
)

TIMEOUT = 30.0  # generous: the machine is shared and slow at times


class Landings:
    """Collects on_landed calls from the watcher's thread."""

    def __init__(self) -> None:
        self.items: list[tuple[Sequence, list[int] | None]] = []
        self._lock = threading.Lock()

    def __call__(self, rule: WatchRule, sequence: Sequence, frames: list[int] | None) -> None:
        with self._lock:
            self.items.append((sequence, frames))

    def __len__(self) -> int:
        with self._lock:
            return len(self.items)


def wait_for(predicate: Callable[[], bool], timeout: float = TIMEOUT, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def settle_until(watcher: FolderWatcher, clock: ManualClock, landings: Landings, count: int) -> None:
    """Let settle time pass (manual clock) until `count` landings happened.

    A late event (a close after the create) may push a deadline once more, so
    keep moving the clock instead of assuming one step is enough.
    """
    end = time.monotonic() + TIMEOUT
    while len(landings) < count:
        assert time.monotonic() < end, f"only {len(landings)} of {count} landings"
        clock.advance(watcher.rule.settle + 0.1)
        watcher.tick()
        time.sleep(0.05)


def write_frame(path: Path, size: int = 2048, chunks: int = 2) -> None:
    """Write a frame in place, in pieces, the way a renderer does."""
    piece = max(1, size // chunks)
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            data = os.urandom(min(piece, size - written))
            fh.write(data)
            fh.flush()
            written += len(data)


def frame_path(folder: Path, frame: int, head: str = "shot_010.", tail: str = ".exr") -> Path:
    return folder / f"{head}{frame:04d}{tail}"


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    return inbox, tmp_path / "out"


@pytest.fixture
def watch(folders: tuple[Path, Path]) -> Iterator[Callable[..., tuple[FolderWatcher, Landings, ManualClock]]]:
    """Start watchers on a manual clock; every one is stopped at the end of the test."""
    started: list[FolderWatcher] = []

    def start(rule: WatchRule | None = None, *, store: object = None, **kwargs: object
              ) -> tuple[FolderWatcher, Landings, ManualClock]:
        inbox, out = folders
        rule = rule or WatchRule("plates", str(inbox), str(out / "{head}"), settle=1.0)
        landings = Landings()
        clock = ManualClock()
        watcher = FolderWatcher(rule, landings, store=store or MemoryHandledStore(), clock=clock,
                                **kwargs)  # type: ignore[arg-type]
        started.append(watcher)
        watcher.start()
        assert watcher.wait_ready(TIMEOUT)
        return watcher, landings, clock

    try:
        yield start
    finally:
        for watcher in started:
            watcher.stop()


def silent_observer(rule: WatchRule) -> PollingObserver:
    """Stands for a network mount that sends no change events (it polls once an hour)."""
    return PollingObserver(timeout=3600)


# -- landing ----------------------------------------------------------------


def test_frame_by_frame_with_short_pauses_is_one_job_after_the_last_frame(watch, folders) -> None:
    inbox, _ = folders
    watcher, landings, clock = watch()
    for i, frame in enumerate(range(1001, 1011)):
        write_frame(frame_path(inbox, frame))
        wait_for(lambda n=i + 1: watcher.known_frames() == n, what=f"frame {frame} seen")
        # A pause shorter than the settle time: nothing may be queued yet.
        clock.advance(watcher.rule.settle * 0.6)
        watcher.tick()
        assert len(landings) == 0, f"queued before the last frame (after frame {frame})"

    settle_until(watcher, clock, landings, 1)
    sequence, frames = landings.items[0]
    assert frames is None
    assert sequence.frames == tuple(range(1001, 1011))
    assert sequence.head == "shot_010." and sequence.tail == ".exr" and sequence.padding == 4
    assert sequence.directory == str(inbox)
    assert sequence.total_size == 10 * 2048

    clock.advance(10 * watcher.rule.settle)
    watcher.tick()
    time.sleep(0.2)
    assert len(landings) == 1, "a landed sequence was queued again"


def test_frame_by_frame_on_the_real_clock(folders) -> None:
    inbox, out = folders
    landings = Landings()
    rule = WatchRule("plates", str(inbox), str(out), settle=1.5)
    watcher = FolderWatcher(rule, landings, store=MemoryHandledStore())
    try:
        watcher.start()
        assert watcher.wait_ready(TIMEOUT)
        for frame in range(1, 7):
            write_frame(inbox / f"comp_v003.{frame:04d}.dpx", size=1024)
            time.sleep(0.1)
            assert len(landings) == 0
        written_at = time.monotonic()
        wait_for(lambda: len(landings) == 1, what="the landing")
        assert time.monotonic() - written_at >= 1.0, "queued before the settle time passed"
        time.sleep(0.5)
        assert len(landings) == 1
        sequence, frames = landings.items[0]
        assert sequence.frames == tuple(range(1, 7)) and frames is None
    finally:
        watcher.stop()


def test_temp_then_rename_lands_only_the_final_names(watch, folders) -> None:
    inbox, _ = folders
    watcher, landings, clock = watch()
    for frame in range(1001, 1006):
        tmp = inbox / f"shot_010.{frame:04d}.exr.tmp"
        write_frame(tmp)
        os.replace(tmp, frame_path(inbox, frame))
    wait_for(lambda: watcher.known_frames() == 5, what="five renamed frames")
    settle_until(watcher, clock, landings, 1)
    sequence, frames = landings.items[0]
    assert sequence.frames == tuple(range(1001, 1006)) and frames is None
    assert all(sequence.path(f).exists() for f in sequence.frames)


def test_moving_a_finished_folder_in(watch, folders, tmp_path: Path) -> None:
    inbox, out = folders
    rule = WatchRule("deliveries", str(inbox), str(out / "{parent}"), recursive=True, settle=1.0)
    watcher, landings, clock = watch(rule)
    staging = tmp_path / "staging" / "sh020_comp_v001"
    staging.mkdir(parents=True)
    for frame in range(1001, 1025):
        write_frame(frame_path(staging, frame, head="sh020_comp_v001."), size=1024)
    os.rename(staging, inbox / "sh020_comp_v001")
    wait_for(lambda: watcher.known_frames() == 24, what="the moved folder's frames")
    settle_until(watcher, clock, landings, 1)
    sequence, frames = landings.items[0]
    assert sequence.directory == str(inbox / "sh020_comp_v001")
    assert sequence.frames == tuple(range(1001, 1025)) and frames is None
    spec = make_spec(rule, sequence, frames)
    assert spec.dest_dir == str(out / "sh020_comp_v001")


def test_781_frames_dropped_at_once_none_missed(watch, folders) -> None:
    inbox, _ = folders
    watcher, landings, clock = watch()
    sizes = {}
    for frame in range(1001, 1782):
        size = 1024 + (frame * 37) % 3072  # 1-4 KB, all different
        frame_path(inbox, frame).write_bytes(b"\x01" * size)
        sizes[frame] = size
    wait_for(lambda: watcher.known_frames() == 781, what="all 781 frames")
    settle_until(watcher, clock, landings, 1)
    sequence, frames = landings.items[0]
    assert frames is None
    assert sequence.frames == tuple(range(1001, 1782))
    assert sequence.missing() == []
    assert sequence.total_size == sum(sizes.values())
    time.sleep(0.2)
    assert len(landings) == 1


def test_growing_sequence_gets_one_follow_up_with_only_the_new_frames(watch, folders) -> None:
    inbox, _ = folders
    watcher, landings, clock = watch()
    for frame in range(1001, 1011):
        write_frame(frame_path(inbox, frame))
    wait_for(lambda: watcher.known_frames() == 10)
    settle_until(watcher, clock, landings, 1)

    for frame in range(1011, 1016):
        write_frame(frame_path(inbox, frame))
        wait_for(lambda n=frame - 1000: watcher.known_frames() == n)
        clock.advance(watcher.rule.settle * 0.5)
        watcher.tick()
    assert len(landings) == 1, "a follow-up was queued while frames were still arriving"
    settle_until(watcher, clock, landings, 2)
    sequence, frames = landings.items[1]
    assert frames == [1011, 1012, 1013, 1014, 1015]
    assert sequence.frames == tuple(range(1001, 1016))
    spec = make_spec(watcher.rule, sequence, frames)
    assert spec.selected_frames() == [1011, 1012, 1013, 1014, 1015]
    assert "+5 new frames" in spec.display_name()

    clock.advance(5 * watcher.rule.settle)
    watcher.tick()
    time.sleep(0.2)
    assert len(landings) == 2


def test_a_frame_still_growing_at_the_deadline_postpones_the_landing(watch, folders) -> None:
    inbox, _ = folders
    # No events at all (a silent mount): only the size check at the deadline can see the growth.
    rule = WatchRule("plates", str(inbox), str(folders[1]), settle=1.0, polling=True)
    watcher, landings, clock = watch(rule, observer_factory=silent_observer)
    for frame in range(1, 4):
        frame_path(inbox, frame).write_bytes(b"a" * 1000)
    watcher.rescan()
    assert watcher.known_frames() == 3
    with open(frame_path(inbox, 3), "ab") as fh:
        fh.write(b"b" * 1000)
    clock.advance(1.1)
    assert watcher.tick() == []
    assert len(landings) == 0, "landed while a frame was still growing"
    settle_until(watcher, clock, landings, 1)
    assert landings.items[0][0].total_size == 4000


def test_expected_range_lands_as_soon_as_complete(watch, folders) -> None:
    inbox, out = folders
    rule = WatchRule("plates", str(inbox), str(out), settle=3600, expected_range=(1001, 1005))
    watcher, landings, clock = watch(rule)
    for frame in range(1001, 1005):
        write_frame(frame_path(inbox, frame))
    wait_for(lambda: watcher.known_frames() == 4)
    watcher.tick()
    assert len(landings) == 0, "landed with a frame of the expected range missing"
    write_frame(frame_path(inbox, 1005))
    wait_for(lambda: len(landings) == 1, what="landing on the complete range")
    assert landings.items[0][0].frames == tuple(range(1001, 1006))


# -- what is ignored ----------------------------------------------------------


def test_temporary_hidden_and_other_files_are_ignored(watch, folders) -> None:
    inbox, _ = folders
    watcher, landings, clock = watch()
    (inbox / temp_name("0123456789ab", 3)).write_bytes(b"x" * 100)  # vfxcopy's own temporary
    (inbox / ".shot_010.1001.exr").write_bytes(b"x" * 100)  # hidden
    (inbox / "shot_010.1002.exr.tmp").write_bytes(b"x" * 100)  # a renderer's temporary
    (inbox / "shot_010.1003.exr.part").write_bytes(b"x" * 100)
    (inbox / "notes.txt").write_text("not an image")
    hidden_dir = inbox / ".cache"
    hidden_dir.mkdir()
    (hidden_dir / "thumb.0001.jpg").write_bytes(b"x" * 100)
    write_frame(frame_path(inbox, 1001))
    wait_for(lambda: watcher.known_frames() >= 1)
    time.sleep(0.3)  # give any wrongly accepted event the time to arrive
    assert watcher.known_frames() == 1
    settle_until(watcher, clock, landings, 1)
    time.sleep(0.2)
    assert len(landings) == 1
    assert landings.items[0][0].frames == (1001,)


def test_reading_the_frames_does_not_restart_the_settle_timer(watch, folders) -> None:
    inbox, _ = folders
    watcher, landings, clock = watch()
    for frame in range(1001, 1006):
        tmp = inbox / f".incoming.{frame}"
        tmp.write_bytes(b"z" * 3000)
        os.replace(tmp, frame_path(inbox, frame))  # one event per frame, nothing late
    wait_for(lambda: watcher.known_frames() == 5)
    time.sleep(0.2)
    clock.advance(watcher.rule.settle * 0.6)
    watcher.tick()
    assert len(landings) == 0
    for frame in range(1001, 1006):  # what the copy engine (or a viewer) does
        with open(frame_path(inbox, frame), "rb") as fh:
            assert len(fh.read()) == 3000
    time.sleep(0.5)  # the open/close events would have arrived by now
    clock.advance(watcher.rule.settle * 0.5)
    watcher.tick()
    assert len(landings) == 1, "reads restarted the settle timer"


def test_non_recursive_rule_ignores_sub_folders(watch, folders) -> None:
    inbox, _ = folders
    watcher, landings, clock = watch()
    sub = inbox / "sub"
    sub.mkdir()
    write_frame(frame_path(sub, 1))
    write_frame(frame_path(inbox, 7, head="top."))
    wait_for(lambda: watcher.known_frames() == 1)
    settle_until(watcher, clock, landings, 1)
    time.sleep(0.2)
    assert [s.head for s, _ in landings.items] == ["top."]


# -- restarts, rescans ----------------------------------------------------------


def test_restart_does_not_requeue_a_handled_sequence(watch, folders, tmp_path: Path) -> None:
    inbox, _ = folders
    journal_path = tmp_path / "journal.sqlite3"
    journal1 = Journal(journal_path)
    first, landings1, clock1 = watch(store=JournalHandledStore(journal1))
    for frame in range(1001, 1013):
        write_frame(frame_path(inbox, frame))
    wait_for(lambda: first.known_frames() == 12)
    settle_until(first, clock1, landings1, 1)
    first.stop()
    journal1.close()

    # A new process: the journal opened again, a fresh watcher.
    journal2 = Journal(journal_path)
    try:
        second, landings2, clock2 = watch(store=default_store(journal2))
        _second_run(second, landings2, clock2, inbox)
    finally:
        second.stop()
        journal2.close()


def _second_run(second: FolderWatcher, landings2: Landings, clock2: ManualClock, inbox: Path) -> None:
    assert second.known_frames() == 12  # the initial scan saw them
    for _ in range(3):
        clock2.advance(second.rule.settle + 0.1)
        second.tick()
    time.sleep(0.2)
    assert len(landings2) == 0, "a handled sequence was queued again after a restart"

    write_frame(frame_path(inbox, 1013))
    wait_for(lambda: second.known_frames() == 13)
    settle_until(second, clock2, landings2, 1)
    assert landings2.items[0][1] == [1013]


def test_rewritten_frame_counts_as_new(watch, folders) -> None:
    inbox, _ = folders
    watcher, landings, clock = watch()
    for frame in range(1, 4):
        frame_path(inbox, frame).write_bytes(b"a" * 100)
    wait_for(lambda: watcher.known_frames() == 3)
    settle_until(watcher, clock, landings, 1)
    assert landings.items[0][0].total_size == 300
    frame_path(inbox, 2).write_bytes(b"b" * 200)  # re-rendered: same frame, new size
    wait_for(lambda: bool(watcher.pending()), what="the rewrite to be seen")
    settle_until(watcher, clock, landings, 2)
    assert landings.items[1][1] == [2]


def test_old_stand_alone_store_is_migrated_into_the_journal(tmp_path: Path) -> None:
    legacy = tmp_path / "watch.sqlite"
    SqliteHandledStore(legacy).record("plates", "/in\0a.\0.exr", {1: 10, 2: 20})
    with Journal(tmp_path / "journal.sqlite3") as journal:
        assert migrate_legacy_store(journal, legacy) == 1
        assert JournalHandledStore(journal).load("plates", "/in\0a.\0.exr") == {1: 10, 2: 20}
        assert not legacy.exists() and (tmp_path / "watch.sqlite.migrated").exists()
        assert migrate_legacy_store(journal, legacy) == 0


def test_existing_unhandled_sequence_is_queued_at_start(watch, folders) -> None:
    inbox, _ = folders
    for frame in range(1, 4):
        write_frame(frame_path(inbox, frame))
    watcher, landings, clock = watch()
    settle_until(watcher, clock, landings, 1)
    assert landings.items[0][0].frames == (1, 2, 3)


def test_process_existing_off_queues_only_what_arrives(watch, folders) -> None:
    inbox, out = folders
    for frame in range(1, 4):
        write_frame(frame_path(inbox, frame))
    rule = WatchRule("plates", str(inbox), str(out), settle=1.0, process_existing=False)
    watcher, landings, clock = watch(rule)
    clock.advance(5)
    watcher.tick()
    assert len(landings) == 0
    write_frame(frame_path(inbox, 4))
    wait_for(lambda: watcher.known_frames() == 4)
    settle_until(watcher, clock, landings, 1)
    assert landings.items[0][1] == [4]


def test_a_mount_without_events_is_caught_by_the_periodic_rescan(watch, folders) -> None:
    inbox, out = folders
    rule = WatchRule("nas", str(inbox), str(out), settle=1.0, polling=True)
    watcher, landings, clock = watch(rule, observer_factory=silent_observer, rescan_interval=30.0)
    for frame in range(1, 21):
        frame_path(inbox, frame).write_bytes(b"q" * 1500)
    time.sleep(0.3)
    assert watcher.known_frames() == 0  # no events: nothing known yet
    clock.advance(31.0)  # the rescan is due
    wait_for(lambda: watcher.known_frames() == 20, what="the periodic rescan")
    settle_until(watcher, clock, landings, 1)
    assert landings.items[0][0].frames == tuple(range(1, 21))


def test_an_inotify_overflow_triggers_a_rescan(watch, folders) -> None:
    inbox, out = folders
    rule = WatchRule("plates", str(inbox), str(out), settle=1.0)
    watcher, landings, clock = watch(rule, observer_factory=silent_observer)
    for frame in range(1, 6):
        frame_path(inbox, frame).write_bytes(b"q" * 1500)
    before = watcher.rescans
    # watchdog 7 reports a kernel queue overflow only as this log line.
    logging.getLogger("watchdog.observers.inotify_c").warning(
        "Inotify queue overflowed; filesystem events were lost")
    wait_for(lambda: watcher.known_frames() == 5 and watcher.rescans > before, what="the rescan")
    settle_until(watcher, clock, landings, 1)
    assert landings.items[0][0].frames == tuple(range(1, 6))


def test_polling_rule_sees_frames(folders) -> None:
    inbox, out = folders
    landings = Landings()
    rule = WatchRule("nas", str(inbox), str(out), settle=1.0, polling=True)
    clock = ManualClock()
    watcher = FolderWatcher(rule, landings, store=MemoryHandledStore(), clock=clock,
                            observer_factory=lambda r: PollingObserver(timeout=0.2))
    try:
        watcher.start()
        assert watcher.wait_ready(TIMEOUT)
        for frame in range(1, 4):
            frame_path(inbox, frame).write_bytes(b"p" * 500)
        wait_for(lambda: watcher.known_frames() == 3, what="the polling observer")
        settle_until(watcher, clock, landings, 1)
        assert landings.items[0][0].frames == (1, 2, 3)
    finally:
        watcher.stop()


# -- rules and specs -----------------------------------------------------------


def test_rule_round_trips_through_json(tmp_path: Path) -> None:
    rule = WatchRule("Proxies", str(tmp_path), "/mnt/out/{date}/{parent}/{head}", recursive=True,
                     include=["*.exr", "dpx"], operation=Operation.CONVERT,
                     preset="Half-res sRGB JPEG proxies", settle=4.5, expected_range=(1001, 1100),
                     polling=True, enabled=False)
    again = WatchRule.from_json(rule.to_json())
    assert again == rule
    assert WatchRule.from_dict({**rule.to_dict(), "future_field": 1}) == rule


def test_rule_problems_are_explained(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    assert WatchRule("ok", str(inbox), str(tmp_path / "out" / "{head}")).problems() == []
    inside = WatchRule("loop", str(inbox), str(inbox / "copies" / "{head}"))
    assert any("inside the watched folder" in p for p in inside.problems())
    unknown = WatchRule("tok", str(inbox), str(tmp_path / "{shot}"))
    assert any("{shot}" in p for p in unknown.problems())
    convert = WatchRule("conv", str(inbox), str(tmp_path / "o"), operation=Operation.CONVERT)
    assert any("preset" in p for p in convert.problems())
    missing = WatchRule("gone", str(tmp_path / "nope"), str(tmp_path / "o"))
    assert any("does not exist" in p for p in missing.problems())
    with pytest.raises(WatchError):
        missing.validate()


def test_destination_reached_through_a_symlink_into_the_watched_folder_is_refused(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    (inbox / "deliveries").mkdir(parents=True)
    link = tmp_path / "looks_outside"
    link.symlink_to(inbox / "deliveries")
    # Spelled outside, but every copy would land in the folder being watched.
    rule = WatchRule("loop", str(inbox), str(link / "{head}"))
    assert any("inside the watched folder" in p for p in rule.problems())
    with pytest.raises(WatchError):
        rule.validate()
    # A link made after the rule was checked is caught when the job is made.
    later = tmp_path / "later"
    ok = WatchRule("later", str(inbox), str(later / "{head}"))
    assert ok.problems() == []
    later.symlink_to(inbox)
    sequence = Sequence(str(inbox), "plate.", ".exr", 4, (1001, 1002))
    with pytest.raises(WatchError, match="inside the watched folder"):
        make_spec(ok, sequence)


def test_include_globs_and_extensions(tmp_path: Path) -> None:
    rule = WatchRule("r", str(tmp_path), "/o", include=["*.exr", ".DPX", "tif"])
    assert rule.matches("a.0001.exr") and rule.matches("A.0001.EXR")
    assert rule.matches("a.0001.dpx") and rule.matches("a.0001.tif")
    assert not rule.matches("a.0001.jpg")
    images = WatchRule("r", str(tmp_path), "/o")
    assert images.matches("plate.1001.exr") and not images.matches("notes.txt")


def test_destination_tokens_and_spec() -> None:
    seq = Sequence("/shows/abc/renders/sh010", "sh010_comp_v002.", ".exr", 4, (1001, 1002, 1003))
    rule = WatchRule("Renders", "/shows/abc/renders", "/delivery/{date}/{parent}/{head}_{ext}")
    day = dt.date(2026, 11, 21)
    assert rule.destination_for(seq, day) == "/delivery/2026-11-21/sh010/sh010_comp_v002_exr"
    spec = make_spec(rule, seq, when=day)
    assert spec.origin == "watch:Renders" and rule_name_from_origin(spec.origin) == "Renders"
    assert spec.frames is None and spec.selected_frames() == [1001, 1002, 1003]
    assert spec.operation is Operation.COPY and spec.convert is None

    conv = WatchRule("Proxies", "/in", "/out/{head}", operation=Operation.CONVERT,
                     preset="Half-res sRGB JPEG proxies")
    spec = make_spec(conv, seq, [1003])
    assert spec.operation is Operation.CONVERT
    assert spec.convert is not None and spec.convert.to == "jpg"
    assert spec.frames == [1003]


def test_parse_frame_name() -> None:
    assert parse_frame_name("shot_010.1001.exr") == ("shot_010.", "1001", ".exr")
    assert parse_frame_name("plate_v002_0042.dpx") == ("plate_v002_", "0042", ".dpx")
    assert parse_frame_name("1001.exr") == ("", "1001", ".exr")
    assert parse_frame_name("readme.txt") is None
    assert parse_frame_name("neg.-0005.exr") == ("neg.", "-0005", ".exr")


def test_watched_folder_removed_and_recreated_is_watched_again(watch, folders) -> None:
    import shutil

    inbox, _ = folders
    watcher, landings, clock = watch()
    shutil.rmtree(inbox)
    wait_for(lambda: watcher.error is not None, what="the watcher to notice the folder is gone")
    assert "not reachable" in watcher.error
    inbox.mkdir()
    wait_for(lambda: watcher.error is None, what="watching again")
    for frame in range(1, 4):
        write_frame(frame_path(inbox, frame))
    wait_for(lambda: watcher.known_frames() == 3, what="frames in the new folder")
    settle_until(watcher, clock, landings, 1)
    assert landings.items[0][0].frames == (1, 2, 3)


def test_a_frame_that_arrives_while_a_rescan_lists_the_folder_stays_in_the_delivery(watch, folders) -> None:
    """A rescan lists the folder, then drops the frames it did not see (vanished without an event).
    A frame whose event came while the listing ran is not one of those: it stays, and the delivery
    lands as one job. Dropped, it came back with the next rescan as a second job (seen in the
    window's tests on a loaded machine: frames 1001, 1003, 1004, then 1002 alone)."""
    inbox, _ = folders
    watcher, landings, clock = watch()
    for frame in (1001, 1003):
        write_frame(frame_path(inbox, frame))
    wait_for(lambda: watcher.known_frames() == 2, what="the first two frames")
    tracker = watcher.tracker
    real_walk = tracker.walk

    def walk_then_a_frame_lands(top: str) -> dict:  # type: ignore[type-arg]
        listed = real_walk(top)  # the listing has 1001 and 1003 only
        late = frame_path(inbox, 1002)
        write_frame(late)
        tracker.file_seen(str(late), "done")  # its event, as watchdog's thread would report it
        return listed

    tracker.walk = walk_then_a_frame_lands  # type: ignore[method-assign]
    try:
        watcher.rescan()
    finally:
        tracker.walk = real_walk  # type: ignore[method-assign]
    assert watcher.known_frames() == 3
    settle_until(watcher, clock, landings, 1)
    sequence, frames = landings.items[0]
    assert frames is None and sequence.frames == (1001, 1002, 1003)


def test_a_sequence_gone_from_the_folder_is_forgotten_and_known_again_if_it_comes_back(watch, folders) -> None:
    """A watch runs for months: a sequence moved on from the folder is dropped from memory (each frame
    handed on was kept for good), and what was handed on is read back from the store if it comes again:
    the same frames are not queued twice, a re-rendered one is a follow-up."""
    inbox, _ = folders
    watcher, landings, clock = watch()
    sizes = {frame: 100 + frame for frame in range(1, 6)}
    for frame, size in sizes.items():
        frame_path(inbox, frame).write_bytes(b"a" * size)
    wait_for(lambda: watcher.known_frames() == 5)
    settle_until(watcher, clock, landings, 1)
    assert watcher.known_sequences() == 1
    for frame in sizes:
        frame_path(inbox, frame).unlink()  # moved on by the pipeline
    wait_for(lambda: watcher.known_frames() == 0, what="the deletions to be seen")
    for _ in range(3):
        clock.advance(watcher.rule.settle + 0.1)
        watcher.tick()
    assert watcher.known_sequences() == 0 and len(landings) == 1

    for frame, size in sizes.items():  # the same delivery copied in again
        frame_path(inbox, frame).write_bytes(b"a" * size)
    wait_for(lambda: watcher.known_frames() == 5)
    for _ in range(3):
        clock.advance(watcher.rule.settle + 0.1)
        watcher.tick()
    time.sleep(0.2)
    assert len(landings) == 1, "frames handed on before the sequence was forgotten were queued again"
    frame_path(inbox, 3).write_bytes(b"b" * 500)  # re-rendered
    wait_for(lambda: bool(watcher.pending()), what="the rewrite to be seen")
    settle_until(watcher, clock, landings, 2)
    assert landings.items[1][1] == [3]


class _SlowFirstStore(MemoryHandledStore):
    """A store whose first write holding `frame` takes a while (a journal on a busy disk)."""

    def __init__(self, frame: int) -> None:
        super().__init__()
        self.frame = frame
        self.writing = threading.Event()

    def record(self, rule: str, key: str, sizes: dict[int, int]) -> None:
        if self.frame in sizes and not self.writing.is_set():
            self.writing.set()
            time.sleep(0.5)
        super().record(rule, key, sizes)


def test_a_release_during_a_landing_is_what_the_store_keeps(watch, folders) -> None:
    """A follow-up lands (its store write is slow) while a cancelled job releases a frame of the same
    sequence: the store must end with the frame released, or after a restart that frame never
    comes again. The two writes used to race, and the landing's older state was written last."""
    inbox, _ = folders
    store = _SlowFirstStore(frame=6)
    watcher, landings, clock = watch(store=store)
    for frame in range(1, 6):
        frame_path(inbox, frame).write_bytes(b"a" * 100)
    wait_for(lambda: watcher.known_frames() == 5)
    settle_until(watcher, clock, landings, 1)
    first = landings.items[0][0]
    frame_path(inbox, 6).write_bytes(b"a" * 100)
    wait_for(lambda: watcher.known_frames() == 6)
    lander = threading.Thread(target=settle_until, args=(watcher, clock, landings, 2))
    lander.start()
    assert store.writing.wait(TIMEOUT), "the follow-up's store write never started"
    watcher.release(first, [2])  # the first job was cancelled before frame 2
    lander.join(TIMEOUT)
    assert landings.items[1][1] == [6]
    key = next(iter(store._data))
    assert sorted(store.load(*key)) == [1, 3, 4, 5, 6]
