"""`vfxcopy copy SRC... DEST`: every sequence found becomes a copy job, run in turn with progress."""

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
    UsageError,
    add_copy_arguments,
    add_job_arguments,
    build_specs,
    copy_options_from_args,
    error,
    open_cli_journal,
    print_json,
    resolve_sources,
    result_to_dict,
    run_with_progress,
    summary_line,
)
from vfxcopy.core.errors import SafetyError
from vfxcopy.core.jobs import CancelToken, JobResult, JobSpec, JobState, Operation


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "copy",
        help="copy sequences (verified, atomic, cancellable)",
        description=(
            "Copy the sequences in SRC (folders, frames, patterns such as shot.####.exr) into the "
            "folder DEST, one job per sequence. A frame named alone stands for its whole sequence; "
            "use --frames to pick frames. Each frame is written to a temporary name and renamed into "
            "place when complete; Ctrl-C or SIGTERM cancels and leaves nothing partial."
        ),
        epilog="Exit codes: 0 all done, 1 some frames failed, 2 usage or safety refusal, 130 cancelled.",
    )
    parser.add_argument("paths", nargs="+", metavar="SRC... DEST", help="sources, then the destination folder")
    add_job_arguments(parser)
    add_copy_arguments(parser)
    parser.set_defaults(func=run)


def _plan(args: argparse.Namespace, notes: list[str]) -> list[JobSpec]:
    if len(args.paths) < 2:
        raise UsageError("give at least one source and a destination folder")
    *sources, dest = args.paths
    dest_dir = os.path.abspath(dest)
    if os.path.exists(dest_dir) and not os.path.isdir(dest_dir):
        raise UsageError(f"destination {dest} exists and is not a folder")
    options = copy_options_from_args(args)
    seqs = resolve_sources(sources)
    for source in sources:
        if os.path.isdir(source) and _has_subfolders(source):
            notes.append(f"{source}: sub-folders are not copied (copy them one by one)")
    return build_specs(seqs, dest_dir, args, operation=Operation.COPY, origin="cli", copy=options, notes=notes)


def _has_subfolders(folder: str) -> bool:
    try:
        with os.scandir(folder) as it:
            return any(not e.name.startswith(".") and e.is_dir() for e in it)
    except OSError:
        return False


def _check_all(specs: list[JobSpec]) -> None:
    """Refuse the whole command before any byte moves if one job would be unsafe."""
    from vfxcopy.core.safety import check_job

    for spec in specs:
        check_job(spec)


def run(args: argparse.Namespace) -> int:
    token = CancelToken()
    # Installed before the scan so that a signal at any moment ends the command
    # the same way (exit 130, nothing partial), never with a traceback or a kill.
    with CancelSignals(token):
        return _run(args, token)


def _run(args: argparse.Namespace, token: CancelToken) -> int:
    notes: list[str] = []
    try:
        specs = _plan(args, notes)
        _check_all(specs)
    except (UsageError, SafetyError) as exc:
        message = f"refused: {exc}" if isinstance(exc, SafetyError) else str(exc)
        error("copy", message)
        if args.json:
            print_json({"command": "copy", "exit_code": EXIT_USAGE, "error": message, "jobs": []})
        return EXIT_USAGE
    for note in notes:
        print(f"vfxcopy copy: note: {note}", file=sys.stderr)

    journal = None if args.no_journal else open_cli_journal("copy")
    if journal is not None:
        for spec in specs:  # the whole queue, so a crash leaves the jobs not yet run resumable too
            journal.add_job(spec)
    done: list[tuple[JobSpec, JobResult]] = []
    started: set[str] = set()
    refused = False
    for n, spec in enumerate(specs, 1):
        if token.cancelled:
            break
        label = spec.display_name() if len(specs) == 1 else f"[{n}/{len(specs)}] {spec.display_name()}"
        printer = ProgressPrinter(label, quiet=args.quiet, verbose=args.verbose)
        started.add(spec.job_id)
        try:
            result = run_with_progress(spec, args, token=token, printer=printer, journal=journal)
        except SafetyError as exc:  # e.g. the destination changed since the check above
            error("copy", f"refused: {exc}")
            refused = True
            continue
        done.append((spec, result))
        if not args.quiet or result.state is not JobState.COMPLETED:
            print(summary_line(spec, result), file=sys.stderr, flush=True)
        if result.state is JobState.CANCELLED and not token.cancelled:
            break  # 'stop after this frame' ends the whole command too
        if args.stop_on_error and result.exit_code != EXIT_OK:
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
        print_json(
            {
                "command": "copy",
                "exit_code": code,
                "cancelled": cancelled,
                "jobs": [result_to_dict(spec, result) for spec, result in done],
                "not_started": [s.display_name() for s in specs if s.job_id not in started],
                "notes": notes,
            }
        )
    return code
