"""Helpers every sub-command shares: sources to sequences, specs from options, progress, signals, JSON."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import sqlite3
import stat as stat_module
import sys
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, TextIO

from vfxcopy.core.engine import run_job
from vfxcopy.core.errors import SafetyError
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    CopyOptions,
    Event,
    FrameResult,
    FrameStatus,
    HashAlgo,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Operation,
    Progress,
    VerifyMode,
)
from vfxcopy.core.journal import Journal, JournalError
from vfxcopy.core.sequence import Sequence, find_sequence, from_pattern, parse_frames, parse_pattern, scan
from vfxcopy.core.units import parse_size

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class UsageError(Exception):
    """A command line that cannot run as given; the command exits 2 with this message."""


def error(command: str, message: str, stream: TextIO | None = None) -> None:
    """Print `vfxcopy <command>: error: <message>` to stderr."""
    print(f"vfxcopy {command}: error: {message}", file=stream or sys.stderr, flush=True)


# -- sizes, durations --------------------------------------------------------------

def human_size(n: float | None) -> str:
    """1288490188 -> '1.2 GiB' (binary units, as parse_size reads them)."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # unreachable; keeps type checkers calm


def human_duration(seconds: float | None) -> str:
    """75.2 -> '1:15'; 3725 -> '1:02:05'; None -> '--:--'."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "--:--"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# -- sources -----------------------------------------------------------------------


def resolve_sources(paths: Iterable[str], *, stat: bool = False, recursive: bool = False) -> list[Sequence]:
    """Command-line sources (folders, frames, patterns) -> sequences and single files.

    A folder gives every sequence and single file in it; a pattern
    (`shot.####.exr`, `shot.%04d.exr`, `shot.$F4.exr`) gives that sequence; files
    named together are grouped, and a frame named alone stands for its whole
    sequence, as when it is dropped on the window. Raises UsageError for a path
    that does not exist or a pattern without frames.
    """
    folders: list[str] = []
    files: list[str] = []
    found: list[Sequence] = []
    for path in paths:
        try:
            is_dir = stat_module.S_ISDIR(os.stat(path).st_mode)
        except FileNotFoundError:
            is_dir = False
        except OSError as exc:  # e.g. a folder on the way that we may not enter
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
        if is_dir:
            folders.append(path)
        elif os.path.lexists(path):
            files.append(path)
        elif parse_pattern(path) is not None:
            try:
                found.append(from_pattern(path, stat=stat))
            except FileNotFoundError:
                raise UsageError(f"no frames match the pattern {path}") from None
        else:
            raise UsageError(f"no such file or folder: {path}")
    try:
        found.extend(scan(folders, stat=stat, recursive=recursive))
        for seq in scan(files, stat=stat):
            if len(seq.frames) == 1:
                seq = find_sequence(seq.path(seq.frames[0]), stat=stat)
            found.append(seq)
    except OSError as exc:  # unreadable folder, dangling link, vanished file
        raise UsageError(f"cannot read {exc.filename or 'a source'}: {exc.strerror or exc}") from None
    return _merge(found)


def _merge(seqs: list[Sequence]) -> list[Sequence]:
    """One entry per sequence even when several arguments name it; frames united."""
    merged: dict[tuple[str, str, str, int], Sequence] = {}
    for seq in seqs:
        key = (seq.directory, seq.head, seq.tail, seq.padding)
        old = merged.get(key)
        if old is None:
            merged[key] = seq
        elif set(seq.frames) - set(old.frames):
            merged[key] = old.with_frames(set(old.frames) | set(seq.frames))  # size unknown now
    return list(merged.values())


# -- options -> JobSpec --------------------------------------------------------------


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every job-making command shares (copy, convert): frames, naming, output."""
    parser.add_argument("--frames", metavar="RANGE", help="only these frames, e.g. 1001-1100,1200,1300-1310x2")
    parser.add_argument("--rename-head", metavar="NAME", help="new name before the frame number, e.g. 'shot_020.'")
    parser.add_argument("--offset", type=int, default=0, metavar="N", help="add N to every frame number")
    parser.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
    parser.add_argument("--no-journal", action="store_true",
                        help="do not record the jobs in the job journal (they cannot be resumed then)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output (errors still go to stderr)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="without a terminal, one line per frame instead of every few seconds"
    )


def add_copy_arguments(parser: argparse.ArgumentParser) -> None:
    """The copy engine's options (CopyOptions), for `copy` and any command that copies."""
    parser.add_argument("--verify", choices=[m.value for m in VerifyMode], default=VerifyMode.TRANSFER.value,
                        help="none; transfer: hash what was read and written (default); full: also read back")
    parser.add_argument("--hash", choices=[h.value for h in HashAlgo], default=HashAlgo.XXH3.value,
                        help="hash for verification (default xxh3, i.e. xxh3-128)")
    parser.add_argument("--on-conflict", choices=[c.value for c in ConflictPolicy],
                        default=ConflictPolicy.SKIP_IDENTICAL.value,
                        help="when a destination file exists (default skip-identical: a different file fails that frame)")
    parser.add_argument("--no-fsync", action="store_true", help="do not fsync frames before renaming them into place")
    parser.add_argument("--stop-on-error", action="store_true", help="stop a job at its first failed frame")
    parser.add_argument("--bwlimit", metavar="RATE",
                        help="at most RATE bytes/s per job; K, M, G suffixes are powers of 1024 (50M = 50 MiB/s)")
    parser.add_argument("--follow-symlinks", action="store_true", help="copy through symlinks that leave the source folder")


def copy_options_from_args(args: argparse.Namespace) -> CopyOptions:
    """CopyOptions from add_copy_arguments' options; UsageError for a bad --bwlimit."""
    bwlimit = None
    if getattr(args, "bwlimit", None):
        try:
            bwlimit = parse_size(args.bwlimit) or None
        except ValueError as exc:
            raise UsageError(f"--bwlimit: {exc}") from None
    return CopyOptions(
        verify=VerifyMode(args.verify),
        hash_algo=HashAlgo(args.hash),
        on_conflict=ConflictPolicy(args.on_conflict),
        fsync=not args.no_fsync,
        stop_on_error=args.stop_on_error,
        bwlimit=bwlimit,
        follow_symlinks=getattr(args, "follow_symlinks", False),
    )


def frames_from_args(args: argparse.Namespace) -> list[int] | None:
    if not getattr(args, "frames", None):
        return None
    try:
        return parse_frames(args.frames)
    except ValueError as exc:
        raise UsageError(f"--frames: {exc}") from None


def build_specs(
    sources: list[Sequence],
    dest_dir: str,
    args: argparse.Namespace,
    *,
    operation: Operation = Operation.COPY,
    origin: str = "cli",
    copy: CopyOptions | None = None,
    notes: list[str] | None = None,
) -> list[JobSpec]:
    """One JobSpec per source, honouring --frames, --rename-head and --offset.

    Sources that --frames leaves empty (and single files when --frames is given)
    are dropped with a line in `notes`. Raises UsageError when nothing is left.
    """
    wanted = frames_from_args(args)
    rename = getattr(args, "rename_head", None)
    notes = notes if notes is not None else []
    multi = [s for s in sources if not s.is_single]
    if rename is not None and (len(multi) > 1 or (multi and len(sources) > len(multi))):
        raise UsageError("--rename-head needs exactly one source sequence (several would get the same name)")
    specs: list[JobSpec] = []
    for seq in sources:
        frames: list[int] | None = None
        if wanted is not None:
            if seq.is_single:
                notes.append(f"{seq.path()}: not a sequence, skipped because of --frames")
                continue
            have = set(seq.frames)
            frames = [f for f in wanted if f in have]
            if not frames:
                notes.append(f"{seq.pattern()}: none of the --frames exist, skipped")
                continue
            absent = len(wanted) - len(frames)
            if absent:
                notes.append(f"{seq.pattern()}: {absent} of the --frames do not exist and are left out")
        specs.append(
            JobSpec(
                source=seq,
                dest_dir=dest_dir,
                operation=operation,
                frames=frames,
                rename_head=rename if not seq.is_single else None,
                offset=getattr(args, "offset", 0) or 0,
                copy=copy if copy is not None else CopyOptions(),
                origin=origin,
            )
        )
    if not specs:
        raise UsageError("nothing to do: no sequence or file matches")
    return specs


# -- cancel on signals -----------------------------------------------------------------


class CancelSignals:
    """SIGINT, SIGTERM (and SIGHUP) cancel `token`; the command then exits 130.

    The handler only records the signal and sets the token: the engine sees the
    token between chunks, removes its temporary file and returns normally, so no
    signal can leave a partial file. A second signal is ignored for the same
    reason (the clean-up is already under way and takes milliseconds). Use as a
    context manager; outside the main thread it does nothing (Python only
    delivers signals there).
    """

    # SIGHUP too: a closed terminal or dropped ssh session must not kill a copy mid-frame.
    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self, token: CancelToken) -> None:
        self.token = token
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            return  # never re-enter token.cancel() (it takes a lock) from a nested handler
        self.signum = signum
        self.token.cancel()

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def __enter__(self) -> CancelSignals:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()


# -- progress ------------------------------------------------------------------------


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
    ) -> None:
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
            self._line(f"{self.label}: {p.frames_total} frames, {human_size(p.bytes_total)}")
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
            self._line(f"vfxcopy: frame {r.frame} failed: {r.error or r.source}", force=True)
        elif self.verbose and not self.quiet and not self.tty and r.status in (FrameStatus.DONE, FrameStatus.SKIPPED):
            word = "copied" if r.status is FrameStatus.DONE else "skipped"
            extra = f" ({r.error})" if r.error else ""
            self._line(f"{word} {r.source} -> {r.dest} {human_size(r.size)}{extra}")

    def _log(self, m: LogMessage) -> None:
        if m.level in ("warning", "error") or (self.verbose and not self.quiet):
            self._line(f"vfxcopy: {m.level}: {m.text}", force=True)

    # -- output --
    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            columns = 0
        return columns or shutil.get_terminal_size((80, 20)).columns

    def _draw(self, text: str) -> None:
        width = self._columns()
        self.stream.write("\r" + text[: max(10, width - 1)] + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def _line(self, text: str, force: bool = False) -> None:
        if self.quiet and not force:
            return
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self._drawn = False
        self.stream.write(text + "\n")
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
        text = f"{p.frames_done}/{p.frames_total} frames"
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


def run_with_progress(
    spec: JobSpec,
    args: argparse.Namespace | None = None,
    *,
    token: CancelToken | None = None,
    printer: ProgressPrinter | None = None,
    journal: Journal | None = None,
) -> JobResult:
    """Run one job with progress on stderr; returns its JobResult (recorded in `journal` if given).

    The engine runs in a worker thread while the main thread waits in short
    joins, so that SIGINT/SIGTERM (see CancelSignals) are handled at once even
    during a long system call in the engine. Exceptions the engine raises
    (SafetyError, ...) are re-raised here.
    """
    token = token or CancelToken()
    if printer is None:
        printer = ProgressPrinter(
            spec.display_name(),
            quiet=bool(getattr(args, "quiet", False)),
            verbose=bool(getattr(args, "verbose", False)),
        )
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = run_job(spec, token, printer, journal=journal)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, re-raised there
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"vfxcopy-job-{spec.job_id}", daemon=True)
    worker.start()
    told = False
    while worker.is_alive():
        worker.join(0.05)
        if token.cancelled and not told:
            told = True
            printer.message("vfxcopy: cancelling (removing temporary files)...")
    printer.end()
    if "error" in box:
        raise box["error"]
    result: JobResult = box["result"]
    return result


# -- results -------------------------------------------------------------------------


def result_counts(result: JobResult) -> dict[str, int]:
    counts = {s.value: 0 for s in FrameStatus}
    for r in result.frames:
        counts[r.status.value] += 1
    return counts


def result_to_dict(spec: JobSpec, result: JobResult) -> dict[str, Any]:
    """A job's outcome for --json: the spec, its state, counts, bytes, time, failed frames."""
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


def summary_line(spec: JobSpec, result: JobResult) -> str:
    """One line per finished job for stderr: what, where, counts, size, speed."""
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
    if result.message and result.state is not JobState.COMPLETED:
        text += f" - {result.message}"
    return text


def print_json(data: Any, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    json.dump(data, out, indent=2, sort_keys=False)
    out.write("\n")
    out.flush()


# -- the job journal -----------------------------------------------------------------


def open_cli_journal(command: str) -> Journal | None:
    """The default journal with crashed jobs marked interrupted; None (with a warning) if unusable.

    A journal problem never stops a copy: the job then simply cannot be resumed.
    """
    try:
        journal = Journal()
        for job_id in journal.recover():
            print(f"vfxcopy {command}: note: job {job_id} was interrupted; resume it with "
                  f"'vfxcopy jobs resume {job_id}'", file=sys.stderr)
        return journal
    except (JournalError, OSError, sqlite3.Error) as exc:
        error(command, f"warning: job journal unavailable ({exc}); this run cannot be resumed")
        return None


def refuse(command: str, exc: Exception, args: argparse.Namespace) -> int:
    """A usage error or safety refusal before any byte moved: say why, exit 2."""
    message = f"refused: {exc}" if isinstance(exc, SafetyError) else str(exc)
    error(command, message)
    if getattr(args, "json", False):
        print_json({"command": command, "exit_code": EXIT_USAGE, "error": message, "jobs": []})
    return EXIT_USAGE


def run_queue(
    command: str,
    specs: list[JobSpec],
    args: argparse.Namespace,
    token: CancelToken,
    *,
    notes: list[str],
    label: Callable[[JobSpec], str] | None = None,
    json_extra: dict[str, Any] | None = None,
) -> int:
    """Run `specs` one after another with progress, journal and the exit-code contract.

    The whole queue goes into the journal first, so a crash leaves the jobs not yet
    run resumable too. 'Stop after this frame' (a CANCELLED job with the token
    untouched) ends the queue as well; `--stop-on-error` stops after a failed job.
    """
    for note in notes:
        print(f"vfxcopy {command}: note: {note}", file=sys.stderr)
    journal = None if getattr(args, "no_journal", False) else open_cli_journal(command)
    if journal is not None:
        for spec in specs:
            journal.add_job(spec)
    done: list[tuple[JobSpec, JobResult]] = []
    started: set[str] = set()
    refused = False
    for n, spec in enumerate(specs, 1):
        if token.cancelled:
            break
        name = label(spec) if label else spec.display_name()
        printer = ProgressPrinter(
            name if len(specs) == 1 else f"[{n}/{len(specs)}] {name}", quiet=args.quiet, verbose=args.verbose
        )
        started.add(spec.job_id)
        try:
            result = run_with_progress(spec, args, token=token, printer=printer, journal=journal)
        except SafetyError as exc:  # e.g. the destination changed since the check before the queue
            error(command, f"refused: {exc}")
            refused = True
            continue
        done.append((spec, result))
        if not args.quiet or result.state is not JobState.COMPLETED:
            print(summary_line(spec, result), file=sys.stderr, flush=True)
        if result.state is JobState.CANCELLED and not token.cancelled:
            break
        if getattr(args, "stop_on_error", False) and result.exit_code != EXIT_OK:
            break

    cancelled = token.cancelled or any(r.state is JobState.CANCELLED for _, r in done)
    if journal is not None:
        for spec in specs:
            if spec.job_id not in started:
                journal.set_state(spec.job_id, JobState.CANCELLED, "not started: the command stopped earlier")
        journal.close()
    if cancelled:
        code = EXIT_CANCELLED
    elif refused:
        code = EXIT_USAGE
    elif any(r.exit_code != EXIT_OK for _, r in done):
        code = EXIT_FAILED
    else:
        code = EXIT_OK
    if args.json:
        print_json({
            "command": command,
            "exit_code": code,
            "cancelled": cancelled,
            **(json_extra or {}),
            "jobs": [result_to_dict(spec, result) for spec, result in done],
            "not_started": [s.display_name() for s in specs if s.job_id not in started],
            "notes": notes,
        })
    return code
