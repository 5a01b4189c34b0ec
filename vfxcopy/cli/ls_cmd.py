"""`vfxcopy ls PATH...`: list the sequences in folders, frames and patterns."""

from __future__ import annotations

import argparse
import sys

from vfxcopy.cli import EXIT_OK, EXIT_USAGE
from vfxcopy.cli.output import human_size
from vfxcopy.core.seqfind import SourceError, resolve
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.textsafe import printable  # names are shown, never sent to the terminal as they are
from vfxcopy.core.units import plural

TYPE_CHECKING = False  # typing's constant without importing typing
if TYPE_CHECKING:
    from typing import Any

# Start-up is most of a small `ls`: this module imports only the sequence scanner
# and the size formatter, not the job engine, journal or queue (an import-linter
# contract in pyproject.toml keeps it so).

MAX_MISSING_CHARS = 120  # a long gap list is cut; --json always has it whole


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ls",
        help="list sequences (range, count, missing frames, size)",
        description=(
            "List the frame sequences and single files in folders, frames (one frame stands "
            "for its whole sequence) and patterns (shot.####.exr, shot.%04d.exr, shot.$F4.exr)."
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
    """Aligned text lines for the sequences of one folder (names escaped: a name may hold a newline,
    bytes that are not UTF-8 or a terminal's escape sequences)."""
    rows: list[tuple[str, str, str, str, str]] = []
    for seq in seqs:
        size = human_size(seq.total_size)
        if seq.is_single:
            rows.append((printable(seq.name()), "", "", size, ""))
            continue
        count = plural(len(seq.frames), "frame")
        missing = seq.missing_str()
        if len(missing) > MAX_MISSING_CHARS:
            missing = missing[:MAX_MISSING_CHARS].rsplit(",", 1)[0] + ",..."
        gap = f"missing {missing} ({seq.missing_count()})" if missing else ""
        rows.append((printable(seq.nuke_name()), seq.range_str(), count, size, gap))
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(4)]
    lines = []
    for name, rng, count, size, gap in rows:
        text = f"  {name:<{widths[0]}}  {rng:<{widths[1]}}  {count:>{widths[2]}}  {size:>{widths[3]}}  {gap}"
        lines.append(text.rstrip())
    return lines


def write_out(text: str) -> None:
    """Write `text` to stdout at once, all of it or BrokenPipeError.

    json.dump() to a stream writes every token separately (175,000 writes for
    100,000 files, each a system call when Python runs unbuffered), so the
    listing is built in memory first. Under `python -u` the text layer sits on a
    raw file that may take only part of a big write (a pipe whose reader went
    away) and the text layer drops the rest silently: write the bytes in a loop.
    """
    out = sys.stdout
    buffer = getattr(out, "buffer", None)
    if buffer is None:  # e.g. a StringIO in place of stdout
        out.write(text)
        out.flush()
        return
    out.flush()
    view = memoryview(text.encode(out.encoding or "utf-8", out.errors or "strict"))
    while view:
        written = buffer.write(view)
        view = view[written if written is not None else 0:]
    buffer.flush()


def write_json(seqs: list[Sequence]) -> None:
    """The `--json` listing: one JSON array, two-space indented."""
    import json  # only for --json

    write_out(json.dumps([sequence_to_json(s) for s in seqs], indent=2) + "\n")


def run(args: argparse.Namespace) -> int:
    try:
        seqs = resolve(args.paths, stat=True, recursive=args.recursive)
    except SourceError as exc:
        print(printable(f"vfxcopy ls: error: {exc}"), file=sys.stderr, flush=True)
        return EXIT_USAGE
    if args.json:
        write_json(seqs)
        return EXIT_OK
    by_dir: dict[str, list[Sequence]] = {}
    for seq in seqs:
        by_dir.setdefault(seq.directory, []).append(seq)
    lines: list[str] = []
    for i, (directory, items) in enumerate(by_dir.items()):
        if i:
            lines.append("")
        lines.append(f"{printable(directory)}:")
        lines.extend(format_rows(items))
    write_out("\n".join(lines) + "\n")
    return EXIT_OK
