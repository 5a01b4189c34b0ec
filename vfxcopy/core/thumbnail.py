"""Small 8-bit sRGB thumbnails of one frame (Qt-free: the window wraps the bytes in a QImage)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import OpenImageIO as oiio

from vfxcopy.core.colour import color_config, colorconvert, display_space, file_colorspace, is_linear
from vfxcopy.core.oiiopath import oiio_name

# Below this many pixels per thumbnail pixel, a box filter costs little more
# than point sampling; above it, point sampling (`resample`) keeps 1080p
# thumbnails at a few ms but aliases fine detail, which a 256-pixel preview
# hides well enough.
_BOX_FILTER_MAX_RATIO = 4.0


@dataclass(frozen=True)
class Thumbnail:
    """Interleaved 8-bit pixels, rows top to bottom.

    In a QImage: Format_RGB888 for 3 channels, Format_RGBA8888 (unassociated
    alpha) for 4.
    """

    width: int
    height: int
    channels: int  # 3 (RGB) or 4 (RGBA)
    data: bytes
    source_width: int
    source_height: int
    colorspace: str  # what the source was taken to be
    display: str = ""  # the OCIO colour space converted to ("" when the file was already display-referred)

    @property
    def bytes_per_line(self) -> int:
        return self.width * self.channels


class ThumbnailError(OSError):
    """The frame could not be decoded; the message names the path and OpenImageIO's reason."""


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def thumbnail_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    """Fit (width, height) inside max_size × max_size, keeping the aspect; never upscales."""
    if width <= 0 or height <= 0:
        return (0, 0)
    scale = min(1.0, max_size / max(width, height))
    return (max(1, round(width * scale)), max(1, round(height * scale)))


def make_thumbnail(path: str | os.PathLike[str], max_size: int = 256, ocio_config: str | None = None) -> Thumbnail:
    """Decode one frame into an 8-bit sRGB thumbnail no larger than max_size on its long side.

    Scene-linear files (float/half EXR, or tagged linear) are converted to the
    config's default display colour space (the same conversion as the "sRGB"
    presets; the ACES 2.0 view transform costs ~30 ms even on a thumbnail); files already
    in an 8/16-bit display encoding are only quantised. The image is made small
    first and colour-converted afterwards, so the cost is mostly the read.
    """
    name = os.fspath(path)
    try:
        with oiio_name(name) as source:
            return _thumbnail(source, name, max_size, ocio_config)
    except OSError as exc:
        raise ThumbnailError(f"{name}: cannot read this image ({exc.strerror or exc})") from None


def _thumbnail(source: str, name: str, max_size: int, ocio_config: str | None) -> Thumbnail:
    """make_thumbnail of the file OpenImageIO opens as `source` (`name`: the file's name, for messages)."""
    buf = oiio.ImageBuf(source)  # read lazily, all within make_thumbnail's hold of the file
    spec = buf.spec()
    if buf.has_error or spec.width <= 0:
        raise ThumbnailError(f"{name}: cannot read this image ({_first_line(buf.geterror()) or 'unknown format'})")
    # A tiled file with MIP levels already holds a small version: read that.
    if buf.nmiplevels > 1:
        level = 0
        for mip in range(buf.nmiplevels):
            probe = oiio.ImageBuf(source, 0, mip)
            if max(probe.spec().width, probe.spec().height) < max_size:
                break
            level = mip
        if level:
            buf = oiio.ImageBuf(source, 0, level)
            spec = buf.spec()

    nch = spec.nchannels
    alpha = spec.alpha_channel
    if nch >= 3:
        keep = (0, 1, 2, alpha) if alpha >= 3 else (0, 1, 2)
    else:
        keep = (0, 0, 0, alpha) if alpha >= 0 and alpha != 0 else (0, 0, 0)
    tw, th = thumbnail_size(spec.width, spec.height, max_size)
    roi = oiio.ROI(0, tw, 0, th, 0, 1, 0, nch)
    ratio = spec.width / tw
    if (tw, th) == (spec.width, spec.height):
        small = oiio.ImageBuf()
        ok = small.copy(buf, "float")
    elif ratio <= _BOX_FILTER_MAX_RATIO:
        small = oiio.ImageBufAlgo.resize(buf, filtername="box", roi=roi)
        ok = not small.has_error
    else:
        small = oiio.ImageBufAlgo.resample(buf, interpolate=False, roi=roi)
        ok = not small.has_error
    if not ok or buf.has_error:
        raise ThumbnailError(f"{name}: cannot decode ({_first_line(buf.geterror() or small.geterror())})")
    small = oiio.ImageBufAlgo.channels(small, keep, newchannelnames=("R", "G", "B", "A")[: len(keep)])

    config = color_config(ocio_config)
    source_space = file_colorspace(spec, config)
    display_label = ""
    if is_linear(spec, source_space, config):
        target = display_space(config)
        converted = colorconvert(small, source_space, target, ocio_config)
        if not converted.has_error:
            small = converted
            display_label = target
    if len(keep) == 4:
        # OpenImageIO hands out associated alpha; QImage's plain RGBA8888 wants it unassociated.
        small = oiio.ImageBufAlgo.unpremult(small)
    pixels = small.get_pixels(oiio.UINT8)
    if pixels is None:
        raise ThumbnailError(f"{name}: cannot decode ({small.geterror()})")
    return Thumbnail(
        width=tw,
        height=th,
        channels=len(keep),
        data=bytes(pixels.tobytes()),
        source_width=spec.width,
        source_height=spec.height,
        colorspace=source_space,
        display=display_label,
    )
