"""ProgressPrinter: a job's progress on stderr, a redrawn bar on a terminal, plain lines in logs."""

from __future__ import annotations

import io
import os
import sys
import threading
import time

from vfxcopy.cli.output import RED, YELLOW, human_duration, human_size, paint
from vfxcopy.core.jobs import (
    Event,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Progress,
)
from vfxcopy.core.textsafe import printable
from vfxcopy.core.units import plural

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import TextIO

_stdout_lock = threading.Lock()
FAILURES_SHOWN = 20  # per job, without -v: the failures printed one by one


def print_json_line(data: dict[str, object], stream: TextIO | None = None) -> None:
    """One JSON object on one line (JSON Lines), written and flushed whole (jobs report from threads)."""
    import json  # only with --progress json (start-up)

    out = stream or sys.stdout
    text = json.dumps(data, separators=(",", ":"), default=str) + "\n"
    with _stdout_lock:
        out.write(text)
        out.flush()


def result_line(spec: JobSpec, result: JobResult) -> dict[str, object]:
    """A finished job for a JSON line: result_to_dict without the spec (the start line has what matters)."""
    from vfxcopy.cli.output import result_to_dict

    return {k: v for k, v in result_to_dict(spec, result).items() if k != "spec"}


class ProgressPrinter:
    """A Reporter that shows a job's progress on stderr.

    On a terminal: one line redrawn at most `tty_interval` apart (frames done/total,
    MiB/s, ETA). Otherwise (farm logs, pipes): a plain line every `plain_interval`
    seconds, or one per frame with `verbose`. Failed frames and engine warnings are
    always printed, each on its own line with path and reason. Thread-safe: the
    engine calls it from a worker thread.
    """

    def __init__(
        self,
        label: str = "",
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        quiet: bool = False,
        verbose: bool = False,
        tty_interval: float = 0.1,
        plain_interval: float = 5.0,
        unit: str = "frame",  # what the job counts ("file" for a folder tree), in the singular
        listed_by: str = "",  # where every failure can be read ("`vfxcopy jobs show ID`"), once some are not shown
    ) -> None:
        self.unit = unit
        self.listed_by = listed_by
        self.failures_said = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.label = label
        self.quiet = quiet
        self.verbose = verbose
        self.tty_interval = tty_interval
        self.plain_interval = plain_interval
        self.last: Progress | None = None
        self._lock = threading.Lock()
        self._last_draw = 0.0
        self._drawn = False  # a bar is on screen and must be cleared before other text
        self.last_started: float | None = None
        self._said: set[str] = set()  # problems printed already (a frame's error and its log line)

    def __call__(self, event: Event) -> None:
        try:
            with self._lock:
                if isinstance(event, Progress):
                    self._progress(event)
                elif isinstance(event, FrameResult):
                    self._frame(event)
                elif isinstance(event, LogMessage):
                    self._log(event)
        except (OSError, ValueError):
            pass  # a closed or broken stderr must not fail the job (the reporter must not raise)

    # -- events --
    def _progress(self, p: Progress) -> None:
        self.last = p
        if self.quiet:
            return
        now = time.monotonic()
        final = p.state.finished
        if not self.tty and (final or (self.verbose and self.last_started is not None)):
            return  # plain mode: the caller's summary line (or the per-frame lines) says it
        if not self.tty and self.last_started is None:
            # The first line of a job in a farm log: what it is about to do.
            self.last_started = now
            self._last_draw = now
            self._line(f"{self.label}: {plural(p.frames_total, self.unit)}, {human_size(p.bytes_total)}")
            return
        interval = self.tty_interval if self.tty else self.plain_interval
        if not final and now - self._last_draw < interval:
            return
        self._last_draw = now
        if self.tty:
            self._draw(self.format_bar(p))
        else:
            self._line(self.format_line(p))

    def _frame(self, r: FrameResult) -> None:
        if r.status is FrameStatus.FAILED:
            if not self._first_time(r.error or r.source):
                return
            # A run whose every frame fails the same way (a destination another copy fills, a source
            # unmounted) printed thousands of lines: the first ones, then where to read them all.
            self.failures_said += 1
            if self.verbose or self.failures_said <= FAILURES_SHOWN:
                self._line(f"vfxcopy: frame {r.frame} failed: {r.error or r.source}", force=True, colour=RED)
            elif self.failures_said == FAILURES_SHOWN + 1:
                where = f"; {self.listed_by} lists every one" if self.listed_by else ""
                self._line(f"vfxcopy: more {self.unit}s failed: only the first {FAILURES_SHOWN} are shown "
                           f"(-v shows all{where})", force=True, colour=RED)
        elif self.verbose and not self.quiet and not self.tty and r.status in (FrameStatus.DONE, FrameStatus.SKIPPED):
            word = "copied" if r.status is FrameStatus.DONE else "skipped"
            extra = f" ({r.error})" if r.error else ""
            self._line(f"{word} {r.source} -> {r.dest} {human_size(r.size)}{extra}")

    def _log(self, m: LogMessage) -> None:
        if m.level in ("warning", "error") and not self._first_time(m.text):
            return  # the engine logs a failed frame's error too: say it once
        if m.level in ("warning", "error") or (self.verbose and not self.quiet):
            colour = {"error": RED, "warning": YELLOW}.get(m.level, "")
            self._line(f"vfxcopy: {m.level}: {m.text}", force=True, colour=colour)

    def said(self, text: str) -> bool:
        """Was `text` printed already (as a frame's error or a log line)?"""
        return bool(text) and text in self._said

    def _first_time(self, text: str) -> bool:
        if text in self._said:
            return False
        self._said.add(text)
        return True

    # -- output --
    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            columns = 0
        import shutil

        return columns or shutil.get_terminal_size((80, 20)).columns

    def _draw(self, text: str) -> None:
        text = printable(text)  # a name may carry terminal escapes: never sent raw
        width = self._columns()
        self.stream.write("\r" + text[: max(10, width - 1)] + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def _line(self, text: str, force: bool = False, colour: str = "") -> None:
        if self.quiet and not force:
            return
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self._drawn = False
        text = printable(text)
        self.stream.write((paint(text, colour, self.stream) if colour else text) + "\n")
        self.stream.flush()

    def end(self) -> None:
        """Leave the terminal on a fresh line after the bar."""
        with self._lock:
            if self._drawn:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._drawn = False

    def message(self, text: str) -> None:
        """A line of its own that does not tear the bar (e.g. 'cancelling...')."""
        with self._lock:
            self._line(text, force=True)

    # -- formats --
    def _counts(self, p: Progress) -> str:
        text = f"{p.frames_done}/{plural(p.frames_total, self.unit)}"
        if p.frames_failed:
            text += f", {p.frames_failed} failed"
        return text

    def format_bar(self, p: Progress, columns: int | None = None) -> str:
        """'label [#####.....]  45% 4/10 frames  12.3 MiB/s  ETA 0:12', fitted to the terminal.

        The numbers matter most: the bar narrows, then goes, then the label is cut.
        """
        columns = columns or self._columns()
        state = f" {p.state.value}" if p.state is not JobState.RUNNING else ""
        stats = (
            f"{p.fraction * 100:3.0f}% {self._counts(p)}  {p.bytes_per_s / (1 << 20):.1f} MiB/s  "
            f"ETA {human_duration(p.eta_s)}{state}"
        )
        room = columns - 1 - len(stats) - 1
        label = self.label
        bar_width = min(20, room - len(label) - 3)
        if bar_width < 8:  # no room for a useful bar: the label goes first, then the bar
            bar_width = 0
            if len(label) > room:
                label = label[: room - 3] + "..." if room > 8 else ""
        filled = int(round(p.fraction * bar_width))
        bar = f" [{'#' * filled}{'.' * (bar_width - filled)}]" if bar_width else ""
        return f"{label}{bar} {stats}".strip()

    def format_line(self, p: Progress) -> str:
        return (
            f"{self.label}: {p.fraction * 100:.0f}% {self._counts(p)}, "
            f"{human_size(p.bytes_done)} of {human_size(p.bytes_total)}, "
            f"{p.bytes_per_s / (1 << 20):.1f} MiB/s, ETA {human_duration(p.eta_s)}"
        ).strip()


class PrintingListener:
    """A queue listener's printers, one per running job: events go to their job's printer."""

    def __init__(self) -> None:
        self._printers: dict[str, ProgressPrinter] = {}

    def events(self, job_id: str, events: list[Event]) -> None:
        printer = self._printers.get(job_id)
        if printer is not None:
            for event in events:
                printer(event)


class JsonProgress(ProgressPrinter):
    """`--progress json`: a job's events as JSON lines on stdout for wrapper scripts.

    Lines, each one object with an "event": "start" (job, source, destination, counts),
    "progress" (at most every `interval` seconds, and the last one), "frame" (a failed
    frame: path and error), "log" (warnings and errors), "finished" (the job's result);
    the command ends with one "result" line. Human text (notes, summaries) stays on stderr.
    A ProgressPrinter so that the queue's listeners hold either.
    """

    def __init__(self, spec: JobSpec, index: int, total: int, *, out: TextIO | None = None,
                 interval: float = 0.5) -> None:
        super().__init__(spec.display_name(), stream=sys.stderr, tty=False, quiet=True)
        self.spec = spec
        self.out = out
        self.interval = interval
        self._started = False
        self._index, self._total = index, total

    def _emit(self, data: dict[str, object]) -> None:
        try:
            print_json_line({"event": data.pop("event"), "job_id": self.spec.job_id, **data}, self.out)
        except (OSError, ValueError):
            pass  # a closed stdout must not fail the job (the reporter must not raise)

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, Progress):
                self._json_progress(event)
            elif isinstance(event, FrameResult) and event.status is FrameStatus.FAILED:
                self._said.add(event.error or event.source)
                self._emit({"event": "frame", "frame": event.frame, "status": event.status.value,
                            "source": event.source, "dest": event.dest, "error": event.error})
            elif isinstance(event, LogMessage) and event.level in ("warning", "error"):
                if self._first_time(event.text):
                    self._emit({"event": "log", "level": event.level, "text": event.text})

    def _json_progress(self, p: Progress) -> None:
        self.last = p
        now = time.monotonic()
        if not self._started:
            self._started = True
            self._emit({"event": "start", "job": self._index, "jobs": self._total,
                        "operation": self.spec.operation.value, "source": self.spec.source.pattern(),
                        "dest_dir": self.spec.dest_dir, "frames_total": p.frames_total,
                        "bytes_total": p.bytes_total})
        elif not p.state.finished and now - self._last_draw < self.interval:
            return
        self._last_draw = now
        self._emit({"event": "progress", "state": p.state.value, "frames_total": p.frames_total,
                    "frames_done": p.frames_done, "frames_failed": p.frames_failed,
                    "frames_skipped": p.frames_skipped, "bytes_total": p.bytes_total,
                    "bytes_done": p.bytes_done, "fraction": round(p.fraction, 4),
                    "bytes_per_s": round(p.bytes_per_s, 1),
                    "eta_s": None if p.eta_s is None else round(p.eta_s, 1)})

    def finished(self, result: JobResult) -> None:
        """The job's "finished" line (the listener calls it before the summary on stderr)."""
        with self._lock:
            data = result_line(self.spec, result)
            data.pop("job_id", None)
            self._emit({"event": "finished", **data})
