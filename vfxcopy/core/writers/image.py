"""The image writer: read a frame with OpenImageIO, convert it, write it into the temp, check it.

OpenImageIO opens files by path, so it is handed a path pinned to the run's private
folder (/proc/self/fd/N/…): a link planted in the destination cannot redirect it.
libjpeg ends the whole process when a write hits a full disk, so every frame's
write is preceded by a free-space check that reserves room for the frames other
workers are writing at the same moment. A job that is one rendition of several takes each
frame from the group's one decode (writers/shared_decode.py) and never changes that buffer;
renditions converting to the same colour space the same way also share that conversion.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import threading
from collections.abc import Callable, Hashable

import OpenImageIO as oiio

from vfxcopy.core.convert import (
    SPACE_MARGIN,
    FrameProcessor,
    ShareColour,
    WritePlan,
    fit_channels,
    prepare_for_write,
    private_copy,
    to_display_window,
)
from vfxcopy.core.errors import FrameError
from vfxcopy.core.jobs import ConvertOptions
from vfxcopy.core.pipeline.temps import TempFile
from vfxcopy.core.writers.base import Context, Item, Written
from vfxcopy.core.writers.shared_decode import Member, read_alone
from vfxcopy.core.written_check import check_written, compare_written, same_pixels


def regular_source(path: str) -> os.stat_result:
    """stat `path` and refuse anything but a regular file at once (a FIFO would block the reader)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FrameError(path, "the file does not exist", "the sequence has a gap or the file was moved") from None
    except OSError as exc:
        exc.vfx_side = "source"  # type: ignore[attr-defined]
        raise
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode) else "not a file"
        raise FrameError(path, f"is not a regular file ({kind})", "only image files can be converted")
    if not os.access(path, os.R_OK):
        raise FrameError(path, "permission denied", "check that you can read the source file")
    return st


class SpaceGuard:
    """Free-space reservations shared by the workers of one job."""

    def __init__(self, dest_dir: str) -> None:
        self.dest_dir = dest_dir
        self.lock = threading.Lock()
        self.reserved = 0

    def reserve(self, need: int, path: str) -> None:
        with self.lock:
            try:
                free = shutil.disk_usage(self.dest_dir).free
            except OSError:
                return
            if free - self.reserved < need + SPACE_MARGIN:
                raise OSError(errno.ENOSPC, "No space left on device", path)
            self.reserved += need

    def release(self, need: int) -> None:
        with self.lock:
            self.reserved = max(0, self.reserved - need)


class ImageWriter:
    kind = "image"
    unit = "frame"
    creates_by_path = True
    verify_attempts = 1
    hashes_source = False

    def __init__(self, opts: ConvertOptions, plan: WritePlan, nthreads: int, space: SpaceGuard,
                 warn_once: threading.Event, shared: Member | None = None) -> None:
        """`shared`: this job's place in its renditions group (each frame decoded once for the group)."""
        self.opts = opts
        self.shared = shared
        self.plan = plan
        self.processor = FrameProcessor(opts, nthreads=nthreads)
        if shared is not None:
            shared.expect_conversions(bool(opts.to_space))
        self.space = space
        self.warned = warn_once
        self.temp_suffix = "." + plan.extension

    def source_check(self, item: Item) -> os.stat_result:
        st = regular_source(item.src)
        item.size = st.st_size
        return st

    def identical(self, item: Item, st: os.stat_result, dest_fd: int, ctx: Context) -> tuple[bool | None, str | None]:
        return None, None  # only the converted pixels can be compared: after writing

    def identical_after(self, temp_path: str, dest_path: str, cancelled: Callable[[], bool] | None = None) -> bool:
        return same_pixels(temp_path, dest_path)

    def write(self, item: Item, st: os.stat_result, temp: TempFile, ctx: Context) -> Written:
        as_float = self.processor.changes_pixels
        if self.shared is not None:
            frame = self.shared.read(item.src, item.frame, as_float, ctx.check)
        else:
            frame = read_alone(item.src, as_float)
        buf, readonly = frame.buf, frame.shared
        del frame
        ctx.check()
        self.warn_if_linear_to_8bit(buf, ctx)
        member = self.shared
        share: ShareColour | None = None
        if member is not None:
            def share(key: Hashable, make: Callable[[], oiio.ImageBuf]) -> tuple[oiio.ImageBuf, bool]:
                assert member is not None
                return member.colour(item.src, item.frame, key, make, ctx.check)
        out, out_shared = self.processor.process_frame(buf, item.src, readonly=readonly, share=share)
        if out_shared:
            out = private_copy(out)  # prepare_for_write sets this rendition's codec on its own spec
        del buf  # before any further copy: at most two full-size images at a time (source, result)
        out = fit_channels(out, self.plan, item.src)
        if self.plan.target != "exr":
            out = to_display_window(out, item.src)
        ctx.check()
        dtype = prepare_for_write(out, self.plan)
        spec = out.spec()
        need = spec.width * spec.height * spec.nchannels * dtype.size()
        path = ctx.temp_path(temp)
        self.space.reserve(need, item.name)
        try:
            if not out.write(path, dtype, self.plan.format_name):
                error = out.geterror()
                if "space" in error.lower():
                    raise OSError(errno.ENOSPC, "No space left on device", item.name)
                raise FrameError(item.name, f"OpenImageIO cannot write it: {error}", "check the destination folder")
        finally:
            self.space.release(need)
        ctx.check()
        check_written(path, spec, dtype, self.plan, item.name)
        if self.opts.compare_pixels and self.plan.lossless:
            compare_written(path, out, dtype, self.plan, item.name)
        return Written()  # progress counts the frame once it is in place

    def verify(self, item: Item, temp: TempFile, written: Written, ctx: Context) -> None:
        """Checked right after writing (re-open, and pixels with compare_pixels)."""

    def warn_if_linear_to_8bit(self, buf: oiio.ImageBuf, ctx: Context) -> None:
        if self.warned.is_set() or self.opts.to_space or self.plan.target not in ("jpg", "png"):
            return
        if str(buf.spec().format) not in ("half", "float"):
            return
        self.warned.set()
        ctx.log("warning", f"writing scene-linear pixels to {self.plan.target.upper()} without a colour "
                "conversion will look dark; add --to-space \"sRGB - Display\" (or pick an sRGB preset)")
