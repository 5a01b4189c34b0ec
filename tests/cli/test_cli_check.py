"""`vfxcopy check`: findings on real defective EXR/DPX sequences through the command line; JSON; exit codes; Ctrl-C."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vfxcopy.cli.check_cmd import CheckProgress
from vfxcopy.cli.common import UsageError
from vfxcopy.cli.preflight_opts import add_preflight_arguments, preflight_policy_from_args
from vfxcopy.core.preflight.samples import (
    DPX_CLEAN,
    DPX_DEFECTS,
    EXR_CLEAN,
    EXR_DEFECTS,
    make_defective_dpx_sequence,
    make_defective_exr_sequence,
)
from vfxcopy.core.samples import make_exr_sequence


def vfxcopy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vfxcopy", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def plates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("check")
    make_defective_exr_sequence(root / "exr")
    make_defective_dpx_sequence(root / "dpx")
    make_exr_sequence(root / "clean", count=6, width=64, height=32)
    return root


def finding_lines(stdout: str) -> dict[tuple[int, str], str]:
    """(frame, kind) -> the line, from the indented finding lines of the text output."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("  "):
            frame, kind, rest = line.split(None, 2)
            out[int(frame), kind] = rest
    return out


def test_check_reports_every_defect_per_frame_and_exits_1(plates: Path) -> None:
    proc = vfxcopy("check", "--duplicates", str(plates / "exr"), str(plates / "dpx" / "scan_####.dpx"))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = finding_lines(proc.stdout)
    for frame, kind in EXR_DEFECTS.items():
        assert (frame, kind) in lines, (frame, kind, proc.stdout)
        assert f"plate.{frame}.exr" in lines[frame, kind]
    for frame, kind in DPX_DEFECTS.items():
        assert (frame, kind) in lines and f"scan_{frame:04d}.dpx" in lines[frame, kind]
    assert not {f for f, _ in lines} & {*EXR_CLEAN, *DPX_CLEAN}
    assert "expected 64x48, found 32x24" in lines[1005, "resolution"]
    assert "expected zip, found piz" in lines[1006, "compression"]
    assert "channel A missing" in lines[1007, "channels"]
    assert f"{plates}/exr/plate.####.exr 1001-1016: " in proc.stdout
    assert "check: 19 findings: 2 sequences, 26 frames" in proc.stderr


def test_check_json_lists_findings_with_expected_and_found(plates: Path) -> None:
    proc = vfxcopy("check", "--json", "-q", str(plates / "exr" / "plate.1001.exr"))
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["command"] == "check" and data["exit_code"] == 1 and data["cancelled"] is False
    [seq] = data["sequences"]
    assert seq["sequence"] == f"{plates}/exr/plate.####.exr" and seq["frames_checked"] == 15
    assert seq["duplicates"] is False and "duplicate" not in seq["counts"]  # off unless asked
    by = {(f["frame"], f["kind"]): f for f in seq["findings"]}
    assert by[1013, "pixel_type"]["expected"] == "half" and by[1013, "pixel_type"]["found"] == "float"
    assert by[1004, "empty"]["path"] == f"{plates}/exr/plate.1004.exr"
    assert seq["counts"]["truncated"] == 1 and data["findings"] == len(seq["findings"])


def test_clean_sequence_exits_0(plates: Path) -> None:
    proc = vfxcopy("check", "--deep", str(plates / "clean"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"{plates}/clean/shot_010.####.exr 1001-1006: OK (6 frames checked)")


def test_only_ignore_and_frames(plates: Path) -> None:
    proc = vfxcopy("check", "--only", "broken", "--ignore", "empty", str(plates / "exr"))
    assert proc.returncode == 1
    assert set(finding_lines(proc.stdout)) == {(1003, "truncated"), (1011, "undecodable")}
    proc = vfxcopy("check", "--frames", "1001-1002,1009", str(plates / "exr"))
    assert proc.returncode == 0 and "OK (3 frames checked)" in proc.stdout
    proc = vfxcopy("check", "--frames", "1009-1011", str(plates / "exr"))
    assert set(finding_lines(proc.stdout)) == {(1010, "gap"), (1011, "undecodable")}


@pytest.mark.parametrize(
    "args, message",
    [
        (["/no/such/folder"], "no such file or folder"),
        (["--only", "nonsense", "."], "unknown finding kind 'nonsense'"),
        (["--size-factor", "1", "."], "--size-factor must be more than 1"),
        (["--frames", "9-1", "."], "--frames"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str, plates: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "vfxcopy", "check", *args], capture_output=True, text=True,
                          timeout=60, cwd=plates / "clean")
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_usage_error_with_json_says_so_on_stdout() -> None:
    proc = vfxcopy("check", "--json", "/no/such/folder")
    assert proc.returncode == 2 and json.loads(proc.stdout)["exit_code"] == 2


@pytest.mark.slow
def test_ctrl_c_exits_130_quickly_without_traceback(tmp_path: Path) -> None:
    # One large frame hard-linked 400 times: a deep check would take well over ten seconds.
    [frame] = make_exr_sequence(tmp_path / "one", count=1, width=1024, height=1024, compression="zip")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(400):
        os.link(frame, src / f"big.{1001 + i}.exr")
    proc = subprocess.Popen([sys.executable, "-m", "vfxcopy", "check", "--deep", "--threads", "1", str(src)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)  # let it start reading (the check itself takes far longer)
    assert proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 3.0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "cancelled" in out + err


def test_preflight_policy_arguments_for_copy_and_convert() -> None:
    parser = argparse.ArgumentParser()
    add_preflight_arguments(parser)
    assert preflight_policy_from_args(parser.parse_args([])) is None
    assert preflight_policy_from_args(parser.parse_args(["--preflight", "default"])) == {}
    policy = preflight_policy_from_args(parser.parse_args(["--preflight", "truncated=refuse,outlier=warn"]))
    assert policy is not None and policy["truncated"] == "refuse" and policy["compression"] == "warn"
    with pytest.raises(UsageError, match="--preflight"):
        preflight_policy_from_args(parser.parse_args(["--preflight", "truncated=maybe"]))


def test_progress_redraws_one_line_on_a_terminal_and_prints_lines_in_logs() -> None:
    tty = io.StringIO()
    progress = CheckProgress(stream=tty, tty=True)
    progress.start("plate.####.exr")
    time.sleep(0.12)  # past the 0.1 s redraw interval
    progress(120, 1000)
    progress(121, 1000)  # within the interval: not drawn
    progress.end()
    assert tty.getvalue() == "\rcheck plate.####.exr: 120/1000 frames\x1b[K\r\x1b[K"
    log = io.StringIO()
    progress = CheckProgress(stream=log, tty=False, plain_interval=0.0)
    progress.start("[1/2] plate.####.exr")
    progress(5, 10)
    progress(10, 10)  # the last frame: the result line says it
    assert log.getvalue() == "check [1/2] plate.####.exr: 5/10 frames\n"
    quiet = io.StringIO()
    progress = CheckProgress(stream=quiet, tty=True, quiet=True)
    progress(1, 2)
    assert quiet.getvalue() == ""
