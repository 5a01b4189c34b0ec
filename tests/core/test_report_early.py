"""The job report's thumbnails made while the copy runs (core/report_early.py): the same report
as when they are made at the end, used only when they show the delivered frames, and a thread
that never holds a job, a cancel or the process up."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest

import vfxcopy.core.naming as naming
import vfxcopy.core.report as report_mod
import vfxcopy.core.report_early as early_mod
from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    CopyOptions,
    JobSpec,
    JobState,
    Progress,
    VerifyMode,
)
from vfxcopy.core.report import thumbnail_candidate
from vfxcopy.core.samples import make_byte_sequence, make_exr_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.core.tree import scan_tree, tree_job

THREAD = "vfxcopy-thumbnails"


def report_page(dest: Path) -> str:
    (html,) = (dest / "ascmhl").glob("vfxcopy_report_*.html")
    return html.read_text()


def strip_of(page: str) -> list[tuple[str, str]]:
    """(caption, image) of each thumbnail on the page, in order."""
    return re.findall(r'<img[^>]*src="(data:image/png;base64,[^"]+)"[^>]*>\s*<figcaption>([^<]*)</figcaption>', page)


def record_strips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread each thumbnail strip is made on."""
    made_on: list[str] = []
    real = report_mod.thumbnail_strip

    def recording(*args: object, **kwargs: object) -> list[tuple[str, str]]:
        made_on.append(threading.current_thread().name)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(report_mod, "thumbnail_strip", recording)
    return made_on


def no_thumbnail_thread_left(timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(t.name == THREAD for t in threading.enumerate()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_report_made_during_the_copy_is_the_report_made_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = make_exr_sequence(tmp_path / "src", count=12, grain=0.02)
    made_on = record_strips(monkeypatch)
    spec = JobSpec(find_sequence(paths[0]), str(tmp_path / "early"))
    assert run_job(spec).state is JobState.COMPLETED
    assert made_on == [THREAD]  # made once, on its own thread, and used
    early = strip_of(report_page(tmp_path / "early"))

    monkeypatch.setattr(early_mod, "start_early_strip", lambda spec, token: None)
    made_on.clear()
    spec = JobSpec(find_sequence(paths[0]), str(tmp_path / "late"))
    assert run_job(spec).state is JobState.COMPLETED
    assert made_on == [threading.current_thread().name]  # as before: at the end
    late = strip_of(report_page(tmp_path / "late"))
    assert len(early) == 8 and early == late
    assert [caption for _img, caption in early] == [
        "shot_010.1001.exr", "shot_010.1002.exr", "shot_010.1003.exr", "shot_010.1004.exr",
        "shot_010.1005.exr", "shot_010.1006.exr", "shot_010.1007.exr", "shot_010.1012.exr",
    ]
    assert no_thumbnail_thread_left()


def test_a_frame_left_in_place_is_shown_as_it_is_not_as_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With policy 'skip' the first frame is left as it was (another image): the early strip,
    read from the sources, would show the wrong picture, so the report makes its own."""
    paths = make_exr_sequence(tmp_path / "src", count=8)
    other = make_exr_sequence(tmp_path / "other", count=8, grain=0.3)
    dest = tmp_path / "dst"
    dest.mkdir()
    (dest / paths[0].name).write_bytes(other[3].read_bytes())
    made_on = record_strips(monkeypatch)
    spec = JobSpec(find_sequence(paths[0]), str(dest), copy=CopyOptions(on_conflict=ConflictPolicy.SKIP))
    assert run_job(spec).state is JobState.COMPLETED
    assert made_on == [THREAD, threading.current_thread().name]  # made early, not used, made again
    shown = strip_of(report_page(dest))
    delivered = report_mod.thumbnail_strip([str(dest / p.name) for p in paths])
    assert [(img, caption) for caption, img in delivered] == shown
    from_sources = report_mod.thumbnail_strip([str(p) for p in paths])
    assert shown[0][0] != from_sources[0][1] and shown[1:] == [(img, c) for c, img in from_sources[1:]]


def test_renamed_frames_are_captioned_with_their_delivered_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = make_exr_sequence(tmp_path / "src", head="plate.", count=3)
    made_on = record_strips(monkeypatch)
    spec = JobSpec(find_sequence(paths[0]), str(tmp_path / "dst"), rename_head="plate_v002.", offset=-1000)
    assert run_job(spec).state is JobState.COMPLETED
    assert made_on == [THREAD]
    assert [c for _i, c in strip_of(report_page(tmp_path / "dst"))] == ["plate_v002.0001.exr", "plate_v002.0002.exr",
                                                                          "plate_v002.0003.exr"]


@pytest.mark.parametrize("case", ["no-verify", "data-files", "tree"])
def test_no_thread_where_there_is_no_report_or_no_image(tmp_path: Path, case: str) -> None:
    if case == "data-files":
        paths = make_byte_sequence(tmp_path / "src", count=3, size=4096)  # named .exr, not images
        spec = JobSpec(find_sequence(paths[0]), str(tmp_path / "dst"))
    else:
        paths = make_exr_sequence(tmp_path / "src", count=3)
        spec = JobSpec(find_sequence(paths[0]), str(tmp_path / "dst"),
                       copy=CopyOptions(verify=VerifyMode.NONE) if case == "no-verify" else CopyOptions())
        if case == "tree":
            spec = tree_job(str(tmp_path / "src"), str(tmp_path / "dst"), scan_tree(str(tmp_path / "src")))
    named: list[int] = []
    real = naming.dest_names
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(naming, "dest_names", lambda spec: named.append(1) or real(spec))
        assert early_mod.start_early_strip(spec, CancelToken()) is None
    if case == "data-files":
        assert named == []  # one look at the first frame's bytes, no name made per frame


def test_a_fifo_named_like_a_frame_is_not_waited_for(tmp_path: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes: the check must not."""
    fifo = tmp_path / "shot_010.1001.exr"
    os.mkfifo(fifo)
    said: list[str | None] = []
    t = threading.Thread(target=lambda: said.append(thumbnail_candidate(str(fifo), fifo.name)), daemon=True)
    t.start()
    t.join(5)
    assert said == ["shot_010.1001.exr: no thumbnail (not a regular file)"]


def test_a_cancel_mid_copy_stops_the_thumbnails_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vfxcopy.core.thumbnail as thumbnail

    paths = make_exr_sequence(tmp_path / "src", count=40, width=256, height=144)
    decoded: list[str] = []
    real = thumbnail.make_thumbnail

    def slow(path: str, size: int) -> object:  # a large plate: each decode takes a while
        decoded.append(path)
        time.sleep(0.2)
        return real(path, size)

    monkeypatch.setattr(thumbnail, "make_thumbnail", slow)
    token = CancelToken()

    def report(event: object) -> None:
        if isinstance(event, Progress) and event.frames_done >= 1:
            token.cancel()

    started = time.monotonic()
    result = run_job(JobSpec(find_sequence(paths[0]), str(tmp_path / "dst")), token, report)
    assert result.state is JobState.CANCELLED
    assert time.monotonic() - started < 1.0  # the job does not wait for its thumbnails
    assert no_thumbnail_thread_left(), "the thumbnail thread outlived the cancelled job"
    assert len(decoded) <= 1, decoded  # the one in hand when the cancel came, no more
    assert not list((tmp_path / "dst").glob("ascmhl/*.html"))


def test_a_frame_delivered_under_another_name_gets_the_report_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Policy 'rename': a frame whose name is taken lands under a new versioned name; the
    strip made early names the planned one, so the report makes its own."""
    paths = make_exr_sequence(tmp_path / "src", count=4)
    dest = tmp_path / "dst"
    dest.mkdir()
    (dest / paths[0].name).write_bytes(b"someone else's frame")
    made_on = record_strips(monkeypatch)
    spec = JobSpec(find_sequence(paths[0]), str(dest), copy=CopyOptions(on_conflict=ConflictPolicy.RENAME))
    result = run_job(spec)
    assert result.state is JobState.COMPLETED
    assert made_on == [THREAD, threading.current_thread().name]
    delivered = sorted(os.path.basename(f.dest) for f in result.frames)
    assert paths[0].name not in delivered
    assert [c for _i, c in strip_of(report_page(dest))] == delivered


def test_a_paused_job_pauses_its_thumbnails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user pauses a job to give its source disk to something else: the thumbnails read nothing meanwhile."""
    import vfxcopy.core.thumbnail as thumbnail

    paths = [str(p) for p in make_exr_sequence(tmp_path / "src", count=4)]
    decoded: list[str] = []
    real = thumbnail.make_thumbnail
    monkeypatch.setattr(thumbnail, "make_thumbnail", lambda path, size: decoded.append(path) or real(path, size))
    token = CancelToken()
    token.pause()
    early = early_mod.EarlyStrip(paths, paths, token).start()
    assert early is not None
    time.sleep(0.3)
    assert decoded == [] and early.thread.is_alive()
    token.resume()
    early.thread.join(10)
    assert decoded == paths and early.made is not None and len(early.made[0]) == 4
