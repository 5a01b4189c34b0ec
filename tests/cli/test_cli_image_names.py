"""Image frames as users run the commands on them: names that are not UTF-8, and a clean exit after
OpenImageIO was used (a copy's report thumbnails, `check --deep`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vfxcopy.core.samples import make_exr_sequence


def vfxcopy(*args: str) -> subprocess.CompletedProcess[str]:
    """As the console script runs it (`python -m vfxcopy`: main() with no argv, the program's exit path)."""
    return subprocess.run([sys.executable, "-m", "vfxcopy", *args], capture_output=True, text=True, timeout=180)


@pytest.fixture
def odd_plates(tmp_path: Path) -> Path:
    """Three EXR frames of three different greys whose names hold a byte that is not UTF-8
    (b'sh\\xffot.1001.exr'). Each is handed to OpenImageIO as /proc/self/fd/N, the same N each
    time: different pixels out show that nothing read one file for another."""
    import OpenImageIO as oiio

    folder = os.fsencode(tmp_path / "plates")
    os.mkdir(folder)
    for i in range(3):
        buf = oiio.ImageBuf(oiio.ImageSpec(64, 32, 3, oiio.HALF))
        oiio.ImageBufAlgo.fill(buf, [0.2 * (i + 1)] * 3)
        made = tmp_path / f"made{i}.exr"
        assert buf.write(str(made))
        os.rename(made, os.path.join(folder, b"sh\xffot.%d.exr" % (1001 + i)))
    return Path(os.fsdecode(folder))


def test_a_copy_of_exr_frames_ends_without_the_image_librarys_leak_report(tmp_path: Path) -> None:
    """Its report's thumbnails load OpenImageIO; with the collector's objects frozen at exit, its
    binding printed 43 lines of 'nanobind: leaked instances' after every such copy."""
    make_exr_sequence(tmp_path / "src", count=3, width=64, height=32)
    copied = vfxcopy("copy", "-q", str(tmp_path / "src"), str(tmp_path / "dest"))
    assert copied.returncode == 0, copied.stderr
    [report] = (tmp_path / "dest" / "ascmhl").glob("vfxcopy_report_*.html")
    assert report.read_text().count("<img") == 3  # the thumbnails were made: OpenImageIO was used
    deep = vfxcopy("check", "--deep", str(tmp_path / "src"))
    for proc in (copied, deep):
        assert "leaked" not in proc.stderr and "nanobind" not in proc.stderr, proc.stderr


def test_frames_whose_names_are_not_utf8_are_converted_checked_and_get_thumbnails(
        odd_plates: Path, tmp_path: Path) -> None:
    """OpenImageIO takes UTF-8 names only: a conversion failed with 'Uninitialized input image', and
    `check` of such a name that OpenImageIO had to read ended in a traceback."""
    out = tmp_path / "jpg"
    converted = vfxcopy("convert", str(odd_plates), str(out), "--to", "jpg", "--to-space", "sRGB - Display", "-q")
    assert converted.returncode == 0, converted.stderr
    assert sorted(os.listdir(os.fsencode(out))) == [b"sh\xffot.1001.jpg", b"sh\xffot.1002.jpg", b"sh\xffot.1003.jpg"]
    # Again: the frames there are compared (skip-identical) and skipped; they all "differed" before.
    again = vfxcopy("convert", str(odd_plates), str(out), "--to", "jpg", "--to-space", "sRGB - Display", "--json")
    assert again.returncode == 0, again.stderr
    assert '"frames_skipped": 3' in again.stdout
    movie = vfxcopy("convert", str(odd_plates), str(tmp_path / "mov"), "--to", "mp4", "--to-space", "sRGB - Display",
                    "-q")
    assert movie.returncode == 0, movie.stderr  # its first frame sizes the movie: a traceback before
    assert os.listdir(os.fsencode(tmp_path / "mov")) == [b"sh\xffot.mp4"]
    made = [(out / os.fsdecode(b"sh\xffot.%d.jpg" % (1001 + i))).read_bytes() for i in range(3)]
    assert len(set(made)) == 3  # three greys in, three different frames out
    copied = vfxcopy("copy", "-q", str(odd_plates), str(tmp_path / "copy"))
    assert copied.returncode == 0, copied.stderr
    [report] = (tmp_path / "copy" / "ascmhl").glob("vfxcopy_report_*.html")
    thumbnails = re.findall(r'src="(data:image/png;base64,[^"]+)"', report.read_text())
    assert len(thumbnails) == 3 and len(set(thumbnails)) == 3
    # Not an image under its .exr name: OpenImageIO is asked, and says so; no traceback.
    with open(os.path.join(os.fsencode(odd_plates), b"sh\xffot.1004.exr"), "wb") as f:
        f.write(b"not an image")
    checked = vfxcopy("check", str(odd_plates))
    assert checked.returncode == 1, checked.stderr
    assert "Traceback" not in checked.stderr and "sh\\xffot.1004.exr" in checked.stdout
    assert "undecodable" in checked.stdout
