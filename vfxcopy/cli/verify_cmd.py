"""`vfxcopy verify PATH`: re-hash a delivery against its ASC MHL manifest (or the journal's hashes)."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys

from vfxcopy.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CancelSignals,
    ProgressPrinter,
    error,
    human_size,
    print_json,
)
from vfxcopy.core.errors import JobError
from vfxcopy.core.jobs import CancelToken
from vfxcopy.core.journal import Journal, JournalError
from vfxcopy.core.verify import VerifyReport, verify_destination


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "verify",
        help="re-hash a destination against its ASC MHL manifest",
        description=(
            "Re-hash every file listed in PATH/ascmhl (the ASC MHL history vfxcopy writes after a verified "
            "copy) and report missing, altered and extra files. A folder without ascmhl/ is checked "
            "against the hashes in the job journal. Ctrl-C cancels."
        ),
        epilog="Exit codes: 0 everything matches, 1 a file is missing, altered or extra, "
        "2 nothing to verify against, 130 cancelled.",
    )
    parser.add_argument("path", metavar="PATH", help="the destination folder (the one holding ascmhl/)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.set_defaults(func=run)


def _p(text: str) -> str:
    """Names that are not valid UTF-8 print with \\x escapes instead of failing the output."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _print_human(report: VerifyReport) -> None:
    out = sys.stdout
    for rel in report.missing:
        print(f"missing  {_p(rel)}", file=out)
    for m in report.altered:
        print(f"ALTERED  {_p(m.path)}  ({m.hash_format} {m.actual}, manifest {m.expected})", file=out)
    for rel in report.extra:
        print(f"extra    {_p(rel)}", file=out)
    for problem in report.errors:
        print(f"error    {_p(problem)}", file=out)
    verdict = "cancelled" if report.cancelled else ("OK" if report.passed else "MISMATCH")
    print(
        f"{verdict}: {len(report.ok)} files match ({human_size(report.bytes_checked)} in {report.elapsed:.1f} s), "
        f"{len(report.missing)} missing, {len(report.altered)} altered, {len(report.extra)} extra "
        f"[against {report.reference}]",
        file=out,
    )


def run(args: argparse.Namespace) -> int:
    path = os.path.abspath(args.path)
    if not os.path.isdir(path):
        error("verify", f"{args.path}: not a folder")
        return EXIT_USAGE
    journal: Journal | None = None
    try:
        journal = Journal()  # the reference without a manifest, and for names a manifest cannot hold
    except (JournalError, OSError, sqlite3.Error) as exc:
        error("verify", f"warning: job journal unavailable ({exc})")
    token = CancelToken()
    printer = ProgressPrinter(f"verify {args.path}", quiet=args.quiet)
    try:
        with CancelSignals(token):
            report = verify_destination(path, token, printer, journal=journal)
    except JobError as exc:
        printer.end()
        error("verify", str(exc))
        if args.json:
            print_json({"command": "verify", "exit_code": EXIT_USAGE, "error": str(exc)})
        return EXIT_USAGE
    finally:
        if journal is not None:
            journal.close()
    printer.end()
    code = EXIT_CANCELLED if report.cancelled else (EXIT_OK if report.passed else EXIT_FAILED)
    if args.json:
        print_json({"command": "verify", "exit_code": code, **report.to_dict()})
    else:
        _print_human(report)
    return code
