"""`vfxcopy convert`: formats, presets, options, exit codes, --json, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imagefiles import copy_plates, spec_of

from vfxcopy.cli import main
from vfxcopy.core.samples import make_exr_sequence


@pytest.fixture
def src(exr_seq_session: list[Path], tmp_path: Path) -> Path:
    return copy_plates(exr_seq_session[:5], tmp_path / "plates")


def test_preset_converts_a_folder(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "proxies"
    code = main(["convert", str(src), str(out), "--preset", "Half-res sRGB JPEG proxies", "--json", "-q"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["exit_code"] == 0 and data["options"]["preset"] == "Half-res sRGB JPEG proxies"
    assert data["jobs"][0]["frames_done"] == 5
    names = sorted(os.listdir(out))
    assert names == [f"shot_010.{f}.jpg" for f in range(1001, 1006)]
    spec = spec_of(out / names[0])
    assert (spec.width, spec.height, str(spec.format)) == (64, 36, "uint8")


def test_the_summary_counts_the_bytes_a_conversion_wrote(src: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The library writes a conversion's frames by path; what it wrote is counted (the summary
    said "0 B in 0.1 s (0.0 MiB/s)" for every conversion)."""
    out = tmp_path / "proxies"
    assert main(["convert", str(src), str(out), "--to", "jpg", "--to-space", "sRGB - Display", "--json"]) == 0
    captured = capsys.readouterr()
    written = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    assert json.loads(captured.out)["jobs"][0]["bytes"] == written > 0
    assert " 0 B in " not in captured.err and "5 done" in captured.err


def test_flags_set_format_codec_frames_and_size(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["convert", str(src / "shot_010.1001.exr"), str(out), "--to", "exr", "--compression", "dwaa:45",
                 "--frames", "1002-1004", "--resize", "100x100", "--channels", "R,G", "--threads", "3", "--json", "-q"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["jobs"][0]["frames_done"] == 3
    assert sorted(os.listdir(out)) == [f"shot_010.{f}.exr" for f in (1002, 1003, 1004)]
    spec = spec_of(out / "shot_010.1003.exr")
    assert (spec.width, spec.height) == (100, 56)
    assert list(spec.channelnames) == ["R", "G"]
    assert spec.getattribute("compression") == "dwaa"


def test_preset_with_overrides(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["convert", str(src), str(out), "--preset", "DPX 10-bit log", "--data-format", "uint16", "--json", "-q"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["options"]["preset"] == "DPX 10-bit log (changed)"
    spec = spec_of(out / "shot_010.1001.dpx")
    assert spec.get_int_attribute("oiio:BitsPerSample") == 16


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ([], "--to"),
        (["--to", "dpx", "--compression", "zip"], "not compressed"),
        (["--preset", "No such preset"], "PNG 8-bit sRGB"),
        (["--to", "jpg", "--to-space", "Nowhere"], "not in the OCIO config"),
        (["--to", "exr", "--resize", "huge"], "percentage"),
        (["--to", "exr", "--frames", "abc"], "--frames"),
        (["--to", "bmp"], "choose one of exr, dpx, tif, png, jpg, mp4, mov"),
    ],
)
def test_usage_errors_exit_2(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             extra: list[str], words: str) -> None:
    out = tmp_path / "out"
    assert main(["convert", str(src), str(out), *extra]) == 2
    assert words in capsys.readouterr().err
    assert not out.exists()


def test_destination_inside_source_is_refused(src: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(src), str(src / "proxies"), "--to", "jpg"]) == 2
    assert "refused" in capsys.readouterr().err


def test_corrupt_frame_exits_1_and_names_it(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = src / "shot_010.1002.exr"
    bad.write_bytes(bad.read_bytes()[:300])
    out = tmp_path / "out"
    assert main(["convert", str(src), str(out), "--to", "png", "--to-space", "sRGB - Display"]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "failed" in err
    assert len(os.listdir(out)) == 4


def test_second_run_skips_identical_frames(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["convert", str(src), str(out), "--to", "exr", "--compression", "piz", "-q", "--json"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["jobs"][0]["frames_skipped"] == 5
    assert main([*args[:-2], "--on-conflict", "fail"]) == 1


def test_list_presets_and_save_preset(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "--list-presets"]) == 0
    text = capsys.readouterr().out
    assert "EXR DWAA 45 for delivery" in text and "dwaa:45" in text
    code = main(["convert", str(src), str(tmp_path / "out"), "--to", "tif", "--data-format", "uint8",
                 "--save-preset", "8-bit TIFF", "-q"])
    assert code == 0
    capsys.readouterr()
    assert main(["convert", "--list-presets", "--json"]) == 0
    presets = json.loads(capsys.readouterr().out)["presets"]
    assert presets["8-bit TIFF"]["to"] == "tif" and presets["8-bit TIFF"]["builtin"] is False
    assert presets["PNG 8-bit sRGB"]["builtin"] is True


def test_movie_from_the_command_line(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "review"
    assert main(["convert", str(src), str(out), "--to", "mp4", "--to-space", "sRGB - Display", "-q"]) == 0
    assert os.listdir(out) == ["shot_010.mp4"]


@pytest.mark.slow
@pytest.mark.parametrize("target", ["exr", "mp4"])
def test_sigint_cancels_with_130_and_leaves_nothing_partial(tmp_path: Path, target: str) -> None:
    make_exr_sequence(tmp_path / "src", count=60, width=640, height=360)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vfxcopy", "convert", str(tmp_path / "src"), str(out), "--to", target,
         "--to-space", "sRGB - Display", "--resize", "200%", "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    deadline = time.monotonic() + 60
    # Wait until work is under way (a temporary file or a first frame exists).
    while time.monotonic() < deadline and not (out.exists() and os.listdir(out)):
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    left = os.listdir(out)
    assert not [n for n in left if n.startswith(".vfxcopy-")]
    if target == "mp4":
        assert left == []  # no partial movie
    else:
        assert len(left) < 60
        for name in left:
            assert spec_of(out / name).width == 1280  # whatever remains is complete


def test_convert_jobs_are_journaled_unless_asked_not_to(src: Path, tmp_path: Path) -> None:
    from vfxcopy.core.jobs import JobState, Operation
    from vfxcopy.core.journal import Journal

    assert main(["convert", str(src), str(tmp_path / "a"), "--to", "jpg", "-q", "--no-journal"]) == 0
    with Journal() as journal:
        assert journal.jobs() == []
    assert main(["convert", str(src), str(tmp_path / "b"), "--preset", "PNG 8-bit sRGB", "-q"]) == 0
    with Journal() as journal:
        [job] = journal.jobs()
        assert job.state is JobState.COMPLETED and job.frames_done == 5
        assert job.spec.operation is Operation.CONVERT and job.spec.convert is not None
        assert job.spec.convert.preset == "PNG 8-bit sRGB"
