"""`vfxcopy watch FOLDER --to DEST`: copy or convert each sequence once it has finished landing."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from vfxcopy.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CancelSignals,
    ProgressPrinter,
    UsageError,
    add_copy_arguments,
    add_notify_arguments,
    cancelled_exit,
    copy_options_from_args,
    error,
    result_to_dict,
    summary_line,
)
from vfxcopy.cli.progress import PrintingListener
from vfxcopy.cli.queue_run import hook_controls, make_notifier, wait_for_queue
from vfxcopy.core.errors import VfxCopyError
from vfxcopy.core.framenames import parse_frames
from vfxcopy.core.jobs import (
    CancelToken,
    CopyOptions,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    Operation,
    Reporter,
)
from vfxcopy.core.queue import JobQueue, QueueListener
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.textsafe import printable
from vfxcopy.core.units import plural
from vfxcopy.core.watch import (
    DEFAULT_RESCAN_INTERVAL,
    DEFAULT_SETTLE,
    HandledStore,
    MemoryHandledStore,
    WatchError,
    WatchRule,
    default_store,
    make_spec,
)

if TYPE_CHECKING:
    from vfxcopy.core.journal import Journal
    from vfxcopy.core.notify import Notifier
    from vfxcopy.core.watch import FolderWatcher


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
        epilog="Exit codes: 0 stopped with every job done, 1 a job failed frames, 2 usage error, "
        "130/143 a running job was cancelled by SIGINT/SIGTERM.",
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
    add_notify_arguments(parser)
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


class WatchSession(PrintingListener, QueueListener):
    """Queues landed sequences in core's JobQueue (one job at a time) and reports them."""

    def __init__(self, rule: WatchRule, args: argparse.Namespace, copy: CopyOptions) -> None:
        self.rule = rule
        self.args = args
        self.copy = copy
        self.stop = CancelToken()
        # What the end of the watch says, counted as jobs end: a watch runs for days, and keeping
        # each job's result (a FrameResult per frame) grew it by 1 MB a 500-frame sequence.
        self.jobs_done = 0  # completed
        self.jobs_failed = 0  # ended with failed frames or failed as a whole (not cancelled)
        self.any_not_ok = False  # any job whose exit code was not 0
        self.cancelled_jobs = 0
        self.not_started = 0
        self._print_lock = threading.Lock()
        PrintingListener.__init__(self)
        self.journal: Journal | None = None
        self.store: HandledStore = MemoryHandledStore()
        self.watcher: FolderWatcher | None = None
        self.queue: JobQueue | None = None
        self.notifier: Notifier | None = None
        self.resuming: set[str] = set()  # ids of this rule's jobs a crashed watch left: resumed, not run anew

    # -- output --
    def emit(self, event: str, text: str, **data: Any) -> None:
        with self._print_lock:
            if self.args.json:
                print(json.dumps({"event": event, **data}), flush=True)
            if not (self.args.quiet and event == "activity"):
                print(printable(f"vfxcopy watch: {text}"), file=sys.stderr, flush=True)  # names escaped

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
        count = len(spec.selected_frames())
        what = f"follow-up, {plural(count, 'new frame')}" if frames is not None else plural(count, "frame")
        self.emit("queued", f"queued {sequence.display()} ({what}) -> {spec.dest_dir}",
                  job_id=spec.job_id, source=sequence.pattern(), dest_dir=spec.dest_dir,
                  frames=count, follow_up=frames is not None, origin=spec.origin)
        assert self.queue is not None
        self.queue.submit(spec)  # recorded in the journal at once: a crash leaves it resumable

    def resume_interrupted(self) -> None:
        """This rule's jobs that a watch which died (kill -9, a crash, a reboot) left unfinished.

        Its frames are remembered as handled, so the rule would never queue them again, and its
        temporaries sat in the destination: they are removed (the journal's recovery of dead
        processes' jobs), and each job is resumed first, copying only what it had not placed.
        A job stopped on purpose (Ctrl-C, cancelled) is not interrupted: its frames were
        released and come again as new jobs."""
        if self.journal is None or self.queue is None:
            return
        self.queue.recover()
        origin = f"watch:{self.rule.name}"
        for job in reversed(self.journal.jobs([JobState.INTERRUPTED])):  # oldest first
            spec = job.spec
            if spec.origin != origin:
                continue
            self.resuming.add(spec.job_id)
            self.emit("queued", f"resuming {spec.display_name()} (unfinished when a watch stopped unexpectedly: "
                      f"what is in place is checked, the rest copied) -> {spec.dest_dir}", job_id=spec.job_id,
                      source=spec.source.pattern(), dest_dir=spec.dest_dir, frames=len(spec.selected_frames()),
                      follow_up=False, origin=spec.origin, resumed=True)
            self.queue.submit(spec)

    def run_one(self, spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
        """The queue's run: the safety check, then the engine, which records the job in the journal
        (a job of a watch that died: resumed, see resume_interrupted)."""
        from vfxcopy.core.engine import run_job
        from vfxcopy.core.resume import resume_job
        from vfxcopy.core.safety import check_job

        try:
            check_job(spec)
            if spec.job_id in self.resuming:
                assert self.journal is not None  # resume_interrupted found the job there
                return resume_job(spec.job_id, self.journal, token, report)
            return run_job(spec, token, report, journal=self.journal)
        except (VfxCopyError, OSError) as exc:
            self.emit("error", f"error: {spec.display_name()}: {exc}", job_id=spec.job_id, message=str(exc))
            self._journal_state(spec, JobState.FAILED, str(exc))
            return JobResult(spec.job_id, JobState.FAILED, message=str(exc))

    # -- QueueListener (the job's worker thread) --
    def started(self, spec: JobSpec) -> None:
        # tty_interval 0: the queue already throttles progress to about ten a second.
        self._printers[spec.job_id] = ProgressPrinter(spec.display_name(), quiet=self.args.quiet,
                                                      verbose=self.args.verbose, tty_interval=0.0)


    def finished(self, spec: JobSpec, result: JobResult) -> None:
        printer = self._printers.pop(spec.job_id, None)
        if printer is None:
            # Never started (the watch stopped first): queued again next time.
            self.not_started += 1
            if self.watcher is not None:
                self.watcher.release(spec.source, spec.selected_frames())
            return
        printer.end()
        if result.state is JobState.CANCELLED:
            self.cancelled_jobs += 1
            if self.watcher is not None:
                # Done frames stay (skip-identical skips them next time); the rest comes again.
                self.watcher.release(spec.source, _unfinished(spec, result))
        self.jobs_done += result.state is JobState.COMPLETED
        self.jobs_failed += result.state is not JobState.CANCELLED and result.exit_code != EXIT_OK
        self.any_not_ok = self.any_not_ok or result.exit_code != EXIT_OK
        self.emit("finished", "finished " + summary_line(spec, result), **result_to_dict(spec, result))
        if self.notifier is not None:
            # A watch has no end to wait for: each job is told when it ends (hooks and URLs).
            from vfxcopy.core.notify import job_payload

            problems = self.notifier.job_finished(spec, result, **hook_controls("watch", self.stop))
            problems += self.notifier.batch_finished([job_payload(spec, result)], "watch")
            for problem in problems:
                self.emit("warning", f"warning: {problem}", message=problem)

    def _journal_state(self, spec: JobSpec, state: JobState, message: str) -> None:
        if self.journal is None:
            return
        try:
            self.journal.set_state(spec.job_id, state, message)
        except (VfxCopyError, OSError) as exc:
            self.emit("warning", f"warning: cannot record the job in the journal: {exc}", message=str(exc))

    def exit_code(self, guard: CancelSignals) -> int:
        """A cancelled job: the signal's code (130, 143); failed frames or jobs: 1; else 0."""
        if self.cancelled_jobs:
            return cancelled_exit(guard)
        if self.any_not_ok:
            return EXIT_FAILED
        return EXIT_OK

    # -- the whole run --
    def run(self) -> int:
        from vfxcopy.core.watch import FolderWatcher  # watchdog: only when watching

        self.open_store()
        self.queue = JobQueue(1, run=self.run_one, journal=self.journal, listener=self)
        self.resume_interrupted()
        self.watcher = FolderWatcher(self.rule, self.on_landed, store=self.store,
                                     rescan_interval=self.args.rescan)
        guard = CancelSignals(self.stop)
        guard.hooks.append(self.queue.interrupt)
        guard.install()
        try:
            self.watcher.start()
            mode = ", ".join(x for x in ("recursive" if self.rule.recursive else "",
                                         "polling" if self.rule.polling else "") if x)
            op = f"convert ({self.rule.preset})" if self.rule.operation is Operation.CONVERT else "copy"
            self.emit("watching",
                      f"watching {self.rule.folder} -> {self.rule.destination}: {op}, settle "
                      f"{self.rule.settle:g} s{', ' + mode if mode else ''}; Ctrl-C to stop",
                      folder=self.rule.folder, destination=self.rule.destination, rule=self.rule.to_dict())
            # Poll, never wait on the token: a signal handler that cancels it must not find its lock held.
            while not self.stop.cancelled:
                time.sleep(0.1)
        finally:
            # Stop watching first, so nothing new is queued while the running job winds down.
            self.stop.cancel()
            self.watcher.stop()
            self.queue.interrupt()
            wait_for_queue(self.queue, guard)
            guard.restore()
        code = self.exit_code(guard)
        done, failed = self.jobs_done, self.jobs_failed
        text = f"stopped; {done} job{'s' if done != 1 else ''} done"
        if failed:
            text += f", {failed} with failed frames"
        if self.cancelled_jobs:
            text += f", {self.cancelled_jobs} cancelled (frames not copied will be queued next time)"
        if self.not_started:
            text += f", {self.not_started} not started (queued again next time)"
        self.emit("stopped", text, exit_code=code, jobs_done=done, jobs_failed=failed,
                  jobs_cancelled=self.cancelled_jobs, jobs_not_started=self.not_started)
        if self.journal is not None:
            self.journal.close()
        return code


def _unfinished(spec: JobSpec, result: JobResult) -> list[int]:
    finished = {r.frame for r in result.frames if r.status in (FrameStatus.DONE, FrameStatus.SKIPPED)}
    return [f for f in spec.selected_frames() if f not in finished]


def run(args: argparse.Namespace) -> int:
    try:
        rule = rule_from_args(args)
        copy = copy_options_from_args(args, "watch")
        notifier = make_notifier("watch", args)
    except UsageError as exc:
        error("watch", str(exc))
        if args.json:
            print(json.dumps({"event": "stopped", "exit_code": EXIT_USAGE, "error": str(exc)}), flush=True)
        return EXIT_USAGE
    session = WatchSession(rule, args, copy)
    session.notifier = notifier
    return session.run()
