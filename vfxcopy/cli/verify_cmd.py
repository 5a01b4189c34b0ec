"""`vfxcopy verify PATH`: re-hash a delivery against its ASC MHL manifest (or the journal's hashes)."""

from __future__ import annotations

import argparse
import os
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
from vfxcopy.core.sqlite import sqlite3
from vfxcopy.core.units import plural
from vfxcopy.core.verify import (
    CHECKSUM_EXTENSIONS,
    ManifestEntry,
    VerifyReport,
    printable,
    verify_checksum_list,
    verify_destination,
    write_checksum_list,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "verify",
        help="re-hash a destination against its ASC MHL manifest",
        description=(
            "Re-hash every file listed in PATH/ascmhl (the ASC MHL history vfxcopy writes after a verified "
            "copy, or one written by another ASC MHL tool, nested histories in sub-folders included) and "
            "report missing, altered and extra files. A file re-delivered by a later generation is checked "
            "against its newest hash. A folder without ascmhl/ is checked against the hashes in the job "
            "journal. Ctrl-C cancels."
        ),
        epilog="Exit codes: 0 everything matches, 1 a file is missing, altered or extra, "
        "2 nothing to verify against or a damaged/foreign manifest, 130 cancelled (143 on SIGTERM).",
    )
    parser.add_argument("path", metavar="PATH", help="the destination folder (the one holding ascmhl/)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.add_argument(
        "--checksum-list", metavar="FILE",
        help="check against a checksum list (md5sum/xxhsum format, names relative to PATH) instead of ascmhl/",
    )
    parser.add_argument(
        "--write-checksum-list", metavar="ALGO", choices=sorted({*CHECKSUM_EXTENSIONS, "xxh3"}),
        help="after a passing check, also write PATH/ascmhl/vfxcopy_<date>.<ALGO> for `md5sum -c` / "
        "`xxhsum -c` (run from PATH); ALGO is md5, xxh128 (= xxh3) or xxh64",
    )
    parser.set_defaults(func=run)


def _print_human(report: VerifyReport) -> None:
    out = sys.stdout
    for rel in report.missing:
        print(f"missing  {printable(rel)}", file=out)
    for m in report.altered:
        print(f"ALTERED  {printable(m.path)}  ({m.hash_format} {m.actual}, manifest {m.expected})", file=out)
    for rel in report.extra:
        print(f"extra    {printable(rel)}", file=out)
    for problem in report.errors:
        print(f"error    {printable(problem)}", file=out)
    for warning in report.warnings:
        print(f"warning  {printable(warning)}", file=out)
    verdict = "cancelled" if report.cancelled else ("OK" if report.passed else "MISMATCH")
    print(
        f"{verdict}: {plural(len(report.ok), 'file matches', 'files match')} "
        f"({human_size(report.bytes_checked)} in {report.elapsed:.1f} s), "
        f"{len(report.missing)} missing, {len(report.altered)} altered, {len(report.extra)} extra "
        f"[against {printable(report.reference)}]",
        file=out,
    )


def run(args: argparse.Namespace) -> int:
    path = os.path.abspath(args.path)
    if not os.path.isdir(path):
        error("verify", f"{args.path}: not a folder")  # error() escapes names
        return EXIT_USAGE
    journal: Journal | None = None
    if not args.checksum_list:
        try:
            journal = Journal()  # the reference without a manifest, and for names a manifest cannot hold
        except (JournalError, OSError, sqlite3.Error) as exc:
            error("verify", f"warning: job journal unavailable ({exc})")
    token = CancelToken()
    printer = ProgressPrinter(f"verify {args.path}", quiet=args.quiet)  # it escapes what it prints
    written = None
    try:
        with CancelSignals(token) as guard:
            if args.checksum_list:
                report = verify_checksum_list(args.checksum_list, path, token, printer)
            else:
                report = verify_destination(path, token, printer, journal=journal)
            if args.write_checksum_list and report.passed and not args.checksum_list:
                # The hashes just checked, where they are in ALGO already; the others are hashed anew.
                entries = [ManifestEntry(rel, 0, 0.0, *report.digests.get(rel, ("", ""))) for rel in report.ok]
                written = write_checksum_list(path, entries, args.write_checksum_list, token=token)
    except JobError as exc:  # ManifestError included: a damaged, foreign or missing history
        printer.end()
        error("verify", str(exc))
        if args.json:
            print_json({"command": "verify", "exit_code": EXIT_USAGE, "error": printable(str(exc))})
        return EXIT_USAGE
    finally:
        if journal is not None:
            journal.close()
    printer.end()
    if report.cancelled:
        code = guard.exit_code or EXIT_CANCELLED
    else:
        code = EXIT_OK if report.passed else EXIT_FAILED
    if args.json:
        extra = {"checksum_list": printable(str(written))} if written else {}
        print_json({"command": "verify", "exit_code": code, **report.to_dict(), **extra})
    else:
        _print_human(report)
        if written:
            print(f"checksum list {printable(str(written))} (check with: cd {printable(path)} && "
                  f"{'md5sum' if written.suffix == '.md5' else 'xxhsum'} -c {printable(os.path.relpath(written, path))})")
    return code
