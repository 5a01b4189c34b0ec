"""`vfxcopy convert SRC... DEST --to FORMAT`: convert sequences with OpenImageIO (and ffmpeg for movies)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict, dataclass, field, replace
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
from vfxcopy.core.presets import PRESET_ALIASES, describe_options, get_preset
from vfxcopy.core.safety import check_job

# ConvertOptions fields that command-line flags can set; None means "not given"
# so that a --preset's value stays unless the flag overrides it.
_FLAG_FIELDS = ("to", "compression", "data_format", "quality", "resize", "filter", "from_space", "to_space",
                "view", "ocio_config", "channels", "threads", "fps")


# Options that belong to one rendition (one output): the ffmpeg way, an option applies to the
# output it follows (`--output DIR` starts the next one; before the first, DEST's).
_OUTPUT_FIELDS = (*_FLAG_FIELDS, "preset", "compare_pixels", "on_conflict")


@dataclass
class _Section:
    """The options given for one output on the command line."""

    dest: str | None  # None: DEST (the last path)
    given: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)  # field -> the flag as typed
    repeated: list[str] = field(default_factory=list)

    def where(self) -> str:
        return "DEST (before any --output)" if self.dest is None else f"--output {self.dest}"


def _sections(namespace: argparse.Namespace) -> list[_Section]:
    sections: list[_Section] | None = getattr(namespace, "outputs", None)
    if sections is None:
        sections = [_Section(None)]
        namespace.outputs = sections
    return sections


class _PerOutput(argparse.Action):
    """An option of the current output; also set on the namespace for the first (farm tasks read it there)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        value = True if self.nargs == 0 else values
        sections = _sections(namespace)
        section = sections[-1]
        if self.dest in section.given and section.given[self.dest] != value:
            section.repeated.append(option_string or self.dest)
        section.given[self.dest] = value
        section.flags[self.dest] = option_string or self.dest
        if len(sections) == 1:
            setattr(namespace, self.dest, value)


class _NewOutput(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        _sections(namespace).append(_Section(str(values)))


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
            "vfxcopy convert shot.####.exr review/ --to mp4 --to-space 'sRGB - Display'; "
            "several renditions from one decode: vfxcopy convert plates/ master/ --to exr --compression dwaa:45 "
            "--output proxy/ --to jpg --resize 50% --to-space 'sRGB - Display' --output review/ --to mp4 "
            "--to-space 'sRGB - Display', or vfxcopy convert plates/ ingest/ --preset plate-ingest. "
            "Exit codes: 0 all done, 1 some frames failed, 2 usage or safety refusal, 130 interrupted (SIGINT), 143 terminated (SIGTERM)."
        ),
    )
    parser.add_argument("paths", nargs="*", metavar="SRC... DEST", help="sources, then the destination folder")
    parser.add_argument("--output", action=_NewOutput, metavar="DIR",
                        help="one more rendition of the same sources, written to DIR: the options after it (up to "
                        "the next --output) apply to it alone, those before the first --output to DEST; every "
                        "source frame is read and decoded once for all renditions")
    # Checked when the command runs (validate_options), so that building the parser for another
    # command does not load OpenImageIO; an unknown format exits 2 with the list of formats.
    parser.add_argument("--to", action=_PerOutput, metavar="FORMAT",
                        help="target format: exr, dpx, tif, png, jpg, mp4 or mov")
    parser.add_argument("--preset", action=_PerOutput, metavar="NAME",
                        help="start from a preset (see --list-presets); flags override it; a preset of several "
                        "outputs (plate-ingest) writes each into its sub-folder of DEST")
    parser.add_argument("--list-presets", action="store_true", help="list the built-in and user presets and exit")
    parser.add_argument("--save-preset", metavar="NAME",
                        help="also save these options as a user preset (with --output: every output, each with its "
                        "folder relative to the folder they share)")
    parser.add_argument("--compression", action=_PerOutput, metavar="CODEC",
                        help="EXR: zip, zips, piz, pxr24, b44, dwaa[:LEVEL], dwab[:LEVEL], none; TIFF: zip, lzw, none")
    parser.add_argument("--data-format", "--bits", dest="data_format", action=_PerOutput, metavar="TYPE",
                        choices=("half", "float", "uint8", "uint10", "uint12", "uint16"),
                        help="pixel type: half, float (EXR, TIFF), uint8, uint10/uint12 (DPX), uint16")
    parser.add_argument("--quality", type=int, action=_PerOutput, metavar="Q",
                        help="JPEG quality 1-100 (default 90); movies: x264 CRF 0-51 (default 18)")
    parser.add_argument("--resize", action=_PerOutput, metavar="SIZE", help="50%%, or fit inside 1920x1080 (also 1920x or x1080)")
    parser.add_argument("--filter", action=_PerOutput, metavar="NAME",
                        help="resize filter (default triangle when shrinking, catmull-rom when growing)")
    parser.add_argument("--from", dest="from_space", action=_PerOutput, metavar="SPACE",
                        help="source colour space (default: the file's tag, else scene_linear for float files)")
    parser.add_argument("--to-space", dest="to_space", action=_PerOutput, metavar="SPACE",
                        help="target colour space, e.g. 'sRGB - Display', ACEScct; with --view: an OCIO display")
    parser.add_argument("--view", action=_PerOutput, metavar="VIEW", help="apply this OCIO view of the --to-space display")
    parser.add_argument("--ocio", dest="ocio_config", action=_PerOutput, metavar="CONFIG",
                        help="OCIO config file or URI (default $OCIO, else ocio://default)")
    parser.add_argument("--channels", action=_PerOutput, metavar="LIST", type=lambda s: [c.strip() for c in s.split(",") if c.strip()],
                        help="only these channels, e.g. R,G,B")
    parser.add_argument("--threads", type=int, action=_PerOutput, metavar="N", help="frames converted in parallel (default 2)")
    parser.add_argument("--fps", type=float, action=_PerOutput, metavar="RATE", help="movie frame rate (default 24)")
    parser.add_argument("--compare-pixels", action=_PerOutput, nargs=0, default=False,
                        help="for lossless targets, read every written frame back and compare its pixels")
    parser.add_argument("--on-conflict", action=_PerOutput, choices=[c.value for c in ConflictPolicy], default=None,
                        help="when a destination file exists (default: the copy.on_conflict setting, skip-identical "
                        "unless changed: same pixels skip, different pixels fail that frame)")
    add_job_arguments(parser)
    parser.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> ConvertOptions:
    """ConvertOptions from --preset plus the flags given; UsageError if they cannot run."""
    given: dict[str, Any] = {f: getattr(args, f) for f in _FLAG_FIELDS if getattr(args, f, None) is not None}
    if getattr(args, "compare_pixels", False):
        given["compare_pixels"] = True
    if args.preset:
        try:
            base = get_preset(args.preset)
        except KeyError as exc:
            raise UsageError(str(exc.args[0])) from None
    elif args.to:
        base = ConvertOptions()
    else:
        raise UsageError("give a target format with --to (exr, dpx, tif, png, jpg, mp4, mov) or a --preset")
    return _with_flags(base, given, from_preset=bool(args.preset))


def _with_flags(base: ConvertOptions, given: dict[str, Any], *, from_preset: bool, where: str = "") -> ConvertOptions:
    """`base` changed by the flags `given` (ConvertOptions fields); UsageError if the result cannot run."""
    from vfxcopy.core.convert import validate_options

    changes = {k: v for k, v in given.items() if k in _FLAG_FIELDS or k == "compare_pixels"}
    if "to" in changes:
        changes["to"] = normalise_target(changes["to"])
    if from_preset and set(changes) - {"threads"}:
        changes["preset"] = f"{base.preset} (changed)"  # the job list shows it is not the preset as saved
    opts = replace(base, **changes)
    try:
        validate_options(opts)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}" if where else str(exc)) from None
    return opts


@dataclass
class Rendition:
    """One output of the command: its folder, options and conflict policy."""

    dest_dir: str
    options: ConvertOptions
    on_conflict: str | None
    where: str  # how the command line named it, for messages


def _about(where: str, text: str) -> str:
    """`text` said of the output `where` ("" where there is only one output: nothing to tell apart)."""
    return f"{where}: {text}" if where else text


def renditions_from_args(args: argparse.Namespace, dest: str) -> list[Rendition]:
    """The outputs asked for: DEST's options, then one (or a preset's several) per --output DIR.

    UsageError for an output without a format, an option given twice for one output (a
    forgotten --output), or a preset of several outputs changed with --to.
    """
    from vfxcopy.core.presets import get_outputs

    out: list[Rendition] = []
    several = len(_sections(args)) > 1
    for section in _sections(args):
        # Which output a message is about, only where there are several ("DEST (before any --output)"
        # began every error of a plain `convert SRC DEST --to jpg`).
        where = section.where() if several else ""
        if section.repeated:
            raise UsageError(f"{', '.join(dict.fromkeys(section.repeated))} given twice for {section.where()}; each "
                             "--output DIR starts one more rendition, and the options after it apply to that one")
        folder = os.path.abspath(section.dest if section.dest is not None else dest)
        given = section.given
        preset = given.get("preset")
        conflict = given.get("on_conflict")
        if preset:
            try:
                outputs = get_outputs(preset)
            except KeyError as exc:
                raise UsageError(_about(where, exc.args[0])) from None
            if len(outputs) > 1 and "to" in given:
                raise UsageError(_about(where, f"--{section.flags['to'].lstrip('-')} cannot change preset {preset!r}, which "
                                      f"has {len(outputs)} outputs; add another --output DIR --to FORMAT instead"))
            for o in outputs:
                opts = _with_flags(o.options, given, from_preset=True, where=where)
                out.append(Rendition(o.dest_dir(folder), opts, conflict, where))
        elif "to" in given:
            out.append(Rendition(folder, _with_flags(ConvertOptions(), given, from_preset=False, where=where),
                                 conflict, where))
        elif section.dest is None and len(_sections(args)) > 1 and not given:
            raise UsageError("give DEST's format (--to or --preset) before the first --output; "
                             "the options after --output DIR apply to that output only")
        else:
            flags = ", ".join(section.flags.values())
            raise UsageError(_about(where, "give a target format with --to (exr, dpx, tif, png, jpg, mp4, mov) or a "
                                  "--preset" + (f" (it has only {flags})" if flags else "")))
    for r in out:
        if os.path.exists(r.dest_dir) and not os.path.isdir(r.dest_dir):
            raise UsageError(_about(r.where, f"{r.dest_dir} exists and is not a folder"))
    return out


def _plan(args: argparse.Namespace, notes: list[str]) -> tuple[list[JobSpec], list[Rendition]]:
    renditions = renditions_from_args(args, args.paths[-1] if args.paths else ".")
    if len(args.paths) < 2:
        raise UsageError("give at least one source and a destination folder")
    *sources, _dest = args.paths
    if len(renditions) > 1 and (getattr(args, "job_id", None) or getattr(args, "results_dir", None)):
        raise UsageError("a farm task writes one rendition; submit one farm job per output instead of --output")
    seqs = resolve_sources(sources)
    default_conflict = settings_for("convert").text("copy.on_conflict")
    specs: list[JobSpec] = []
    per_rendition: list[list[JobSpec]] = []
    for n, rendition in enumerate(renditions):
        copy = CopyOptions(on_conflict=ConflictPolicy(rendition.on_conflict or default_conflict))
        built = build_specs(seqs, rendition.dest_dir, args, operation=Operation.CONVERT, origin="cli", copy=copy,
                            notes=notes if n == 0 else None)
        for spec in built:
            spec.convert = replace(rendition.options)
        per_rendition.append(built)
    if len(renditions) > 1:
        import uuid

        # The renditions of one source share a group: one decode of each frame for all (queued together).
        for jobs in zip(*per_rendition, strict=True):
            group = uuid.uuid4().hex
            for spec in jobs:
                spec.group = group
            _refuse_same_names(list(jobs), renditions)
            specs.extend(jobs)
    else:
        specs = per_rendition[0]
    return specs, renditions


def _refuse_same_names(jobs: list[JobSpec], renditions: list[Rendition]) -> None:
    """Two renditions of one source must not write the same file names into the same folder."""
    from vfxcopy.core.naming import planned_names

    seen: dict[tuple[str, str], int] = {}
    for n, spec in enumerate(jobs):
        folder = os.path.realpath(spec.dest_dir)
        for name in planned_names(spec):
            other = seen.setdefault((folder, name), n)
            if other != n:
                raise UsageError(
                    f"{renditions[other].where} and {renditions[n].where} would both write {name} into "
                    f"{spec.dest_dir}; give them different folders (--output DIR) or formats")


def _list_presets(args: argparse.Namespace) -> int:
    from vfxcopy.core.presets import is_builtin, list_output_presets

    presets = list_output_presets()
    if args.json:
        listed: dict[str, Any] = {}
        for name, outputs in presets.items():
            if len(outputs) == 1 and not outputs[0].folder:
                listed[name] = {**asdict(outputs[0].options), "builtin": is_builtin(name)}
            else:
                listed[name] = {"outputs": [{"folder": o.folder, "options": asdict(o.options)} for o in outputs],
                                "builtin": is_builtin(name)}
        print_json({"command": "convert", "presets": listed})
        return EXIT_OK
    width = max(len(n) for n in presets)
    for name, outputs in presets.items():
        kind = "" if is_builtin(name) else "  (user)"
        if len(outputs) == 1 and not outputs[0].folder:
            print(f"{name:<{width}}  {describe_options(outputs[0].options)}{kind}")
            continue
        print(f"{name:<{width}}  {len(outputs)} outputs, each frame decoded once:{kind}")
        for o in outputs:
            print(f"{'':<{width}}    {(o.folder or '.') + '/':<10} {describe_options(o.options)}")
    aliases = {alias: name for alias, name in PRESET_ALIASES.items() if name in presets}
    for alias, name in aliases.items():
        print(f"{alias:<{width}}  short for {name!r}")
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
        specs, renditions = _plan(args, notes)
        for spec in specs:
            check_job(spec)
    except (UsageError, SafetyError) as exc:
        return refuse("convert", exc, args)
    if args.save_preset:
        try:
            _save_preset(args.save_preset, renditions)
        except (ValueError, OSError) as exc:
            error("convert", f"--save-preset: {exc}")
            return EXIT_USAGE
        print(f"vfxcopy convert: saved preset {args.save_preset!r}", file=sys.stderr)
    several = len(renditions) > 1

    def label(spec: JobSpec) -> str:
        to = spec.convert.to if spec.convert is not None else "?"
        return f"{spec.display_name()} -> {to} in {spec.dest_dir}" if several else f"{spec.display_name()} -> {to}"

    extra: dict[str, Any] = {"options": asdict(renditions[0].options)}
    if several:
        extra["outputs"] = [{"dest_dir": r.dest_dir, "options": asdict(r.options)} for r in renditions]
    return run_queue("convert", specs, args, guard, notes=notes, label=label, json_extra=extra)


def _save_preset(name: str, renditions: list[Rendition]) -> None:
    """The outputs as a user preset, their folders relative to the folder they share (reusable for the next plate)."""
    from vfxcopy.core.presets import PresetOutput, save_user_outputs

    base = os.path.commonpath([r.dest_dir for r in renditions])
    outputs = []
    for r in renditions:
        rel = os.path.relpath(r.dest_dir, base)
        # Folders that share nothing but the root are kept as they are.
        folder = "" if rel == "." else rel if os.path.dirname(base) != base else r.dest_dir
        outputs.append(PresetOutput(replace(r.options, preset=None), folder))
    save_user_outputs(name, outputs)
