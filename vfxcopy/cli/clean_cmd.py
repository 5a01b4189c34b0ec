"""`vfxcopy clean DEST`: remove vfxcopy's own leftovers of killed runs (temporaries, manifest temps)."""

from __future__ import annotations

import argparse
import os
import stat
import sys

from vfxcopy.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error, print_json

# On a local file system a live run holds its temp folder locked: no age is needed.
MIN_AGE_S = 0.0
# On shared storage (NFS, SMB, sshfs) another machine's lock is not seen here: a live run
# touches its temp folder at every frame, so only folders untouched this long are removed.
SHARED_MIN_AGE_S = 600.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "clean",
        help="remove vfxcopy's leftovers of killed runs from a destination",
        description=(
            "Remove what a killed or crashed vfxcopy left in DEST: its private temporary folders "
            "(.vfxcopy-<job>-….part), temporary files of older versions, and ASC MHL manifest temporaries. "
            "Nothing else is touched: never a finished file, never a temporary folder that a running vfxcopy "
            "holds (they are locked), never through a link. Normally not needed: the next run into a folder, "
            "and `vfxcopy jobs` recovery, do this by themselves; with --no-journal a killed copy's temporaries "
            "wait for the next run or for this command."
        ),
        epilog="Exit codes: 0 done (also when there was nothing to remove), 1 something could not be removed, "
        "2 DEST is not a folder.",
    )
    parser.add_argument("dest", metavar="DEST", nargs="+", help="destination folder(s)")
    parser.add_argument("-r", "--recursive", action="store_true", help="also every sub-folder (links not followed)")
    parser.add_argument("-n", "--dry-run", action="store_true", help="list what would be removed; remove nothing")
    parser.add_argument("--force", action="store_true",
                        help="on shared storage (NFS, SMB, sshfs) also remove temporary folders touched in the "
                        "last 10 minutes: only when no vfxcopy on any machine writes there")
    parser.add_argument("--json", action="store_true", help="print a machine-readable result on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(func=run)


def _folders(top: str, recursive: bool) -> list[str]:
    if not recursive:
        return [top]
    out = [top]
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".vfxcopy-") or entry.name == "ascmhl":
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    out.append(entry.path)
                    stack.append(entry.path)
            except OSError:
                continue
    return out


def _shown(path: str) -> str:
    from vfxcopy.core.verify import printable

    return printable(path)


def run(args: argparse.Namespace) -> int:
    from vfxcopy.core.pipeline.destfolder import locks_are_trustworthy, sweep
    from vfxcopy.core.verify import sweep_leftovers

    removed: list[str] = []
    problems: list[str] = []
    for dest in args.dest:
        try:
            st = os.stat(dest)
        except OSError as exc:
            error("clean", f"{_shown(dest)}: {exc.strerror}")
            return EXIT_USAGE
        if not stat.S_ISDIR(st.st_mode):
            error("clean", f"{_shown(dest)}: not a folder")
            return EXIT_USAGE
        for folder in _folders(dest, args.recursive):
            age = MIN_AGE_S if args.force or locks_are_trustworthy(folder) else SHARED_MIN_AGE_S
            removed += sweep(folder, min_age=age, dry_run=args.dry_run)
            if not args.dry_run and os.path.isdir(os.path.join(folder, "ascmhl")):
                try:
                    removed += [str(p) for p in sweep_leftovers(folder)]
                except Exception as exc:  # noqa: BLE001 - a damaged ascmhl/ is reported, the rest goes on
                    problems.append(f"{folder}/ascmhl: {exc}")
    verb = "would remove" if args.dry_run else "removed"
    if not args.quiet and not args.json:
        for path in removed:
            print(f"{verb} {_shown(path)}", file=sys.stderr)
        print(f"vfxcopy clean: {verb} {len(removed)} leftover{'s' if len(removed) != 1 else ''}", file=sys.stderr)
    for problem in problems:
        error("clean", _shown(problem))
    code = EXIT_FAILED if problems else EXIT_OK
    if args.json:
        print_json({"command": "clean", "exit_code": code, "dry_run": args.dry_run,
                    "removed": removed, "problems": problems})
    return code
