"""`vfxcopy watch FOLDER --to DEST`: copy or convert each sequence once it has finished landing."""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
from typing import Any

from vfxcopy.cli.common import (
    EXIT_CANCELLED,
    EXIT_OK,
    EXIT_USAGE,
    CancelSignals,
    ProgressPrinter,
    UsageError,
    add_copy_arguments,
    copy_options_from_args,
    error,
    result_to_dict,
    summary_line,
)
from vfxcopy.core.engine import run_job
from vfxcopy.core.errors import SafetyError, VfxCopyError
from vfxcopy.core.jobs import CancelToken, CopyOptions, FrameStatus, JobResult, JobSpec, JobState, Operation
from vfxcopy.core.sequence import Sequence, parse_frames
from vfxcopy.core.watch import (
    DEFAULT_RESCAN_INTERVAL,
    DEFAULT_SETTLE,
    FolderWatcher,
    HandledStore,
    MemoryHandledStore,
    WatchError,
    WatchRule,
    default_store,
    make_spec,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "watch",
        help="watch a folder and copy or convert each sequence once it has finished landing",
        description=(
            "Watch FOLDER and turn every image sequence that lands in it into a job: a copy into "
            "DEST, or a conversion with --preset. A sequence counts as landed when no frame was "
            "added or grew for --settle seconds (or, with --expect, as soon as that range is "
            "complete). Frames that arrive after a sequence was queued make one follow-up job. "
            "Sequences already handled (same frames, same sizes) are not queued again, across "
            "restarts too. Runs until Ctrl-C or SIGTERM, which stops watching and cancels the "
            "running job cleanly. DEST may use {head}, {date} (YYYY-MM-DD), {parent} (the "
            "sequence's folder name), {rule} and {ext}."
        ),
        epilog="Exit codes: 0 stopped with nothing cancelled, 2 usage error, 130 a job was cancelled.",
    )
    parser.add_argument("folder", metavar="FOLDER", help="the folder to watch")
    parser.add_argument("--to", required=True, metavar="DEST", help="destination folder pattern")
    parser.add_argument("--preset", metavar="NAME", help="convert with this preset instead of copying")
    parser.add_argument("--settle", type=float, default=DEFAULT_SETTLE, metavar="SECONDS",
                        help=f"quiet time after the last new or growing frame (default {DEFAULT_SETTLE:g})")
    parser.add_argument("--expect", metavar="RANGE", help="expected frames, e.g. 1001-1100: landed once all are there")
    parser.add_argument("-r", "--recursive", action="store_true", help="also watch sub-folders")
    parser.add_argument("--include", action="append", metavar="GLOB",
                        help="only these files (glob or extension, repeatable; default: image files)")
    parser.add_argument("--polling", action="store_true",
                        help="poll instead of waiting for change events (network mounts)")
    parser.add_argument("--rescan", type=float, default=DEFAULT_RESCAN_INTERVAL, metavar="SECONDS",
                        help=f"full rescan interval, catches missed events (default {DEFAULT_RESCAN_INTERVAL:g})")
    parser.add_argument("--ignore-existing", action="store_true",
                        help="do not queue sequences already in FOLDER when watching starts")
    parser.add_argument("--name", metavar="NAME", help="rule name shown with its jobs (default: the folder's name)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line: queued, finished, stopped")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars (queued/finished lines stay)")
    parser.add_argument("-v", "--verbose", action="store_true", help="without a terminal, one line per frame")
    add_copy_arguments(parser)
    parser.set_defaults(func=run)


def _expected(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        frames = parse_frames(text)
    except ValueError as exc:
        raise UsageError(f"--expect: {exc}") from None
    if not frames:
        raise UsageError("--expect: no frames in that range")
    return frames[0], frames[-1]


def rule_from_args(args: argparse.Namespace) -> WatchRule:
    """The watch rule a command line describes; UsageError if it cannot work."""
    folder = os.path.abspath(args.folder)
    operation = Operation.CONVERT if args.preset else Operation.COPY
    rule = WatchRule(
        name=args.name or os.path.basename(folder.rstrip(os.sep)) or folder,
        folder=folder,
        destination=os.path.abspath(os.path.expanduser(args.to)),
        recursive=args.recursive,
        include=list(args.include or []),
        operation=operation,
        preset=args.preset,
        settle=args.settle,
        expected_range=_expected(args.expect),
        polling=args.polling,
        process_existing=not args.ignore_existing,
    )
    problems = rule.problems()
    if problems:
        raise UsageError("; ".join(problems))
    if args.preset:
        from vfxcopy.core.presets import get_preset

        try:
            get_preset(args.preset)
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from None
    if args.rescan <= 0:
        raise UsageError("--rescan must be more than 0 seconds")
    return rule


class WatchSession:
    """Queues landed sequences and runs them one at a time in a worker thread."""

    def __init__(self, rule: WatchRule, args: argparse.Namespace, copy: CopyOptions) -> None:
        self.rule = rule
        self.args = args
        self.copy = copy
        self.stop = CancelToken()
        self.jobs: queue.Queue[tuple[JobSpec, list[int] | None]] = queue.Queue()
        self.results: list[tuple[JobSpec, JobResult]] = []
        self.cancelled_jobs = 0
        self._print_lock = threading.Lock()
        self._current: CancelToken | None = None
        self._current_lock = threading.Lock()
        self.journal: Any = None
        self.store: HandledStore = MemoryHandledStore()
        self.watcher: FolderWatcher | None = None
        self._worker = threading.Thread(target=self._work, name="vfxcopy-watch-jobs", daemon=True)
        self.stop.on_cancel(self._cancel_current)

    # -- output --
    def emit(self, event: str, text: str, **data: Any) -> None:
        with self._print_lock:
            if self.args.json:
                print(json.dumps({"event": event, **data}), flush=True)
            if not (self.args.quiet and event == "activity"):
                print(f"vfxcopy watch: {text}", file=sys.stderr, flush=True)

    # -- the pieces --
    def open_store(self) -> None:
        from vfxcopy.core.journal import JournalError, open_journal

        try:
            self.journal = open_journal()
            self.store = default_store(self.journal)
        except (JournalError, OSError) as exc:
            # Watching still works; only the memory of handled sequences is lost at exit.
            self.emit("warning", f"warning: {exc}; handled sequences will not be remembered after exit",
                      message=str(exc))

    def on_landed(self, rule: WatchRule, sequence: Sequence, frames: list[int] | None) -> None:
        try:
            spec = make_spec(rule, sequence, frames, copy=self.copy)
        except (WatchError, KeyError) as exc:
            self.emit("error", f"error: {sequence.display()}: {exc}", source=sequence.pattern(), message=str(exc))
            return
        if self.journal is not None:
            try:
                self.journal.add_job(spec)
            except (VfxCopyError, OSError) as exc:
                self.emit("warning", f"warning: cannot record the job in the journal: {exc}", message=str(exc))
        count = len(spec.selected_frames())
        what = f"follow-up, {count} new frame{'s' if count != 1 else ''}" if frames is not None else f"{count} frames"
        self.emit("queued", f"queued {sequence.display()} ({what}) -> {spec.dest_dir}",
                  job_id=spec.job_id, source=sequence.pattern(), dest_dir=spec.dest_dir,
                  frames=count, follow_up=frames is not None, origin=spec.origin)
        self.jobs.put((spec, frames))

    def _cancel_current(self) -> None:
        with self._current_lock:
            token = self._current
        if token is not None:
            token.cancel()

    def _work(self) -> None:
        while not self.stop.cancelled:
            try:
                spec, frames = self.jobs.get(timeout=0.1)
            except queue.Empty:
                continue
            token = CancelToken()
            with self._current_lock:
                self._current = token
            if self.stop.cancelled:
                token.cancel()
            try:
                result = self._run_one(spec, token)
            finally:
                with self._current_lock:
                    self._current = None
            if result is None:
                continue
            if result.state is JobState.CANCELLED:
                self.cancelled_jobs += 1
                if self.watcher is not None:
                    # Done frames stay (skip-identical skips them next time); the rest comes again.
                    self.watcher.release(spec.source, _unfinished(spec, result))
            self.results.append((spec, result))
            self.emit("finished", "finished " + summary_line(spec, result), **result_to_dict(spec, result))

    def _run_one(self, spec: JobSpec, token: CancelToken) -> JobResult | None:
        printer = ProgressPrinter(spec.display_name(), quiet=self.args.quiet, verbose=self.args.verbose)
        report = self.journal.reporter(spec.job_id, printer) if self.journal is not None else printer
        try:
            from vfxcopy.core.safety import check_job

            check_job(spec)
            if self.journal is not None:
                self.journal.start_job(spec.job_id)
            result = run_job(spec, token, report)
        except (SafetyError, VfxCopyError, OSError) as exc:
            printer.end()
            self.emit("error", f"error: {spec.display_name()}: {exc}", job_id=spec.job_id, message=str(exc))
            self._journal_state(spec, JobState.FAILED, str(exc))
            return None
        printer.end()
        self._journal_state(spec, result.state, result.message)
        return result

    def _journal_state(self, spec: JobSpec, state: JobState, message: str) -> None:
        if self.journal is None:
            return
        try:
            self.journal.set_state(spec.job_id, state, message)
        except (VfxCopyError, OSError) as exc:
            self.emit("warning", f"warning: cannot record the job in the journal: {exc}", message=str(exc))

    def drain_unstarted(self) -> int:
        """Jobs a stop left in the queue: released for next time and marked cancelled."""
        count = 0
        while True:
            try:
                spec, _ = self.jobs.get_nowait()
            except queue.Empty:
                return count
            count += 1
            if self.watcher is not None:
                self.watcher.release(spec.source, spec.selected_frames())
            self._journal_state(spec, JobState.CANCELLED, "the watch stopped before this job ran")

    # -- the whole run --
    def run(self) -> int:
        self.open_store()
        self.watcher = FolderWatcher(self.rule, self.on_landed, store=self.store,
                                     rescan_interval=self.args.rescan)
        guard = CancelSignals(self.stop)
        guard.install()
        try:
            self.watcher.start()
            self._worker.start()
            mode = ", ".join(x for x in ("recursive" if self.rule.recursive else "",
                                         "polling" if self.rule.polling else "") if x)
            op = f"convert ({self.rule.preset})" if self.rule.operation is Operation.CONVERT else "copy"
            self.emit("watching",
                      f"watching {self.rule.folder} -> {self.rule.destination}: {op}, settle "
                      f"{self.rule.settle:g} s{', ' + mode if mode else ''}; Ctrl-C to stop",
                      folder=self.rule.folder, destination=self.rule.destination, rule=self.rule.to_dict())
            while not self.stop.wait(0.2):
                pass
        finally:
            # Stop watching first, so nothing new is queued while the running job winds down.
            self.stop.cancel()
            self.watcher.stop()
            if self._worker.is_alive():
                self._worker.join()
            guard.restore()
        not_run = self.drain_unstarted()
        code = EXIT_CANCELLED if self.cancelled_jobs else EXIT_OK
        done = sum(1 for _, r in self.results if r.state is JobState.COMPLETED)
        text = f"stopped; {done} job{'s' if done != 1 else ''} done"
        if self.cancelled_jobs:
            text += f", {self.cancelled_jobs} cancelled (frames not copied will be queued next time)"
        if not_run:
            text += f", {not_run} not started (queued again next time)"
        self.emit("stopped", text, exit_code=code, jobs_done=done, jobs_cancelled=self.cancelled_jobs,
                  jobs_not_started=not_run)
        if self.journal is not None:
            self.journal.close()
        return code


def _unfinished(spec: JobSpec, result: JobResult) -> list[int]:
    finished = {r.frame for r in result.frames if r.status in (FrameStatus.DONE, FrameStatus.SKIPPED)}
    return [f for f in spec.selected_frames() if f not in finished]


def run(args: argparse.Namespace) -> int:
    try:
        rule = rule_from_args(args)
        copy = copy_options_from_args(args)
    except UsageError as exc:
        error("watch", str(exc))
        if args.json:
            print(json.dumps({"event": "stopped", "exit_code": EXIT_USAGE, "error": str(exc)}), flush=True)
        return EXIT_USAGE
    return WatchSession(rule, args, copy).run()
