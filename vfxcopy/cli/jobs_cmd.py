"""`vfxcopy jobs [--all] [--json]`, `jobs show|resume ID`, `jobs clear`: the job journal from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from vfxcopy.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CancelSignals,
    ProgressPrinter,
    cancelled_exit,
    error,
    human_size,
    print_json,
    result_to_dict,
    summary_line,
)
from vfxcopy.cli.queue_run import wait_for_queue
from vfxcopy.core.errors import JobError, SafetyError
from vfxcopy.core.jobs import CancelToken, Event, JobResult, JobSpec, JobState, Reporter
from vfxcopy.core.journal import Journal, JournalError, JournalJob
from vfxcopy.core.queue import JobQueue, QueueListener
from vfxcopy.core.sqlite import sqlite3
from vfxcopy.core.textsafe import printable, undecodable_escaped
from vfxcopy.core.units import plural

RECENT = 20


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "jobs",
        help="list jobs from the journal, resume an interrupted one, clear history",
        description=(
            "Without an action: list the most recent jobs of the journal (every job with --all) and "
            "their state. Jobs whose vfxcopy process died are shown as interrupted; "
            "'vfxcopy jobs resume ID' finishes one (ID may be the first characters of the job id)."
        ),
        epilog="Exit codes: 0 ok, 1 some frames failed, 2 unknown job or usage, 130 interrupted (SIGINT), 143 terminated (SIGTERM).",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable output on stdout")
    parser.add_argument("--all", action="store_true", help=f"list every job, not only the {RECENT} most recent")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    resume = actions.add_parser("resume", help="finish an interrupted, cancelled or failed job")
    resume.add_argument("job_id", metavar="ID", help="the job id (or its first characters)")
    resume.add_argument("--quick", action="store_true",
                        help="check frames already done by size and time only, without re-hashing them")
    resume.add_argument("--json", action="store_true", dest="json_resume", help="print the result as JSON")
    resume.add_argument("--force", action="store_true",
                        help="take over a job recorded as running on another machine (or under another host "
                        "name) whose vfxcopy is known to be gone")
    resume.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    resume.add_argument("-v", "--verbose", action="store_true", help="one line per frame without a terminal")
    show = actions.add_parser("show", help="one job's frames: status, size, hash, error")
    show.add_argument("job_id", metavar="ID", help="the job id (or its first characters)")
    show.add_argument("--json", action="store_true", dest="json_show", help="print the job as JSON")
    clear = actions.add_parser("clear", help="forget finished jobs (running and pending jobs stay)")
    clear.add_argument("--json", action="store_true", dest="json_clear", help="print the result as JSON")
    parser.set_defaults(func=run)


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _plain(data: Any) -> Any:
    """JSON-safe copy: strings with undecodable bytes get \\x escapes (JSON escapes control characters)."""
    if isinstance(data, str):
        return undecodable_escaped(data)
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data


def _say_unreadable(journal: Journal) -> None:
    for job_id, why in journal.unreadable.items():
        error("jobs", f"warning: job {job_id} in the journal {journal.path}: {why}; left out (a damaged journal, "
                      "or one a newer vfxcopy wrote)")


def _list(journal: Journal, args: argparse.Namespace) -> int:
    jobs = journal.jobs(limit=None if args.all else RECENT)
    _say_unreadable(journal)
    if args.json:
        print_json(_plain({"command": "jobs", "jobs": [job.to_dict() for job in jobs],
                           "unreadable": [{"job_id": k, "error": v} for k, v in journal.unreadable.items()]}))
        return EXIT_OK
    if not jobs:
        print("no jobs in the journal", file=sys.stderr)
        return EXIT_OK
    print(f"{'ID':<12}  {'STATE':<11}  {'FRAMES':>11}  {'SIZE':>9}  {'CREATED':<16}  JOB")
    for job in jobs:
        frames = f"{job.frames_done}/{job.frames_total}" + (f" {job.frames_failed}!" if job.frames_failed else "")
        print(f"{job.job_id:<12}  {job.state.value:<11}  {frames:>11}  {human_size(job.bytes_done):>9}  "
              f"{_when(job.created):<16}  {printable(job.spec.display_name())} -> {printable(job.spec.dest_dir)}")
    return EXIT_OK


def _find(journal: Journal, prefix: str) -> JournalJob:
    matches = journal.find_jobs(prefix)
    if not matches:
        damaged = [job_id for job_id in journal.unreadable if job_id.startswith(prefix)]
        if damaged:
            raise JobError(f"job {damaged[0]} in the journal {journal.path}: {journal.unreadable[damaged[0]]}; "
                           "it cannot be shown or resumed (copy its source again: what is in place is skipped)")
        raise JobError(f"no job {prefix!r} in the journal {journal.path} (see 'vfxcopy jobs --all')")
    if len(matches) > 1 and not any(m.job_id == prefix for m in matches):
        raise JobError(f"{prefix!r} matches {len(matches)} jobs: {', '.join(m.job_id for m in matches[:5])}")
    return next((m for m in matches if m.job_id == prefix), matches[0])


def _show(journal: Journal, args: argparse.Namespace) -> int:
    try:
        job = _find(journal, args.job_id)
    except JobError as exc:
        error("jobs", str(exc))
        return EXIT_USAGE
    frames = journal.frames(job.job_id)
    if args.json or args.json_show:
        rows = [{"index": f.index, "frame": f.frame, "status": f.status.value, "source": f.source, "dest": f.dest,
                 "size": f.size, "hash": f.hash, "hash_algo": f.hash_algo, "error": f.error} for f in frames]
        print_json(_plain({"command": "jobs show", "job": job.to_dict(), "frames": rows}))
        return EXIT_OK
    print(f"{job.job_id}  {job.state.value}  {printable(job.spec.display_name())} -> {printable(job.spec.dest_dir)}")
    if job.message:
        print(f"  {printable(job.message)}")
    for f in frames:
        detail = f.error or (f"{f.hash_algo} {f.hash}" if f.hash else "")
        print(f"  {f.frame:>8}  {f.status.value:<9}  {human_size(f.size):>9}  {printable(detail)}")
    missing = job.frames_total - len(frames)
    if missing > 0:
        print(f"  ({plural(missing, 'frame')} not started)")
    return EXIT_OK


def _resume(journal: Journal, args: argparse.Namespace) -> int:
    from vfxcopy.core.resume import resume_job

    as_json = bool(args.json or args.json_resume)
    try:
        job = _find(journal, args.job_id)
    except JobError as exc:
        error("jobs", str(exc))
        if as_json:
            print_json({"command": "jobs resume", "exit_code": EXIT_USAGE, "error": undecodable_escaped(str(exc))})
        return EXIT_USAGE
    failure: list[Exception] = []
    results: list[JobResult] = []
    printer = ProgressPrinter(f"resume {job.job_id} {job.spec.display_name()}", quiet=args.quiet,
                              verbose=args.verbose, tty_interval=0.0)  # the queue throttles progress

    def run(spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult:
        try:
            return resume_job(job.job_id, journal, token, report, rehash=not args.quick, force=args.force)
        except (JobError, SafetyError) as exc:
            failure.append(exc)
            return JobResult(job.job_id, JobState.FAILED, message=str(exc))

    class Printer(QueueListener):
        def events(self, job_id: str, events: list[Event]) -> None:
            for event in events:
                printer(event)

        def finished(self, spec: JobSpec, result: JobResult) -> None:
            results.append(result)

    # resume_job records the job in the journal itself: the queue gets none (one place records).
    queue = JobQueue(1, run=run, listener=Printer())
    with CancelSignals(CancelToken()) as guard:
        guard.hooks.append(queue.interrupt)
        queue.submit(job.spec)
        wait_for_queue(queue, guard)
    printer.end()
    if failure:
        error("jobs", f"cannot resume {job.job_id}: {failure[0]}")
        if as_json:
            print_json({"command": "jobs resume", "exit_code": EXIT_USAGE, "error": undecodable_escaped(str(failure[0]))})
        return EXIT_USAGE
    result = results[0]
    code = cancelled_exit(guard) if guard.token.cancelled else result.exit_code
    if as_json:
        print_json(_plain({"command": "jobs resume", "exit_code": code, "job": result_to_dict(job.spec, result)}))
    if not args.quiet:
        print(printable(summary_line(job.spec, result)), file=sys.stderr, flush=True)
    return code


def run(args: argparse.Namespace) -> int:
    try:
        journal = Journal()
    except (JournalError, OSError, sqlite3.Error) as exc:
        error("jobs", f"cannot open the job journal: {exc}")
        return EXIT_USAGE
    with journal:
        journal.recover()
        if args.action == "resume":
            return _resume(journal, args)
        if args.action == "show":
            return _show(journal, args)
        if args.action == "clear":
            removed = journal.clear_history()
            if args.json or args.json_clear:
                print_json({"command": "jobs clear", "removed": removed})
            else:
                print(f"removed {removed} finished jobs from the journal", file=sys.stderr)
            return EXIT_OK
        return _list(journal, args)
