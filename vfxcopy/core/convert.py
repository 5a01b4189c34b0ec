"""Image operations with OpenImageIO: options, read, colour-convert, resize, write settings, checks.

The image writer (core/writers/image.py) runs them per frame inside the pipeline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import OpenImageIO as oiio

from vfxcopy import __version__
from vfxcopy.core.colour import (
    color_config,
    colorconvert,
    colorconvert_in_place,
    config_name,
    file_colorspace,
    resolve_space,
)
from vfxcopy.core.errors import FrameError
from vfxcopy.core.framenames import format_frames
from vfxcopy.core.jobs import (
    ConvertOptions,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
    Reporter,
)
from vfxcopy.core.naming import IMAGE_TARGETS, TARGETS, normalise_target
from vfxcopy.core.oiiopath import oiio_name

MIB = 1 << 20
SPACE_MARGIN = 8 * MIB  # kept free on the destination besides the frames being written

# Measured at 1920x1080 -> 960x540 (OIIO 3.2.2, one thread): the default
# (lanczos3-like) filter 420 ms, blackman-harris 125 ms, triangle 70 ms,
# box 33 ms, resample (point) 11 ms but aliased. Triangle is the cheapest
# filter that still antialiases when shrinking; catmull-rom keeps upscales sharp.
DEFAULT_DOWN_FILTER = "triangle"
DEFAULT_UP_FILTER = "catmull-rom"
RESIZE_FILTERS = ("box", "triangle", "gaussian", "catmull-rom", "mitchell", "blackman-harris",
                  "lanczos3", "cubic", "keys", "simon", "rifman", "bspline", "sinc", "radial-lanczos3")

# Called with the source path before every colour conversion a conversion writer makes (its own, or
# one it makes for other renditions too): tests count conversions with it. Must be cheap and must not raise.
on_colour: Callable[[str], None] | None = None

# How a rendition asks its group for a colour-converted frame: share(key, make) -> (buf, stored).
# `key` says everything the result depends on besides the source frame; `make` converts (called at
# most once per frame and key for the group); `stored`: other renditions read `buf` too (read-only).
ShareColour = Callable[[Hashable, Callable[[], oiio.ImageBuf]], tuple[oiio.ImageBuf, bool]]

_EXR_COMPRESSIONS = ("none", "rle", "zips", "zip", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab", "htj2k")
_EXR_LOSSLESS = ("none", "rle", "zips", "zip", "piz", "htj2k")
_TIFF_COMPRESSIONS = ("none", "lzw", "zip", "packbits", "jpeg")
_PNG_COMPRESSIONS = ("zip", "none")

# Codec settings of the source that must not leak into the target file.
_CODEC_ATTRIBUTES = (
    "compression", "Compression", "CompressionQuality", "oiio:BitsPerSample", "openexr:dwaCompressionLevel",
    "tiff:compression", "tiff:RowsPerStrip", "png:compressionLevel", "jpeg:subsampling", "dpx:Packing",
    "oiio:RowsPerChunk", "oiio:subimages", "openexr:lineOrder", "tiff:Predictor", "planarconfig",
)


@dataclass(frozen=True)
class WritePlan:
    """How the target files are written: OIIO format, pixel type, bits, codec attributes."""

    target: str  # exr | dpx | tif | png | jpg
    format_name: str  # OpenImageIO's name for it
    extension: str
    data_format: str | None  # None: keep the source's pixel type (exr only)
    bits: int | None  # oiio:BitsPerSample for 10/12-bit DPX
    compression: str | None
    lossless: bool  # the codec gives back exactly what was written


@dataclass(frozen=True)
class ResizeSpec:
    percent: float | None = None
    width: int | None = None
    height: int | None = None

    def target(self, width: int, height: int) -> tuple[int, int]:
        """The output size for a width×height source: percentage, or fit inside W×H keeping the aspect."""
        if self.percent is not None:
            scale = self.percent / 100.0
            return (max(1, round(width * scale)), max(1, round(height * scale)))
        scales = []
        if self.width:
            scales.append(self.width / width)
        if self.height:
            scales.append(self.height / height)
        scale = min(scales) if scales else 1.0
        return (max(1, round(width * scale)), max(1, round(height * scale)))


_RESIZE_RE = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*%|(\d*)\s*[xX×]\s*(\d*))\s*$")


def parse_resize(text: str | None) -> ResizeSpec | None:
    """'50%' | '1920x1080' (fit inside) | '1920x' | 'x1080'; None or '' or '100%' for no resize."""
    if not text:
        return None
    m = _RESIZE_RE.match(text)
    if not m:
        raise ValueError(f"resize {text!r} is not understood; give a percentage (50%) or a size (1920x1080)")
    if m.group(1) is not None:
        percent = float(m.group(1))
        if not 0 < percent <= 1000:
            raise ValueError(f"resize {text!r}: the percentage must be above 0% and at most 1000%")
        return None if percent == 100 else ResizeSpec(percent=percent)
    w = int(m.group(2)) if m.group(2) else None
    h = int(m.group(3)) if m.group(3) else None
    if not w and not h:
        raise ValueError(f"resize {text!r}: give a width, a height or both (1920x1080, 1920x, x1080)")
    return ResizeSpec(width=w, height=h)


def plan_output(opts: ConvertOptions) -> WritePlan:
    """Check the target format's options and say how to write it; ValueError says what is wrong."""
    target = normalise_target(opts.to)
    if target not in IMAGE_TARGETS:
        raise ValueError(f"cannot write image files of type {opts.to!r}; choose one of {', '.join(TARGETS)}")
    df = (opts.data_format or "").lower() or None
    comp = (opts.compression or "").lower() or None
    if target == "exr":
        if df not in (None, "half", "float"):
            raise ValueError(f"EXR stores half or float pixels, not {df}")
        base = comp.split(":", 1)[0] if comp else "zip"
        if base not in _EXR_COMPRESSIONS:
            raise ValueError(f"EXR compression {comp!r} is unknown; choose one of {', '.join(_EXR_COMPRESSIONS)}")
        if comp and ":" in comp:
            if base not in ("dwaa", "dwab", "zip", "zips"):
                raise ValueError(f"EXR compression {base} takes no level")
            _positive_number(comp.split(":", 1)[1], f"EXR compression level in {comp!r}")
        return WritePlan("exr", "openexr", "exr", df, None, comp or "zip", base in _EXR_LOSSLESS)
    if target == "dpx":
        if comp and comp != "none":
            raise ValueError("DPX files are not compressed; leave out the compression")
        dpx_types = {None: ("uint16", 10), "uint10": ("uint16", 10), "uint12": ("uint16", 12),
                     "uint16": ("uint16", 16), "uint8": ("uint8", None)}
        if df not in dpx_types:
            raise ValueError(f"DPX stores 8, 10, 12 or 16-bit pixels (uint8, uint10, uint12, uint16), not {df}")
        dtype, bits = dpx_types[df]
        # OpenImageIO writes 10/12-bit DPX from uint16 pixels plus oiio:BitsPerSample;
        # asking for a "uint10" type instead silently writes 32-bit float.
        return WritePlan("dpx", "dpx", "dpx", dtype, bits, None, True)
    if target == "tif":
        # OpenImageIO's TIFF writer turns half into float, so half is not offered.
        if df not in (None, "uint8", "uint16", "float"):
            raise ValueError(f"TIFF stores uint8, uint16 or float pixels, not {df}")
        base = comp.split(":", 1)[0] if comp else "zip"
        if base not in _TIFF_COMPRESSIONS:
            raise ValueError(f"TIFF compression {comp!r} is unknown; choose one of {', '.join(_TIFF_COMPRESSIONS)}")
        return WritePlan("tif", "tiff", "tif", df or "uint16", None, comp or "zip", base != "jpeg")
    if target == "png":
        if df not in (None, "uint8", "uint16"):
            raise ValueError(f"PNG stores uint8 or uint16 pixels, not {df}")
        png_base = comp.split(":", 1)[0] if comp else None
        if png_base is not None and png_base not in _PNG_COMPRESSIONS:
            raise ValueError(f"PNG compression {comp!r} is unknown; give zip:LEVEL (0-9)")
        return WritePlan("png", "png", "png", df or "uint8", None, comp, True)
    # jpg
    if df not in (None, "uint8"):
        raise ValueError(f"JPEG stores 8-bit pixels only, not {df}")
    if comp:
        raise ValueError("JPEG takes a quality (1-100), not a compression")
    quality = opts.quality if opts.quality is not None else 90
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be between 1 and 100, not {quality}")
    return WritePlan("jpg", "jpeg", "jpg", "uint8", None, f"jpeg:{quality}", False)


def _positive_number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number") from None
    if value < 0:
        raise ValueError(f"{what} must not be negative")
    return value


def validate_options(opts: ConvertOptions) -> None:
    """Raise ValueError (a sentence a user can act on) if these options cannot run."""
    target = normalise_target(opts.to)
    if target not in TARGETS:
        raise ValueError(f"unknown target {opts.to!r}; choose one of {', '.join(TARGETS)}")
    if target in IMAGE_TARGETS:
        plan_output(opts)
    elif opts.quality is not None and not 0 <= opts.quality <= 51:
        raise ValueError(f"movie quality is an x264/ProRes CRF-like value 0-51 (lower is better), not {opts.quality}")
    parse_resize(opts.resize)
    if opts.filter and opts.filter not in RESIZE_FILTERS:
        raise ValueError(f"resize filter {opts.filter!r} is unknown; choose one of {', '.join(RESIZE_FILTERS)}")
    if opts.threads < 1:
        raise ValueError("threads must be at least 1")
    if opts.channels is not None and not [c for c in opts.channels if c]:
        raise ValueError("the channel list is empty")
    if opts.to_space or opts.from_space:
        config = color_config(opts.ocio_config)
        if opts.from_space and not resolve_space(opts.from_space, config):
            raise ValueError(_unknown_space(opts.from_space, config, opts.ocio_config))
        if opts.to_space:
            if opts.view:
                if opts.to_space not in [str(d) for d in config.getDisplayNames()]:
                    raise ValueError(
                        f"OCIO display {opts.to_space!r} is not in {config_name(opts.ocio_config)}; "
                        f"displays: {', '.join(str(d) for d in config.getDisplayNames())}"
                    )
                if opts.view not in [str(v) for v in config.getViewNames(opts.to_space)]:
                    raise ValueError(
                        f"OCIO view {opts.view!r} is not a view of {opts.to_space!r}; views: "
                        f"{', '.join(str(v) for v in config.getViewNames(opts.to_space))}"
                    )
            elif not resolve_space(opts.to_space, config):
                raise ValueError(_unknown_space(opts.to_space, config, opts.ocio_config))
    if opts.fps <= 0:
        raise ValueError("the frame rate must be positive")


def _unknown_space(name: str, config: oiio.ColorConfig, ocio_config: str | None) -> str:
    names = ", ".join(str(n) for n in config.getColorSpaceNames())
    return f"colour space {name!r} is not in the OCIO config {config_name(ocio_config)}; known: {names}"


# -- one frame --------------------------------------------------------------------------------


def read_frame(path: str, as_float: bool = False) -> oiio.ImageBuf:
    """Read a whole frame into memory; FrameError with OpenImageIO's reason if it cannot.

    `as_float` reads into 32-bit float, so that colour conversion and filtering
    of half or integer files do not round at every step (as oiiotool does).
    """
    with oiio_name(path) as source:  # a name that is not UTF-8: OpenImageIO reads the open file
        buf = oiio.ImageBuf(source)
        ok = buf.read(0, 0, force=True, convert=oiio.FLOAT) if as_float else buf.read(0, 0, force=True)
    if not ok or buf.has_error:
        reason = buf.geterror().strip().splitlines()
        text = reason[0] if reason else "unknown error"
        if not os.path.exists(path):
            raise FrameError(path, "the file does not exist", "the sequence has a gap or the file was moved")
        raise FrameError(
            path,
            f"OpenImageIO cannot read it: {text}",
            "the frame is truncated or corrupt; re-render or re-copy it, then convert this frame again",
        )
    if buf.deep:
        raise FrameError(path, "deep images cannot be converted", "flatten it first (oiiotool --flatten)")
    return buf


def private_copy(buf: oiio.ImageBuf, fmt: oiio.TypeDesc | None = None) -> oiio.ImageBuf:
    """A copy of `buf` this job may change (pixels converted to `fmt`), every attribute and window kept.

    ImageBufAlgo.copy: a 1080p half -> float copy takes 9 ms of CPU, ImageBuf.copy 52 ms. The
    result is what a float read of the file gives (same pixels, same metadata).
    """
    out = oiio.ImageBufAlgo.copy(buf, convert=fmt) if fmt is not None else oiio.ImageBufAlgo.copy(buf)
    if out.has_error:
        raise MemoryError(f"cannot copy a decoded frame: {out.geterror()}")
    copied: oiio.ImageBuf = out
    return copied


@dataclass
class FrameProcessor:
    """Colour conversion, resize and channel subset for every frame of one job (thread-safe, stateless)."""

    opts: ConvertOptions
    nthreads: int = 0  # per OIIO operation; 1 when frames already run in parallel
    _resize: ResizeSpec | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._resize = parse_resize(self.opts.resize)

    @property
    def changes_pixels(self) -> bool:
        """True when frames are filtered or colour-converted (and so are best read as float)."""
        return bool(self._resize or self.opts.to_space)

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        return self._resize.target(width, height) if self._resize else (width, height)

    def source_space(self, spec: oiio.ImageSpec) -> str:
        config = color_config(self.opts.ocio_config)
        if self.opts.from_space:
            return resolve_space(self.opts.from_space, config) or self.opts.from_space
        return file_colorspace(spec, config)

    def process(self, buf: oiio.ImageBuf, path: str, size: tuple[int, int] | None = None,
                readonly: bool = False) -> oiio.ImageBuf:
        """Channels, then resize and colour in the cheaper order; `size` overrides the resize option.

        `readonly`: `buf` is shared with other renditions (writers/shared_decode.py): it is never
        changed in place (the result may still be `buf` itself when nothing changes its pixels).
        """
        return self.process_frame(buf, path, size, readonly)[0]

    def process_frame(self, buf: oiio.ImageBuf, path: str, size: tuple[int, int] | None = None,
                      readonly: bool = False, share: ShareColour | None = None) -> tuple[oiio.ImageBuf, bool]:
        """`process`, and whether the result is shared (other renditions read it: never change it in place).

        `share`: the colour conversion is asked of the renditions group, keyed by everything done to
        the frame up to it (channels, a shrink before it, from/to space, view, config), so that only
        renditions whose steps up to the conversion are the same take one another's result.
        """
        shared = buf if readonly else None
        spec = buf.spec()
        from_space = self.source_space(spec)
        if self.opts.channels:
            buf = self._channels(buf, path)
        w, h = size or self.output_size(spec.width, spec.height)
        resizing = (w, h) != (spec.width, spec.height)
        shrunk: tuple[int, int, str] | None = None
        # Shrinking first makes the colour conversion work on fewer pixels (and
        # filters in the source's, usually linear, space); growing goes last.
        if resizing and w * h <= spec.width * spec.height:
            buf = self._resize_to(buf, w, h, path)
            shrunk = (w, h, self._filter_name(True))
            resizing = False
        stored = False
        if self.opts.to_space:
            before = buf

            def convert() -> oiio.ImageBuf:
                return self._colour(before, from_space, path, in_place=before is not shared)

            if share is not None:
                buf, stored = share(self.colour_key(from_space, shrunk), convert)
            else:
                buf = convert()
        if resizing:
            buf = self._resize_to(buf, w, h, path)
            return buf, False
        return buf, stored or (shared is not None and buf is shared)

    def colour_key(self, from_space: str, shrunk: tuple[int, int, str] | None) -> Hashable:
        """What a colour-converted frame depends on besides the source frame (the thread count does not)."""
        return (tuple(c for c in self.opts.channels or [] if c), shrunk, from_space, self.opts.to_space,
                self.opts.view, config_name(self.opts.ocio_config))

    def _filter_name(self, shrinking: bool) -> str:
        return self.opts.filter or (DEFAULT_DOWN_FILTER if shrinking else DEFAULT_UP_FILTER)

    def _channels(self, buf: oiio.ImageBuf, path: str) -> oiio.ImageBuf:
        names = list(buf.spec().channelnames)
        wanted = [c for c in (self.opts.channels or []) if c]
        missing = [c for c in wanted if c not in names]
        if missing:
            raise FrameError(path, f"has no channel {', '.join(missing)}", f"its channels are {', '.join(names)}")
        out = oiio.ImageBufAlgo.channels(buf, tuple(wanted), nthreads=self.nthreads)
        if out.has_error:
            raise FrameError(path, f"channel selection failed: {out.geterror()}")
        return out

    def _resize_to(self, buf: oiio.ImageBuf, w: int, h: int, path: str) -> oiio.ImageBuf:
        spec = buf.spec()
        name = self._filter_name(w * h <= spec.width * spec.height)
        roi = oiio.ROI(0, w, 0, h, 0, 1, 0, spec.nchannels)
        out = oiio.ImageBufAlgo.resize(buf, filtername=name, roi=roi, nthreads=self.nthreads)
        if out.has_error:
            raise FrameError(path, f"resize to {w}x{h} failed: {out.geterror()}")
        return out

    def _colour(self, buf: oiio.ImageBuf, from_space: str, path: str, in_place: bool = True) -> oiio.ImageBuf:
        hook = on_colour
        if hook is not None:
            hook(path)
        to_space = self.opts.to_space or ""
        # In place (the frame read for this job is ours): a copy would double the peak memory.
        # A frame shared with other renditions is converted into a new buffer instead (same pixels).
        if self.opts.view and not in_place:
            buf = private_copy(buf)
        if self.opts.view:
            name = config_name(self.opts.ocio_config)
            if name != config_name(None):
                ok = oiio.ImageBufAlgo.ociodisplay(buf, buf, to_space, self.opts.view, from_space, colorconfig=name)
            else:
                ok = oiio.ImageBufAlgo.ociodisplay(buf, buf, to_space, self.opts.view, from_space)
        else:
            config = color_config(self.opts.ocio_config)
            target = resolve_space(to_space, config) or to_space
            if target == from_space:
                return buf
            if in_place:
                ok = colorconvert_in_place(buf, from_space, target, self.opts.ocio_config)
            else:
                buf = colorconvert(buf, from_space, target, self.opts.ocio_config)
                ok = not buf.has_error
        if not ok or buf.has_error:
            raise FrameError(
                path,
                f"colour conversion {from_space} -> {to_space} failed: {buf.geterror()}",
                "check --from/--to-space against the OCIO config",
            )
        converted: oiio.ImageBuf = buf
        # The source's colorInteropID would otherwise be written again and
        # re-tag the converted pixels as the old space when read back.
        spec = converted.specmod()
        spec.erase_attribute("colorInteropID")
        target_name = self.opts.to_space if not self.opts.view else str(spec.getattribute("oiio:ColorSpace") or "")
        config = color_config(self.opts.ocio_config)
        interop = str(config.get_color_interop_id(target_name) or "") if target_name else ""
        if interop:
            spec.attribute("colorInteropID", interop)
        return converted


def to_display_window(buf: oiio.ImageBuf, path: str) -> oiio.ImageBuf:
    """Crop or pad to the display window: only EXR keeps a separate data window (overscan, crops)."""
    if buf.roi == buf.roi_full:
        return buf
    out = oiio.ImageBufAlgo.crop(buf, buf.roi_full)
    if out.has_error:
        raise FrameError(path, f"cannot fit the data window to the display window: {out.geterror()}")
    fitted: oiio.ImageBuf = out
    return fitted


# How many channels each target holds; EXR and TIFF take any number.
_MAX_CHANNELS = {"jpg": 3, "png": 4, "dpx": 4}


def fit_channels(buf: oiio.ImageBuf, plan: WritePlan, path: str) -> oiio.ImageBuf:
    """Keep what the target can hold: R,G,B(,A) by name when there are more channels (AOVs, alpha in JPEG)."""
    limit = _MAX_CHANNELS.get(plan.target)
    spec = buf.spec()
    if limit is None or spec.nchannels <= limit:
        return buf
    names = list(spec.channelnames)
    wanted = [c for c in ("R", "G", "B", "A")[:limit] if c in names]
    if len(wanted) < min(3, limit):
        wanted = names[: min(3, limit)]
    out = oiio.ImageBufAlgo.channels(buf, tuple(wanted))
    if out.has_error:
        raise FrameError(path, f"cannot pick channels {', '.join(wanted)}: {out.geterror()}")
    fitted: oiio.ImageBuf = out
    return fitted


def prepare_for_write(buf: oiio.ImageBuf, plan: WritePlan) -> oiio.TypeDesc:
    """Set the target's codec attributes on buf's spec; returns the pixel type to write."""
    spec = buf.specmod()
    for name in _CODEC_ATTRIBUTES:
        spec.erase_attribute(name)
    if plan.compression:
        spec.attribute("compression", plan.compression)
    if plan.bits:
        spec.attribute("oiio:BitsPerSample", plan.bits)
    fps = spec.getattribute("FramesPerSecond")
    if plan.target == "dpx" and fps and not spec.getattribute("dpx:FrameRate"):
        # The DPX writer takes the frame rate from its own header field only.
        spec.attribute("dpx:FrameRate", float(fps[0]) / float(fps[1] or 1))
    spec.attribute("Software", f"vfxcopy {__version__} (OpenImageIO {oiio.__version__})")
    if plan.data_format:
        return oiio.TypeDesc(plan.data_format)
    native = str(buf.spec().format)
    return oiio.TypeDesc(native if native in ("half", "float") else "half")


def report_gaps(spec: JobSpec, report: Reporter) -> list[int]:
    """Warn (LogMessage + Progress.message) about frames missing inside the selected range."""
    frames = spec.selected_frames()
    if not frames:
        return []
    lo, hi = min(frames), max(frames)
    have = set(spec.source.frames)
    gaps = [f for f in spec.source.missing() if lo <= f <= hi]
    gaps += [f for f in frames if f not in have and have]
    gaps = sorted(set(gaps))
    if gaps:

        text = f"{spec.source.display()}: {len(gaps)} frame(s) missing in the source: {format_frames(gaps)}"
        report(LogMessage(spec.job_id, "warning", text))
        report(Progress(spec.job_id, JobState.RUNNING, len(frames), message=text))
    return gaps


