"""Conversion jobs: each target format and option reads back with the expected spec."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from imagefiles import spec_of

from vfxcopy.core.convert import plan_output, validate_options
from vfxcopy.core.errors import FrameError
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    ConvertOptions,
    Event,
    FrameResult,
    FrameStatus,
    JobSpec,
    JobState,
    LogMessage,
    Operation,
    Progress,
    is_temp_name,
)
from vfxcopy.core.pipeline import run_pipeline as convert_sequence
from vfxcopy.core.samples import make_exr_sequence
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.written_check import compare_written

OIIOTOOL = str(Path(sys.executable).parent / "oiiotool")


def as_sequence(paths: list[Path]) -> Sequence:
    names = [p.name for p in paths]
    frames = tuple(int(n.split(".")[1]) for n in names)
    return Sequence(str(paths[0].parent), "shot_010.", ".exr", 4, frames)


def run(seq: Sequence, dest: Path, events: list[Event] | None = None, token: CancelToken | None = None,
        policy: ConflictPolicy = ConflictPolicy.SKIP_IDENTICAL, **opts: object):
    spec = JobSpec(seq, str(dest), Operation.CONVERT, convert=ConvertOptions(**opts))  # type: ignore[arg-type]
    spec.copy.on_conflict = policy
    sink: list[Event] = [] if events is None else events
    return convert_sequence(spec, token or CancelToken(), sink.append)


def no_temp_files(folder: Path) -> bool:
    return not [n for n in os.listdir(folder) if is_temp_name(n) or n.startswith(".vfxcopy-")]


@pytest.fixture
def seq(exr_seq_session: list[Path]) -> Sequence:
    return as_sequence(exr_seq_session[:4])


@pytest.mark.parametrize(
    ("opts", "ext", "fmt", "dtype", "checks"),
    [
        (dict(to="exr", compression="dwaa:45"), "exr", "openexr", "half", {"compression": "dwaa"}),
        (dict(to="exr", compression="piz", data_format="float"), "exr", "openexr", "float", {"compression": "piz"}),
        (dict(to="exr", compression="none"), "exr", "openexr", "half", {"compression": "none"}),
        (dict(to="dpx", data_format="uint10"), "dpx", "dpx", "uint16", {"oiio:BitsPerSample": 10}),
        (dict(to="dpx", data_format="uint16"), "dpx", "dpx", "uint16", {"oiio:BitsPerSample": 16}),
        (dict(to="tif", data_format="uint8", compression="lzw"), "tif", "tiff", "uint8", {"compression": "lzw"}),
        (dict(to="tif", data_format="float"), "tif", "tiff", "float", {"compression": "zip"}),
        (dict(to="png", data_format="uint16"), "png", "png", "uint16", {}),
        (dict(to="jpg", quality=80), "jpg", "jpeg", "uint8", {}),
    ],
)
def test_each_target_reads_back_with_the_expected_spec(seq: Sequence, tmp_path: Path, opts: dict[str, object],
                                                        ext: str, fmt: str, dtype: str,
                                                        checks: dict[str, object]) -> None:
    result = run(seq, tmp_path, **opts)
    assert result.state is JobState.COMPLETED and result.exit_code == 0, result.message
    assert [f.status for f in result.frames] == [FrameStatus.DONE] * 4
    for frame in seq.frames:
        out = tmp_path / f"shot_010.{frame}.{ext}"
        inp = oiio.ImageInput.open(str(out))
        assert inp is not None
        assert inp.format_name() == fmt
        spec = inp.spec()
        inp.close()
        assert (spec.width, spec.height, spec.nchannels) == (128, 72, 3)
        assert str(spec.format) == dtype
        for name, value in checks.items():
            assert spec.getattribute(name) == value, name
    assert no_temp_files(tmp_path)


def test_dpx_10bit_is_packed_not_float(seq: Sequence, tmp_path: Path) -> None:
    run(seq, tmp_path, to="dpx", data_format="uint10")
    size = (tmp_path / "shot_010.1001.dpx").stat().st_size
    # 10-bit RGB packs into one 32-bit word per pixel, plus a 2 KiB header.
    assert 128 * 72 * 4 <= size <= 128 * 72 * 4 + 8192


def test_jpeg_quality_changes_the_file(seq: Sequence, tmp_path: Path) -> None:
    run(seq, tmp_path / "q30", to="jpg", quality=30, to_space="sRGB - Display")
    run(seq, tmp_path / "q98", to="jpg", quality=98, to_space="sRGB - Display")
    small = (tmp_path / "q30" / "shot_010.1001.jpg").stat().st_size
    big = (tmp_path / "q98" / "shot_010.1001.jpg").stat().st_size
    assert small < big * 0.7


def test_dwaa_level_is_written(seq: Sequence, tmp_path: Path) -> None:
    run(seq, tmp_path, to="exr", compression="dwaa:100")
    spec = spec_of(tmp_path / "shot_010.1001.exr")
    assert spec.getattribute("compression") == "dwaa"
    assert spec.getattribute("openexr:dwaCompressionLevel") == pytest.approx(100)


@pytest.mark.parametrize(("resize", "size"), [("50%", (64, 36)), ("100x100", (100, 56)), ("x36", (64, 36)),
                                               ("256x", (256, 144))])
def test_resize(seq: Sequence, tmp_path: Path, resize: str, size: tuple[int, int]) -> None:
    result = run(seq.with_frames([1001]), tmp_path, to="exr", resize=resize)
    assert result.exit_code == 0, result.message
    spec = spec_of(tmp_path / "shot_010.1001.exr")
    assert (spec.width, spec.height) == size


def test_half_size_resize_filters_rather_than_drops_pixels(seq: Sequence, tmp_path: Path) -> None:
    # A 2x shrink of a 1-pixel checker must come out mid-grey, not all black or all white (aliasing).
    buf = oiio.ImageBuf(oiio.ImageSpec(64, 64, 3, "half"))
    oiio.ImageBufAlgo.checker(buf, 1, 1, 1, (1, 1, 1), (0, 0, 0))
    src = tmp_path / "src"
    src.mkdir()
    assert buf.write(str(src / "chk.0001.exr"))
    run(Sequence(str(src), "chk.", ".exr", 4, (1,)), tmp_path / "out", to="exr", resize="50%", data_format="float")
    out = oiio.ImageBuf(str(tmp_path / "out" / "chk.0001.exr")).get_pixels(oiio.FLOAT)
    assert out.shape == (32, 32, 3)
    assert np.abs(out[4:-4, 4:-4] - 0.5).max() < 0.1


def test_channel_subset(seq: Sequence, tmp_path: Path) -> None:
    run(seq.with_frames([1001]), tmp_path, to="exr", channels=["R", "G"])
    spec = spec_of(tmp_path / "shot_010.1001.exr")
    assert list(spec.channelnames) == ["R", "G"]


@pytest.mark.parametrize(("to", "channels"), [("jpg", ["R", "G", "B"]), ("png", ["R", "G", "B", "A"]),
                                              ("dpx", ["R", "G", "B", "A"]), ("exr", ["R", "G", "B", "A", "Z"])])
def test_channels_beyond_what_the_target_holds_are_dropped(tmp_path: Path, to: str, channels: list[str]) -> None:
    spec = oiio.ImageSpec(32, 16, 5, "half")
    spec.channelnames = ("R", "G", "B", "A", "Z")
    spec.alpha_channel, spec.z_channel = 3, 4
    buf = oiio.ImageBuf(spec)
    oiio.ImageBufAlgo.fill(buf, (0.5, 0.25, 0.125, 1.0, 7.0))
    (tmp_path / "src").mkdir()
    assert buf.write(str(tmp_path / "src" / "aov.0001.exr"))
    seq = Sequence(str(tmp_path / "src"), "aov.", ".exr", 4, (1,))
    result = run(seq, tmp_path / "out", to=to, to_space="sRGB - Display" if to != "exr" else None)
    assert result.exit_code == 0, result.message
    assert list(spec_of(tmp_path / "out" / f"aov.0001.{to}").channelnames) == channels


def test_overscan_data_window_becomes_the_display_window_outside_exr(tmp_path: Path) -> None:
    spec = oiio.ImageSpec(100, 50, 3, "half")
    spec.x, spec.y, spec.full_width, spec.full_height = 10, 5, 128, 72
    buf = oiio.ImageBuf(spec)
    oiio.ImageBufAlgo.fill(buf, (1.0, 0.5, 0.25))
    (tmp_path / "src").mkdir()
    assert buf.write(str(tmp_path / "src" / "dw.0001.exr"))
    seq = Sequence(str(tmp_path / "src"), "dw.", ".exr", 4, (1,))
    assert run(seq, tmp_path / "png", to="png").exit_code == 0
    out = oiio.ImageBuf(str(tmp_path / "png" / "dw.0001.png"))
    assert (out.spec().width, out.spec().height) == (128, 72)
    assert out.getpixel(0, 0) == (0.0, 0.0, 0.0) and out.getpixel(50, 30)[0] == 1.0
    assert run(seq, tmp_path / "exr", to="exr", compression="piz").exit_code == 0
    kept = spec_of(tmp_path / "exr" / "dw.0001.exr")
    assert (kept.x, kept.y, kept.width, kept.full_width) == (10, 5, 100, 128)  # EXR keeps its data window


def test_missing_channel_fails_the_frame_with_the_available_ones(seq: Sequence, tmp_path: Path) -> None:
    result = run(seq.with_frames([1001]), tmp_path, to="exr", channels=["Z"])
    assert result.exit_code == 1
    assert "Z" in (result.frames[0].error or "") and "R, G, B" in (result.frames[0].error or "")


def test_colour_conversion_matches_oiiotool(seq: Sequence, tmp_path: Path) -> None:
    src = Path(seq.directory) / "shot_010.1001.exr"
    ref = tmp_path / "ref.exr"
    subprocess.run([OIIOTOOL, str(src), "--colorconvert", "ACEScg", "sRGB - Display", "-d", "float", "-o", str(ref)],
                   check=True)
    result = run(seq.with_frames([1001]), tmp_path / "out", to="exr", data_format="float",
                 from_space="ACEScg", to_space="sRGB - Display")
    assert result.exit_code == 0, result.message
    ours = oiio.ImageBuf(str(tmp_path / "out" / "shot_010.1001.exr")).get_pixels(oiio.FLOAT)
    theirs = oiio.ImageBuf(str(ref)).get_pixels(oiio.FLOAT)
    assert np.abs(ours - theirs).max() < 1e-4
    # and it really converted something
    raw = oiio.ImageBuf(str(src)).get_pixels(oiio.FLOAT)
    assert np.abs(ours - raw).max() > 0.1
    tag = spec_of(tmp_path / "out" / "shot_010.1001.exr").getattribute("oiio:ColorSpace")
    assert oiio.ColorConfig("ocio://default").resolve(tag) == "sRGB - Display"  # re-tagged, not left ACEScg


def test_colour_space_taken_from_the_file_when_not_given(seq: Sequence, tmp_path: Path) -> None:
    src = Path(seq.directory) / "shot_010.1001.exr"
    ref = tmp_path / "ref.jpg"
    subprocess.run([OIIOTOOL, str(src), "--colorconvert", "ACEScg", "sRGB - Display", "-o", str(ref)], check=True)
    run(seq.with_frames([1001]), tmp_path / "out", to="png", to_space="sRGB - Display")
    ours = oiio.ImageBuf(str(tmp_path / "out" / "shot_010.1001.png")).get_pixels(oiio.UINT8).astype(int)
    theirs = oiio.ImageBuf(str(ref)).get_pixels(oiio.UINT8).astype(int)
    # JPEG is lossy: compare means, PNG is exact.
    assert abs(ours.mean() - theirs.mean()) < 1.5


def test_metadata_is_carried(seq: Sequence, tmp_path: Path) -> None:
    run(seq.with_frames([1002]), tmp_path / "exr", to="exr", compression="piz")
    spec = spec_of(tmp_path / "exr" / "shot_010.1002.exr")
    src = spec_of(Path(seq.directory) / "shot_010.1002.exr")
    assert spec.getattribute("smpte:TimeCode") == src.getattribute("smpte:TimeCode")
    assert tuple(spec.getattribute("FramesPerSecond")) == (24, 1)
    assert spec.getattribute("oiio:ColorSpace") == src.getattribute("oiio:ColorSpace")
    assert "vfxcopy" in spec.getattribute("Software")
    run(seq.with_frames([1002]), tmp_path / "dpx", to="dpx")
    dpx = spec_of(tmp_path / "dpx" / "shot_010.1002.dpx")
    assert dpx.getattribute("smpte:TimeCode") == src.getattribute("smpte:TimeCode")
    assert dpx.getattribute("dpx:FrameRate") == pytest.approx(24)


def test_rename_and_offset_keep_padding(seq: Sequence, tmp_path: Path) -> None:
    spec = JobSpec(seq, str(tmp_path), Operation.CONVERT, rename_head="plate_v2_", offset=-1000,
                   convert=ConvertOptions(to="jpg", to_space="sRGB - Display"))
    result = convert_sequence(spec, CancelToken(), lambda e: None)
    assert result.exit_code == 0
    assert sorted(os.listdir(tmp_path)) == [f"plate_v2_000{i}.jpg" for i in range(1, 5)]


def test_text_after_the_frame_number_is_kept(exr_seq_session: list[Path], tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(exr_seq_session[0], src / "shot_010.1001_matte.exr")
    seq = Sequence(str(src), "shot_010.", "_matte.exr", 4, (1001,))
    assert run(seq, tmp_path / "out", to="png", to_space="sRGB - Display").exit_code == 0
    assert os.listdir(tmp_path / "out") == ["shot_010.1001_matte.png"]


def test_progress_counts_source_bytes_and_frames(seq: Sequence, tmp_path: Path) -> None:
    events: list[Event] = []
    run(seq, tmp_path, events=events, to="exr", compression="zip", threads=3)
    progress = [e for e in events if isinstance(e, Progress)]
    total = sum(p.stat().st_size for p in seq.paths())
    assert progress[0].bytes_total == total and progress[0].frames_total == 4
    assert progress[-1].bytes_done == total and progress[-1].frames_done == 4
    assert progress[-1].state is JobState.COMPLETED
    done = [e.bytes_done for e in progress]
    assert done == sorted(done)
    assert sorted(e.frame for e in events if isinstance(e, FrameResult)) == list(seq.frames)


def test_parallel_and_serial_give_the_same_pixels(seq: Sequence, tmp_path: Path) -> None:
    run(seq, tmp_path / "one", to="jpg", resize="50%", to_space="sRGB - Display", threads=1)
    run(seq, tmp_path / "three", to="jpg", resize="50%", to_space="sRGB - Display", threads=3)
    for frame in seq.frames:
        a = oiio.ImageBuf(str(tmp_path / "one" / f"shot_010.{frame}.jpg")).get_pixels(oiio.UINT8)
        b = oiio.ImageBuf(str(tmp_path / "three" / f"shot_010.{frame}.jpg")).get_pixels(oiio.UINT8)
        assert np.array_equal(a, b)


def test_compare_pixels_passes_for_lossless_targets(seq: Sequence, tmp_path: Path) -> None:
    for opts in (dict(to="exr", compression="piz"), dict(to="dpx", data_format="uint10"),
                 dict(to="tif", data_format="uint16"), dict(to="png", data_format="uint16")):
        result = run(seq.with_frames([1001]), tmp_path / str(opts["to"]), compare_pixels=True, **opts)
        assert result.exit_code == 0, result.message


def test_compare_pixels_catches_a_difference(seq: Sequence, tmp_path: Path) -> None:
    run(seq.with_frames([1001]), tmp_path, to="exr", compression="zip")
    written = tmp_path / "shot_010.1001.exr"
    expected = oiio.ImageBuf(str(Path(seq.directory) / "shot_010.1001.exr"))
    expected.read(force=True)
    plan = plan_output(ConvertOptions(to="exr", compression="zip"))
    compare_written(str(written), expected, oiio.TypeDesc("half"), plan, str(written))  # same pixels: passes
    expected.setpixel(5, 6, (9.0, 9.0, 9.0))
    with pytest.raises(FrameError, match="pixels differ"):
        compare_written(str(written), expected, oiio.TypeDesc("half"), plan, str(written))


def test_invalid_options_are_refused_with_a_reason() -> None:
    bad = [
        (ConvertOptions(to="dpx", compression="zip"), "not compressed"),
        (ConvertOptions(to="jpg", data_format="float"), "8-bit"),
        (ConvertOptions(to="exr", compression="lzma"), "unknown"),
        (ConvertOptions(to="exr", resize="big"), "percentage"),
        (ConvertOptions(to="exr", to_space="Nope"), "not in the OCIO config"),
        (ConvertOptions(to="gif"), "choose one of"),
        (ConvertOptions(to="jpg", quality=0), "quality"),
        (ConvertOptions(to="exr", threads=0), "threads"),
    ]
    for opts, words in bad:
        with pytest.raises(ValueError, match=words):
            validate_options(opts)


def test_invalid_options_fail_the_job_before_writing(seq: Sequence, tmp_path: Path) -> None:
    result = run(seq, tmp_path / "out", to="dpx", compression="zip")
    assert result.state is JobState.FAILED and "not compressed" in result.message
    assert not (tmp_path / "out").exists()


def test_linear_to_8bit_without_colour_conversion_warns(seq: Sequence, tmp_path: Path) -> None:
    events: list[Event] = []
    run(seq.with_frames([1001]), tmp_path, events=events, to="jpg")
    assert any(isinstance(e, LogMessage) and e.level == "warning" and "sRGB" in e.text for e in events)


# -- conflicts --


def test_conflict_policies(seq: Sequence, tmp_path: Path) -> None:
    one = seq.with_frames([1001])
    dest = tmp_path / "shot_010.1001.jpg"
    dest.write_bytes(b"older file")
    assert run(one, tmp_path, policy=ConflictPolicy.SKIP, to="jpg").frames[0].status is FrameStatus.SKIPPED
    assert dest.read_bytes() == b"older file"
    failed = run(one, tmp_path, policy=ConflictPolicy.FAIL, to="jpg").frames[0]
    assert failed.status is FrameStatus.FAILED and "already exists" in (failed.error or "")
    differs = run(one, tmp_path, policy=ConflictPolicy.SKIP_IDENTICAL, to="jpg").frames[0]
    assert differs.status is FrameStatus.FAILED and dest.read_bytes() == b"older file"
    renamed = run(one, tmp_path, policy=ConflictPolicy.RENAME, to="jpg").frames[0]
    assert renamed.status is FrameStatus.DONE and renamed.dest.endswith("shot_010_v2.1001.jpg")
    assert dest.read_bytes() == b"older file" and Path(renamed.dest).stat().st_size > 100
    over = run(one, tmp_path, policy=ConflictPolicy.OVERWRITE, to="jpg").frames[0]
    assert over.status is FrameStatus.DONE and spec_of(dest).width == 128
    # Now the existing file holds the same pixels: skip-identical skips it.
    same = run(one, tmp_path, policy=ConflictPolicy.SKIP_IDENTICAL, to="jpg").frames[0]
    assert same.status is FrameStatus.SKIPPED
    assert no_temp_files(tmp_path)


# -- failures, cancel, pause, stop --


def test_corrupt_frame_fails_alone(exr_seq_session: list[Path], tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for p in exr_seq_session[:5]:
        shutil.copy(p, src / p.name)
    bad = src / "shot_010.1003.exr"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    seq = Sequence(str(src), "shot_010.", ".exr", 4, tuple(range(1001, 1006)))
    result = run(seq, tmp_path / "out", to="exr", compression="dwaa", threads=2)
    assert result.exit_code == 1 and result.state is JobState.FAILED  # resumable, like a copy
    statuses = {f.frame: f.status for f in result.frames}
    assert statuses == {1001: FrameStatus.DONE, 1002: FrameStatus.DONE, 1003: FrameStatus.FAILED,
                        1004: FrameStatus.DONE, 1005: FrameStatus.DONE}
    error = result.failed[0].error or ""
    assert str(bad) in error and "OpenImageIO" in error and "re-render or re-copy" in error
    assert sorted(os.listdir(tmp_path / "out")) == [f"shot_010.{f}.exr" for f in (1001, 1002, 1004, 1005)]


def test_gap_is_reported_before_the_first_frame(exr_seq_session: list[Path], tmp_path: Path) -> None:
    seq = as_sequence(exr_seq_session[:6]).with_frames([1001, 1002, 1005, 1006])
    events: list[Event] = []
    result = run(seq, tmp_path, events=events, to="jpg", to_space="sRGB - Display")
    assert result.exit_code == 0
    first_frame = next(i for i, e in enumerate(events) if isinstance(e, FrameResult))
    warnings = [i for i, e in enumerate(events) if isinstance(e, LogMessage) and "1003-1004" in e.text]
    assert warnings and warnings[0] < first_frame
    assert any(isinstance(e, Progress) and "missing" in e.message for e in events[:first_frame])


def test_cancel_mid_job_leaves_only_complete_frames(exr_seq_session: list[Path], tmp_path: Path) -> None:
    seq = as_sequence(exr_seq_session)
    token = CancelToken()
    events: list[Event] = []

    def report(event: Event) -> None:
        events.append(event)
        if isinstance(event, FrameResult) and sum(isinstance(e, FrameResult) for e in events) == 3:
            token.cancel()

    spec = JobSpec(seq, str(tmp_path), Operation.CONVERT, convert=ConvertOptions(to="exr", threads=2))
    result = convert_sequence(spec, token, report)
    assert result.state is JobState.CANCELLED and result.exit_code == 130
    done = [f for f in result.frames if f.status is FrameStatus.DONE]
    assert 3 <= len(done) < len(seq.frames)
    # Every frame is accounted for: done, cancelled in flight, or not started.
    assert [f.frame for f in result.frames] == list(seq.frames)
    assert {f.status for f in result.frames} <= {FrameStatus.DONE, FrameStatus.CANCELLED, FrameStatus.PENDING}
    assert no_temp_files(tmp_path)
    for f in done:  # what remains is whole
        assert spec_of(Path(f.dest)).width == 128
    assert len(os.listdir(tmp_path)) == len(done)


def test_stop_after_frame_ends_between_frames(exr_seq_session: list[Path], tmp_path: Path) -> None:
    seq = as_sequence(exr_seq_session)
    token = CancelToken()

    def report(event: Event) -> None:
        if isinstance(event, FrameResult):
            token.stop_after_frame()

    spec = JobSpec(seq, str(tmp_path), Operation.CONVERT, convert=ConvertOptions(to="jpg", threads=1))
    result = convert_sequence(spec, token, report)
    assert result.state is JobState.CANCELLED and "Stopped" in result.message
    assert [f.status for f in result.frames] == [FrameStatus.DONE] + [FrameStatus.PENDING] * 11
    assert os.listdir(tmp_path) == ["shot_010.1001.jpg"]


def test_pause_holds_the_job_until_resumed(seq: Sequence, tmp_path: Path) -> None:
    import threading

    token = CancelToken()
    paused = threading.Event()

    def report(event: Event) -> None:
        if isinstance(event, FrameResult) and not paused.is_set():
            token.pause()
            paused.set()

    spec = JobSpec(seq, str(tmp_path), Operation.CONVERT, convert=ConvertOptions(to="jpg", threads=1))
    box: dict[str, object] = {}
    worker = threading.Thread(target=lambda: box.update(result=convert_sequence(spec, token, report)))
    worker.start()
    assert paused.wait(30)
    worker.join(0.5)
    assert worker.is_alive()  # held by the pause
    assert len([n for n in os.listdir(tmp_path) if not is_temp_name(n)]) == 1
    token.resume()
    worker.join(30)
    assert box["result"].exit_code == 0  # type: ignore[attr-defined]
    assert len(os.listdir(tmp_path)) == 4


def test_display_view_matches_oiiotool_ociodisplay(seq: Sequence, tmp_path: Path) -> None:
    src = Path(seq.directory) / "shot_010.1001.exr"
    ref = tmp_path / "ref.exr"
    view = "ACES 2.0 - SDR 100 nits (Rec.709)"
    subprocess.run([OIIOTOOL, str(src), "--iscolorspace", "ACEScg", "--ociodisplay", "sRGB - Display", view,
                    "-d", "float", "-o", str(ref)], check=True)
    result = run(seq.with_frames([1001]), tmp_path / "out", to="exr", data_format="float",
                 to_space="sRGB - Display", view=view)
    assert result.exit_code == 0, result.message
    ours = oiio.ImageBuf(str(tmp_path / "out" / "shot_010.1001.exr")).get_pixels(oiio.FLOAT)
    theirs = oiio.ImageBuf(str(ref)).get_pixels(oiio.FLOAT)
    assert np.abs(ours - theirs).max() < 1e-4
    # The ACES view tone-maps: not the same as the plain display conversion.
    plain = oiio.ImageBufAlgo.colorconvert(oiio.ImageBuf(str(src)), "ACEScg", "sRGB - Display").get_pixels(oiio.FLOAT)
    assert np.abs(ours - plain).max() > 0.05


def test_run_job_dispatches_conversions(seq: Sequence, tmp_path: Path) -> None:
    from vfxcopy.core.engine import run_job

    spec = JobSpec(seq, str(tmp_path), Operation.CONVERT, convert=ConvertOptions(to="png", to_space="sRGB - Display"))
    result = run_job(spec)
    assert result.exit_code == 0 and len(os.listdir(tmp_path)) == 4


@pytest.mark.needs_root
def test_full_destination_stops_the_job_cleanly(tmp_path: Path) -> None:
    # libjpeg ends the whole process when a write hits a full disk, so the
    # engine must stop before such a write: this test would die, not fail, otherwise.
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    make_exr_sequence(tmp_path / "src", count=6, width=512, height=288)
    seq = Sequence(str(tmp_path / "src"), "shot_010.", ".exr", 4, tuple(range(1001, 1007)))
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], check=True)
    try:
        def fill_disk(event: Event) -> None:
            if isinstance(event, FrameResult) and event.index == 0:
                free = shutil.disk_usage(mnt).free
                with open(mnt / "filler", "wb") as fh:
                    fh.write(b"\0" * (free - 200 * 1024))

        events: list[Event] = []
        spec = JobSpec(seq, str(mnt / "out"), Operation.CONVERT,
                       convert=ConvertOptions(to="jpg", to_space="sRGB - Display", threads=1))
        result = convert_sequence(spec, CancelToken(), lambda e: (events.append(e), fill_disk(e)))
        assert result.state is JobState.FAILED and result.exit_code == 1
        assert "destination is full" in result.message
        statuses = [f.status for f in result.frames]
        assert statuses[0] is FrameStatus.DONE and statuses[1] is FrameStatus.FAILED
        assert set(statuses[2:]) == {FrameStatus.PENDING}
        assert os.listdir(mnt / "out") == ["shot_010.1001.jpg"]  # nothing partial
        assert spec_of(mnt / "out" / "shot_010.1001.jpg").width == 512
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
