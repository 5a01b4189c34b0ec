"""What the commands print: sizes, durations, a finished job's summary line and its --json record."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing's constant without importing typing (3 ms of `vfxcopy ls`)
if TYPE_CHECKING:
    from typing import Any, TextIO

    # Imported where used: `vfxcopy ls` formats sizes without loading the job model (start-up time).
    from vfxcopy.core.jobs import JobResult, JobSpec


def human_size(n: float | None) -> str:
    """1288490188 -> '1.2 GiB' (binary units, as parse_size reads them)."""
    from vfxcopy.core.units import format_size  # the one size formatter (the window uses it too)

    return format_size(n, unknown="?")


def human_duration(seconds: float | None) -> str:
    """75.2 -> '1:15'; 3725 -> '1:02:05'; None -> '--:--'."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "--:--"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def result_counts(result: JobResult) -> dict[str, int]:
    from vfxcopy.core.jobs import FrameStatus

    counts = {s.value: 0 for s in FrameStatus}
    for r in result.frames:
        counts[r.status.value] += 1
    return counts


def result_to_dict(spec: JobSpec, result: JobResult) -> dict[str, Any]:
    """A job's outcome for --json: the spec, its state, counts, bytes, time, failed frames."""
    from vfxcopy.core.jobs import FrameStatus

    counts = result_counts(result)
    return {
        "job_id": result.job_id,
        "spec": spec.to_dict(),
        "source": spec.source.pattern(),
        "dest_dir": spec.dest_dir,
        "state": result.state.value,
        "message": result.message,
        "frames_total": len(result.frames),
        "frames_done": counts[FrameStatus.DONE.value],
        "frames_skipped": counts[FrameStatus.SKIPPED.value],
        "frames_failed": counts[FrameStatus.FAILED.value],
        "frames_not_run": counts[FrameStatus.PENDING.value] + counts[FrameStatus.CANCELLED.value],
        "bytes": result.bytes_done,
        "elapsed": round(result.elapsed, 6),
        "failed": [
            {"frame": r.frame, "source": r.source, "dest": r.dest, "error": r.error} for r in result.failed
        ],
        "exit_code": result.exit_code,
    }


def summary_line(spec: JobSpec, result: JobResult, *, with_message: bool = True) -> str:
    """One line per finished job for stderr: what, where, counts, size, speed."""
    from vfxcopy.core.jobs import JobState, Operation

    c = result_counts(result)
    parts = [f"{c['done']} copied" if spec.operation is Operation.COPY else f"{c['done']} done"]
    if c["skipped"]:
        parts.append(f"{c['skipped']} skipped")
    if c["failed"]:
        parts.append(f"{c['failed']} failed")
    rest = c["pending"] + c["cancelled"]
    if rest:
        parts.append(f"{rest} not run")
    rate = result.bytes_done / result.elapsed if result.elapsed > 0 else 0.0
    text = (
        f"{spec.display_name()} -> {spec.dest_dir}: {result.state.value}, {', '.join(parts)}; "
        f"{human_size(result.bytes_done)} in {result.elapsed:.1f} s ({rate / (1 << 20):.1f} MiB/s)"
    )
    if with_message and result.message and result.state is not JobState.COMPLETED:
        text += f" - {result.message}"
    return text


def print_json(data: Any, stream: TextIO | None = None) -> None:
    import json  # only with --json: a copy that prints no JSON does not load it

    out = stream or sys.stdout
    json.dump(data, out, indent=2, sort_keys=False)
    out.write("\n")
    out.flush()


# -- colour on a terminal ------------------------------------------------------------

RED, YELLOW = "31", "33"


def colour_enabled(stream: TextIO) -> bool:
    """Colour for `stream`: never with NO_COLOR set (no-color.org), always with FORCE_COLOR, else on a terminal."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError, OSError):
        return False


def paint(text: str, colour: str, stream: TextIO) -> str:
    """`text` in an ANSI colour when `stream` shows colour; escape the text first (it is sent as is)."""
    return f"\x1b[{colour}m{text}\x1b[0m" if colour_enabled(stream) else text
