"""The job report's thumbnails, made while the job copies instead of after it.

Made after the copy, they took longer than the copy itself: 48 frames of 2K EXR (384 MB)
copied in 0.21-0.24 s, then 0.35-0.49 s went to the manifest and the report, most of it
the thumbnails (OpenImageIO's first decode sets up its EXR reader and the colour processor:
0.11-0.13 s; then 20-30 ms a frame; its import and the OCIO config another 60 ms).

Started with the job on a thread of their own, they are read from the job's source frames:
a frame the job copies holds its source's bytes (the copy hashed them as it wrote them).
They stand for the report's only when they show what the report would: the same delivered
frames in the same order, and each frame with a thumbnail copied by this job (not skipped:
with policy 'skip' a frame left in place need not be the source's). Otherwise, or when they
are not ready, the report makes them at the end as before. Only a sequence whose first frame
looks like an image (by its first bytes) starts the thread: a copy of data files never loads
OpenImageIO. Nor does a source on a network file system: the report then reads the delivered
frames, as before.
"""

from __future__ import annotations

import os
import threading

from vfxcopy.core.jobs import CancelToken, FrameResult, FrameStatus, JobSpec

JOIN_STEP_S = 0.1  # how often a wait for the thread looks at the job's cancel


class EarlyStrip:
    """Thumbnails of the planned frames the report would show of a job of `total` frames (`dests`,
    read from `sources`: those at report.picked_indexes(total)), made on a thread of their own."""

    def __init__(self, dests: list[str], sources: list[str], job: CancelToken, *, total: int | None = None) -> None:
        from vfxcopy.core.report import picked_indexes

        self.dests = dests
        self.sources = sources
        self.picks = picked_indexes(len(dests) if total is None else total)
        self.job = job
        self.own = CancelToken()  # stop(): the job ended without a report
        self.made: tuple[list[tuple[str, str]], list[str]] | None = None
        # Not a daemon: a process that ends while a frame decodes waits for that frame (stop() has
        # told the thread to go no further) instead of cutting OpenImageIO off in its C++ code.
        self.thread = threading.Thread(target=self._run, daemon=False, name="vfxcopy-thumbnails")

    def start(self) -> EarlyStrip | None:
        try:
            self.thread.start()
        except RuntimeError:  # no thread to be had: the report makes them at the end
            return None
        return self

    def check(self) -> None:
        """What thumbnail_strip calls between frames: Cancelled once the job is cancelled or ended."""
        self.job.check()
        self.own.check()

    def _run(self) -> None:
        from vfxcopy.core.report import thumbnail_strip

        notes: list[str] = []
        try:
            strip = thumbnail_strip(self.dests, token=self, notes=notes, read_from=self.sources)
        except Exception:  # noqa: BLE001 - Cancelled, or any failure: the report makes them at the end, and says why
            return
        self.made = (strip, notes)

    def stop(self) -> None:
        """The job ended without a report (or has its thumbnails): the thread stops at its next frame."""
        self.own.cancel()

    def result_for(self, frames: list[FrameResult]) -> tuple[list[tuple[str, str]], list[str]] | None:
        """(strip, notes) for a report of `frames`, once the thread is done; None when they do not show
        what the report would (the report makes them then) or the job is cancelled meanwhile."""
        from vfxcopy.core.report import picked_indexes, placed_frames

        while self.thread.is_alive():
            if self.job.cancelled:
                return None
            self.thread.join(JOIN_STEP_S)
        if self.made is None:
            return None
        placed = placed_frames(frames)
        if picked_indexes(len(placed)) != self.picks:  # its last pick is the last frame: another count differs
            return None  # the report would show other frames
        for i, dest in zip(self.picks, self.dests, strict=True):
            if placed[i].status is not FrameStatus.DONE or os.path.basename(placed[i].dest) != os.path.basename(dest):
                return None  # left in place (not the source's bytes), or placed under another name
        strip, notes = self.made
        return list(strip), list(notes)


def start_early_strip(spec: JobSpec, token: CancelToken) -> EarlyStrip | None:
    """The report's thumbnails started now, for a verified copy of a sequence of images; else None.

    Only the frames the report would show are named: a job of 20,000 data files pays one look
    at its first frame's first bytes, not a name for each of its frames."""
    from vfxcopy.core.engine import has_outputs

    if not has_outputs(spec) or spec.tree is not None:
        return None
    from vfxcopy.core import naming
    from vfxcopy.core.report import picked_indexes, thumbnail_candidate
    from vfxcopy.core.roundtrips import on_network

    source = spec.source
    try:
        frames = None if source.is_single else spec.selected_frames()
        total = 1 if frames is None else len(frames)
        picks = picked_indexes(total)
        if not picks:
            return None
        sources = source.path_strs(None if frames is None else [frames[i] for i in picks])
        if thumbnail_candidate(sources[0], "") is not None:
            return None  # not an image (by its first bytes), or not there: the run says what is wrong
        if on_network(source.directory or "."):
            return None  # each read a round trip: the report reads the delivered frames at the end, as before
        names = naming.dest_names(spec)
    except (OSError, ValueError):
        return None  # the run says what is wrong with the job
    if len(names) != total:
        return None
    dests = [os.path.join(spec.dest_dir, names[i]) for i in picks]
    return EarlyStrip(dests, sources, token, total=total).start()
