"""`vfxcopy report --since DATE`: every job of a date range from the journal, as a table, JSON, CSV or PDF."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from typing import TYPE_CHECKING, Any

from vfxcopy.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error, human_size, print_json
from vfxcopy.core.outfile import replace_file
from vfxcopy.core.textsafe import printable, undecodable_escaped
from vfxcopy.core.units import plural

if TYPE_CHECKING:
    from vfxcopy.core.journal import JournalJob

FIELDS = ("job_id", "created", "finished", "state", "operation", "source", "dest_dir", "frames_total",
          "frames_done", "frames_failed", "bytes", "host", "message")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "report",
        help="a day report: every job of a date range from the journal (table, JSON, CSV or PDF)",
        description=(
            "List every job the journal recorded from --since (and before --until): when, state, frames, "
            "size, source and destination, with totals. Dates: YYYY-MM-DD, YYYY-MM-DDTHH:MM, today, "
            "yesterday, or Nd (N days ago), in local time."
        ),
        epilog="Examples: vfxcopy report --since today; vfxcopy report --since 2026-11-01 --until 2026-12-01 --pdf nov.pdf",
    )
    parser.add_argument("--since", required=True, metavar="DATE", help="from this date (its midnight) or time on")
    parser.add_argument("--until", metavar="DATE", help="before this date (its midnight) or time (default: now)")
    parser.add_argument("--json", action="store_true", help="print the jobs and totals as JSON")
    parser.add_argument("--csv", metavar="FILE", help="also write the jobs as CSV to FILE ('-': stdout)")
    parser.add_argument("--pdf", metavar="FILE", help="also write the day report as a PDF (needs vfxcopy[report])")
    parser.set_defaults(func=run)


def parse_date(text: str, today: dt.date | None = None) -> dt.datetime:
    """'2026-11-30', '2026-11-30T14:00', 'today', 'yesterday', '3d' -> a local datetime; ValueError otherwise."""
    today = today or dt.date.today()
    word = text.strip().lower()
    midnight = dt.time(0, 0)
    if word == "today":
        return dt.datetime.combine(today, midnight)
    if word == "yesterday":
        return dt.datetime.combine(today - dt.timedelta(days=1), midnight)
    days = re.fullmatch(r"(\d+)d", word)
    if days:
        return dt.datetime.combine(today - dt.timedelta(days=int(days.group(1))), midnight)
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date: use YYYY-MM-DD, YYYY-MM-DDTHH:MM, today, yesterday or Nd") from None


def job_row(job: JournalJob) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "created": dt.datetime.fromtimestamp(job.created).isoformat(timespec="seconds"),
        "finished": dt.datetime.fromtimestamp(job.finished).isoformat(timespec="seconds") if job.finished else None,
        "state": job.state.value,
        "operation": job.spec.operation.value,
        "source": job.spec.source.pattern(),
        "dest_dir": job.spec.dest_dir,
        "frames_total": job.frames_total,
        "frames_done": job.frames_done,
        "frames_failed": job.frames_failed,
        "bytes": job.bytes_done,
        "host": job.host,
        "message": job.message,
    }


def _text(value: object) -> str:
    return undecodable_escaped(str(value))


def _csv(rows: list[dict[str, Any]], target: str) -> None:
    import csv
    import io

    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=FIELDS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _text(v) if v is not None else "" for k, v in row.items()})
    if target == "-":
        sys.stdout.write(buf.getvalue())
    else:
        replace_file(target, buf.getvalue().encode("utf-8"))


def _pdf(rows: list[dict[str, Any]], totals: dict[str, Any], title: str, target: str) -> None:
    from vfxcopy.core.report_pdf import day_report_pdf

    data = day_report_pdf(title, [(r["created"][5:16].replace("T", " "), r["state"], f"{r['frames_done']}/{r['frames_total']}",
                                   str(r["frames_failed"] or ""), human_size(r["bytes"]),
                                   f"{r['source']} -> {r['dest_dir']}") for r in rows],
                          [(k.replace("_", " ").capitalize(), human_size(v) if k == "bytes" else str(v))
                           for k, v in totals.items()])
    replace_file(target, data)


def run(args: argparse.Namespace) -> int:
    from vfxcopy.core.journal import Journal, JournalError
    from vfxcopy.core.sqlite import sqlite3

    try:
        since = parse_date(args.since)
        until = parse_date(args.until) if args.until else dt.datetime.now()
    except ValueError as exc:
        error("report", str(exc))
        return EXIT_USAGE
    if until <= since:
        error("report", f"--until ({until:%Y-%m-%d %H:%M}) is not after --since ({since:%Y-%m-%d %H:%M})")
        return EXIT_USAGE
    try:
        journal = Journal()
    except (JournalError, OSError, sqlite3.Error) as exc:
        error("report", f"cannot open the job journal: {exc}")
        return EXIT_FAILED
    try:
        lo, hi = since.timestamp(), until.timestamp()
        jobs = journal.created_between(lo, hi)
    finally:
        journal.close()
    jobs.sort(key=lambda j: j.created)
    rows = [job_row(j) for j in jobs]
    states: dict[str, int] = {}
    for row in rows:
        states[row["state"]] = states.get(row["state"], 0) + 1
    totals = {"jobs": len(rows), **states, "frames_done": sum(r["frames_done"] for r in rows),
              "frames_failed": sum(r["frames_failed"] for r in rows), "bytes": sum(r["bytes"] for r in rows)}
    title = f"vfxcopy jobs from {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M}"
    target = ""
    try:
        if args.csv:
            target = args.csv
            _csv(rows, target)
        if args.pdf:
            target = args.pdf
            _pdf(rows, totals, title, target)
    except OSError as exc:  # a folder that is not there or not writable, a folder or a FIFO by that name
        said = exc.strerror or str(exc)
        error("report", said if said.startswith(target) else f"{target}: {said}")
        return EXIT_FAILED
    if args.json:
        print_json({"command": "report", "since": since.isoformat(), "until": until.isoformat(),
                    "jobs": [{k: _text(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows],
                    "totals": totals})
        return EXIT_OK
    if args.csv == "-":
        return EXIT_OK
    print(title)
    if not rows:
        print("no jobs")
        return EXIT_OK
    print(f"{'TIME':<16}  {'STATE':<11}  {'FRAMES':>11}  {'FAILED':>6}  {'SIZE':>9}  JOB")
    for r in rows:
        print(f"{r['created'][:16].replace('T', ' '):<16}  {r['state']:<11}  "
              f"{str(r['frames_done']) + '/' + str(r['frames_total']):>11}  {r['frames_failed'] or '':>6}  "
              f"{human_size(r['bytes']):>9}  {printable(r['source'])} -> {printable(r['dest_dir'])}")
    by_state = ", ".join(f"{n} {s}" for s, n in states.items())
    print(f"{plural(len(rows), 'job')} ({by_state}); {plural(totals['frames_done'], 'frame')} done, "
          f"{totals['frames_failed']} failed; {human_size(totals['bytes'])}")
    return EXIT_OK
