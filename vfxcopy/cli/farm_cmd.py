"""`vfxcopy farm submit|status|cancel|retry|task|merge`: big jobs as frame-chunk tasks on a render farm."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any

from vfxcopy.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CancelSignals,
    UsageError,
    error,
    print_json,
)
from vfxcopy.core.jobs import CancelToken, JobSpec, JobState

BACKENDS = ("openjd", "deadline", "slurm", "deadline10", "opencue")
EXIT_TERMINATED = 143


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "farm",
        help="run a copy or conversion as frame-chunk tasks on a render farm (OpenJD, Deadline, SLURM)",
        description=(
            "Split a copy or conversion into tasks of contiguous frame chunks and submit them to a "
            "scheduler; every task runs the same engine and exit codes as `vfxcopy copy|convert`, and "
            "writes its results next to the destination (DEST/.vfxcopy-farm/JOB/), so the job's state "
            "is readable from the shared storage alone. A farm delivers a cancel when its worker next "
            "checks in: the task then stops within a frame chunk of work and leaves nothing partial."
        ),
    )
    farm_sub = parser.add_subparsers(dest="farm_command", metavar="ACTION")
    _register_submit(farm_sub)
    for action, text in (("status", "show a farm job's chunks and frames"),
                         ("cancel", "ask the scheduler to cancel a farm job"),
                         ("retry", "requeue only a farm job's failed or cancelled chunks")):
        p = farm_sub.add_parser(action, help=text, description=text)
        p.add_argument("job", metavar="JOB", help="the job folder or job.json (DEST/.vfxcopy-farm/JOB)")
        p.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
        p.set_defaults(func=run)
    task = farm_sub.add_parser("task", help="run one frame chunk of a farm job (what the scheduler runs)")
    task.add_argument("--spec", required=True, metavar="SPEC.json", help="the job's spec (JobSpec JSON)")
    which = task.add_mutually_exclusive_group(required=True)
    which.add_argument("--frames", metavar="A-B", help="the chunk: first-last source frame")
    which.add_argument("--chunk-start", type=int, metavar="A",
                       help="the step's chunk that starts at frame A (from job.json next to the spec; OpenJD)")
    which.add_argument("--chunk-index", type=int, metavar="I",
                       help="the step's I-th chunk, from 0 (from job.json next to the spec; SLURM array index)")
    task.add_argument("--step", default="main", help="the step this chunk belongs to (default main)")
    task.add_argument("--results-dir", metavar="DIR", help="where chunk results go (default DEST/.vfxcopy-farm/JOB)")
    task.add_argument("--json", action="store_true", help="print the chunk's result on stdout at the end")
    task.set_defaults(func=run)
    merge = farm_sub.add_parser("merge", help="the final step: chunk results -> ASC MHL manifest and report")
    merge.add_argument("job", metavar="JOB", help="the job folder or job.json")
    merge.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
    merge.set_defaults(func=run)
    parser.set_defaults(func=run, farm_parser=parser)


def _register_submit(farm_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from vfxcopy.cli.common import add_copy_arguments, add_job_arguments

    p = farm_sub.add_parser(
        "submit", help="split a copy or conversion into chunk tasks and submit it",
        description="Same sources, destination and options as `vfxcopy copy` (or `convert` with --to/--preset).",
    )
    p.add_argument("paths", nargs="+", metavar="SRC... DEST", help="sources, then the destination folder")
    p.add_argument("--backend", choices=BACKENDS, default="openjd",
                   help="openjd: write an OpenJD template (and run it here with --run-local); deadline: submit "
                   "to AWS Deadline Cloud; slurm: sbatch --array; deadline10/opencue: write submission files")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--chunk", type=int, metavar="N", help="frames per task (default: about --task-time)")
    size.add_argument("--task-time", type=float, metavar="SECONDS", default=None,
                      help="size chunks so a task runs about this long (with --frame-time; default 300)")
    p.add_argument("--frame-time", type=float, metavar="SECONDS",
                   help="estimated seconds per frame for --task-time (default 0.05 copy, 0.5 convert)")
    p.add_argument("--max-running", type=int, metavar="N", help="at most N tasks at once (SLURM %%N, OpenJD)")
    p.add_argument("--partition", help="SLURM partition / Deadline 10 pool / OpenCue show")
    p.add_argument("--farm-id", help="Deadline Cloud farm id (or $DEADLINE_FARM_ID)")
    p.add_argument("--queue-id", help="Deadline Cloud queue id (or $DEADLINE_QUEUE_ID)")
    p.add_argument("--movie", metavar="FORMAT", choices=("mp4", "mov"),
                   help="convert only: also encode a review movie of the converted frames (a step that waits "
                   "for them)")
    p.add_argument("--command", metavar="CMD",
                   help="how farm nodes start vfxcopy (default: this Python, -m vfxcopy)")
    p.add_argument("--run-local", action="store_true",
                   help="openjd: run the template here with the OpenJD runtime (openjd-sessions)")
    p.add_argument("--no-wait", action="store_true", help="slurm: return after submitting (default waits? no: "
                   "always returns; kept for scripts)")
    # Conversion options: the same names as `vfxcopy convert`.
    p.add_argument("--to", help="convert to this format (exr, dpx, tif, png, jpg, mp4, mov) instead of copying")
    p.add_argument("--preset", metavar="NAME", help="convert with a preset (see vfxcopy convert --list-presets)")
    for flag, dest in (("--compression", "compression"), ("--resize", "resize"), ("--filter", "filter"),
                       ("--from", "from_space"), ("--to-space", "to_space"), ("--view", "view"),
                       ("--ocio", "ocio_config")):
        p.add_argument(flag, dest=dest, metavar=dest.upper())
    p.add_argument("--data-format", "--bits", dest="data_format",
                   choices=("half", "float", "uint8", "uint10", "uint12", "uint16"))
    p.add_argument("--quality", type=int)
    p.add_argument("--channels", type=lambda s: [c.strip() for c in s.split(",") if c.strip()])
    p.add_argument("--threads", type=int)
    p.add_argument("--fps", type=float)
    p.add_argument("--compare-pixels", action="store_true")
    add_job_arguments(p)
    add_copy_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "farm_command", None)
    if action is None:
        args.farm_parser.print_help()
        return EXIT_USAGE
    try:
        if action == "task":
            return _task(args)
        if action == "merge":
            return _merge(args)
        if action == "submit":
            return _submit(args)
        return _manage(args, action)
    except UsageError as exc:
        error("farm", str(exc))
        if getattr(args, "json", False):
            print_json({"command": f"farm {action}", "exit_code": EXIT_USAGE, "error": str(exc)})
        return EXIT_USAGE


# -- what the scheduler runs ---------------------------------------------------------------


def _emit(line: str) -> None:
    print(line, flush=True)


def _task(args: argparse.Namespace) -> int:
    from vfxcopy.core.farm.task import run_task
    from vfxcopy.core.sequence import parse_frames

    try:
        spec = JobSpec.from_dict(json.loads(open(args.spec, encoding="utf-8").read()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--spec {args.spec}: cannot read the job spec ({exc})") from None
    if args.frames is not None:
        try:
            frames = parse_frames(args.frames)
        except ValueError as exc:
            raise UsageError(f"--frames: {exc}") from None
        if not frames:
            raise UsageError("--frames: no frames")
        first, last = min(frames), max(frames)
    else:
        first, last = _chunk_of(args)
    token = CancelToken()
    with CancelSignals(token) as signals:
        record = run_task(spec, first, last, token, step=args.step, folder=args.results_dir, emit=_emit)
    code = record.exit_code if record.exit_code is not None else EXIT_FAILED
    if record.state is JobState.CANCELLED and signals.signum == getattr(signal, "SIGTERM", None):
        code = EXIT_TERMINATED  # the contract: 143 for a terminate, 130 for an interrupt
    if args.json:
        print_json({"command": "farm task", "exit_code": code, **record.to_dict()})
    return code


def _chunk_of(args: argparse.Namespace) -> tuple[int, int]:
    """--chunk-start / --chunk-index: the chunk's range from the job file beside the spec."""
    from vfxcopy.core.farm.plan import FarmJob

    job_file = os.path.join(os.path.dirname(os.path.abspath(args.spec)), "job.json")
    try:
        chunks = FarmJob.load(job_file).step(args.step).chunks
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{job_file}: cannot read the farm job ({exc})") from None
    if args.chunk_index is not None:
        if not 0 <= args.chunk_index < len(chunks):
            raise UsageError(f"--chunk-index {args.chunk_index}: the step has {len(chunks)} chunks")
        chunk = chunks[args.chunk_index]
        return chunk.first, chunk.last
    for chunk in chunks:
        if chunk.first == args.chunk_start:
            return chunk.first, chunk.last
    raise UsageError(f"--chunk-start {args.chunk_start}: no chunk of step {args.step} starts there")


def _merge(args: argparse.Namespace) -> int:
    from vfxcopy.core.farm.plan import FarmJob, merge_job

    job = _load(args.job)
    token = CancelToken()
    with CancelSignals(token):
        merged = merge_job(job, token)
    for line in merged.missing:
        error("farm merge", f"not complete: {line}")
    for problem in merged.problems:
        error("farm merge", problem)
    if merged.manifest:
        _emit(f"openjd_status: manifest {merged.manifest}")
    if args.json:
        print_json({"command": "farm merge", "job_id": job.job_id, **merged.to_dict()})
    assert isinstance(job, FarmJob)
    return merged.exit_code


def _load(path: str) -> Any:
    from vfxcopy.core.farm.plan import FarmJob

    try:
        return FarmJob.load(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not a farm job ({exc}); give DEST/.vfxcopy-farm/JOB or its job.json") from None


# -- submit / status / cancel / retry ---------------------------------------------------------


def _submit(args: argparse.Namespace) -> int:
    raise UsageError("farm submit: not available yet")


def _manage(args: argparse.Namespace, action: str) -> int:
    raise UsageError(f"farm {action}: not available yet")


def _unused() -> None:
    _ = (EXIT_OK, os, sys)
