"""Review movies through the bundled ffmpeg: frame count, size, codec, cancel, conflicts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    ConvertOptions,
    Event,
    FrameStatus,
    JobSpec,
    JobState,
    Operation,
    Progress,
)
from vfxcopy.core.pipeline import run_pipeline as convert_sequence
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.writers.movie import count_frames, even_size, ffmpeg_exe


def as_sequence(paths: list[Path]) -> Sequence:
    frames = tuple(int(p.name.split(".")[1]) for p in paths)
    return Sequence(str(paths[0].parent), "shot_010.", ".exr", 4, frames)


def movie_info(path: Path) -> dict[str, object]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta: dict[str, object] = next(reader)
    reader.close()
    return meta


def decodes_cleanly(path: Path) -> bool:
    proc = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, text=True)
    return proc.returncode == 0 and not proc.stderr.strip()


def leftovers(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(".vfxcopy-")]


def convert(seq: Sequence, dest: Path, token: CancelToken | None = None, report=None,
            policy: ConflictPolicy = ConflictPolicy.FAIL, **opts: object):
    spec = JobSpec(seq, str(dest), Operation.CONVERT, convert=ConvertOptions(**opts))  # type: ignore[arg-type]
    spec.copy.on_conflict = policy
    return convert_sequence(spec, token or CancelToken(), report or (lambda e: None))


def test_h264_mp4_has_every_frame_at_an_even_size(exr_seq_session: list[Path], tmp_path: Path) -> None:
    seq = as_sequence(exr_seq_session)
    # 128x72 at 99% is 127x71: odd sizes must be evened for yuv420p.
    result = convert(seq, tmp_path, to="mp4", to_space="sRGB - Display", resize="99%")
    assert result.state is JobState.COMPLETED and result.exit_code == 0, result.message
    movie = tmp_path / "shot_010.mp4"
    assert os.listdir(tmp_path) == ["shot_010.mp4"]
    assert count_frames(str(movie)) == len(seq.frames)
    info = movie_info(movie)
    assert tuple(info["size"]) == (126, 70)  # type: ignore[arg-type]
    assert "h264" in str(info["codec"])
    assert float(info["fps"]) == pytest.approx(24)  # type: ignore[arg-type]
    assert decodes_cleanly(movie)
    assert all(f.status is FrameStatus.DONE and f.dest == str(movie) for f in result.frames)


def test_prores_mov(exr_seq_session: list[Path], tmp_path: Path) -> None:
    seq = as_sequence(exr_seq_session[:5])
    result = convert(seq, tmp_path, to="mov", to_space="sRGB - Display", fps=25.0)
    assert result.exit_code == 0, result.message
    movie = tmp_path / "shot_010.mov"
    info = movie_info(movie)
    assert "prores" in str(info["codec"])
    assert float(info["fps"]) == pytest.approx(25)  # type: ignore[arg-type]
    assert count_frames(str(movie)) == 5
    assert decodes_cleanly(movie)


def test_linear_frames_without_colour_conversion_warn(exr_seq_session: list[Path], tmp_path: Path) -> None:
    from vfxcopy.core.jobs import LogMessage

    events: list[Event] = []
    result = convert(as_sequence(exr_seq_session[:2]), tmp_path, report=events.append, to="mp4")
    assert result.exit_code == 0
    assert any(isinstance(e, LogMessage) and e.level == "warning" and "sRGB" in e.text for e in events)


def test_cancel_mid_movie_leaves_no_partial_movie(exr_seq_session: list[Path], tmp_path: Path) -> None:
    seq = as_sequence(exr_seq_session)
    token = CancelToken()
    frames: list[Progress] = []

    def report(event: Event) -> None:
        # A movie's frames are reported once the movie is in place; progress comes per frame piped.
        if isinstance(event, Progress) and event.bytes_done > 0:
            frames.append(event)
            if len(frames) == 4:
                token.cancel()  # ffmpeg is running and has a partial file open

    result = convert(seq, tmp_path, token=token, report=report, to="mp4", threads=2)
    assert result.state is JobState.CANCELLED and result.exit_code == 130
    assert os.listdir(tmp_path) == []


def test_stop_after_frame_also_leaves_no_partial_movie(exr_seq_session: list[Path], tmp_path: Path) -> None:
    seq = as_sequence(exr_seq_session)
    token = CancelToken()

    def report(event: Event) -> None:
        if isinstance(event, Progress) and event.bytes_done > 0:
            token.stop_after_frame()

    result = convert(seq, tmp_path, token=token, report=report, to="mp4")
    assert result.state is JobState.CANCELLED
    assert os.listdir(tmp_path) == []


def test_unreadable_frame_is_held_and_reported(exr_seq_session: list[Path], tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for p in exr_seq_session[:6]:
        shutil.copy(p, src / p.name)
    bad = src / "shot_010.1004.exr"
    bad.write_bytes(bad.read_bytes()[:200])
    seq = Sequence(str(src), "shot_010.", ".exr", 4, tuple(range(1001, 1007)))
    result = convert(seq, tmp_path / "out", to="mp4", to_space="sRGB - Display")
    assert result.exit_code == 1 and result.state is JobState.FAILED  # resumable, like any failed frame
    assert [f.frame for f in result.failed] == [1004]
    assert str(bad) in (result.failed[0].error or "") and "holds the previous frame" in (result.failed[0].error or "")
    assert count_frames(str(tmp_path / "out" / "shot_010.mp4")) == 6  # timing kept


def test_existing_movie_is_not_clobbered(exr_seq_session: list[Path], tmp_path: Path) -> None:
    seq = as_sequence(exr_seq_session[:3])
    movie = tmp_path / "shot_010.mp4"
    movie.write_bytes(b"someone's cut")
    failed = convert(seq, tmp_path, to="mp4", policy=ConflictPolicy.FAIL)
    assert failed.state is JobState.FAILED and "already exists" in failed.message
    assert movie.read_bytes() == b"someone's cut"
    renamed = convert(seq, tmp_path, to="mp4", policy=ConflictPolicy.RENAME)
    assert renamed.exit_code == 0
    assert movie.read_bytes() == b"someone's cut"
    assert count_frames(str(tmp_path / "shot_010_v2.mp4")) == 3
    skipped = convert(seq, tmp_path, to="mp4", policy=ConflictPolicy.SKIP)
    assert all(f.status is FrameStatus.SKIPPED for f in skipped.frames)
    over = convert(seq, tmp_path, to="mp4", policy=ConflictPolicy.OVERWRITE)
    assert over.exit_code == 0 and count_frames(str(movie)) == 3
    assert leftovers(tmp_path) == []


def test_even_size() -> None:
    assert even_size(1921, 1081) == (1920, 1080)
    assert even_size(1, 1) == (2, 2)


def test_an_encoder_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    import signal
    import time

    from vfxcopy.core.writers.movie import KILL_GRACE_S, _Encoder

    token = CancelToken()
    stubborn = _Encoder(["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"], token)
    try:
        time.sleep(0.2)  # let the shell install its trap
        t0 = time.monotonic()
        token.cancel()  # what the Cancel button does: must not block the cancelling thread
        assert time.monotonic() - t0 < 0.5
        assert stubborn.proc.wait(timeout=KILL_GRACE_S + 5) == -signal.SIGKILL
        assert time.monotonic() - t0 >= KILL_GRACE_S * 0.9
    finally:
        if stubborn.proc.poll() is None:
            stubborn.proc.kill()
        stubborn.cleanup()
