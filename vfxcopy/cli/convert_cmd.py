"""`vfxcopy convert SRC... DEST --to FORMAT`: convert sequences with OpenImageIO (and ffmpeg for movies)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict, replace
from typing import Any

from vfxcopy.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CancelSignals,
    PathsHelpFormatter,
    UsageError,
    add_job_arguments,
    build_specs,
    error,
    print_json,
    refuse,
    resolve_sources,
    settings_for,
)
from vfxcopy.cli.queue_run import run_queue
from vfxcopy.core.errors import SafetyError
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    ConvertOptions,
    CopyOptions,
    JobSpec,
    Operation,
)
from vfxcopy.core.naming import normalise_target
from vfxcopy.core.presets import describe_options, get_preset, list_presets, save_user_preset
from vfxcopy.core.safety import check_job

# ConvertOptions fields that command-line flags can set; None means "not given"
# so that a --preset's value stays unless the flag overrides it.
_FLAG_FIELDS = ("to", "compression", "data_format", "quality", "resize", "filter", "from_space", "to_space",
                "view", "ocio_config", "channels", "threads", "fps")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "convert",
        formatter_class=PathsHelpFormatter,
        help="convert sequences to EXR, DPX, TIFF, PNG, JPEG or a review movie",
        description=(
            "Convert the sequences in SRC (folders, frames, patterns such as shot.####.exr) into the "
            "folder DEST with OpenImageIO: colour conversion through OCIO ($OCIO or the built-in "
            "ocio://default config), resize, channel subset, target format and codec. Movies (mp4, mov) "
            "are encoded with ffmpeg. Frames are written to temporary names and renamed into place when "
            "complete and checked; Ctrl-C or SIGTERM cancels and leaves nothing partial."
        ),
        epilog=(
            "Examples: vfxcopy convert plates/ proxies/ --preset 'Half-res sRGB JPEG proxies'; "
            "vfxcopy convert shot.####.exr out/ --to exr --compression dwaa:45; "
            "vfxcopy convert shot.####.exr review/ --to mp4 --to-space 'sRGB - Display'. "
            "Exit codes: 0 all done, 1 some frames failed, 2 usage or safety refusal, 130 interrupted (SIGINT), 143 terminated (SIGTERM)."
        ),
    )
    parser.add_argument("paths", nargs="*", metavar="SRC... DEST", help="sources, then the destination folder")
    # Checked when the command runs (validate_options), so that building the parser for another
    # command does not load OpenImageIO; an unknown format exits 2 with the list of formats.
    parser.add_argument("--to", metavar="FORMAT", help="target format: exr, dpx, tif, png, jpg, mp4 or mov")
    parser.add_argument("--preset", metavar="NAME", help="start from a preset (see --list-presets); flags override it")
    parser.add_argument("--list-presets", action="store_true", help="list the built-in and user presets and exit")
    parser.add_argument("--save-preset", metavar="NAME", help="also save these options as a user preset")
    parser.add_argument("--compression", metavar="CODEC",
                        help="EXR: zip, zips, piz, pxr24, b44, dwaa[:LEVEL], dwab[:LEVEL], none; TIFF: zip, lzw, none")
    parser.add_argument("--data-format", "--bits", dest="data_format", metavar="TYPE",
                        choices=("half", "float", "uint8", "uint10", "uint12", "uint16"),
                        help="pixel type: half, float (EXR, TIFF), uint8, uint10/uint12 (DPX), uint16")
    parser.add_argument("--quality", type=int, metavar="Q",
                        help="JPEG quality 1-100 (default 90); movies: x264 CRF 0-51 (default 18)")
    parser.add_argument("--resize", metavar="SIZE", help="50%%, or fit inside 1920x1080 (also 1920x or x1080)")
    parser.add_argument("--filter", metavar="NAME",
                        help="resize filter (default triangle when shrinking, catmull-rom when growing)")
    parser.add_argument("--from", dest="from_space", metavar="SPACE",
                        help="source colour space (default: the file's tag, else scene_linear for float files)")
    parser.add_argument("--to-space", dest="to_space", metavar="SPACE",
                        help="target colour space, e.g. 'sRGB - Display', ACEScct; with --view: an OCIO display")
    parser.add_argument("--view", metavar="VIEW", help="apply this OCIO view of the --to-space display")
    parser.add_argument("--ocio", dest="ocio_config", metavar="CONFIG",
                        help="OCIO config file or URI (default $OCIO, else ocio://default)")
    parser.add_argument("--channels", metavar="LIST", type=lambda s: [c.strip() for c in s.split(",") if c.strip()],
                        help="only these channels, e.g. R,G,B")
    parser.add_argument("--threads", type=int, metavar="N", help="frames converted in parallel (default 2)")
    parser.add_argument("--fps", type=float, metavar="RATE", help="movie frame rate (default 24)")
    parser.add_argument("--compare-pixels", action="store_true",
                        help="for lossless targets, read every written frame back and compare its pixels")
    parser.add_argument("--on-conflict", choices=[c.value for c in ConflictPolicy], default=None,
                        help="when a destination file exists (default: the copy.on_conflict setting, skip-identical "
                        "unless changed: same pixels skip, different pixels fail that frame)")
    add_job_arguments(parser)
    parser.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> ConvertOptions:
    """ConvertOptions from --preset plus the flags given; UsageError if they cannot run."""
    from vfxcopy.core.convert import validate_options

    if args.preset:
        try:
            opts = get_preset(args.preset)
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from None
    elif args.to:
        opts = ConvertOptions()
    else:
        raise UsageError("give a target format with --to (exr, dpx, tif, png, jpg, mp4, mov) or a --preset")
    changes: dict[str, Any] = {f: getattr(args, f) for f in _FLAG_FIELDS if getattr(args, f, None) is not None}
    if "to" in changes:
        changes["to"] = normalise_target(changes["to"])
    if args.compare_pixels:
        changes["compare_pixels"] = True
    if args.preset and set(changes) - {"threads"}:
        changes["preset"] = f"{opts.preset} (changed)"  # the job list shows it is not the preset as saved
    opts = replace(opts, **changes)
    try:
        validate_options(opts)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return opts


def _plan(args: argparse.Namespace, notes: list[str]) -> tuple[list[JobSpec], ConvertOptions]:
    opts = options_from_args(args)
    if len(args.paths) < 2:
        raise UsageError("give at least one source and a destination folder")
    *sources, dest = args.paths
    dest_dir = os.path.abspath(dest)
    if os.path.exists(dest_dir) and not os.path.isdir(dest_dir):
        raise UsageError(f"destination {dest} exists and is not a folder")
    seqs = resolve_sources(sources)
    conflict = args.on_conflict or settings_for("convert").text("copy.on_conflict")
    copy = CopyOptions(on_conflict=ConflictPolicy(conflict))
    specs = build_specs(seqs, dest_dir, args, operation=Operation.CONVERT, origin="cli", copy=copy, notes=notes)
    for spec in specs:
        spec.convert = replace(opts)
    return specs, opts


def _list_presets(args: argparse.Namespace) -> int:
    from vfxcopy.core.presets import is_builtin

    presets = list_presets()
    if args.json:
        print_json({"command": "convert", "presets": {
            name: {**asdict(opts), "builtin": is_builtin(name)} for name, opts in presets.items()}})
        return EXIT_OK
    width = max(len(n) for n in presets)
    for name, opts in presets.items():
        kind = "" if is_builtin(name) else "  (user)"
        print(f"{name:<{width}}  {describe_options(opts)}{kind}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    if args.list_presets:
        return _list_presets(args)
    token = CancelToken()
    # Installed before the scan so that a signal at any moment ends the command
    # the same way (exit 130 or 143, nothing partial), never with a traceback or a kill.
    with CancelSignals(token) as guard:
        return _run(args, guard)


def _run(args: argparse.Namespace, guard: CancelSignals) -> int:
    notes: list[str] = []
    try:
        specs, opts = _plan(args, notes)
        for spec in specs:
            check_job(spec)
    except (UsageError, SafetyError) as exc:
        return refuse("convert", exc, args)
    if args.save_preset:
        try:
            save_user_preset(args.save_preset, opts)
        except (ValueError, OSError) as exc:
            error("convert", f"--save-preset: {exc}")
            return EXIT_USAGE
        print(f"vfxcopy convert: saved preset {args.save_preset!r}", file=sys.stderr)
    return run_queue(
        "convert",
        specs,
        args,
        guard,
        notes=notes,
        label=lambda spec: f"{spec.display_name()} -> {opts.to}",
        json_extra={"options": asdict(opts)},
    )
