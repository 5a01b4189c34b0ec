"""Read what one frame says about itself: size, header facts, whether the file is whole, and with `deep` every pixel."""

from __future__ import annotations

import functools
import os
import stat
from typing import Any

from vfxcopy.core.jobs import CancelToken
from vfxcopy.core.oiiopath import open_image_input
from vfxcopy.core.preflight.exrheader import EXR_EXTENSIONS, Unknown
from vfxcopy.core.preflight.model import FrameInfo, Kind
from vfxcopy.core.preflight.tails import cut_reason, exr_cut_reason, read_exr_header

# Rows decoded at a time in deep mode, so that a cancel is seen within one block.
DEEP_BLOCK_ROWS = 64


@functools.lru_cache(maxsize=1)
def image_extensions() -> frozenset[str]:
    """Extensions OpenImageIO can read ('exr', 'dpx', ...), from its own format list."""
    import OpenImageIO as oiio

    found: set[str] = set()
    for entry in str(oiio.get_string_attribute("extension_list")).split(";"):
        _, _, exts = entry.partition(":")
        found.update(e.strip().lower() for e in exts.split(",") if e.strip())
    found.discard("null")
    found.discard("nul")
    found.discard("term")
    return frozenset(found)


def _extension(path: str) -> str:
    name = os.path.basename(path)
    return name.rpartition(".")[2].lower() if "." in name else ""


def _window(x: int, y: int, width: int, height: int) -> str:
    """OpenEXR's inclusive 'xmin,ymin,xmax,ymax' (what Nuke and exrheader show)."""
    return f"{x},{y},{x + width - 1},{y + height - 1}"


def _pixel_type(spec: Any) -> str:
    """'half', 'R:half,G:half,Z:float', or 'uint16 (10-bit)' for a DPX read into 16-bit integers."""
    formats = [str(f) for f in spec.channelformats]
    if formats and len(set(formats)) > 1:
        return ",".join(f"{name}:{fmt}" for name, fmt in zip(spec.channelnames, formats, strict=False))
    text = str(formats[0] if formats else spec.format)
    bits = int(spec.get_int_attribute("oiio:BitsPerSample", 0))
    if bits and text.startswith(("uint", "int")):
        text += f" ({bits}-bit)"
    return text


def _clean_error(text: str, path: str) -> str:
    """OpenImageIO's message without the repeated path and trailing blank lines."""
    text = " ".join(str(text).split())
    for noise in (f"EXR Error ({path}): ", f"{path}: "):
        text = text.replace(noise, "")
    return text or "unknown error"


def _read_last_chunk(inp: Any, spec: Any) -> bool:
    """Decode the chunk written last in the file (the one a cut file loses first)."""
    import OpenImageIO as oiio

    if spec.tile_width > 0:
        tx = spec.x + ((spec.width - 1) // spec.tile_width) * spec.tile_width
        ty = spec.y + ((spec.height - 1) // spec.tile_height) * spec.tile_height
        data = inp.read_tile(tx, ty, spec.z, oiio.UNKNOWN)
    else:
        order = spec.get_string_attribute("openexr:lineOrder")
        y = spec.y if order == "decreasingY" else spec.y + spec.height - 1
        data = inp.read_scanline(y, spec.z, oiio.UNKNOWN)
    return data is not None


def _read_all_pixels(inp: Any, spec: Any, token: CancelToken | None) -> bool:
    """Decode every pixel of subimage 0 a block of rows at a time (cancel between blocks)."""
    import OpenImageIO as oiio

    nch = spec.nchannels
    if spec.tile_width > 0:
        step = max(spec.tile_height, (DEEP_BLOCK_ROWS // spec.tile_height) * spec.tile_height)
        xend = spec.x + spec.width
        xend_aligned = spec.x + -(-spec.width // spec.tile_width) * spec.tile_width
        for y0 in range(spec.y, spec.y + spec.height, step):
            if token is not None:
                token.check()
            y1 = min(y0 + step, spec.y + spec.height)
            # Tiled reads must cover whole tiles, except at the image's right and bottom edges.
            data = inp.read_tiles(0, 0, spec.x, min(xend, xend_aligned), y0, y1, spec.z, spec.z + max(1, spec.depth),
                                  0, nch, oiio.UNKNOWN)
            if data is None:
                return False
        return True
    for y0 in range(spec.y, spec.y + spec.height, DEEP_BLOCK_ROWS):
        if token is not None:
            token.check()
        y1 = min(y0 + DEEP_BLOCK_ROWS, spec.y + spec.height)
        data = inp.read_scanlines(0, 0, y0, y1, spec.z, 0, nch, oiio.UNKNOWN)
        if data is None:
            return False
    return True


def _inspect_exr(path: str, info: FrameInfo) -> FrameInfo:
    """The header-mode check of a scanline EXR from its own header bytes (exrheader, tails)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        hdr, head = read_exr_header(fd, info.size)
        cut = exr_cut_reason(fd, info.size, hdr, head)
    finally:
        os.close(fd)
    x0, y0, x1, y1 = hdr.data_window
    fx0, fy0, fx1, fy1 = hdr.display_window
    info.width, info.height = fx1 - fx0 + 1, fy1 - fy0 + 1
    info.data_window = _window(x0, y0, x1 - x0 + 1, y1 - y0 + 1)
    info.display_window = _window(fx0, fy0, info.width, info.height)
    info.channels = hdr.channel_names()
    info.pixel_type = hdr.pixel_type()
    info.compression = hdr.compression_name()
    info.colorspace = hdr.colorspace()
    if cut is not None:
        info.error_kind = Kind.TRUNCATED
        info.error = f"the file is cut short: {cut} ({info.size} bytes)"
        return info
    info.decoded = True
    return info


def inspect_frame(
    path: str, frame: int | None, *, deep: bool = False, token: CancelToken | None = None
) -> FrameInfo:
    """Size, header facts and decodability of one frame; never raises for a bad file.

    Header mode reads the header and checks that the file is whole from its own
    structure (tails.cut_reason: EXR offset table, DPX stated size, PNG/JPEG end
    marker; other formats decode their last chunk).
    `deep` decodes every pixel. Raises Cancelled (from `token`) only in deep mode.
    """
    info = FrameInfo(frame=frame, path=path)
    try:
        st = os.stat(path)
    except OSError as exc:
        info.error_kind = Kind.UNDECODABLE
        if os.path.islink(path):
            info.error = f"a symlink to {os.readlink(path)}, which cannot be read ({exc.strerror or exc})"
        else:
            info.error = f"cannot read the file: {exc.strerror or exc}"
        return info
    if not stat.S_ISREG(st.st_mode):
        from vfxcopy.core.readfile import kind_of

        info.error_kind = Kind.UNDECODABLE  # a FIFO named like a frame is no frame (and is never opened)
        info.error = f"is not a regular file ({kind_of(st.st_mode)})"
        return info
    info.size = st.st_size
    if info.size == 0:
        info.error_kind = Kind.EMPTY
        info.error = "the file is empty (0 bytes)"
        return info
    ext = _extension(path)
    if ext in EXR_EXTENSIONS and not deep:
        try:
            return _inspect_exr(path, info)
        except Unknown:
            pass  # a layout the header reader does not take: OpenImageIO judges it, and names what is wrong
        except OSError as exc:
            info.error_kind = Kind.UNDECODABLE
            info.error = f"cannot read the file: {exc.strerror or exc}"
            return info
    if ext not in image_extensions():
        return info  # not an image format we can decode: only size, gaps and duplicates apply

    import OpenImageIO as oiio

    try:
        inp = open_image_input(path)
    except OSError as exc:
        info.error_kind = Kind.UNDECODABLE
        info.error = f"cannot read the file: {exc.strerror or exc}"
        return info
    if inp is None:
        info.error_kind = Kind.UNDECODABLE
        info.error = f"the header does not decode: {_clean_error(oiio.geterror(), path)}"
        return info
    try:
        spec = inp.spec()
        # The format (display window) is what people call the resolution; a cropped
        # data window is a window finding, not a resolution one.
        info.width, info.height = spec.full_width, spec.full_height
        info.data_window = _window(spec.x, spec.y, spec.width, spec.height)
        info.display_window = _window(spec.full_x, spec.full_y, spec.full_width, spec.full_height)
        info.channels = tuple(str(c) for c in spec.channelnames)
        info.pixel_type = _pixel_type(spec)
        info.compression = str(spec.get_string_attribute("compression"))
        level = spec.get_float_attribute("openexr:dwaCompressionLevel", 0.0)
        if level and info.compression.startswith("dwa") and ":" not in info.compression:
            info.compression += f":{level:g}"  # as exrheader names it: a changed DWA level is an outlier
        info.colorspace = str(spec.get_string_attribute("oiio:ColorSpace"))
        try:
            cut = cut_reason(path, ext, info.size)
        except Unknown:
            # A layout the structural checks do not read: decode the chunk written last.
            cut = None if _read_last_chunk(inp, spec) else _clean_error(inp.geterror(), path)
        except OSError as exc:
            cut = f"cannot read the file: {exc.strerror or exc}"
        if cut is not None:
            info.error_kind = Kind.TRUNCATED
            info.error = f"the file is cut short: {cut} ({info.size} bytes)"
            return info
        if deep and not _read_all_pixels(inp, spec, token):
            info.error_kind = Kind.UNDECODABLE
            info.error = f"the pixels do not decode: {_clean_error(inp.geterror(), path)}"
            return info
        info.decoded = True
        return info
    finally:
        inp.close()
