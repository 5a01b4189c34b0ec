"""Conversions without extra full-size copies: colour conversion in place, pixel comparison band by band."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from vfxcopy.core import written_check
from vfxcopy.core.convert import FrameProcessor, plan_output, read_frame
from vfxcopy.core.errors import FrameError
from vfxcopy.core.jobs import ConvertOptions
from vfxcopy.core.written_check import compare_written


def exr(path: Path, width: int = 64, height: int = 48) -> Path:
    buf = oiio.ImageBuf(oiio.ImageSpec(width, height, 3, oiio.HALF))
    oiio.ImageBufAlgo.fill(buf, (0.1, 0.2, 0.3), (0.9, 0.5, 0.1))
    buf.specmod().attribute("oiio:ColorSpace", "ACEScg")
    assert buf.write(str(path))
    return path


def test_colour_conversion_works_in_place_with_the_same_pixels(tmp_path: Path) -> None:
    src = exr(tmp_path / "a.exr")
    buf = read_frame(str(src), as_float=True)
    expected = oiio.ImageBufAlgo.colorconvert(read_frame(str(src), as_float=True), "ACEScg", "ACEScct")
    out = FrameProcessor(ConvertOptions(to="exr", to_space="ACEScct")).process(buf, str(src))
    assert out is buf  # no second full-size image
    assert np.array_equal(out.get_pixels(oiio.FLOAT), expected.get_pixels(oiio.FLOAT))


def test_a_difference_in_a_later_band_is_found_and_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = exr(tmp_path / "w.exr")
    plan = plan_output(ConvertOptions(to="exr", compression="zip"))
    monkeypatch.setattr(written_check, "COMPARE_BAND_BYTES", 64 * 3 * 4 * 5)  # five rows a band
    expected = read_frame(str(written))
    compare_written(str(written), expected, oiio.TypeDesc("half"), plan, str(written))  # the same: passes
    expected.setpixel(17, 41, (5.0, 5.0, 5.0))
    with pytest.raises(FrameError, match=r"pixels differ.* at 17,41"):
        compare_written(str(written), expected, oiio.TypeDesc("half"), plan, str(written))


def test_nan_on_one_side_only_is_a_difference_and_on_both_is_not(tmp_path: Path) -> None:
    plan = plan_output(ConvertOptions(to="exr", compression="zip"))
    buf = read_frame(str(exr(tmp_path / "src.exr")))
    buf.setpixel(3, 4, (float("nan"), 0.5, 0.5))
    path = tmp_path / "nan.exr"
    assert buf.write(str(path), oiio.HALF)
    compare_written(str(path), buf, oiio.TypeDesc("half"), plan, str(path))  # NaN where NaN was written
    other = read_frame(str(path))
    other.setpixel(3, 4, (0.25, 0.5, 0.5))
    with pytest.raises(FrameError, match="pixels differ"):
        compare_written(str(path), other, oiio.TypeDesc("half"), plan, str(path))
