"""`vfxcopy check SRC...`: pre-flight sequences for missing, broken, odd and duplicate frames."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

from vfxcopy.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CancelSignals,
    UsageError,
    error,
    frames_from_args,
    print_json,
    resolve_sources,
)
from vfxcopy.core.jobs import CancelToken
from vfxcopy.core.textsafe import printable
from vfxcopy.core.units import plural

if TYPE_CHECKING:
    from vfxcopy.core.preflight import Kind, PreflightOptions, Report
    from vfxcopy.core.sequence import Sequence

KINDS_HELP = (
    "gap, empty, truncated, undecodable, resolution, window, channels, pixel_type, compression, "
    "colorspace, size, duplicate; groups: broken (empty, truncated, undecodable), outlier (resolution "
    "... size), all"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "check",
        help="pre-flight: find missing, broken, odd and duplicate frames before a copy",
        description=(
            "Check sequences without changing anything: gaps; empty, truncated and undecodable frames; "
            "frames whose resolution, data/display window, channels, pixel type, compression or colour "
            "space differ from the rest, or whose size is far from the median; with --duplicates, "
            "frames with the same bytes. By default only each frame's header is read, and what tells "
            "whether the file is whole (the EXR chunk offset table, the size a DPX states, the end "
            "marker of PNG and JPEG; other formats decode their last chunk): fast on network storage. "
            "Sources are folders, frames (one frame stands for its sequence) and patterns "
            "(shot.####.exr, shot.%04d.exr, shot.$F4.exr). Ctrl-C cancels."
        ),
        epilog="Exit codes: 0 nothing found, 1 something found, 2 usage error, 130 cancelled.",
    )
    parser.add_argument("paths", nargs="+", metavar="SRC", help="folder, frame or sequence pattern")
    parser.add_argument("-r", "--recursive", action="store_true", help="also check sub-folders")
    parser.add_argument("--frames", metavar="RANGE", help="only these frames, e.g. 1001-1100,1200")
    parser.add_argument("--deep", action="store_true",
                        help="decode every pixel of every frame (a full read of every file); implies --duplicates")
    parser.add_argument(
        "--duplicates", action="store_true",
        help="find frames with identical bytes; only frames of exactly equal size are read (three 64 KiB "
        "samples, then the whole file where the samples match): nearly free on compressed EXR, "
        "192 KiB a frame on DPX",
    )
    parser.add_argument("--size-factor", type=float, default=3.0, metavar="N",
                        help="a frame more than N times larger or smaller than the median is an outlier (default 3)")
    parser.add_argument("--only", metavar="KINDS", help=f"look only for these kinds (comma-separated: {KINDS_HELP})")
    parser.add_argument("--ignore", metavar="KINDS", help="do not report these kinds")
    parser.add_argument("--threads", type=int, default=8, metavar="N",
                        help="frames read at once (default 8; more helps on high-latency network storage)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)


# -- pre-flight options for copy and convert -------------------------------------------------


# (`--preflight` for copy and convert lives in cli/preflight_opts.py: they use it without
# importing this command.)


# -- the command ------------------------------------------------------------------------------


def _kinds(text: str | None, option: str) -> frozenset[Kind] | None:
    if not text:
        return None
    from vfxcopy.core.preflight import kinds_named

    kinds: set[Kind] = set()
    for name in (n for n in text.replace(" ", ",").split(",") if n):
        try:
            kinds |= kinds_named(name)
        except ValueError as exc:
            raise UsageError(f"{option}: {exc}") from None
    return frozenset(kinds)


def options_from_args(args: argparse.Namespace) -> PreflightOptions:
    """PreflightOptions from the check options; UsageError for bad values."""
    from vfxcopy.core.preflight import Kind, PreflightOptions

    if not args.size_factor > 1:
        raise UsageError("--size-factor must be more than 1")
    if args.threads < 1:
        raise UsageError("--threads must be at least 1")
    only = _kinds(args.only, "--only")
    ignore = _kinds(args.ignore, "--ignore") or frozenset()
    kinds = frozenset(only if only is not None else Kind) - ignore
    return PreflightOptions(
        deep=args.deep,
        duplicates=args.duplicates or args.deep,
        size_factor=args.size_factor,
        threads=args.threads,
        kinds=None if kinds == frozenset(Kind) else kinds,
    )


class CheckProgress:
    """'check [2/5] plate.####.exr 120/1000 frames' on stderr: redrawn on a terminal, else a line every 5 s."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False, tty: bool | None = None,
                 plain_interval: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.plain_interval = plain_interval
        self.quiet = quiet
        self.label = ""
        self._last = 0.0
        self._drawn = False
        self._lock = threading.Lock()

    def start(self, label: str) -> None:
        self.label = printable(label)  # a file name, shown on a terminal
        self._last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        interval = 0.1 if self.tty else self.plain_interval
        if now - self._last < interval and done < total:
            return
        if not self.tty and done >= total:
            return  # the result says it
        self._last = now
        text = f"check {self.label}: {done}/{plural(total, 'frame')}"
        with self._lock:
            try:
                if self.tty:
                    self.stream.write("\r" + text + "\x1b[K")
                    self._drawn = True
                else:
                    self.stream.write(text + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass

    def end(self) -> None:
        with self._lock:
            if self._drawn:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._drawn = False


def _run_one(seq: Sequence, frames: list[int] | None, token: CancelToken, options: PreflightOptions,
             progress: CheckProgress) -> Report:
    """run_preflight in a worker thread, so that the main thread is free to take Ctrl-C at once."""
    from vfxcopy.core.preflight import run_preflight

    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["report"] = run_preflight(seq, frames, token, options, progress)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="vfxcopy-check", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)
    progress.end()
    if "error" in box:
        raise box["error"]
    report: Report = box["report"]
    return report


def _title(seq: Sequence) -> str:
    return str(seq.path()) if seq.is_single else f"{seq.pattern()} {seq.range_str()}"


def print_report(report: Report, stream: TextIO | None = None) -> None:
    """'<pattern> <range>: <summary>' then one line per finding: frame, kind, path: what (expected, found)."""
    out = stream or sys.stdout
    n = report.frames_checked
    print(printable(f"{_title(report.sequence)}: {report.summary()} ({plural(n, 'frame')} checked)"), file=out)
    width = max((len(f.kind.value) for f in report.findings), default=0)
    for f in report.findings:
        frame = "" if f.frame is None else str(f.frame)
        print(printable(f"  {frame:>6}  {f.kind.value:<{width}}  {f.text()}"), file=out)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:  # a Ctrl-C before the signal handler was in place
        return EXIT_CANCELLED


def _run(args: argparse.Namespace) -> int:
    try:
        options = options_from_args(args)
        frames = frames_from_args(args)
        seqs = resolve_sources(args.paths, recursive=args.recursive)
    except UsageError as exc:
        error("check", str(exc))
        if args.json:
            print_json({"command": "check", "exit_code": EXIT_USAGE, "error": str(exc), "sequences": []})
        return EXIT_USAGE
    notes: list[str] = []
    todo: list[tuple[Sequence, list[int] | None]] = []
    for seq in seqs:
        if frames is None:
            todo.append((seq, None))
        elif seq.is_single:
            notes.append(f"{seq.path()}: not a sequence, skipped because of --frames")
        elif not set(frames) & set(seq.frames):
            notes.append(f"{seq.pattern()}: none of the --frames exist, skipped")
        else:
            todo.append((seq, frames))
    for note in notes:
        print(printable(f"vfxcopy check: note: {note}"), file=sys.stderr)
    token = CancelToken()
    progress = CheckProgress(quiet=args.quiet or not todo)
    reports: list[Report] = []
    started = time.monotonic()
    with CancelSignals(token):
        for n, (seq, wanted) in enumerate(todo, 1):
            if token.cancelled:
                break
            name = seq.nuke_name() if not seq.is_single else seq.head
            progress.start(name if len(todo) == 1 else f"[{n}/{len(todo)}] {name}")
            report = _run_one(seq, wanted, token, options, progress)
            reports.append(report)
            if not args.json:
                print_report(report)
                sys.stdout.flush()
    cancelled = token.cancelled or any(r.cancelled for r in reports)
    found = sum(len(r.findings) for r in reports)
    code = EXIT_CANCELLED if cancelled else (EXIT_FAILED if found else EXIT_OK)
    elapsed = time.monotonic() - started
    frames_checked = sum(r.frames_checked for r in reports)
    if args.json:
        print_json({
            "command": "check",
            "exit_code": code,
            "cancelled": cancelled,
            "findings": found,
            "frames_checked": frames_checked,
            "elapsed": round(elapsed, 6),
            "sequences": [r.to_dict() for r in reports],
            "notes": notes,
        })
    elif not args.quiet or found or cancelled:
        verdict = "cancelled" if cancelled else ("OK" if not found else plural(found, "finding"))
        print(f"check: {verdict}: {plural(len(reports), 'sequence')}, "
              f"{plural(frames_checked, 'frame')} in {elapsed:.2f} s", file=sys.stderr)
    return code
