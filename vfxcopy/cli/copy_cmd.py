"""`vfxcopy copy SRC... DEST`: every sequence found becomes a copy job, run in turn with progress."""

from __future__ import annotations

import argparse
import os

from vfxcopy.cli.common import (
    CancelSignals,
    UsageError,
    add_copy_arguments,
    add_job_arguments,
    build_specs,
    copy_options_from_args,
    refuse,
    resolve_sources,
)
from vfxcopy.cli.queue_run import run_queue
from vfxcopy.core.errors import SafetyError
from vfxcopy.core.jobs import CancelToken, JobSpec, Operation


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
        epilog="Exit codes: 0 all done, 1 some frames failed, 2 usage or safety refusal, 130 interrupted (SIGINT), 143 terminated (SIGTERM).",
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
    # the same way (exit 130 or 143, nothing partial), never with a traceback or a kill.
    with CancelSignals(token) as guard:
        return _run(args, guard)


def _run(args: argparse.Namespace, guard: CancelSignals) -> int:
    notes: list[str] = []
    try:
        specs = _plan(args, notes)
        _check_all(specs)
    except (UsageError, SafetyError) as exc:
        return refuse("copy", exc, args)
    return run_queue("copy", specs, args, guard, notes=notes)
