"""Checks of a written frame: it re-opens with the resolution, channels and format asked for, and
(`--compare-pixels`, lossless targets) its pixels equal what was meant to be written."""

from __future__ import annotations

import OpenImageIO as oiio

from vfxcopy.core.convert import WritePlan
from vfxcopy.core.errors import FrameError
from vfxcopy.core.oiiopath import oiio_name, open_image_input


def check_written(path: str, expect: oiio.ImageSpec, dtype: oiio.TypeDesc, plan: WritePlan, shown: str) -> None:
    """Re-open what was written and check resolution, channels, pixel type and codec."""
    inp = open_image_input(path)
    if inp is None:
        raise FrameError(shown, f"the written file does not read back: {oiio.geterror()}", "check the destination disk")
    try:
        got = inp.spec()
        problems = []
        if (got.width, got.height) != (expect.width, expect.height):
            problems.append(f"size {got.width}x{got.height}, expected {expect.width}x{expect.height}")
        if got.nchannels != expect.nchannels:
            problems.append(f"{got.nchannels} channels, expected {expect.nchannels}")
        if str(got.format) != str(dtype):
            problems.append(f"pixel type {got.format}, expected {dtype}")
        if plan.bits and got.get_int_attribute("oiio:BitsPerSample", 0) != plan.bits:
            problems.append(f"{got.get_int_attribute('oiio:BitsPerSample', 0)} bits, expected {plan.bits}")
        if plan.target == "exr" and plan.compression:
            written = str(got.getattribute("compression") or "")
            if written.split(":")[0] != plan.compression.split(":")[0]:
                problems.append(f"compression {written}, expected {plan.compression}")
        if inp.format_name() != plan.format_name:
            problems.append(f"format {inp.format_name()}, expected {plan.format_name}")
        if problems:
            raise FrameError(shown, "the written file is not what was asked: " + "; ".join(problems))
    finally:
        inp.close()


COMPARE_BAND_BYTES = 16 << 20  # float pixels compared at a time
_NORMALISED = {"half": 1.0, "float": 1.0, "uint8": 255.0, "uint16": 65535.0}


def compare_written(path: str, expected: oiio.ImageBuf, dtype: oiio.TypeDesc, plan: WritePlan, shown: str) -> None:
    """Pixel-compare what was written against what was meant to be written (idiff-like).

    Band by band, about COMPARE_BAND_BYTES of float pixels at a time: reading the whole
    file back beside the image and a quantised copy of it held three full-size images.
    """
    threshold = 1e-6
    if plan.bits and plan.bits < 16:
        # The DPX writer truncates 16-bit values to 10/12 bits: up to one code value.
        threshold = 1.01 / ((1 << plan.bits) - 1)
    scale = _NORMALISED.get(str(dtype))
    inp = open_image_input(path)
    if inp is None:
        raise FrameError(shown, f"the written file does not read back: {oiio.geterror()}")
    try:
        got, spec = inp.spec(), expected.spec()
        if scale is None or got.tile_width or (got.x, got.y, got.width, got.height, got.nchannels) != (
            spec.x, spec.y, spec.width, spec.height, spec.nchannels
        ):
            inp.close()
            inp = None
            return _compare_whole(path, expected, dtype, threshold, shown)
        import numpy as np

        rows = max(1, COMPARE_BAND_BYTES // max(1, spec.width * spec.nchannels * 4))
        nfail, maxerror, at = 0, 0.0, (0, 0)
        for y0 in range(spec.y, spec.y + spec.height, rows):
            y1 = min(spec.y + spec.height, y0 + rows)
            back = inp.read_scanlines(0, 0, y0, y1, 0, 0, spec.nchannels, oiio.FLOAT)
            if back is None:
                raise FrameError(shown, f"the written file does not read back: {inp.geterror()}")
            roi = oiio.ROI(spec.x, spec.x + spec.width, y0, y1, 0, 1, 0, spec.nchannels)
            want = np.asarray(expected.get_pixels(dtype, roi)).astype(np.float32, copy=False)
            if scale != 1.0:
                want /= scale
            back = np.asarray(back, dtype=np.float32).reshape(want.shape)
            want_nan = np.isnan(want)
            both_nan = want_nan & np.isnan(back) if want_nan.any() else None
            diff = np.abs(np.subtract(back, want, out=back), out=back)  # in place: few band-sized arrays
            bad = ~(diff <= threshold)  # NaN on one side only counts as a difference
            if both_nan is not None:
                bad &= ~both_nan
            count = int(np.count_nonzero(bad))
            if count:
                nfail += count
                worst = np.where(bad, np.nan_to_num(diff, nan=np.inf), 0.0)
                i = int(np.argmax(worst))
                if float(worst.flat[i]) > maxerror:
                    maxerror = float(worst.flat[i])
                    yy, xx = np.unravel_index(i, want.shape)[:2]
                    at = (spec.x + int(xx), y0 + int(yy))
        if nfail:
            raise FrameError(
                shown,
                f"pixels differ from the source: {nfail} values over {threshold:.2g} "
                f"(max error {maxerror:.4g} at {at[0]},{at[1]})",
                "the destination may be faulty; convert this frame again",
            )
    finally:
        if inp is not None:
            inp.close()


def _compare_whole(path: str, expected: oiio.ImageBuf, dtype: oiio.TypeDesc, threshold: float, shown: str) -> None:
    """The whole-image comparison (tiled files, other pixel types, a changed shape)."""
    with oiio_name(path) as source:
        back = oiio.ImageBuf(source)
        read = back.read(0, 0, force=True)
    if not read:
        raise FrameError(shown, f"the written file does not read back: {back.geterror()}")
    ref = oiio.ImageBuf()
    # Quantise the expected pixels the way the writer does, so a lossless codec compares exactly.
    if not ref.copy(expected, dtype):
        raise FrameError(shown, f"cannot compare pixels: {ref.geterror()}")
    result = oiio.ImageBufAlgo.compare(back, ref, threshold, threshold)
    if result.nfail > 0 or back.has_error:
        raise FrameError(
            shown,
            f"pixels differ from the source: {result.nfail} values over {threshold:.2g} "
            f"(max error {result.maxerror:.4g} at {result.maxx},{result.maxy})",
            "the destination may be faulty; convert this frame again",
        )


def same_pixels(a: str, b: str) -> bool:
    """Two image files with the same size, channels and pixel values (metadata may differ)."""
    # Names that are not UTF-8 (a conversion keeps the source's name): OpenImageIO reads the open files.
    try:
        with oiio_name(a) as source_a, oiio_name(b) as source_b:
            ba, bb = oiio.ImageBuf(source_a), oiio.ImageBuf(source_b)
            if not (ba.read(0, 0, force=True) and bb.read(0, 0, force=True)):
                return False
    except OSError:  # one of them cannot be opened: not the same
        return False
    sa, sb = ba.spec(), bb.spec()
    if (sa.width, sa.height, sa.nchannels, str(sa.format)) != (sb.width, sb.height, sb.nchannels, str(sb.format)):
        return False
    return bool(oiio.ImageBufAlgo.compare(ba, bb, 0.0, 0.0).nfail == 0)
