"""run_preflight: read every frame's header in parallel, then compare the frames with each other."""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from vfxcopy.core.errors import Cancelled
from vfxcopy.core.jobs import CancelToken
from vfxcopy.core.preflight.analyse import find_duplicates, gap_findings, outlier_findings
from vfxcopy.core.preflight.inspect import inspect_frame
from vfxcopy.core.preflight.model import Finding, FrameInfo, Kind, PreflightOptions, Report
from vfxcopy.core.preflight.policy import options_from_policy
from vfxcopy.core.sequence import Sequence

if TYPE_CHECKING:
    from concurrent.futures import Future

    from vfxcopy.core.jobs import JobSpec

# on_progress(frames_done, frames_total), called from the thread that runs run_preflight.
ProgressFn = Callable[[int, int], None]

_KIND_ORDER = {kind: i for i, kind in enumerate(Kind)}

HEADER_BATCH = 16


def _sort_key(f: Finding) -> tuple[int, int, int]:
    return (0 if f.frame is not None else 1, f.frame if f.frame is not None else 0, _KIND_ORDER[f.kind])


def _inspect_batch(batch: list[tuple[int | None, str]], deep: bool, token: CancelToken) -> list[FrameInfo]:
    out: list[FrameInfo] = []
    for frame, path in batch:
        if token.cancelled:
            break  # the caller sees the cancel and drops this short batch
        out.append(inspect_frame(path, frame, deep=deep, token=token))
    return out


def _inspect_all(
    items: list[tuple[int | None, str]],
    options: PreflightOptions,
    token: CancelToken,
    on_progress: ProgressFn | None,
) -> list[FrameInfo] | None:
    """FrameInfo per item in order; None if cancelled.

    Header checks start on the calling thread and move to `options.threads` threads
    when they wait on storage (see below); `deep` decodes on the threads from the start
    (OpenImageIO releases the GIL). A header check takes about 45 us, as long as handing
    a task to a pool thread, so frames go in batches of HEADER_BATCH (one by one with
    `deep`). A bounded window of batches is in flight, so a cancel waits for at most
    one batch per thread.
    """
    total = len(items)
    size = 1 if options.deep else HEADER_BATCH
    batches = [items[i:i + size] for i in range(0, total, size)]
    infos: list[FrameInfo] = []
    threads = max(1, options.threads)
    nxt = 0
    try:
        if not options.deep:
            # Headers in the page cache are CPU-bound Python (about 45 us a frame): on this
            # thread they ran 1.7x faster than on 8 threads contending for the GIL
            # (bench_preflight). Reads that wait on storage more than they compute (cold
            # cache, network) hand the rest to the pool, where the waits overlap. Totals over
            # the batches so far, not one batch: on a loaded machine a single preemption
            # (a few ms) made half of the cached runs switch.
            waited = computed = 0.0
            while nxt < len(batches):
                wall, cpu = time.perf_counter(), time.thread_time()
                infos.extend(_inspect_batch(batches[nxt], False, token))
                waited += time.perf_counter() - wall
                computed += time.thread_time() - cpu
                nxt += 1
                token.check()
                if on_progress is not None:
                    on_progress(len(infos), total)
                if threads > 1 and nxt >= 2 and waited > 2 * computed + 0.005:
                    break
        if nxt < len(batches):
            # Imported here: cached headers never need it, and it costs `vfxcopy check` 3.5 ms to start.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vfxcopy-preflight") as pool:
                pending: deque[Future[list[FrameInfo]]] = deque()
                try:
                    while nxt < len(batches) or pending:
                        while nxt < len(batches) and len(pending) < threads * 2:
                            pending.append(pool.submit(_inspect_batch, batches[nxt], options.deep, token))
                            nxt += 1
                        infos.extend(pending.popleft().result())
                        token.check()
                        if on_progress is not None:
                            on_progress(len(infos), total)
                finally:
                    for fut in pending:
                        fut.cancel()
    except Cancelled:
        return None
    return infos


def run_preflight(
    sequence: Sequence,
    frames: list[int] | None = None,
    token: CancelToken | None = None,
    options: PreflightOptions | None = None,
    on_progress: ProgressFn | None = None,
) -> Report:
    """Check `frames` of `sequence` (default: all) without changing anything; never raises for bad frames.

    A cancel (through `token`) returns soon with `report.cancelled` set and the
    findings of the frames read so far left out (a partial majority would mislead).
    """
    started = time.monotonic()
    options = options or PreflightOptions()
    token = token or CancelToken()
    report = Report(sequence, options=options)
    if sequence.is_single:
        asked: list[int] = []
        items: list[tuple[int | None, str]] = [(None, str(sequence.path()))]
    else:
        asked = sorted(set(sequence.frames if frames is None else frames))
        have = set(sequence.frames)
        # os.path, not Sequence.path(): pathlib objects cost 20 us a frame, a third of a header check.
        items = [(f, os.path.join(sequence.directory, sequence.name(f))) for f in asked if f in have]
    findings: list[Finding] = []
    if options.wants(Kind.GAP):
        findings.extend(gap_findings(sequence, asked))
    infos = _inspect_all(items, options, token, on_progress)
    if infos is None:
        report.cancelled = True
        report.elapsed = time.monotonic() - started
        return report
    report.frames_checked = len(infos)
    for info in infos:
        if info.error_kind is not None and options.wants(info.error_kind):
            findings.append(Finding(info.error_kind, info.frame, info.path, info.error))
    findings.extend(outlier_findings(infos, options))
    if options.duplicates and options.wants(Kind.DUPLICATE):
        try:
            findings.extend(find_duplicates(infos, token))
        except Cancelled:
            report.cancelled = True
    report.findings = sorted(findings, key=_sort_key)
    report.elapsed = time.monotonic() - started
    return report


def preflight_job(
    spec: JobSpec, token: CancelToken | None = None, on_progress: ProgressFn | None = None,
    options: PreflightOptions | None = None,
) -> Report:
    """The pre-flight a job's policy asks for, over the job's selected frames (for the engine)."""
    opts = options_from_policy(spec.preflight, options)
    frames = None if spec.source.is_single else spec.selected_frames()
    return run_preflight(spec.source, frames, token, opts, on_progress)
