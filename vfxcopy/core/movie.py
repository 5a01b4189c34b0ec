"""Review movies: frames converted with OpenImageIO, piped as raw RGB into ffmpeg (H.264 MP4, ProRes MOV)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import OpenImageIO as oiio

from vfxcopy.core.convert import (
    FrameProcessor,
    _exists_message,
    dest_name,
    finish,
    normalise_target,
    place_no_clobber,
    read_frame,
    report_gaps,
    to_display_window,
    versioned_names,
)
from vfxcopy.core.errors import Cancelled, FrameError, StopRequested
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    ConvertOptions,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
    Reporter,
    ThroughputMeter,
    temp_name,
)

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


def movie_name(spec: JobSpec, extension: str) -> str:
    """'shot_010.####.exr' -> 'shot_010.mp4' (the head without its trailing separator)."""
    head = spec.rename_head if spec.rename_head is not None else spec.source.head
    if spec.source.is_single:
        return dest_name(spec, None, extension)
    stem = head.rstrip("._- ") or "movie"
    return f"{stem}.{extension}"


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


def encode_movie(spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
    """Encode the selected frames, in order, into one movie in spec.dest_dir."""
    start = time.monotonic()
    opts = spec.convert or ConvertOptions()
    fmt = movie_format(opts)
    items: list[int | None] = list(spec.selected_frames()) or ([None] if spec.source.is_single else [])
    sizes = [_size(str(spec.source.path(f))) for f in items]
    progress = Progress(spec.job_id, JobState.RUNNING, len(items), bytes_total=sum(sizes))
    name = movie_name(spec, fmt.extension)
    dest = os.path.join(spec.dest_dir, name)
    results: dict[int, FrameResult] = {}

    def fail_job(message: str) -> JobResult:
        report(LogMessage(spec.job_id, "error", message))
        report(progress.copy(state=JobState.FAILED, message=message))
        return JobResult(spec.job_id, JobState.FAILED, list(results.values()),
                         elapsed=time.monotonic() - start, message=message)

    if not items:
        return fail_job(f"{spec.source.display()}: no frames to encode")
    policy = spec.copy.on_conflict
    if os.path.lexists(dest) and policy is ConflictPolicy.SKIP:
        for i, f in enumerate(items):
            results[i] = FrameResult(spec.job_id, i, f or 0, str(spec.source.path(f)), dest, FrameStatus.SKIPPED)
        done = progress.copy(state=JobState.COMPLETED, frames_done=len(items), frames_skipped=len(items),
                             message=f"{dest} exists; skipped")
        report(done)
        return JobResult(spec.job_id, JobState.COMPLETED, list(results.values()),
                         elapsed=time.monotonic() - start, message=done.message)
    if os.path.lexists(dest) and policy in (ConflictPolicy.FAIL, ConflictPolicy.SKIP_IDENTICAL):
        return fail_job(_exists_message(dest))
    try:
        os.makedirs(spec.dest_dir, exist_ok=True)
    except OSError as exc:
        return fail_job(f"{spec.dest_dir}: cannot create the destination folder ({exc.strerror})")
    report_gaps(spec, report)
    report(progress)

    threads = max(1, opts.threads)
    processor = FrameProcessor(opts, nthreads=1 if threads > 1 else 0)
    tmp = os.path.join(spec.dest_dir, temp_name(spec.job_id, 0))
    encoder: _Encoder | None = None
    outcome: BaseException | None = None
    meter = ThroughputMeter()
    size: tuple[int, int] | None = None
    held: bytes | None = None  # the last good frame, repeated for a bad one to keep the timing

    def decode(index: int) -> oiio.ImageBuf:
        # Runs in a pool thread: OpenImageIO releases the GIL while it reads and filters.
        token.check()
        src = str(spec.source.path(items[index]))
        buf = read_frame(src, as_float=processor.changes_pixels)
        token.check()
        if size is None:
            raise RuntimeError("movie size unknown")  # pragma: no cover - set before the pool starts
        return to_display_window(processor.process(buf, src, size), src)

    try:
        first_src = str(spec.source.path(items[0]))
        probe = oiio.ImageInput.open(first_src)
        if probe is None:
            return fail_job(f"{first_src}: cannot read the first frame to size the movie ({oiio.geterror()})")
        w, h = processor.output_size(probe.spec().width, probe.spec().height)
        if not opts.to_space and str(probe.spec().format) in ("half", "float"):
            report(LogMessage(spec.job_id, "warning",
                              "encoding scene-linear pixels without a colour conversion will look dark; "
                              "add --to-space \"sRGB - Display\" (or pick the review movie preset)"))
        probe.close()
        size = even_size(w, h)
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", fmt.pix_in, "-s", f"{size[0]}x{size[1]}",
               "-r", f"{opts.fps:g}", "-i", "-", "-an", *fmt.codec_args, "-f", fmt.container, tmp]
        encoder = _Encoder(cmd, token)
        window: deque[tuple[int, Future[oiio.ImageBuf]]] = deque()
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"movie-{spec.job_id}") as pool:
            next_submit = 0
            try:
                for index in range(len(items)):
                    # Keep `threads` frames decoding ahead of the one being piped.
                    while next_submit < len(items) and len(window) < threads + 1:
                        window.append((next_submit, pool.submit(decode, next_submit)))
                        next_submit += 1
                    token.check_frame_boundary()
                    _i, future = window.popleft()
                    frame_start = time.monotonic()
                    src = str(spec.source.path(items[index]))
                    status, error = FrameStatus.DONE, None
                    try:
                        data = _rgb_bytes(future.result(), fmt)
                        held = data
                    except FrameError as exc:
                        status, error = FrameStatus.FAILED, f"{exc.message}; the movie holds the previous frame here"
                        data = held or bytes(size[0] * size[1] * 3 * fmt.bytes_per_sample)
                    token.check()
                    try:
                        encoder.write(data)
                    except (BrokenPipeError, ValueError, OSError) as exc:
                        token.check()  # a cancel killed ffmpeg: report the cancel, not the pipe
                        raise MovieError(f"ffmpeg stopped: {encoder.errors() or exc}") from exc
                    result = FrameResult(spec.job_id, index, items[index] or 0, src, dest, status,
                                         size=sizes[index] if status is FrameStatus.DONE else 0,
                                         error=error, elapsed=time.monotonic() - frame_start)
                    results[index] = result
                    bytes_done = progress.bytes_done + sizes[index]
                    meter.add(bytes_done)
                    progress = progress.copy(
                        frames_done=progress.frames_done + (status is FrameStatus.DONE),
                        frames_failed=progress.frames_failed + (status is FrameStatus.FAILED),
                        bytes_done=bytes_done, current_frame=items[index], current_path=src,
                        bytes_per_s=meter.rate, eta_s=meter.eta(progress.bytes_total - bytes_done),
                    )
                    report(result)
                    report(progress)
            finally:
                for _i, pending in window:
                    pending.cancel()
        token.check()
        code = encoder.close()
        token.check()
        if code != 0:
            raise MovieError(f"ffmpeg exited with {code}: {encoder.errors()}")
        written = count_frames(tmp)
        if written != len(items):
            raise MovieError(f"the movie has {written} frames, expected {len(items)}")
        final = _place(tmp, dest, policy)
        for r in results.values():
            r.dest = final
        return finish(spec, results, None, progress, start, report,
                      describe=lambda done, failed: f"{final}: {len(items)} frames"
                      + (f", {failed} held (unreadable)" if failed else ""))
    except (Cancelled, StopRequested) as exc:
        # A movie cut short is not a movie: stop-after-frame ends it like a cancel.
        outcome = exc if isinstance(exc, Cancelled) else Cancelled()
        if encoder is not None:
            encoder.abort()
        for index, frame in enumerate(items):
            if index not in results:
                results[index] = FrameResult(spec.job_id, index, frame or 0, str(spec.source.path(frame)), dest,
                                             FrameStatus.PENDING)
        return finish(spec, results, outcome, progress, start, report)
    except (MovieError, OSError) as exc:
        if encoder is not None:
            encoder.abort()
        return fail_job(f"{dest}: {exc}")
    except Exception as exc:  # noqa: BLE001 - an unexpected decoder error ends this job, not the runner
        if encoder is not None:
            encoder.abort()
        return fail_job(f"{dest}: {type(exc).__name__}: {exc}")
    finally:
        if encoder is not None:
            if encoder.proc.poll() is None:
                encoder.abort()
            encoder.cleanup()
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _place(tmp: str, dest: str, policy: ConflictPolicy) -> str:
    if policy is ConflictPolicy.OVERWRITE:
        os.replace(tmp, dest)
        return dest
    if policy is ConflictPolicy.RENAME:
        folder, name = os.path.split(dest)
        stem = name.rpartition(".")[0]
        dest = os.path.join(folder, versioned_names(folder, [name], stem)[0])
    if place_no_clobber(tmp, dest):
        return dest
    raise MovieError(_exists_message(dest))


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0

