"""`vfxcopy ls|copy|convert|verify|watch|jobs|demo|gui`: one sub-command per module."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from vfxcopy import __version__

# Each module defines `register(subparsers)` that adds its parser with
# `set_defaults(func=run)`, where `run(args) -> int` returns the exit code.
COMMAND_MODULES: list[str] = [
    "vfxcopy.cli.ls_cmd",
    "vfxcopy.cli.copy_cmd",
    "vfxcopy.cli.convert_cmd",
    "vfxcopy.cli.watch_cmd",
    "vfxcopy.cli.gui_cmd",
    "vfxcopy.cli.verify_cmd",
    "vfxcopy.cli.jobs_cmd",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vfxcopy",
        description="Copy and convert VFX image sequences as cancellable, verified jobs.",
        epilog="Exit codes: 0 all done, 1 some frames failed, 2 usage or safety refusal, 130 cancelled.",
    )
    parser.add_argument("--version", action="version", version=f"vfxcopy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv and "vfxcopy.cli.gui_cmd" in COMMAND_MODULES:
        argv = ["gui"]
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # The reader went away (`vfxcopy ls --json | head`): no traceback, and no
        # second error when Python flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
