"""The writers (copy, image, movie) and the choice of one for a job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vfxcopy.core.errors import SafetyError
from vfxcopy.core.jobs import (
    CancelToken,
    ConvertOptions,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Operation,
    Progress,
    Reporter,
)
from vfxcopy.core.pipeline.tally import Debug, Tally
from vfxcopy.core.safety import check_job
from vfxcopy.core.writers.base import Writer

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.writers.shared_decode import Member


def _process_umask() -> int | None:
    """This process's umask without changing it (os.umask would race with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return None


def _failed(spec: JobSpec, report: Reporter, message: str) -> JobResult:
    report(LogMessage(spec.job_id, "error", message))
    report(Progress(spec.job_id, JobState.FAILED, len(spec.selected_frames()) or 1, message=message))
    return JobResult(spec.job_id, JobState.FAILED, message=message)


def _renditions_member(spec: JobSpec, window: int) -> Member | None:
    """A conversion in a group (renditions of one source) reads each frame through the group's one decode."""
    if spec.group is None or spec.operation is not Operation.CONVERT:
        return None
    from vfxcopy.core.writers import shared_decode

    return shared_decode.join(spec.group, spec.job_id, window)


def run_with_writer(
    spec: JobSpec,
    token: CancelToken,
    report: Reporter,
    *,
    debug: Debug | None = None,
    on_planned: Callable[[JobSpec], None] | None = None,
) -> JobResult:
    from vfxcopy.core.pipeline.runner import Pipeline

    check_job(spec)  # SafetyError: refused before anything is touched
    workers = 1
    window = 0  # frames a renditions member decodes at once (writers/shared_decode.py)
    before: Callable[[Tally], None] | None = None
    make: Callable[[], Writer]
    shared: Member | None = None
    if spec.operation is Operation.COPY:
        from vfxcopy.core.writers.copy import CopyWriter

        umask = _process_umask()
        src_dir = spec.source.directory or "."

        def make_copy() -> Writer:
            return CopyWriter(spec.copy, src_dir, umask)

        make = make_copy
    else:
        opts = spec.convert or ConvertOptions()
        try:
            from vfxcopy.core.convert import plan_output, report_gaps, validate_options
            from vfxcopy.core.naming import MOVIE_TARGETS, normalise_target

            validate_options(opts)
        except (ValueError, SafetyError) as exc:
            return _failed(spec, report, str(exc))

        def gaps(tally: Tally) -> None:
            report_gaps(spec, tally.report)

        before = gaps
        if normalise_target(opts.to) in MOVIE_TARGETS:
            from vfxcopy.core.writers.movie import MovieWriter

            window = max(1, opts.threads) + 1  # the movie decodes threads + 1 frames ahead of ffmpeg

            def make_movie() -> Writer:
                return MovieWriter(opts, spec.job_id, token, shared)

            make = make_movie
        else:
            from vfxcopy.core.writers.image import ImageWriter, SpaceGuard

            plan = plan_output(opts)
            workers = max(1, opts.threads)
            space = SpaceGuard(spec.dest_dir)
            warned = threading.Event()
            nthreads = 1 if workers > 1 else 0

            window = workers

            def make_image() -> Writer:
                return ImageWriter(opts, plan, nthreads, space, warned, shared)

            make = make_image
            if opts.compare_pixels and not plan.lossless:
                report(LogMessage(spec.job_id, "info", f"pixel comparison skipped: {plan.target} "
                                  f"({plan.compression or 'lossy'}) does not give back exactly what was written"))
    started = time.monotonic()
    shared = _renditions_member(spec, window)
    try:
        result = Pipeline(spec, token, report, make, workers=workers, debug=debug, on_planned=on_planned,
                          before=before).run()
    finally:
        if shared is not None:
            shared.leave()  # on every path: nothing waits for a rendition that has ended
    result.elapsed = time.monotonic() - started
    return result
