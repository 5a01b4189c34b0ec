"""Progress of many small frames: no snapshot per frame, yet every frame reported, and big frames announced."""

from __future__ import annotations

from pathlib import Path

from vfxcopy.core.jobs import (
    CancelToken,
    CopyOptions,
    Event,
    FrameResult,
    FrameStatus,
    JobSpec,
    JobState,
    Progress,
)
from vfxcopy.core.pipeline import run_pipeline
from vfxcopy.core.pipeline.tally import ANNOUNCE_ITEM_BYTES
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.sequence import Sequence


def run(paths: list[Path], dest: Path) -> tuple[JobState, list[Event]]:
    seq = Sequence(str(paths[0].parent), "plate.", ".exr", 4, tuple(range(1001, 1001 + len(paths))))
    events: list[Event] = []
    result = run_pipeline(JobSpec(seq, str(dest), copy=CopyOptions(fsync=False)), CancelToken(), events.append)
    return result.state, events


def test_small_frames_are_not_announced_one_snapshot_each_but_all_are_reported(tmp_path: Path) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=400, size=100)
    state, events = run(paths, tmp_path / "out")
    assert state is JobState.COMPLETED
    done = [e for e in events if isinstance(e, FrameResult)]
    assert sorted(r.frame for r in done) == list(range(1001, 1401))
    assert all(r.status is FrameStatus.DONE for r in done)
    running = [e for e in events if isinstance(e, Progress) and e.state is JobState.RUNNING]
    # Snapshots come by time (every 20 ms at most while items flow), not one (or more) per 100-byte frame.
    assert len(running) < len(paths)
    final = [e for e in events if isinstance(e, Progress)][-1]
    assert final.state is JobState.COMPLETED and final.frames_done == 400 and final.bytes_done == 400 * 100


def test_each_frame_of_announced_size_is_named_by_a_snapshot_when_it_starts(tmp_path: Path) -> None:
    paths = make_byte_sequence(tmp_path / "src", count=6, size=ANNOUNCE_ITEM_BYTES)
    state, events = run(paths, tmp_path / "out")
    assert state is JobState.COMPLETED
    named = [e.current_frame for e in events if isinstance(e, Progress) and e.current_frame is not None]
    assert set(named) == set(range(1001, 1007))  # what pause / stop after this frame act on
