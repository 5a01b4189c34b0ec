"""run_queue: a command's jobs through core's JobQueue, with progress, journal, signals and exit codes."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable

from vfxcopy.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CancelSignals,
    UsageError,
    cancelled_exit,
    error,
    open_cli_journal,
    refuse,
    settings_for,
)
from vfxcopy.cli.output import RED, paint, print_json, result_to_dict, summary_line
from vfxcopy.cli.progress import JsonProgress, PrintingListener, ProgressPrinter, print_json_line, result_line
from vfxcopy.core.errors import SafetyError
from vfxcopy.core.jobs import CancelToken, JobResult, JobSpec, JobState, Reporter
from vfxcopy.core.queue import JobQueue, QueueListener
from vfxcopy.core.textsafe import printable

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import Any

    from vfxcopy.core.journal import Journal
    from vfxcopy.core.notify import Notifier


def wait_for_queue(queue: JobQueue, guard: CancelSignals, on_cancel: Callable[[], None] | None = None) -> None:
    """Wait in short steps (signals are handled at once) until the queue is idle."""
    told = False
    while not queue.wait(0.05):
        if guard.token.cancelled and not told:
            told = True
            if on_cancel is not None:
                on_cancel()


class _CliListener(PrintingListener, QueueListener):
    """Progress of the running job on stderr, a summary line per job, the results in order."""

    def __init__(self, command: str, args: argparse.Namespace, total: int, label: Callable[[JobSpec], str],
                 stop: CancelToken) -> None:
        self.command = command
        self.stop = stop
        self._told = False
        self.args = args
        self.total = total
        self.label = label
        self.done: list[tuple[JobSpec, JobResult]] = []
        self.not_started: list[JobSpec] = []
        self.refused = False
        self.notifier: Notifier | None = None
        self.queue: JobQueue | None = None
        self._count = 0
        PrintingListener.__init__(self)
        self._lock = threading.Lock()

    def started(self, spec: JobSpec) -> None:
        with self._lock:
            self._count += 1
            name = self.label(spec)
            # tty_interval 0: the queue already throttles progress to about ten a second.
            mode = getattr(self.args, "progress", "auto")
            if mode == "json":
                self._printers[spec.job_id] = JsonProgress(spec, self._count, self.total)
            else:
                self._printers[spec.job_id] = ProgressPrinter(
                    name if self.total == 1 else f"[{self._count}/{self.total}] {name}",
                    quiet=self.args.quiet or mode == "none", verbose=self.args.verbose, tty_interval=0.0,
                    tty=False if mode == "plain" else None, unit="file" if spec.tree is not None else "frame",
                    listed_by="" if getattr(self.args, "no_journal", False) else f"`vfxcopy jobs show {spec.job_id}`")


    def finished(self, spec: JobSpec, result: JobResult) -> None:
        printer = self._printers.pop(spec.job_id, None)
        if printer is None:  # dropped before it started
            with self._lock:
                self.not_started.append(spec)
            return
        if self.stop.cancelled:
            self.tell_cancelling()  # before the summary, also when the job ended within the main thread's poll
        printer.end()
        if isinstance(printer, JsonProgress):
            printer.finished(result)
        with self._lock:
            self.done.append((spec, result))
        if not self.args.quiet or result.state is not JobState.COMPLETED:
            # The job's message (a full disk, say) was printed already as an error: not again.
            said = printer.said(result.message)
            line = printable(summary_line(spec, result, with_message=not said))
            if result.state is JobState.FAILED or result.exit_code == EXIT_FAILED:
                line = paint(line, RED, sys.stderr)
            print(line, file=sys.stderr, flush=True)
        if self.notifier is not None and self.notifier.active:
            for problem in self.notifier.job_finished(spec, result, **hook_controls(self.command, self.stop)):
                error(self.command, f"warning: {problem}")
        # 'Stop after this frame' ends the queue too; --stop-on-error after a failed job.
        stop = result.state is JobState.CANCELLED or (
            getattr(self.args, "stop_on_error", False) and result.exit_code != EXIT_OK)
        if stop and self.queue is not None:
            self.queue.cancel_pending()

    def tell_cancelling(self) -> None:
        with self._lock:
            if self._told:
                return
            self._told = True
            printers = list(self._printers.values())
        text = "vfxcopy: cancelling (removing temporary files)..."
        if printers:
            printers[0].message(text)
        else:
            print(text, file=sys.stderr, flush=True)


def _refusing_run(journal: Journal | None, listener: _CliListener) -> Callable[[JobSpec, CancelToken, Reporter], JobResult]:
    def run(spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
        from vfxcopy.core.engine import run_job

        try:
            return run_job(spec, token, report, journal=journal)
        except SafetyError as exc:  # e.g. the destination changed since the check before the queue
            error(listener.command, f"refused: {exc}")
            listener.refused = True
            return JobResult(spec.job_id, JobState.FAILED, message=f"refused: {exc}")

    return run


def hook_controls(command: str, token: CancelToken) -> dict[str, Any]:
    """How a hook run at a job's end is watched: a Ctrl-C that comes while it runs stops it; one
    that came before (the run is being cancelled) gives it 10 s; a long one is said, once."""
    was_cancelled = token.cancelled

    def note(text: str) -> None:
        print(printable(f"vfxcopy {command}: note: {text}"), file=sys.stderr, flush=True)

    if was_cancelled:  # a second Ctrl-C is not taken (see CancelSignals): the 10 s are the bound
        return {"stop": None, "note": note, "hurry": True}
    return {"stop": lambda: token.cancelled, "note": note, "hurry": False}


def make_notifier(command: str, args: argparse.Namespace) -> Notifier | None:
    """URLs and hooks from the settings and --notify/--on-complete; UsageError if a URL given cannot work.

    A URL from the settings that cannot work (apprise missing, a typo) is told and left
    out: the copy still runs. One given on this command line refuses the command instead.
    """
    settings = settings_for(command)
    urls, hooks = getattr(args, "notify", None) or [], getattr(args, "on_complete", None) or []
    if not (urls or hooks or settings.strings("notify.urls") or settings.text("notify.on_complete").strip()):
        return None  # Notifier.active would be False: core.notify (and subprocess) not imported, 3 ms of a start
    from vfxcopy.core.notify import MissingExtra, Notifier

    notifier = Notifier.from_settings(settings, urls=urls, hooks=hooks)
    if not notifier.active:
        return None
    try:
        Notifier(urls=notifier.forced_urls).check()
    except (MissingExtra, ValueError) as exc:
        raise UsageError(f"--notify: {exc}") from None
    try:
        Notifier(urls=notifier.urls).check()
    except (MissingExtra, ValueError) as exc:
        error(command, f"warning: the notify.urls setting: {exc}; no message will be sent to them")
        notifier.urls = []
    return notifier


def run_queue(
    command: str,
    specs: list[JobSpec],
    args: argparse.Namespace,
    guard: CancelSignals,
    *,
    notes: list[str],
    label: Callable[[JobSpec], str] | None = None,
    json_extra: dict[str, Any] | None = None,
    concurrency: int = 1,
) -> int:
    """Run `specs` one after another (`concurrency` at a time: copies to several destinations) through core's JobQueue, with progress, journal and exit codes.

    The whole queue goes into the journal first, so a crash leaves the jobs not yet
    run resumable too. A signal interrupts the queue (the running job is cancelled,
    the rest never start): exit 130 for SIGINT, 143 for SIGTERM. 'Stop after this
    frame' (a job ending cancelled) stops the queue as well; `--stop-on-error` stops
    it after a failed job.
    """
    if getattr(args, "job_id", None) or getattr(args, "results_dir", None):
        # One chunk of a farm job: the results go to shared storage instead of the journal.
        from vfxcopy.cli.farm_cmd import run_as_farm_task

        return run_as_farm_task(command, specs, args, guard)
    try:
        notifier = make_notifier(command, args)
    except UsageError as exc:
        return refuse(command, exc, args)
    for note in notes:
        print(printable(f"vfxcopy {command}: note: {note}"), file=sys.stderr)  # names from folders: escaped
    journal = None if getattr(args, "no_journal", False) else open_cli_journal(command)
    listener = _CliListener(command, args, len(specs), label or (lambda spec: spec.display_name()), guard.token)
    queue = JobQueue(max(1, concurrency), run=_refusing_run(journal, listener), journal=journal, listener=listener)
    listener.queue = queue
    listener.notifier = notifier
    for job_id in queue.recover():  # jobs of vfxcopy processes that died: interrupted, temps removed
        print(f"vfxcopy {command}: note: job {job_id} was interrupted; resume it with "
              f"'vfxcopy jobs resume {job_id}'", file=sys.stderr)
    guard.hooks.append(queue.interrupt)
    if guard.token.cancelled:
        queue.interrupt()  # a signal came during the scan
    try:
        queue.submit_all(specs)  # at once: a group's members (several destinations) start together
        wait_for_queue(queue, guard, listener.tell_cancelling)
    finally:
        guard.hooks.remove(queue.interrupt)
        if journal is not None:
            journal.close()
    done = listener.done
    cancelled = guard.token.cancelled or any(r.state is JobState.CANCELLED for _, r in done)
    if cancelled:
        code = cancelled_exit(guard)
    elif listener.refused:
        code = EXIT_USAGE
    elif any(r.exit_code != EXIT_OK for _, r in done):
        code = EXIT_FAILED
    else:
        code = EXIT_OK
    if notifier is not None and notifier.active:
        from vfxcopy.core.notify import job_payload

        for problem in notifier.batch_finished([job_payload(s, r) for s, r in done], command):
            error(command, f"warning: {problem}")
    if getattr(args, "progress", "auto") == "json":
        # stdout carries only JSON lines: the result is the last one (with or without --json)
        print_json_line({
            "event": "result",
            "command": command,
            "exit_code": code,
            "cancelled": cancelled,
            "jobs": [result_line(spec, result) for spec, result in done],
            "not_started": [s.display_name() for s in listener.not_started],
            "notes": notes,
        })
    elif args.json:
        print_json({
            "command": command,
            "exit_code": code,
            "cancelled": cancelled,
            **(json_extra or {}),
            "jobs": [result_to_dict(spec, result) for spec, result in done],
            "not_started": [s.display_name() for s in listener.not_started],
            "notes": notes,
        })
    return code
