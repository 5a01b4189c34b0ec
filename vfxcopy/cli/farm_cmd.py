"""`vfxcopy farm submit|status|cancel|retry|task|merge`: big jobs as frame-chunk tasks on a render farm."""

from __future__ import annotations

import argparse
import json
import os
import shlex
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
from vfxcopy.core.textsafe import printable
from vfxcopy.core.units import plural

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
    _add_map_arguments(task)
    task.set_defaults(func=run)
    merge = farm_sub.add_parser("merge", help="the final step: chunk results -> ASC MHL manifest and report")
    merge.add_argument("job", metavar="JOB", help="the job folder or job.json")
    merge.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
    _add_map_arguments(merge)
    merge.set_defaults(func=run)
    parser.set_defaults(func=run, farm_parser=parser)


def _add_map_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--path-map", action="append", default=[], metavar="FROM=TO",
                        help="this worker sees the job's FROM paths at TO (repeatable; longest FROM wins)")
    parser.add_argument("--path-mapping-rules", metavar="FILE",
                        help="OpenJD pathmapping-1.0 rules file ({{Session.PathMappingRulesFile}})")


def _path_map(args: argparse.Namespace) -> Any:
    from vfxcopy.core.farm.pathmap import PathMap, Rule

    try:
        view = PathMap.from_pairs(args.path_map)
        if args.path_mapping_rules:
            view = PathMap([*view.rules, *PathMap.from_openjd_file(args.path_mapping_rules).rules])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"path mapping: {exc}") from None
    assert all(isinstance(r, Rule) for r in view.rules)
    return view


def _register_submit(farm_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from vfxcopy.cli.common import add_copy_arguments, add_job_arguments

    p = farm_sub.add_parser(
        "submit", help="split a copy or conversion into chunk tasks and submit it",
        description="Same sources, destination and options as `vfxcopy copy` (or `convert` with --to/--preset).",
    )
    p.add_argument("paths", nargs="+", metavar="SRC... DEST", help="sources, then the destination folder")
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="openjd: write an OpenJD template (and run it here with --run-local); deadline: submit "
                   "to AWS Deadline Cloud; slurm: sbatch --array; deadline10/opencue: write submission files "
                   "(default: the farm.backend setting, openjd unless changed)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--chunk", type=int, metavar="N", help="frames per task (default: about --task-time)")
    size.add_argument("--task-time", type=float, metavar="SECONDS", default=None,
                      help="size chunks so a task runs about this long (default 300; the time per frame is --frame-time, "
                      "else measured on the first frames here)")
    p.add_argument("--frame-time", type=float, metavar="SECONDS",
                   help="estimated seconds per frame for --task-time (default 0.05 copy, 0.5 convert)")
    p.add_argument("--max-running", type=int, metavar="N", help="at most N tasks at once (SLURM %%N, Deadline Cloud maxWorkerCount, "
                   "Deadline 10 MachineLimit)")
    p.add_argument("--partition", help="SLURM partition / Deadline 10 pool / OpenCue show")
    p.add_argument("--farm-id", help="Deadline Cloud farm id (or $DEADLINE_FARM_ID)")
    p.add_argument("--queue-id", help="Deadline Cloud queue id (or $DEADLINE_QUEUE_ID)")
    p.add_argument("--movie", metavar="FORMAT", choices=("mp4", "mov"),
                   help="convert only: also encode a review movie of the converted frames (a step that waits "
                   "for them)")
    p.add_argument("--movie-dir", metavar="DIR", help="where the --movie goes (default DEST_review, beside DEST)")
    p.add_argument("--command", metavar="CMD",
                   help="how farm nodes start vfxcopy (default: this Python, -m vfxcopy)")
    p.add_argument("--path-map", action="append", default=[], metavar="FROM=TO",
                   help="workers see this computer's FROM paths at TO (SLURM, Deadline 10, OpenCue; OpenJD "
                   "farms use their own path mapping rules)")
    p.add_argument("--run-local", action="store_true",
                   help="openjd: run the template here with the OpenJD runtime (openjd-sessions)")
    # Conversion options: the same names as `vfxcopy convert`.
    p.add_argument("--to", help="convert to this format (exr, dpx, tif, png, jpg, mp4, mov) instead of copying")
    p.add_argument("--preset", metavar="NAME", help="convert with a preset (see vfxcopy convert --list-presets)")
    same = "as in vfxcopy convert"
    for flag, dest in (("--compression", "compression"), ("--resize", "resize"), ("--filter", "filter"),
                       ("--from", "from_space"), ("--to-space", "to_space"), ("--view", "view"),
                       ("--ocio", "ocio_config")):
        p.add_argument(flag, dest=dest, metavar=dest.upper(), help=same)
    p.add_argument("--data-format", "--bits", dest="data_format",
                   choices=("half", "float", "uint8", "uint10", "uint12", "uint16"), help=same)
    p.add_argument("--quality", type=int, help=same)
    p.add_argument("--channels", type=lambda s: [c.strip() for c in s.split(",") if c.strip()], help=same)
    p.add_argument("--threads", type=int, help="frames converted in parallel inside each task (default 2)")
    p.add_argument("--fps", type=float, help="movie frame rate (default 24)")
    p.add_argument("--compare-pixels", action="store_true", help=same)
    add_job_arguments(p, notify=False)  # a farm job ends on the farm: no hook or message from here
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


def _emit_err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)  # with --json, stdout carries the JSON only


def _task(args: argparse.Namespace) -> int:
    from vfxcopy.core.farm.task import run_task
    from vfxcopy.core.framenames import parse_frames

    try:
        with open(args.spec, encoding="utf-8") as fh:
            spec = JobSpec.from_dict(json.load(fh))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--spec {args.spec}: cannot read the job spec ({exc})") from None
    spec = _path_map(args).apply_spec(spec)
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
    folder = args.results_dir
    if folder is None and os.path.exists(os.path.join(os.path.dirname(os.path.abspath(args.spec)), "job.json")):
        # A farm job's spec: its results go beside it (a movie step writes elsewhere, reports here).
        folder = os.path.dirname(os.path.abspath(args.spec))
    token = CancelToken()
    with CancelSignals(token) as signals:
        try:
            record = run_task(spec, first, last, token, step=args.step, folder=folder,
                              emit=_emit_err if args.json else _emit)
        except OSError as exc:  # the results folder: shared storage full, gone or read-only
            error("farm task", f"cannot write the chunk's results ({exc}); check the shared storage")
            return EXIT_FAILED
    code = record.exit_code if record.exit_code is not None else EXIT_FAILED
    if record.state is JobState.CANCELLED and signals.signum == getattr(signal, "SIGTERM", None):
        code = EXIT_TERMINATED  # the contract: 143 for a terminate, 130 for an interrupt
    if args.json:
        print_json({"command": "farm task", "exit_code": code, **record.to_dict()})
    return code


def run_as_farm_task(command: str, specs: list[JobSpec], args: argparse.Namespace, guard: CancelSignals) -> int:
    """`vfxcopy copy|convert SRC DEST --frames A-B --job-id ID [--results-dir DIR]`: one farm task.

    The same engine and exit codes as the command; the job runs under the farm job's id
    (temporaries keyed by it, one name per attempt) and writes its chunk results to DIR
    (default DEST/.vfxcopy-farm/ID) instead of the local journal.
    """
    from vfxcopy.cli.common import cancelled_exit, refuse
    from vfxcopy.core.farm.task import run_task

    if len(specs) != 1:
        return refuse(command, UsageError("--job-id/--results-dir: a farm task runs exactly one source sequence"),
                      args)
    spec = specs[0]
    if args.job_id:
        spec.job_id = args.job_id
    frames = spec.selected_frames()
    first, last = (min(frames), max(frames)) if frames else (0, 0)
    record = run_task(spec, first, last, guard.token, step=command, folder=args.results_dir,
                      emit=_emit_err if args.json else _emit)
    code = record.exit_code if record.exit_code is not None else EXIT_FAILED
    if record.state is JobState.CANCELLED:
        code = cancelled_exit(guard)
    if args.json:
        print_json({"command": command, "exit_code": code, "farm_task": record.to_dict()})
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

    job = _load(args.job).mapped(_path_map(args))
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


def _specs(args: argparse.Namespace) -> list[tuple[str, JobSpec, list[str]]]:
    """The farm job's steps from the copy/convert options (one source sequence per farm job)."""
    from dataclasses import replace

    from vfxcopy.cli.common import build_specs, copy_options_from_args, resolve_sources
    from vfxcopy.core.jobs import ConvertOptions, Operation

    if len(args.paths) < 2:
        raise UsageError("give at least one source and a destination folder")
    *sources, dest = args.paths
    dest_dir = os.path.abspath(dest)
    if os.path.exists(dest_dir) and not os.path.isdir(dest_dir):
        raise UsageError(f"destination {dest} exists and is not a folder")
    copy = copy_options_from_args(args, "farm")
    converting = bool(args.to or args.preset)
    if args.movie and not converting:
        raise UsageError("--movie needs a conversion (--to or --preset): the movie is made from its frames")
    seqs = resolve_sources(sources)
    notes: list[str] = []
    operation = Operation.CONVERT if converting else Operation.COPY
    specs = build_specs(seqs, dest_dir, args, operation=operation, origin="farm", copy=copy, notes=notes)
    for note in notes:
        print(f"vfxcopy farm: note: {note}", file=sys.stderr)
    if converting:
        from vfxcopy.cli.convert_cmd import options_from_args
        from vfxcopy.core.naming import normalise_target

        if args.to:
            args.to = normalise_target(args.to)
        opts = options_from_args(args)
        for spec in specs:
            spec.convert = replace(opts)
    from vfxcopy.core.safety import check_job

    for spec in specs:
        check_job(spec)
    if len(specs) > 1 and args.movie:
        raise UsageError("--movie needs exactly one source sequence")
    steps: list[tuple[str, JobSpec, list[str]]] = [("main", spec, []) for spec in specs]
    if args.movie:
        from vfxcopy.core.naming import dest_sequence

        frames = dest_sequence(specs[0])
        if frames is None:
            raise UsageError("--movie: the conversion does not write a frame sequence")
        # The engine refuses to write into (or under) the folder it reads from: the movie goes beside it.
        movie_dir = os.path.abspath(args.movie_dir) if args.movie_dir else dest_dir.rstrip(os.sep) + "_review"
        movie = JobSpec(frames, movie_dir, Operation.CONVERT, copy=replace(copy),
                        convert=ConvertOptions(to=args.movie, fps=args.fps or 24.0), origin="farm")
        steps.append(("movie", movie, ["main"]))
    return steps


def _backend(name: str, args: argparse.Namespace | None = None) -> Any:
    from vfxcopy.core.farm.backends import get_backend

    return get_backend(
        name,
        partition=getattr(args, "partition", None),
        max_running=getattr(args, "max_running", None),
        farm_id=getattr(args, "farm_id", None),
        queue_id=getattr(args, "queue_id", None),
        run_local=getattr(args, "run_local", False),
    )


def _farm_defaults(args: argparse.Namespace) -> None:
    """--backend, --partition, --chunk and --path-map not given: the farm.* settings (`vfxcopy config`, the window)."""
    from vfxcopy.cli.common import settings_for

    settings = settings_for("farm")
    if args.backend is None:
        args.backend = settings.text("farm.backend")
    if args.partition is None and settings.text("farm.partition"):
        args.partition = settings.text("farm.partition")
    if args.chunk is None and args.task_time is None and settings.number("farm.chunk") > 0:
        args.chunk = settings.number("farm.chunk")
    if not getattr(args, "path_map", None) and settings.strings("farm.path_map"):
        args.path_map = settings.strings("farm.path_map")


def _submit(args: argparse.Namespace) -> int:
    from vfxcopy.core.errors import SafetyError
    from vfxcopy.core.farm.backends import FarmError
    from vfxcopy.core.farm.plan import PlanError, plan_job
    from vfxcopy.core.farm.slurm import SlurmError

    if args.results_dir:
        raise UsageError("--results-dir is for a farm task; a submitted job keeps its results in DEST/.vfxcopy-farm/JOB")
    _farm_defaults(args)
    try:
        steps = _specs(args)
    except SafetyError as exc:
        raise UsageError(f"refused: {exc}") from None
    command = shlex.split(args.command) if args.command else None
    # One farm job per source sequence (as `vfxcopy copy` makes one job per sequence); a movie
    # step belongs to the one source it is made from.
    groups: list[list[tuple[str, JobSpec, list[str]]]] = (
        [steps] if any(n == "movie" for n, _, _ in steps) else [[s] for s in steps])
    out: list[dict[str, Any]] = []
    code = EXIT_OK
    for group in groups:
        frame_time = args.frame_time
        if args.task_time and not frame_time and not args.chunk:
            from vfxcopy.core.farm.plan import measure_frame_seconds

            frame_time = measure_frame_seconds(group[0][1])
            if frame_time is not None:
                print(f"vfxcopy farm: measured {frame_time:.3f} s per frame here; chunks of about "
                      f"{args.task_time:g} s", file=sys.stderr)
        try:
            job = plan_job(group, chunk=args.chunk, task_seconds=args.task_time, frame_seconds=frame_time,
                           command=command, backend=args.backend,
                           job_id=args.job_id if len(groups) == 1 else None, path_rules=args.path_map)
        except PlanError as exc:
            raise UsageError(str(exc)) from None
        print(f"vfxcopy farm: job {job.job_id}: {job.name}: "
              f"{sum(len(s.chunks) for s in job.steps)} tasks; results in {printable(str(job.folder))}", file=sys.stderr)
        try:
            submitted = _backend(args.backend, args).submit(job)
        except (FarmError, SlurmError, OSError) as exc:
            error("farm submit", f"{job.job_id}: {exc}")
            out.append({"job_id": job.job_id, "folder": str(job.folder), "error": str(exc)})
            code = EXIT_FAILED
            continue
        entry = {"job_id": job.job_id, "folder": str(job.folder), "backend": args.backend,
                 "task_count": sum(len(s.chunks) for s in job.steps), **submitted}
        if args.run_local and args.backend == "openjd":
            from vfxcopy.core.farm.backends import results_status

            state = results_status(job)
            entry["status"] = state
            for problem in state.get("merge_problems") or []:
                error("farm submit", f"{job.job_id}: {problem}")
            if state["state"] != "completed":
                code = max(code, EXIT_FAILED) if state["state"] == "failed" else 130
        out.append(entry)
    if args.json:
        print_json({"command": "farm submit", "exit_code": code, "jobs": out})
    else:
        for entry in out:
            if "error" not in entry:
                print(entry["folder"])  # for scripts: the job's folder, what status/cancel/retry take
    return code


def _manage(args: argparse.Namespace, action: str) -> int:
    from vfxcopy.core.farm.backends import FarmError
    from vfxcopy.core.farm.slurm import SlurmError

    job = _load(args.job)
    backend = _backend(job.backend or "openjd")
    try:
        if action == "status":
            state = backend.status(job)
            if args.json:
                print_json({"command": "farm status", "exit_code": EXIT_OK, **state})
            else:
                _print_status(state)
            if state.get("scheduler_error"):
                error("farm status", f"the scheduler did not answer ({state['scheduler_error']}); "
                      "this is the results folder's view only")
            return EXIT_OK
        if action == "cancel":
            backend.cancel(job)
            result: dict[str, Any] = {"cancel": "requested"}
            print(f"vfxcopy farm: cancel sent to {job.backend}; running tasks stop within a frame and remove "
                  "their temporary files", file=sys.stderr)
        else:
            result = backend.retry(job)
    except (FarmError, SlurmError) as exc:
        error(f"farm {action}", str(exc))
        if args.json:
            print_json({"command": f"farm {action}", "exit_code": EXIT_FAILED, "error": str(exc)})
        return EXIT_FAILED
    if args.json:
        print_json({"command": f"farm {action}", "exit_code": EXIT_OK, "job_id": job.job_id, **result})
    return EXIT_OK


def _print_status(state: dict[str, Any]) -> None:
    frames = state["frames"]
    print(f"{state['job_id']}  {state['name']}  [{state['backend']}]  {state['state']}: "
          f"{frames['done']}/{plural(frames['total'], 'frame')} done ({frames['skipped']} skipped), {frames['failed']} failed")
    for chunk in state["chunks"]:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(chunk["counts"].items()))
        print(f"  {chunk['step']:<8} {chunk['frames']:<12} {chunk['state']:<12} {counts}")
    for problem in state.get("merge_problems") or []:
        print(printable(f"  merge    {problem}"))
