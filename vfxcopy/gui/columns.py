"""The job table's columns, declared once (title, width, text, sort key, tooltip), and the words of a job's state."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt

from vfxcopy.core.framenames import format_frames
from vfxcopy.core.jobs import FrameStatus, JobState, Operation
from vfxcopy.core.units import RateMeter, format_duration, format_rate, format_size, plural
from vfxcopy.gui.records import JobRecord

# Status colours, shared with the delegate and the style sheet's palette.
STATE_COLOURS: dict[JobState, str] = {
    JobState.PENDING: "#9aa4ad",
    JobState.RUNNING: "#4aa3f0",
    JobState.PAUSED: "#e0a526",
    JobState.COMPLETED: "#4fbf6b",
    JobState.FAILED: "#e5534b",
    JobState.CANCELLED: "#7d8590",
    JobState.INTERRUPTED: "#c67c3c",
}
CANCELLED_GREY = "#7d8590"
STATE_WORDS: dict[JobState, str] = {
    JobState.PENDING: "Pending",
    JobState.RUNNING: "Running",
    JobState.PAUSED: "Paused",
    JobState.COMPLETED: "Completed",
    JobState.FAILED: "Failed",
    JobState.CANCELLED: "Cancelled",
    JobState.INTERRUPTED: "Interrupted",
}

STATE_ORDER = {s: i for i, s in enumerate(
    [JobState.RUNNING, JobState.PAUSED, JobState.PENDING, JobState.FAILED,
     JobState.INTERRUPTED, JobState.CANCELLED, JobState.COMPLETED]
)}


@dataclass(frozen=True)
class ProgressInfo:
    """The numbers behind a row's progress, for painting and sorting (no text parsing)."""

    total: int
    done: int  # written or verified
    skipped: int
    failed: int
    running: int
    bytes_done: int
    bytes_total: int
    fraction: float
    bytes_per_s: float
    eta_s: float | None
    # A snapshot of the per-frame states and the dimmed flag, so that the delegate
    # paints from one role (a Python object Qt passes through without converting).
    states: tuple[FrameStatus, ...] = ()
    dimmed: bool = False


@dataclass(frozen=True)
class Totals:
    """What the status bar counts: jobs by what they do now, and their summed speed."""

    running: int
    paused: int
    pending: int
    bytes_per_s: float


def progress_info(record: JobRecord, meter: RateMeter | None = None) -> ProgressInfo:
    counts = record.counts()
    total = counts.total
    state = record.shown_state
    p = record.progress
    bytes_done = p.bytes_done if p else (record.result.bytes_done if record.result else 0)
    bytes_total = p.bytes_total if p else 0
    if state is JobState.COMPLETED and not counts.failed:
        fraction = 1.0
    elif state.finished or p is None or p.bytes_total <= 0:
        # A finished job shows what it delivered: failed frames are not progress.
        fraction = counts.handled / total if total else 0.0
    else:
        fraction = p.fraction
    rate = 0.0
    eta: float | None = None
    if state is JobState.RUNNING and meter is not None:
        # The window's own sliding window: no figure until a second of bytes was seen.
        measured = meter.rate
        rate = measured or 0.0
        eta = meter.eta(bytes_total - bytes_done) if bytes_total else None
    elif state.finished and record.result is not None and record.result.elapsed > 0:
        rate = record.result.bytes_done / record.result.elapsed
    return ProgressInfo(
        total=total,
        done=counts.written,
        skipped=counts.skipped,
        failed=counts.failed,
        running=counts.running,
        bytes_done=bytes_done,
        bytes_total=bytes_total,
        fraction=fraction,
        bytes_per_s=rate,
        eta_s=eta,
        states=tuple(record.frame_states),
        dimmed=state is JobState.CANCELLED,
    )


def farm_status_text(record: JobRecord) -> str:
    """A farm row's words: the scheduler's tasks, and the cancel that waits for the sweep."""
    farm = record.farm
    assert farm is not None
    if record.cancelling:
        return "Cancelling… (farm)"
    if record.state.finished:
        return f"{STATE_WORDS[record.state]} (farm)"
    # As short as the column's other words; the tooltip says it in full.
    if farm.state == "submitting":
        return "Submitting to farm…"
    if farm.state == "merging":
        return "Farm: merging"
    if not farm.tasks_running and not farm.tasks_done:
        return f"Farm: {plural(len(farm.chunks), 'task')} queued" if farm.chunks else "Waiting for the farm"
    return f"Farm {farm.tasks_done}/{len(farm.chunks)} · {farm.tasks_running} running"


def _farm_tooltip(record: JobRecord) -> str:
    farm = record.farm
    assert farm is not None
    lines = [f"Farm job on {farm.backend}: {farm.tasks_done} of {plural(len(farm.chunks), 'task')} done, "
             f"{farm.tasks_running} running", f"Results: {farm.folder}" if farm.folder else ""]
    if farm.state == "merging":
        lines.append("Every task is done; the merge step writes the ASC MHL manifest and the report.")
    if record.cancelling:
        lines.append("A farm delivers a cancel when its worker next checks in; the row says Cancelled once no "
                     f"task runs and no partial file is left ({plural(farm.partials, 'partial file')} now).")
    if farm.message:
        lines.append(farm.message)
    return "\n".join(line for line in lines if line)


def status_text(record: JobRecord, info: ProgressInfo) -> str:
    if record.farm is not None:
        return farm_status_text(record)
    if record.cancelling:
        return "Cancelling…"
    if record.stopping:
        return "Stopping after frame…"
    state = record.shown_state
    if state is JobState.COMPLETED:
        return f"Completed, {info.failed} failed" if info.failed else "Completed"
    if state is JobState.FAILED:
        return f"Failed ({plural(info.failed, 'frame')})" if info.failed else "Failed"
    return STATE_WORDS[state]


def _sequence_text(record: JobRecord) -> str:
    """The job's name; a watch folder's jobs start with their rule's name."""
    origin = record.spec.origin
    prefix = f"⟳ {origin[len('watch:'):]} · " if origin.startswith("watch:") else ""
    return prefix + _plain_sequence_text(record)


def _plain_sequence_text(record: JobRecord) -> str:
    spec = record.spec
    if spec.name:
        return spec.name
    src = spec.source
    if src.is_single:
        return src.display()
    frames = spec.selected_frames()
    rng = f"{frames[0]}-{frames[-1]}" if len(frames) > 1 else (str(frames[0]) if frames else "")
    return f"{src.nuke_name()} {rng}".strip()


def _operation_text(record: JobRecord) -> str:
    spec = record.spec
    if spec.operation is Operation.COPY:
        return "Copy"
    conv = spec.convert
    if conv is None:
        return "Convert"
    return f"Convert → {conv.to.upper()}"


def _operation_tooltip(record: JobRecord, info: ProgressInfo) -> str:
    spec = record.spec
    conv = spec.convert
    if spec.operation is Operation.COPY:
        opts = spec.copy
        parts = [f"Copy, verify {opts.verify.value}, {opts.hash_algo.value}, on conflict {opts.on_conflict.value}"]
        if opts.bwlimit:
            parts.append(f"limited to {format_rate(opts.bwlimit)}")
        return ", ".join(parts)
    if conv is None:
        return "Convert"
    details = [f"to {conv.to.upper()}"]
    for label, value in (("preset", conv.preset), ("compression", conv.compression), ("resize", conv.resize),
                         ("colour", conv.to_space)):
        if value:
            details.append(f"{label} {value}")
    return "Convert " + ", ".join(details)


def frames_text(info: ProgressInfo) -> str:
    """'4/6': frames written or skipped of those selected (the table and the details count alike;
    failures are in the Status column and the tooltip)."""
    return f"{info.done + info.skipped}/{info.total}"


def frames_breakdown(info: ProgressInfo, *, of_total: bool = True) -> str:
    """'4 written, 1 skipped, 1 failed of 6 frames' without the zero parts."""
    parts = ", ".join(f"{n} {word}" for n, word in ((info.done, "written"), (info.skipped, "skipped"),
                                                     (info.failed, "failed")) if n)
    if not of_total:
        return parts
    return f"{parts or 'none done'} of {plural(info.total, 'frame')}"


def _frames_tooltip(record: JobRecord, info: ProgressInfo) -> str:
    lines = [
        frames_breakdown(info),
        f"Frames: {format_frames(record.spec.selected_frames())}",
    ]
    if info.failed:
        failed = sorted(r.frame for r in record.failed_frames)
        lines.append(f"Failed: {format_frames(failed)}")
    return "\n".join(lines)


def _status_tooltip(record: JobRecord, info: ProgressInfo) -> str:
    if record.farm is not None:
        return _farm_tooltip(record)
    parts = [status_text(record, info)]
    if record.result and record.result.message:
        parts.append(record.result.message)
    elif record.progress and record.progress.message:
        parts.append(record.progress.message)
    return "\n".join(parts)


@dataclass(frozen=True)
class Column:
    """One column: how it is titled, sized, shown, sorted and explained."""

    key: str
    title: str
    width: int
    text: Callable[[JobRecord, ProgressInfo], str]
    sort_key: Callable[[JobRecord, ProgressInfo], Any]
    tooltip: Callable[[JobRecord, ProgressInfo], str] | None = None
    align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
    # The widest text the column normally shows: the view sizes it from the font. Columns
    # without a sample share what is left of the width (long names, paths: elided in the middle).
    sample: str = ""


_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_CENTER = Qt.AlignmentFlag.AlignCenter

COLUMNS: list[Column] = [
    Column("sequence", "Sequence", 300, lambda r, i: _sequence_text(r),
           lambda r, i: _sequence_text(r).lower(),
           lambda r, i: r.spec.source.pattern("nuke")),
    Column("operation", "Operation", 110, lambda r, i: _operation_text(r),
           lambda r, i: _operation_text(r).lower(), _operation_tooltip, sample="Convert → JPG"),
    Column("frames", "Frames", 100, lambda r, i: frames_text(i),
           lambda r, i: (i.done + i.skipped) / i.total if i.total else 0.0,
           _frames_tooltip, _RIGHT, sample="10000/10000"),
    Column("progress", "Progress", 160, lambda r, i: f"{i.fraction * 100:.0f}%",
           lambda r, i: i.fraction,
           lambda r, i: f"{i.fraction * 100:.1f}% — {format_size(i.bytes_done)} of {format_size(i.bytes_total)}",
           _CENTER, sample="████████████"),
    Column("speed", "Speed", 90, lambda r, i: format_rate(i.bytes_per_s),
           lambda r, i: i.bytes_per_s, None, _RIGHT, sample="999.9 MiB/s"),
    Column("eta", "ETA", 60, lambda r, i: format_duration(i.eta_s),
           lambda r, i: i.eta_s if i.eta_s is not None else math.inf, None, _RIGHT, sample="0:00:00"),
    Column("status", "Status", 150, status_text,
           lambda r, i: STATE_ORDER.get(r.shown_state, 99), _status_tooltip, sample="Stopping after frame…"),
    Column("destination", "Destination", 260, lambda r, i: r.spec.dest_dir,
           lambda r, i: r.spec.dest_dir.lower(), lambda r, i: r.spec.dest_dir),
]
COLUMN_INDEX = {c.key: n for n, c in enumerate(COLUMNS)}
