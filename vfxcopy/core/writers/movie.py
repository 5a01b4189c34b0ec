"""The movie writer: frames converted with OpenImageIO, piped as raw RGB into ffmpeg (H.264 MP4, ProRes MOV).

ffmpeg writes the temp the pipeline hands it (a path pinned to the run's private folder);
the pipeline checks, fsyncs and places the movie like any other item. A movie that is one
rendition of several takes each frame from the group's one decode (writers/shared_decode.py),
and its colour conversion from another rendition converting the same way (a full-res sRGB JPEG).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import OpenImageIO as oiio

from vfxcopy.core.convert import FrameProcessor, ShareColour, to_display_window
from vfxcopy.core.errors import FrameError, StopRequested, VerificationError
from vfxcopy.core.jobs import CancelToken, ConvertOptions, FrameResult, FrameStatus
from vfxcopy.core.naming import normalise_target
from vfxcopy.core.oiiopath import open_image_input
from vfxcopy.core.pipeline.temps import TempFile
from vfxcopy.core.writers.base import Context, Item, Written
from vfxcopy.core.writers.image import regular_source
from vfxcopy.core.writers.shared_decode import Member, read_alone

# After a cancel, ffmpeg gets this long to exit on SIGTERM before it is killed.
KILL_GRACE_S = 2.0


class MovieError(Exception):
    """ffmpeg failed or is missing; the message carries its last lines of output."""


def ffmpeg_exe() -> str:
    """The ffmpeg binary that ships with imageio-ffmpeg (or $IMAGEIO_FFMPEG_EXE)."""
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise MovieError("imageio-ffmpeg is not installed; reinstall vfxcopy") from exc
    return str(imageio_ffmpeg.get_ffmpeg_exe())


@dataclass(frozen=True)
class MovieFormat:
    container: str  # ffmpeg's -f
    extension: str
    pix_in: str  # raw pixel layout piped to ffmpeg
    bytes_per_sample: int
    codec_args: tuple[str, ...]


def movie_format(opts: ConvertOptions) -> MovieFormat:
    target = normalise_target(opts.to)
    if target == "mp4":
        crf = 18 if opts.quality is None else opts.quality
        # yuv420p for players everywhere (hence even sizes); bt709 matrix
        # explicitly, since ffmpeg's RGB->YUV default is bt601 and shifts hues.
        return MovieFormat("mp4", "mp4", "rgb24", 1, (
            "-vf", "scale=out_color_matrix=bt709:out_range=tv",
            "-c:v", "libx264", "-preset", "fast", "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "iec61966-2-1",
            "-movflags", "+faststart",
        ))
    if target == "mov":
        # ProRes 422 HQ from 16-bit RGB so that 10-bit precision survives the pipe.
        return MovieFormat("mov", "mov", "rgb48le", 2, (
            "-vf", "scale=out_color_matrix=bt709",
            "-c:v", "prores_ks", "-profile:v", "3", "-vendor", "apl0", "-pix_fmt", "yuv422p10le",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "iec61966-2-1",
        ))
    raise ValueError(f"{opts.to!r} is not a movie format (mp4 or mov)")


def even_size(width: int, height: int) -> tuple[int, int]:
    """yuv420p needs even dimensions: round down, never below 2."""
    return (max(2, width - width % 2), max(2, height - height % 2))


def _rgb_bytes(buf: oiio.ImageBuf, fmt: MovieFormat) -> bytes:
    nch = buf.spec().nchannels
    order = (0, 1, 2) if nch >= 3 else (0, 0, 0)
    if nch != 3:
        buf = oiio.ImageBufAlgo.channels(buf, order)
    pixels = buf.get_pixels(oiio.UINT8 if fmt.bytes_per_sample == 1 else oiio.UINT16)
    if pixels is None:
        raise FrameError(buf.name, f"cannot get pixels: {buf.geterror()}")
    if fmt.bytes_per_sample == 2:
        pixels = pixels.astype("<u2", copy=False)
    return bytes(pixels.tobytes())


class _Encoder:
    """One ffmpeg process fed through stdin; terminated (then killed) on cancel."""

    def __init__(self, cmd: list[str], token: CancelToken) -> None:
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr)
        self._unregister = token.on_cancel(self.stop)

    def stop(self) -> None:
        """Terminate now, kill after KILL_GRACE_S (runs in the cancelling thread: must not block)."""
        proc = self.proc
        if proc.poll() is not None:
            return
        try:
            proc.terminate()
        except OSError:
            return

        def _kill_later() -> None:
            try:
                proc.wait(KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()

        threading.Thread(target=_kill_later, name="ffmpeg-kill", daemon=True).start()

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)

    def close(self) -> int:
        """Finish the stream and wait for ffmpeg; its exit code."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        return self.proc.wait()

    def abort(self) -> None:
        self.stop()
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(KILL_GRACE_S + 1)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def errors(self) -> str:
        self._stderr.seek(0)
        lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(lines[-5:])

    def cleanup(self) -> None:
        self._unregister()
        self._stderr.close()


def count_frames(path: str) -> int:
    """Frames in a movie, by ffmpeg stream copy (fast: no decoding)."""
    import imageio_ffmpeg

    frames, _secs = imageio_ffmpeg.count_frames_and_secs(path)
    return int(frames)




class MovieWriter:
    """One item (the movie) from every selected frame; decodes `threads` frames ahead of the pipe."""

    kind = "movie"
    unit = "frame"
    creates_by_path = True
    temp_suffix = ""
    verify_attempts = 1
    hashes_source = False

    def __init__(self, opts: ConvertOptions, job_id: str, token: CancelToken, shared: Member | None = None) -> None:
        """`shared`: this job's place in its renditions group (each frame decoded once for the group)."""
        self.opts = opts
        self.shared = shared
        self.job_id = job_id
        self.token = token
        self.fmt = movie_format(opts)
        self.threads = max(1, opts.threads)
        self.processor = FrameProcessor(opts, nthreads=1 if self.threads > 1 else 0)
        if shared is not None:
            shared.expect_conversions(bool(opts.to_space))

    def source_check(self, item: Item) -> os.stat_result:
        assert item.frames is not None
        if not item.frames:
            raise FrameError(item.src, "no frames to encode")
        return regular_source(item.frames[0][2])

    def identical(self, item: Item, st: os.stat_result, dest_fd: int, ctx: Context) -> tuple[bool | None, str | None]:
        return False, None  # a movie cannot be compared with another: skip-identical refuses

    def identical_after(self, temp_path: str, dest_path: str, cancelled: Callable[[], bool] | None = None) -> bool:
        return False

    def write(self, item: Item, st: os.stat_result, temp: TempFile, ctx: Context) -> Written:
        assert item.frames is not None
        inputs = item.frames
        fmt = self.fmt
        first_src = inputs[0][2]
        try:
            probe = open_image_input(first_src)
        except OSError as exc:
            raise FrameError(first_src, f"cannot read the first frame to size the movie ({exc.strerror or exc})") from exc
        if probe is None:
            raise FrameError(first_src, f"cannot read the first frame to size the movie ({oiio.geterror()})")
        w, h = self.processor.output_size(probe.spec().width, probe.spec().height)
        if not self.opts.to_space and str(probe.spec().format) in ("half", "float"):
            ctx.log("warning", "encoding scene-linear pixels without a colour conversion will look dark; "
                    "add --to-space \"sRGB - Display\" (or pick the review movie preset)")
        probe.close()
        size = even_size(w, h)
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", fmt.pix_in, "-s", f"{size[0]}x{size[1]}",
               "-r", f"{self.opts.fps:g}", "-i", "-", "-an", *fmt.codec_args, "-f", fmt.container,
               ctx.temp_path(temp)]
        encoder = _Encoder(cmd, self.token)
        results: list[FrameResult] = []
        held: bytes | None = None  # the last good frame, repeated for a bad one to keep the timing

        def decode(index: int) -> oiio.ImageBuf:
            # In a pool thread: OpenImageIO releases the GIL while it reads and filters.
            self.token.check()
            src = inputs[index][2]
            regular_source(src)
            as_float = self.processor.changes_pixels
            if self.shared is not None:
                got = self.shared.read(src, inputs[index][1], as_float, self.token.check)
            else:
                got = read_alone(src, as_float)
            self.token.check()
            member = self.shared
            share: ShareColour | None = None
            if member is not None:
                def share(key: Hashable, make: Callable[[], oiio.ImageBuf]) -> tuple[oiio.ImageBuf, bool]:
                    assert member is not None
                    return member.colour(src, inputs[index][1], key, make, self.token.check)
            out, _shared = self.processor.process_frame(got.buf, src, size, readonly=got.shared, share=share)
            return to_display_window(out, src)  # read only from here on: cropping and packing make new buffers

        try:
            window: deque[tuple[int, Future[oiio.ImageBuf]]] = deque()
            with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=f"movie-{self.job_id}") as pool:
                next_submit = 0
                try:
                    for fidx, frame, src in inputs:
                        while next_submit < len(inputs) and len(window) < self.threads + 1:
                            window.append((next_submit, pool.submit(decode, next_submit)))
                            next_submit += 1
                        ctx.check()
                        if self.token.stop_requested:
                            raise StopRequested()  # a movie cut short is not a movie: no partial one
                        _i, future = window.popleft()
                        frame_start = time.monotonic()
                        status, error = FrameStatus.DONE, None
                        try:
                            data = _rgb_bytes(future.result(), fmt)
                            held = data
                        except FrameError as exc:
                            status, error = FrameStatus.FAILED, f"{exc.message}; the movie holds the previous frame here"
                            data = held or bytes(size[0] * size[1] * 3 * fmt.bytes_per_sample)
                        except OSError as exc:
                            status, error = FrameStatus.FAILED, f"{src}: {exc.strerror}; the movie holds the previous frame here"
                            data = held or bytes(size[0] * size[1] * 3 * fmt.bytes_per_sample)
                        ctx.check()
                        try:
                            encoder.write(data)
                        except (BrokenPipeError, ValueError, OSError) as exc:
                            ctx.check()  # a cancel killed ffmpeg: report the cancel, not the pipe
                            raise FrameError(item.name, f"ffmpeg stopped: {encoder.errors() or exc}") from exc
                        results.append(FrameResult(self.job_id, fidx, frame, src, "", status,
                                                   size=os.path.getsize(src) if status is FrameStatus.DONE else 0,
                                                   error=error, elapsed=time.monotonic() - frame_start))
                        ctx.add_bytes(results[-1].size)
                finally:
                    for _i, pending in window:
                        pending.cancel()
            ctx.check()
            code = encoder.close()
            ctx.check()
            if code != 0:
                errors = encoder.errors()
                if "No space left" in errors:
                    raise OSError(28, "No space left on device", item.name)
                raise FrameError(item.name, f"ffmpeg exited with {code}: {errors}")
        except BaseException:
            encoder.abort()
            raise
        finally:
            if encoder.proc.poll() is None:
                encoder.abort()
            encoder.cleanup()
        written = count_frames(ctx.temp_path(temp))
        if written != len(inputs):
            raise VerificationError(item.name, f"the movie has {written} frames, expected {len(inputs)}")
        return Written(frames=results)

    def verify(self, item: Item, temp: TempFile, written: Written, ctx: Context) -> None:
        """The frame count was checked right after ffmpeg finished (it needs the path)."""
