"""`vfxcopy copy SRC... DEST`: a folder with sub-folders becomes one tree job, other sources a job per sequence."""

from __future__ import annotations

import argparse
import os
import sys

from vfxcopy.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CancelSignals,
    PathsHelpFormatter,
    UsageError,
    add_copy_arguments,
    add_job_arguments,
    build_specs,
    copy_options_from_args,
    error,
    human_size,
    print_json,
    refuse,
    resolve_sources,
)
from vfxcopy.cli.queue_run import run_queue
from vfxcopy.core.errors import SafetyError
from vfxcopy.core.jobs import CancelToken, ConflictPolicy, CopyOptions, JobSpec, Operation, VerifyMode
from vfxcopy.core.seqfind import Listing, read_listing
from vfxcopy.core.units import plural

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.preview import JobPlan, Shortfall


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "copy",
        formatter_class=PathsHelpFormatter,
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
    tree = parser.add_argument_group(
        "folder trees",
        "A folder holding sub-folders (or given with --include/--exclude) is copied as ONE job keeping its "
        "layout: every file at every depth (frames of sequences included), empty folders, links inside "
        "the tree as links. Rules are tried in order, the first that matches decides; a pattern without "
        "'/' matches a name at any depth, with '/' the path from the tree's root; 'dir/' matches folders "
        "only; '*' stops at '/', '**' does not; an excluded folder is not entered. OS litter (.DS_Store, "
        "Thumbs.db, desktop.ini, ._*) is skipped unless a rule includes it; other hidden files are copied. "
        "Links that point out of the tree are refused unless --follow-symlinks (then their target is copied).",
    )
    tree.add_argument("--include", metavar="PATTERN", action=_Rule, dest="rules", default=[],
                      help="copy paths matching PATTERN (repeatable)")
    tree.add_argument("--exclude", metavar="PATTERN", action=_Rule, dest="rules",
                      help="leave out paths matching PATTERN (repeatable)")
    tree.add_argument("--flat", action="store_true",
                      help="as vfxcopy 0.1: copy only the folder's own sequences and files, one job each")
    parser.add_argument(
        "--also", metavar="DEST2", action="append", default=[],
        help="also copy to DEST2 (repeatable): each destination gets the same names, its own temporaries, fsync, "
        "verification, ASC MHL manifest and report, and fails or completes on its own; the copies of one source "
        "run at the same time, so its bytes come from its disk once (the others from memory)")
    parser.add_argument("--verify-source", "--check-source", action="store_true", dest="verify_source",
                        help="after copying, read every source file again and compare it with what was copied "
                        "(and with the source's ASC MHL history if it has one): a frame whose source changed "
                        "or reads back differently fails")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (items, final names, conflicts and what the policy does, bytes "
                        "per destination, --json too) and write nothing")
    parser.set_defaults(func=run)


class _Rule(argparse.Action):
    """--include/--exclude into one ordered list: the first rule that matches decides."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        rules = list(getattr(namespace, self.dest, None) or [])
        rules.append((option_string == "--include", str(values)))
        setattr(namespace, self.dest, rules)


def _is_tree_folder(folder: str, listings: dict[str, Listing]) -> bool:
    """core.tree.is_tree_folder, without importing core.tree for a folder that holds no folder at all.

    A folder of frames (most sources) has no sub-folder: that is told here, from the one
    listing, and core.tree (three dataclasses, about 2.5 ms of every start) stays unloaded.
    The listing is kept in `listings` for the scan of the source (read once: 20,000 frames,
    15 ms a listing here, and on network storage several round trips each).
    """
    try:
        entries, subfolders, own_folder = read_listing(folder)
    except OSError:
        return False
    listings[os.path.abspath(folder)] = (entries, subfolders)
    if not own_folder:
        return False
    from vfxcopy.core.tree import is_tree_folder

    return is_tree_folder(folder)


def _plan(args: argparse.Namespace, notes: list[str]) -> list[JobSpec]:
    if len(args.paths) < 2:
        raise UsageError("give at least one source and a destination folder")
    *sources, dest = args.paths
    dest_dir = os.path.abspath(dest)
    if os.path.exists(dest_dir) and not os.path.isdir(dest_dir):
        raise UsageError(f"destination {dest} exists and is not a folder")
    options = copy_options_from_args(args)
    options.verify_source = bool(getattr(args, "verify_source", False))
    if options.verify_source and options.verify is VerifyMode.NONE:
        raise UsageError("--verify-source compares with the hash taken while copying: use it with --verify transfer or full")
    rules = getattr(args, "rules", None) or []
    flat = getattr(args, "flat", False)
    if flat and rules:
        raise UsageError("--include/--exclude select inside a folder tree; they cannot be used with --flat")
    # Each folder is read once here (20,000 frames: a listing is 15 ms), and not again by the scan.
    listings: dict[str, Listing] = {}
    nested = {s: os.path.isdir(s) and _is_tree_folder(s, listings) for s in dict.fromkeys(sources)}
    trees = [s for s in sources if not flat and os.path.isdir(s) and (rules or nested[s])]
    others = [s for s in sources if s not in trees]
    specs: list[JobSpec] = []
    if trees:
        specs.extend(_tree_specs(trees, dest_dir, args, options, notes))
    if others:
        seqs = resolve_sources(others, listings=listings)
        for source in others:
            if nested[source]:
                notes.append(f"{source}: sub-folders are not copied (--flat)")
        specs.extend(build_specs(seqs, dest_dir, args, operation=Operation.COPY, origin="cli", copy=options,
                                 notes=notes))
    return _fan_out(specs, dest_dir, getattr(args, "also", None) or [])


def _fan_out(specs: list[JobSpec], dest_dir: str, also: list[str]) -> list[JobSpec]:
    """Each job once more per --also destination, in the order that runs one source's copies together."""
    from dataclasses import replace

    from vfxcopy.core.jobs import new_job_id
    from vfxcopy.core.safety import same_folder

    extra: list[str] = []
    for raw in also:
        path = os.path.abspath(raw)
        if os.path.exists(path) and not os.path.isdir(path):
            raise UsageError(f"--also {raw}: exists and is not a folder")
        if any(same_folder(path, d) for d in [dest_dir, *extra]):
            raise UsageError(f"--also {raw}: the same folder as another destination")
        extra.append(path)
    out: list[JobSpec] = []
    for spec in specs:
        if extra:
            spec.group = os.urandom(16).hex()  # one read of each frame for every destination (writers/fanout.py)
        out.append(spec)
        for path in extra:
            out.append(replace(spec, dest_dir=path, job_id=new_job_id(), copy=replace(spec.copy),
                               conflict_choices=dict(spec.conflict_choices) if spec.conflict_choices else None))
    return out


def _tree_specs(roots: list[str], dest_dir: str, args: argparse.Namespace, options: CopyOptions,
                notes: list[str]) -> list[JobSpec]:
    """One job per folder tree; refused (UsageError) before any byte moves when it cannot be copied as asked."""
    from dataclasses import replace

    from vfxcopy.core.tree import TreeError, make_rules, scan_tree, special_note, tree_job

    if args.frames or args.rename_head or args.offset:
        raise UsageError("--frames, --rename-head and --offset apply to sequences: name the sequence "
                         "(e.g. DIR/plate.####.exr), or use --flat for the folder's own sequences")
    if getattr(args, "preflight", None) is not None:
        raise UsageError("--preflight checks sequences and is not available for a folder tree yet: run "
                         "'vfxcopy check' on it first, or use --flat")
    if options.on_conflict is ConflictPolicy.RENAME:
        raise UsageError("--on-conflict rename is not available for a folder tree; choose skip, "
                         "skip-identical, overwrite or fail")
    try:
        rules = make_rules(args.rules or [])
    except TreeError as exc:
        raise UsageError(str(exc)) from None
    specs = []
    for root in roots:
        try:
            tree = scan_tree(root, rules, follow_links_out=options.follow_symlinks)
        except TreeError as exc:
            raise UsageError(str(exc)) from None
        if tree.unreadable:
            raise UsageError("; ".join(tree.unreadable[:5]) + (" ..." if len(tree.unreadable) > 5 else ""))
        if tree.links_out:
            shown = ", ".join(f"{os.path.join(tree.root, rel)} -> {target}" for rel, target in tree.links_out[:5])
            raise SafetyError(f"links point out of the tree: {shown}"
                              f"{' ...' if len(tree.links_out) > 5 else ''}; exclude them (--exclude), or copy "
                              "what they point to with --follow-symlinks")
        said = special_note(tree)
        if said:
            notes.append(said)
        if not tree.entries:
            notes.append(f"{root}: nothing to copy (empty, or every path excluded)")
            continue
        specs.append(tree_job(tree.root, dest_dir, tree, copy=replace(options), origin="cli"))
    if not specs:
        raise UsageError("nothing to do: no file or folder matches")
    return specs


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
    from vfxcopy.core.preview import plan_job, shortfalls

    plans = [plan_job(spec) for spec in specs]
    short = shortfalls(plans)
    if getattr(args, "dry_run", False):
        return _print_plan(plans, short, notes, args)
    if short:
        for shortfall in short:
            error("copy", f"refused: {shortfall.message()}")
        if args.json:
            print_json({"command": "copy", "exit_code": EXIT_USAGE, "error": short[0].message(), "jobs": [],
                        "shortfalls": [vars(s) | {"missing": s.missing} for s in short]})
        return EXIT_USAGE
    label = None
    if getattr(args, "also", None):
        def label(spec: JobSpec) -> str:  # the destinations of one source run together: say which is which
            return f"{spec.display_name()} -> {os.path.basename(spec.dest_dir.rstrip(os.sep)) or spec.dest_dir}"
    return run_queue("copy", specs, args, guard, notes=notes, concurrency=1, label=label)


def _print_plan(plans: list[JobPlan], short: list[Shortfall], notes: list[str], args: argparse.Namespace) -> int:
    """--dry-run: what the run would do, item by item, and bytes per destination; nothing is written."""
    from vfxcopy.core.preview import by_destination
    from vfxcopy.core.textsafe import printable

    code = EXIT_USAGE if short else EXIT_OK
    dests = [{"dest_dir": d, "bytes_to_write": need, "free": free,
              "shortfall": max(0, need - free) if free is not None else None} for d, need, free in by_destination(plans)]
    if args.json:
        print_json({"command": "copy", "dry_run": True, "exit_code": code, "jobs": [p.to_dict() for p in plans],
                    "destinations": dests, "notes": notes})
        return code
    out = sys.stdout
    for note in notes:
        print(printable(f"note: {note}"), file=out)
    for plan in plans:
        spec = plan.spec
        print(printable(f"job {spec.display_name()} -> {spec.dest_dir}: {plural(len(plan.items), 'item')}, "
                        f"{plural(len(plan.conflicts), 'conflict')}, {human_size(plan.bytes_to_write)} to write"), file=out)
        for label, count, size in plan.contents():
            print(printable(f"  contains   {label}  ({plural(count, 'item')}, "
                            f"{human_size(size)})"), file=out)
        for folder in plan.folders:
            print(printable(f"  mkdir      {folder}/"), file=out)
        for item in plan.items:
            rel = os.path.relpath(item.dest, spec.dest_dir)
            line = f"  {item.action:<10} {rel}  ({human_size(item.size)})"
            print(printable(line + (f"  {item.note}" if item.note else "")), file=out)
        for note in plan.notes:
            print(printable(f"  note: {note}"), file=out)
    for d in dests:
        free = d["free"]
        print(printable(f"destination {d['dest_dir']}: {d['bytes_to_write']} bytes to write, "
                        f"{'?' if free is None else free} bytes free"
                        + (f", SHORT BY {d['shortfall']} bytes" if d["shortfall"] else "")), file=out)
    print("dry run: nothing was written", file=out)
    return code
