"""Pre-flight of real EXR and DPX sequences: every planted defect is found, clean frames are not flagged."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from vfxcopy.core.jobs import CancelToken, JobSpec
from vfxcopy.core.preflight import (
    Kind,
    PreflightOptions,
    action_for,
    options_from_policy,
    parse_policy,
    policy_verdict,
    preflight_job,
    run_preflight,
)
from vfxcopy.core.preflight.samples import (
    DPX_CLEAN,
    DPX_DEFECTS,
    EXR_CLEAN,
    EXR_DEFECTS,
    make_defective_dpx_sequence,
    make_defective_exr_sequence,
)
from vfxcopy.core.samples import make_byte_sequence, make_exr_sequence
from vfxcopy.core.seqfind import find_sequence, scan
from vfxcopy.core.sequence import Sequence


@pytest.fixture(scope="module")
def exr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_defective_exr_sequence(tmp_path_factory.mktemp("pf") / "exr")


@pytest.fixture(scope="module")
def dpx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_defective_dpx_sequence(tmp_path_factory.mktemp("pf") / "dpx")


def only_seq(folder: Path) -> Sequence:
    [seq] = scan([folder])
    return seq


def kinds_by_frame(findings: list) -> dict[int | None, set[str]]:  # type: ignore[type-arg]
    out: dict[int | None, set[str]] = {}
    for f in findings:
        out.setdefault(f.frame, set()).add(f.kind.value)
    return out


@pytest.mark.parametrize("fmt", ["exr", "dpx"])
def test_every_planted_defect_is_found_on_its_frame_and_clean_frames_pass(
    fmt: str, exr_dir: Path, dpx_dir: Path
) -> None:
    folder, defects, clean = (exr_dir, EXR_DEFECTS, EXR_CLEAN) if fmt == "exr" else (dpx_dir, DPX_DEFECTS, DPX_CLEAN)
    report = run_preflight(only_seq(folder), options=PreflightOptions(duplicates=True))
    found = kinds_by_frame(report.findings)
    for frame, kind in defects.items():
        assert kind in found.get(frame, set()), (frame, kind, found.get(frame))
    for frame in clean:
        assert frame not in found, (frame, found[frame])
    assert not report.ok and not report.cancelled
    assert report.frames_checked == len(only_seq(folder).frames)
    # Every finding names its file and says what is wrong.
    for f in report.findings:
        assert Path(f.path).name in f.text() and f.message


def test_outlier_findings_say_expected_and_found(exr_dir: Path) -> None:
    report = run_preflight(only_seq(exr_dir))
    by = {(f.frame, f.kind): f for f in report.findings}
    assert (by[1005, Kind.RESOLUTION].expected, by[1005, Kind.RESOLUTION].found) == ("64x48", "32x24")
    assert (by[1006, Kind.COMPRESSION].expected, by[1006, Kind.COMPRESSION].found) == ("zip", "piz")
    assert by[1007, Kind.CHANNELS].message == "channel A missing"
    assert (by[1007, Kind.CHANNELS].expected, by[1007, Kind.CHANNELS].found) == ("R,G,B,A", "R,G,B")
    assert (by[1013, Kind.PIXEL_TYPE].expected, by[1013, Kind.PIXEL_TYPE].found) == ("half", "float")
    assert by[1014, Kind.WINDOW].found == "4,4,59,43" and by[1014, Kind.WINDOW].expected == "0,0,63,47"
    assert by[1012, Kind.COLORSPACE].found == "srgb_rec709_scene"
    assert "frame 1010 is missing" in by[1010, Kind.GAP].message
    assert "cut short" in by[1003, Kind.TRUNCATED].message
    # A frame at another resolution is one resolution finding, not three window findings as well.
    assert (1005, Kind.WINDOW) not in by
    # Duplicates are off by default (they cost a read of equal-size frames).
    assert (1008, Kind.DUPLICATE) not in by


def test_dpx_pixel_type_names_the_bit_depth(dpx_dir: Path) -> None:
    report = run_preflight(only_seq(dpx_dir))
    [f] = report.of_kind(Kind.PIXEL_TYPE)
    assert (f.frame, f.expected, f.found) == (9, "uint16 (10-bit)", "uint16 (16-bit)")


def test_clean_sequence_is_ok(tmp_path: Path) -> None:
    make_exr_sequence(tmp_path / "ok", count=8, width=64, height=32)
    report = run_preflight(only_seq(tmp_path / "ok"), options=PreflightOptions(deep=True, duplicates=True))
    assert report.ok and report.findings == [] and report.frames_checked == 8
    assert report.summary() == "OK"


def test_deep_finds_a_corrupt_middle_chunk_that_the_header_check_cannot(tmp_path: Path) -> None:
    make_exr_sequence(tmp_path / "s", count=4, width=64, height=256)
    bad = tmp_path / "s" / "shot_010.1002.exr"
    data = bytearray(bad.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 200] = bytes(200)  # zeros inside a zip chunk: same size, header intact
    bad.write_bytes(bytes(data))
    seq = only_seq(tmp_path / "s")
    assert run_preflight(seq).of_kind(Kind.UNDECODABLE) == []
    [f] = run_preflight(seq, options=PreflightOptions(deep=True)).of_kind(Kind.UNDECODABLE)
    assert f.frame == 1002 and "pixels do not decode" in f.message


def test_size_factor_flags_frames_far_from_the_median(tmp_path: Path) -> None:
    for i in range(6):
        (tmp_path / f"f.{1001 + i}.bin").write_bytes(bytes([i]) * 1000)
    (tmp_path / "f.1007.bin").write_bytes(b"x" * 5000)  # 5x the median
    seq = only_seq(tmp_path)
    [f] = run_preflight(seq).of_kind(Kind.SIZE)
    assert f.frame == 1007 and f.found == "5000 bytes"
    assert run_preflight(seq, options=PreflightOptions(size_factor=6)).of_kind(Kind.SIZE) == []


def test_frames_subset_checks_only_those_and_gaps_inside_them(exr_dir: Path) -> None:
    seq = only_seq(exr_dir)
    report = run_preflight(seq, frames=[1001, 1002, 1009, 1015])
    # Frames 1003-1008 and 1010-1014 were not asked for, but the ones missing on disk in between are gaps.
    assert report.frames_checked == 4
    assert {f.kind for f in report.findings} == {Kind.GAP}
    assert run_preflight(seq, frames=[1001, 1002]).ok


def test_only_some_kinds(exr_dir: Path) -> None:
    report = run_preflight(only_seq(exr_dir), options=PreflightOptions(kinds=frozenset({Kind.TRUNCATED})))
    assert [(f.frame, f.kind) for f in report.findings] == [(1003, Kind.TRUNCATED)]


def test_single_file_and_non_image_frames(tmp_path: Path) -> None:
    (tmp_path / "empty.exr").write_bytes(b"")
    [f] = run_preflight(find_sequence(tmp_path / "empty.exr")).findings
    assert f.kind is Kind.EMPTY and f.frame is None
    # Not an image format: sizes, gaps and duplicates are still checked, decoding is not tried.
    for i in (1, 2, 3, 5):
        (tmp_path / f"notes.{i}.xyz").write_bytes(bytes([i]) * 10)
    report = run_preflight(find_sequence(tmp_path / "notes.1.xyz"), options=PreflightOptions(duplicates=True))
    assert [(f.frame, f.kind) for f in report.findings] == [(4, Kind.GAP)]


def test_duplicates_read_only_frames_of_equal_size(tmp_path: Path) -> None:
    make_exr_sequence(tmp_path / "s", count=5, width=64, height=32)
    src = tmp_path / "s"
    shutil.copyfile(src / "shot_010.1002.exr", src / "shot_010.1004.exr")
    [f] = run_preflight(only_seq(src), options=PreflightOptions(duplicates=True)).of_kind(Kind.DUPLICATE)
    assert f.frame == 1004 and "1002" in f.message
    # Equal size, same samples, different bytes elsewhere: not a duplicate.
    a = bytearray(300_000)
    b = bytearray(a)
    b[100_000] = 1  # outside the three 64 KiB samples
    (tmp_path / "d").mkdir()
    for i, data in enumerate((a, b, bytes(range(256)) * 1172), 1):
        (tmp_path / "d" / f"x.{i}.bin").write_bytes(bytes(data))
    assert run_preflight(only_seq(tmp_path / "d"), options=PreflightOptions(duplicates=True)).ok


def test_cancel_returns_a_cancelled_report_soon(tmp_path: Path) -> None:
    make_byte_sequence(tmp_path / "s", count=400, size=100, tail=".bin")
    token = CancelToken()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        token.cancel()

    report = run_preflight(only_seq(tmp_path / "s"), token=token, options=PreflightOptions(threads=1),
                           on_progress=progress)
    assert report.cancelled and not report.ok and report.summary() == "cancelled"
    assert seen == [16]  # one batch, and nothing reported after the cancel


def test_deep_cancel_stops_within_a_frame(exr_dir: Path) -> None:
    token = CancelToken()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done == 2:
            token.cancel()

    report = run_preflight(only_seq(exr_dir), token=token, options=PreflightOptions(threads=1, deep=True),
                           on_progress=progress)
    assert report.cancelled and seen == [1, 2]


def test_progress_runs_to_the_total(tmp_path: Path) -> None:
    make_byte_sequence(tmp_path / "s", count=40, size=100, tail=".bin")
    seen: list[tuple[int, int]] = []
    run_preflight(only_seq(tmp_path / "s"), options=PreflightOptions(threads=3),
                  on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(16, 40), (32, 40), (40, 40)]


def test_reads_that_wait_on_storage_move_to_the_thread_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vfxcopy.core.preflight import run as run_module

    make_byte_sequence(tmp_path / "s", count=96, size=100, tail=".bin")
    seen: list[str] = []
    real = run_module.inspect_frame

    def slow_storage(path: str, frame: int | None, **kw: object) -> object:
        seen.append(threading.current_thread().name)
        time.sleep(0.002)  # a network round trip: waiting, not computing
        return real(path, frame, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(run_module, "inspect_frame", slow_storage)
    started = time.monotonic()
    report = run_preflight(only_seq(tmp_path / "s"), options=PreflightOptions(threads=8))
    elapsed = time.monotonic() - started
    assert report.ok and report.frames_checked == 96
    # The first two batches ran on the caller's thread, saw they were waiting, and handed the rest over.
    assert seen[:32] == [threading.current_thread().name] * 32
    assert {name for name in seen[32:]} <= {f"vfxcopy-preflight_{i}" for i in range(8)}
    assert len(set(seen[32:])) > 1
    assert elapsed < 96 * 0.002  # the waits overlapped


def test_progress_comes_from_the_callers_thread(exr_dir: Path) -> None:
    names: set[str] = set()
    def progress(done: int, total: int) -> None:
        names.add(threading.current_thread().name)

    run_preflight(only_seq(exr_dir), options=PreflightOptions(threads=4), on_progress=progress)
    assert names == {threading.main_thread().name}  # progress comes from the caller's thread


# -- policy ----------------------------------------------------------------------------


def test_parse_policy_expands_groups_and_later_rules_win() -> None:
    policy = parse_policy("all=warn,truncated=refuse")
    assert policy["truncated"] == "refuse" and policy["resolution"] == "warn" and policy["duplicate"] == "warn"
    assert parse_policy("outlier=ignore") == {k.value: "ignore" for k in Kind if k.value in {
        "resolution", "window", "channels", "pixel_type", "compression", "colorspace", "size"}}
    for bad in ("", "truncated", "truncated=maybe", "nonsense=warn"):
        with pytest.raises(ValueError):
            parse_policy(bad)


def test_action_for_defaults_and_groups() -> None:
    assert action_for(None, Kind.TRUNCATED) == "refuse"
    assert action_for(None, Kind.RESOLUTION) == "warn"
    assert action_for(None, Kind.DUPLICATE) == "ignore"
    assert action_for({"outlier": "refuse"}, Kind.COMPRESSION) == "refuse"
    assert action_for({"outlier": "refuse", "compression": "ignore"}, Kind.COMPRESSION) == "ignore"
    opts = options_from_policy({"duplicate": "warn", "gap": "ignore"})
    assert opts.duplicates and opts.kinds is not None and Kind.GAP not in opts.kinds


def test_policy_verdict_refuses_with_a_clear_message_and_warns_the_rest(exr_dir: Path) -> None:
    seq = only_seq(exr_dir)
    spec = JobSpec(source=seq, dest_dir="/tmp/nowhere", preflight={"truncated": "refuse", "empty": "warn",
                                                                    "undecodable": "warn"})
    report = preflight_job(spec)
    refuse, warnings = policy_verdict(spec, report)
    assert refuse is not None
    assert "1 truncated" in refuse and "plate.1003.exr" in refuse and "--preflight truncated=warn" in refuse
    assert "resolution" not in refuse
    assert any("plate.1004.exr" in w and "empty" in w for w in warnings)
    assert any("plate.1005.exr" in w and "resolution" in w for w in warnings)
    # Duplicates are ignored by default, so not even looked for.
    assert report.of_kind(Kind.DUPLICATE) == []
    # No policy: never refused, no warnings.
    assert policy_verdict(JobSpec(source=seq, dest_dir="/tmp/x"), report) == (None, [])


def test_policy_verdict_passes_a_job_whose_frames_are_fine(exr_dir: Path) -> None:
    seq = only_seq(exr_dir)
    spec = JobSpec(source=seq, dest_dir="/tmp/x", frames=[1001, 1002, 1009], preflight={})
    assert policy_verdict(spec, preflight_job(spec)) == (None, [])
    spec.preflight = {"duplicate": "refuse"}
    spec.frames = [1001, 1002, 1008, 1009]
    refuse, _ = policy_verdict(spec, preflight_job(spec))
    assert refuse is not None and "duplicate" in refuse and "plate.1008.exr" in refuse


# -- is the file whole? (tails) -----------------------------------------------------------


def _write(path: Path, width: int = 96, height: int = 80, **attrs: object) -> Path:
    import numpy as np
    import OpenImageIO as oiio

    spec = oiio.ImageSpec(width, height, 3, "half" if path.suffix == ".exr" else "uint8")
    for key, value in attrs.items():
        spec.attribute(key, value)
    buf = oiio.ImageBuf(spec)
    buf.set_pixels(oiio.ROI(), np.random.default_rng(7).random((height, width, 3), dtype=np.float32))
    assert buf.write(str(path)), buf.geterror()
    return path


def _truncated_kinds(folder: Path) -> dict[int, str]:
    report = run_preflight(only_seq(folder), options=PreflightOptions(kinds=frozenset({Kind.TRUNCATED})))
    return {f.frame: f.message for f in report.findings if f.frame is not None}


@pytest.mark.parametrize("compression", ["none", "rle", "zips", "zip", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab"])
def test_exr_offset_table_check_agrees_with_decoding_for_every_compression(tmp_path: Path, compression: str) -> None:
    for frame in (1, 2, 3):
        _write(tmp_path / f"c.{frame}.exr", height=300, compression=compression)
    data = (tmp_path / "c.2.exr").read_bytes()
    (tmp_path / "c.2.exr").write_bytes(data[:-1])  # one byte short
    (tmp_path / "c.3.exr").write_bytes(data[: len(data) // 3])
    found = _truncated_kinds(tmp_path)
    assert set(found) == {2, 3}, found
    assert "cut short" in found[2]


def test_exr_whose_offset_table_was_never_filled_is_cut(tmp_path: Path) -> None:
    from vfxcopy.core.preflight.exrheader import parse_header

    for frame in (1, 2):
        _write(tmp_path / f"t.{frame}.exr", compression="zip")
    data = bytearray((tmp_path / "t.2.exr").read_bytes())
    header = parse_header(bytes(data[:65536]))
    table_at, chunks = header.end, header.chunk_count
    data[table_at:table_at + 8 * chunks] = bytes(8 * chunks)  # what a writer killed before its last step leaves
    (tmp_path / "t.2.exr").write_bytes(bytes(data))
    assert "never written" in _truncated_kinds(tmp_path)[2]


@pytest.mark.parametrize("ext, attrs", [("exr", {"tile_width": 32}), ("tif", {}), ("png", {}), ("jpg", {}),
                                         ("dpx", {})])
def test_cut_files_of_other_layouts_and_formats(tmp_path: Path, ext: str, attrs: dict[str, int]) -> None:
    import OpenImageIO as oiio

    for frame in (1, 2, 3):
        path = tmp_path / f"o.{frame}.{ext}"
        if attrs:  # a tiled EXR: written through ImageOutput with a tiled spec
            import numpy as np

            spec = oiio.ImageSpec(96, 80, 3, "half")
            spec.tile_width = spec.tile_height = 32
            spec.attribute("compression", "zip")
            out = oiio.ImageOutput.create(str(path))
            assert out.open(str(path), spec)
            assert out.write_image(np.random.default_rng(frame).random((80, 96, 3), dtype=np.float32))
            out.close()
        else:
            _write(path)
    data = (tmp_path / f"o.2.{ext}").read_bytes()
    (tmp_path / f"o.2.{ext}").write_bytes(data[: len(data) * 2 // 3])
    assert set(_truncated_kinds(tmp_path)) == {2}


def test_exr_header_reader_agrees_with_openimageio(exr_dir: Path, tmp_path: Path) -> None:
    """Header mode reads EXR headers itself; deep mode goes through OpenImageIO: same facts."""
    from vfxcopy.core.preflight.inspect import inspect_frame

    _write(tmp_path / "dwa.1.exr", compression="dwaa:45")
    import numpy as np
    import OpenImageIO as oiio

    spec = oiio.ImageSpec(32, 16, 6, "half")
    spec.channelnames = ("R", "G", "B", "A", "Z", "diffuse.R")
    spec.channelformats = (oiio.HALF,) * 4 + (oiio.FLOAT, oiio.HALF)
    spec.attribute("compression", "piz")
    out = oiio.ImageOutput.create(str(tmp_path / "layers.1.exr"))
    assert out.open(str(tmp_path / "layers.1.exr"), spec)
    assert out.write_image(np.zeros((16, 32, 6), np.float32))
    out.close()
    paths = [p for p in sorted(exr_dir.iterdir()) if p.name not in ("plate.1003.exr", "plate.1004.exr",
                                                                       "plate.1011.exr")]
    for path in [*paths, tmp_path / "dwa.1.exr", tmp_path / "layers.1.exr"]:
        fast = inspect_frame(str(path), 1)
        slow = inspect_frame(str(path), 1, deep=True)
        assert fast == slow, path
        assert fast.decoded
    layered = inspect_frame(str(tmp_path / "layers.1.exr"), 1)
    assert "Z:float" in layered.pixel_type and "diffuse.R" in layered.channels


def test_exr_with_a_long_header_is_read_in_two_steps(tmp_path: Path) -> None:
    from vfxcopy.core.preflight.inspect import inspect_frame
    from vfxcopy.core.preflight.tails import FIRST_READ

    for frame in (1, 2):
        _write(tmp_path / f"meta.{frame}.exr", compression="zip", ImageDescription="x" * (FIRST_READ * 2))
    info = inspect_frame(str(tmp_path / "meta.1.exr"), 1)
    assert info.decoded and info.compression == "zip" and info.channels == ("R", "G", "B")
    assert info == inspect_frame(str(tmp_path / "meta.1.exr"), 1, deep=True)
    data = (tmp_path / "meta.2.exr").read_bytes()
    (tmp_path / "meta.2.exr").write_bytes(data[:-10])
    assert set(_truncated_kinds(tmp_path)) == {2}
