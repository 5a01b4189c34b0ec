"""`vfxcopy ls PATH...`: list the sequences in folders, frames and patterns."""

from __future__ import annotations

import argparse
from typing import Any

from vfxcopy.cli.common import EXIT_OK, EXIT_USAGE, UsageError, error, human_size, print_json, resolve_sources
from vfxcopy.core.sequence import Sequence

MAX_MISSING_CHARS = 120  # a long gap list is cut; --json always has it whole


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ls",
        help="list sequences (range, count, missing frames, size)",
        description=(
            "List the frame sequences and single files in folders, frames (one frame stands "
            "for its whole sequence) and patterns (shot.####.exr, shot.%%04d.exr, shot.$F4.exr)."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="folder, frame or sequence pattern")
    parser.add_argument("-r", "--recursive", action="store_true", help="also list sub-folders")
    parser.add_argument("--json", action="store_true", help="print a JSON list of objects instead")
    parser.set_defaults(func=run)


def sequence_to_json(seq: Sequence) -> dict[str, Any]:
    """One `ls --json` entry."""
    return {
        "directory": seq.directory,
        "name": seq.name(),
        "single": seq.is_single,
        "head": seq.head,
        "tail": seq.tail,
        "padding": seq.padding,
        "frames": len(seq.frames),
        "start": seq.start,
        "end": seq.end,
        "range": seq.range_str(),
        "frame_set": seq.frame_set_str(),
        "missing": seq.missing_str(),
        "missing_count": seq.missing_count(),
        "size": seq.total_size,
        "nuke": seq.pattern("nuke"),
        "houdini": seq.pattern("houdini"),
        "printf": seq.pattern("printf"),
    }


def format_rows(seqs: list[Sequence]) -> list[str]:
    """Aligned text lines for the sequences of one folder."""
    rows: list[tuple[str, str, str, str, str]] = []
    for seq in seqs:
        size = human_size(seq.total_size)
        if seq.is_single:
            rows.append((seq.name(), "", "", size, ""))
            continue
        count = f"{len(seq.frames)} frame{'s' if len(seq.frames) != 1 else ''}"
        missing = seq.missing_str()
        if len(missing) > MAX_MISSING_CHARS:
            missing = missing[:MAX_MISSING_CHARS].rsplit(",", 1)[0] + ",..."
        gap = f"missing {missing} ({seq.missing_count()})" if missing else ""
        rows.append((seq.nuke_name(), seq.range_str(), count, size, gap))
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(4)]
    lines = []
    for name, rng, count, size, gap in rows:
        text = f"  {name:<{widths[0]}}  {rng:<{widths[1]}}  {count:>{widths[2]}}  {size:>{widths[3]}}  {gap}"
        lines.append(text.rstrip())
    return lines


def run(args: argparse.Namespace) -> int:
    try:
        seqs = resolve_sources(args.paths, stat=True, recursive=args.recursive)
    except UsageError as exc:
        error("ls", str(exc))
        return EXIT_USAGE
    if args.json:
        print_json([sequence_to_json(s) for s in seqs])
        return EXIT_OK
    by_dir: dict[str, list[Sequence]] = {}
    for seq in seqs:
        by_dir.setdefault(seq.directory, []).append(seq)
    for i, (directory, items) in enumerate(by_dir.items()):
        if i:
            print()
        print(f"{directory}:")
        for line in format_rows(items):
            print(line)
    return EXIT_OK
