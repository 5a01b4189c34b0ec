"""Helpers every sub-command shares: exit codes, errors, sources, options to specs, signals, the journal."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType

# Re-exported: every command imports its helpers from here.
from vfxcopy.cli import help_formatter
from vfxcopy.cli.output import (
    human_duration,
    human_size,
    print_json,
    result_counts,
    result_to_dict,
    summary_line,
)
from vfxcopy.cli.progress import ProgressPrinter
from vfxcopy.core.errors import SafetyError
from vfxcopy.core.framenames import parse_frames
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    CopyOptions,
    HashAlgo,
    JobSpec,
    Operation,
    VerifyMode,
)
from vfxcopy.core.seqfind import Listing, SourceError, resolve
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.specs import JobOptions, SpecError
from vfxcopy.core.specs import build_specs as build_job_specs
from vfxcopy.core.units import parse_size

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    import signal
    from typing import Any, TextIO

    # Imported where used: `vfxcopy ls` needs neither the engine nor the journal (start-up time).
    from vfxcopy.core.frames import FrameSet
    from vfxcopy.core.journal import Journal
else:
    # The C module: `signal` turns its constants into enums at import (5 M instructions, 3% of a
    # short copy's start); its signal() is this one with enums added to what it answers.
    import _signal as signal

__all__ = [
    "EXIT_CANCELLED", "EXIT_FAILED", "EXIT_OK", "EXIT_TERMINATED", "EXIT_USAGE", "CancelSignals", "PathsHelpFormatter",
    "ProgressPrinter",
    "UsageError", "add_copy_arguments", "add_job_arguments", "build_specs", "cancelled_exit", "copy_options_from_args",
    "error", "frame_set_from_args", "frames_from_args", "human_duration", "human_size", "open_cli_journal",
    "parse_size", "print_json", "refuse", "resolve_sources", "result_counts", "result_to_dict", "summary_line",
]

# The exit-code contract (DESIGN.md): 0 all done, 1 some items failed, 2 usage or safety
# refusal, 130 interrupted (SIGINT), 143 terminated (SIGTERM): 128 + the signal, as shells do.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED, EXIT_TERMINATED = 0, 1, 2, 130, 143


class PathsHelpFormatter(help_formatter()):  # type: ignore[misc]  # argparse's, told the terminal's width once
    """Usage lines that read `SRC... DEST` for the sources-then-destination argument `paths`.

    argparse writes a one-or-more argument as `X [X ...]`, which for the metavar
    'SRC... DEST' suggested repeated SRC/DEST pairs.
    """

    def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
        if action.dest == "paths" and not action.option_strings and action.nargs in ("+", "*"):
            return "SRC... DEST" if action.nargs == "+" else "[SRC... DEST]"
        formatted: str = super()._format_args(action, default_metavar)
        return formatted


class UsageError(Exception):
    """A command line that cannot run as given; the command exits 2 with this message."""


def error(command: str, message: str, stream: TextIO | None = None) -> None:
    """Print `vfxcopy <command>: error: <message>` to stderr (names escaped: undecodable bytes, terminal
    escapes); a message that starts with "warning:" is printed as one (`vfxcopy <command>: warning: ...`)."""
    from vfxcopy.cli.output import RED, YELLOW, paint
    from vfxcopy.core.textsafe import printable

    out = stream or sys.stderr
    warning = message.startswith("warning:")
    text = printable(f"vfxcopy {command}: {message}" if warning else f"vfxcopy {command}: error: {message}")
    print(paint(text, YELLOW if warning else RED, out), file=out, flush=True)


# -- sources -----------------------------------------------------------------------


def resolve_sources(paths: Iterable[str], *, stat: bool = False, recursive: bool = False,
                    listings: dict[str, Listing] | None = None) -> list[Sequence]:
    """Command-line sources (folders, frames, patterns) -> sequences and single files.

    A folder gives every sequence and single file in it; a pattern
    (`shot.####.exr`, `shot.%04d.exr`, `shot.$F4.exr`) gives that sequence; files
    named together are grouped, and a frame named alone stands for its whole
    sequence, as when it is dropped on the window; each folder is read once
    (core.seqfind.resolve). Raises UsageError for a path that does not exist or
    a pattern without frames.
    """
    try:
        return resolve(paths, stat=stat, recursive=recursive, listings=listings)
    except SourceError as exc:
        raise UsageError(str(exc)) from None


# -- options -> JobSpec --------------------------------------------------------------


def add_notify_arguments(parser: argparse.ArgumentParser) -> None:
    """--notify URL and --on-complete CMD (core.notify), for the commands that run jobs here."""
    parser.add_argument("--notify", action="append", default=[], metavar="URL",
                        help="when the jobs end, send a message to this apprise URL (mailto://, slack://, msteams://, "
                        "json://...; repeatable), besides the notify.urls setting; needs vfxcopy[notify]")
    parser.add_argument("--on-complete", action="append", default=[], metavar="CMD",
                        help="when each job ends, run CMD in the shell with the job's JSON on standard input "
                        "(repeatable), besides the notify.on_complete setting")


def add_job_arguments(parser: argparse.ArgumentParser, *, notify: bool = True) -> None:
    """Options every job-making command shares (copy, convert): frames, naming, output."""
    parser.add_argument("--frames", metavar="RANGE", help="only these frames, e.g. 1001-1100,1200,1300-1310x2")
    parser.add_argument("--rename-head", metavar="NAME", help="new name before the frame number, e.g. 'shot_020.'")
    parser.add_argument("--offset", type=int, default=0, metavar="N", help="add N to every frame number")
    parser.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
    parser.add_argument("--no-journal", action="store_true",
                        help="do not record the jobs in the job journal (they cannot be resumed then)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output (errors still go to stderr)")
    parser.add_argument(
        "--progress", choices=("auto", "plain", "json", "none"), default="auto",
        help="auto: a bar on a terminal, lines otherwise; plain: lines; json: one JSON object per line on "
        "stdout (start, progress, frame failures, finished, result) for wrapper scripts; none: as -q")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="without a terminal, one line per frame instead of every few seconds"
    )
    from vfxcopy.cli.preflight_opts import add_preflight_arguments

    add_preflight_arguments(parser)
    if notify:
        add_notify_arguments(parser)
    # Farm tasks (vfxcopy.cli.farm_cmd): the same command as one frame chunk of a farm job.
    parser.add_argument("--job-id", metavar="ID", help="farm task: the farm job's id, shared by all its tasks")
    parser.add_argument("--results-dir", metavar="DIR",
                        help="farm task: write the chunk's results (each frame's status, size, hash) to DIR")


def add_copy_arguments(parser: argparse.ArgumentParser) -> None:
    """The copy engine's options (CopyOptions), for `copy` and any command that copies.

    Defaults come from the settings file (`vfxcopy config list`), read when the command
    runs; a flag given overrides it.
    """
    parser.add_argument("--verify", choices=[m.value for m in VerifyMode], default=None,
                        help="none; transfer: hash what was read and written; full: also read back "
                        "(default: the copy.verify setting, transfer unless changed)")
    parser.add_argument("--hash", choices=[h.value for h in HashAlgo], default=None,
                        help="hash for verification (default: the copy.hash setting, xxh3 i.e. xxh3-128 unless changed)")
    parser.add_argument("--on-conflict", choices=[c.value for c in ConflictPolicy], default=None,
                        help="when a destination file exists (default: the copy.on_conflict setting, skip-identical "
                        "unless changed: a different file fails that frame)")
    fsync = parser.add_mutually_exclusive_group()
    fsync.add_argument("--no-fsync", action="store_true", help="do not fsync frames before renaming them into place")
    fsync.add_argument("--fsync", action="store_true", help="fsync frames even if the copy.fsync setting is false")
    pdf = parser.add_mutually_exclusive_group()
    pdf.add_argument("--pdf", action="store_true", default=None,
                     help="after a verified copy, also write the handover PDF (default: the report.pdf setting: "
                     "on the command line only when it is 'always')")
    pdf.add_argument("--no-pdf", action="store_false", dest="pdf", help="no handover PDF even if report.pdf is 'always'")
    parser.add_argument("--stop-on-error", action="store_true", help="stop a job at its first failed frame")
    parser.add_argument("--bwlimit", metavar="RATE",
                        help="at most RATE bytes/s per job; K, M, G suffixes are powers of 1024 (50M = 50 MiB/s); "
                        "0: unlimited (default: the copy.bwlimit setting)")
    parser.add_argument("--follow-symlinks", action="store_true", help="copy through symlinks that leave the source folder")


_settings_seen: dict[tuple[str, int, int, int], Any] = {}


def settings_for(command: str) -> Any:
    """The settings file's values (core.config.Config); a problem in the file is told (once) and the default used."""
    import os

    from vfxcopy.core import config

    try:
        path = config.config_path()
        st = os.stat(path)
        stamp = (path, st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:  # no such file, or no per-user folder at all (load says so)
        stamp = ("", 0, 0, -1)
    if stamp in _settings_seen:
        return _settings_seen[stamp]
    settings = config.load()
    for problem in settings.problems:
        error(command, f"warning: {problem}")
    if stamp[3] >= 0 or settings.path is None:  # a file that exists (a missing one may be written by the
        # migration just now), or no per-user folder at all (said once)
        _settings_seen.clear()
        _settings_seen[stamp] = settings
    return settings


def copy_options_from_args(args: argparse.Namespace, command: str = "copy") -> CopyOptions:
    """CopyOptions from the flags given, the rest from the settings file; UsageError for a bad --bwlimit."""
    defaults = settings_for(command).copy_options()
    bwlimit = defaults.bwlimit
    if getattr(args, "bwlimit", None) is not None:
        try:
            bwlimit = parse_size(args.bwlimit) or None
        except ValueError as exc:
            raise UsageError(f"--bwlimit: {exc}") from None
    fsync = defaults.fsync
    if getattr(args, "no_fsync", False):
        fsync = False
    elif getattr(args, "fsync", False):
        fsync = True
    return CopyOptions(
        verify=VerifyMode(args.verify) if getattr(args, "verify", None) else defaults.verify,
        hash_algo=HashAlgo(args.hash) if getattr(args, "hash", None) else defaults.hash_algo,
        on_conflict=ConflictPolicy(args.on_conflict) if getattr(args, "on_conflict", None) else defaults.on_conflict,
        fsync=fsync,
        stop_on_error=getattr(args, "stop_on_error", False),
        bwlimit=bwlimit,
        follow_symlinks=getattr(args, "follow_symlinks", False),
        pdf_report=defaults.pdf_report if getattr(args, "pdf", None) is None else bool(args.pdf),
    )


def _frames_text(args: argparse.Namespace) -> str | None:
    """--frames as given; None without it. An empty value is refused: `--frames "$CHUNK"` with the
    variable unset in a farm or shell script would otherwise take every frame of the sequence."""
    text = getattr(args, "frames", None)
    if text is not None and not str(text).strip():
        raise UsageError("--frames: empty; give the frames (e.g. 1001-1100), or leave --frames out for all")
    return text


def frames_from_args(args: argparse.Namespace) -> list[int] | None:
    text = _frames_text(args)
    if text is None:
        return None
    try:
        return parse_frames(text)
    except ValueError as exc:
        raise UsageError(f"--frames: {exc}") from None


def frame_set_from_args(args: argparse.Namespace) -> FrameSet | None:
    """--frames as ranges: `--frames 1-10000000` allocates nothing per frame (715 MB as a list)."""
    text = _frames_text(args)
    if text is None:
        return None
    from vfxcopy.core.frames import parse_frame_set  # only with --frames (start-up)

    try:
        return parse_frame_set(text)
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
    """One JobSpec per source from --frames, --rename-head and --offset (core.specs builds them).

    What the frame selection leaves out is told in `notes`; UsageError when nothing is left.
    """
    options = JobOptions(
        operation=operation,
        frames=frame_set_from_args(args),
        rename_head=getattr(args, "rename_head", None),
        offset=getattr(args, "offset", 0) or 0,
        copy=copy if copy is not None else CopyOptions(),
        origin=origin,
    )
    if operation is Operation.CONVERT:
        from vfxcopy.core.jobs import ConvertOptions

        options.convert = ConvertOptions()  # the command sets each spec's own options after
    try:
        built = build_job_specs(sources, dest_dir, options)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    if notes is not None:
        notes.extend(built.notes)
    from vfxcopy.cli.preflight_opts import preflight_policy_from_args

    policy = preflight_policy_from_args(args)  # UsageError on a bad policy
    for spec in built.specs:
        spec.preflight = policy
    return built.specs


# -- cancel on signals -----------------------------------------------------------------


class CancelSignals:
    """SIGINT, SIGTERM (and SIGHUP) cancel `token`; the command then exits 128 + the signal.

    The handler only records the signal, sets the token and calls the `hooks` (for
    example JobQueue.interrupt, which takes no lock): the engine sees its token between
    chunks, removes its temporary file and returns normally, so no signal can leave a
    partial file. A second signal is ignored for the same reason (the clean-up is
    already under way and takes milliseconds). The interrupted main thread must not
    wait on `token` itself (Event.wait holds the lock that cancel() needs): poll
    `token.cancelled` or join threads. Use as a context manager; outside the main
    thread it does nothing (Python only delivers signals there).
    """

    # SIGHUP too: a closed terminal or dropped ssh session must not kill a copy mid-frame.
    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self, token: CancelToken) -> None:
        self.token = token
        self.signum: int | None = None
        self.hooks: list[Callable[[], None]] = []
        self._previous: dict[int, Any] = {}

    @property
    def exit_code(self) -> int | None:
        """128 + the signal that stopped the command (130 SIGINT, 143 SIGTERM); None if none came."""
        return None if self.signum is None else 128 + int(self.signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            return  # never re-enter token.cancel() (it takes a lock) from a nested handler
        self.signum = signum
        self.token.cancel()
        for hook in list(self.hooks):
            hook()

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


def cancelled_exit(guard: CancelSignals | None) -> int:
    """The exit code of a command whose jobs were cancelled: the signal's, else 130."""
    code = guard.exit_code if guard is not None else None
    return code if code is not None else EXIT_CANCELLED


# -- the job journal -----------------------------------------------------------------


def open_cli_journal(command: str) -> Journal | None:
    """The default journal; None (with a warning) if unusable.

    A journal problem never stops a copy: the job then simply cannot be resumed.
    """
    from vfxcopy.core.journal import Journal, JournalError
    from vfxcopy.core.sqlite import sqlite3

    try:
        return Journal()
    except (JournalError, OSError, sqlite3.Error) as exc:
        error(command, f"warning: job journal unavailable ({exc}); this run cannot be resumed")
        return None


def refuse(command: str, exc: Exception, args: argparse.Namespace) -> int:
    """A usage error or safety refusal before any byte moved: say why, exit 2."""
    message = f"refused: {exc}" if isinstance(exc, SafetyError) else str(exc)
    error(command, message)
    if getattr(args, "progress", None) == "json":
        from vfxcopy.cli.progress import print_json_line

        print_json_line({"event": "result", "command": command, "exit_code": EXIT_USAGE, "error": message, "jobs": []})
    elif getattr(args, "json", False):
        print_json({"command": command, "exit_code": EXIT_USAGE, "error": message, "jobs": []})
    return EXIT_USAGE
