"""`vfxcopy ls|check|copy|convert|verify|watch|jobs|demo|gui`: one sub-command per module, imported on demand."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Sequence

# First, before argparse's help formatter imports shutil: stand-ins for inspect, bz2, lzma (vfxcopy/deferred.py).
import vfxcopy.deferred
from vfxcopy import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (2 ms); type checkers take it as True
if TYPE_CHECKING:
    import argparse
    from typing import Any

# The sub-command registry: (command name, module, one-line help for `vfxcopy --help`).
# The parser is built from this list without importing the modules; only the module
# of the command being run is imported (start-up: `vfxcopy --version` used to take
# 9x a bare Python start because every command's engine, OpenImageIO, watchdog and
# Qt were imported first). To add a command: add a line here, add its module to
# COMMAND_MODULES below (packaging reads that list from this file's source), and in
# the module define `register(sub)`, which adds the parser named as here with
# `set_defaults(func=run)`, where `run(args) -> int` returns the exit code. Keep the
# module's top-level imports light: import heavy libraries inside the functions that
# need them (tests/cli/test_imports.py checks the headless commands).
COMMANDS: list[tuple[str, str, str]] = [
    ("ls", "vfxcopy.cli.ls_cmd", "list sequences (range, count, missing frames, size)"),
    ("check", "vfxcopy.cli.check_cmd", "pre-flight: find missing, broken, odd and duplicate frames before a copy"),
    ("copy", "vfxcopy.cli.copy_cmd", "copy sequences (verified, atomic, cancellable)"),
    ("convert", "vfxcopy.cli.convert_cmd", "convert sequences to EXR, DPX, TIFF, PNG, JPEG or a review movie"),
    ("watch", "vfxcopy.cli.watch_cmd",
     "watch a folder and copy or convert each sequence once it has finished landing"),
    ("gui", "vfxcopy.cli.gui_cmd", "open the window (the default with no command)"),
    ("demo", "vfxcopy.cli.gui_cmd", "open the window with sample jobs running"),
    ("verify", "vfxcopy.cli.verify_cmd", "re-hash a destination against its ASC MHL manifest"),
    ("jobs", "vfxcopy.cli.jobs_cmd", "list jobs from the journal, resume an interrupted one, clear history"),
    ("clean", "vfxcopy.cli.clean_cmd", "remove vfxcopy's leftovers of killed runs from a destination"),
    ("farm", "vfxcopy.cli.farm_cmd",
     "run a copy or conversion as frame-chunk tasks on a render farm (OpenJD, Deadline, SLURM)"),
    ("config", "vfxcopy.cli.config_cmd", "show or change the settings the window and the command line share"),
    ("completion", "vfxcopy.cli.completion_cmd", "print a bash or zsh completion script"),
    ("report", "vfxcopy.cli.report_cmd", "a day report: every job of a date range from the journal"),
]

# Every module of COMMANDS once, as a literal list: packaging/platform_files.py reads
# it from the source (PyInstaller cannot see importlib imports). A module listed here
# but missing from COMMANDS still works, imported at every start (slow: add it above).
COMMAND_MODULES: list[str] = [
    "vfxcopy.cli.ls_cmd",
    "vfxcopy.cli.check_cmd",
    "vfxcopy.cli.copy_cmd",
    "vfxcopy.cli.convert_cmd",
    "vfxcopy.cli.watch_cmd",
    "vfxcopy.cli.gui_cmd",
    "vfxcopy.cli.verify_cmd",
    "vfxcopy.cli.jobs_cmd",
    "vfxcopy.cli.clean_cmd",
    "vfxcopy.cli.farm_cmd",
    "vfxcopy.cli.config_cmd",
    "vfxcopy.cli.completion_cmd",
    "vfxcopy.cli.report_cmd",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130

# The base install is the headless tool; these libraries come with an extra (pyproject.toml).
# A command that reaches one that is missing says which extra to install, in one line.
EXTRA_OF_MODULE: dict[str, str] = {
    "OpenImageIO": "convert", "numpy": "convert", "imageio_ffmpeg": "convert",
    "PySide6": "gui", "shiboken6": "gui",
    "apprise": "notify", "fpdf": "report",
    "openjd": "farm", "deadline": "farm",
}


def missing_extra_message(exc: ModuleNotFoundError, command: str | None) -> str | None:
    """The one line for a missing optional library, None if `exc` is about anything else."""
    module = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if extra is None:
        return None
    what = f"vfxcopy {command}" if command else "vfxcopy"
    return (f"{what}: error: this needs {module}, which is not installed: install the {extra} extra, "
            f"e.g. pip install 'vfxcopy[{extra}]' (or uv tool install 'vfxcopy[{extra}]')")


def command_module(name: str) -> str | None:
    """The module that implements sub-command `name`, None if there is no such command."""
    for command, module, _ in COMMANDS:
        if command == name:
            return module
    return None


def _unregistered_modules() -> list[str]:
    listed = {module for _, module, _ in COMMANDS}
    return [m for m in COMMAND_MODULES if m not in listed]


_PARSER_CLASS: type[argparse.ArgumentParser] | None = None
_FORMATTER_CLASS: type[argparse.HelpFormatter] | None = None


def _untranslated(message: str) -> str:
    return message


def _untranslated_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


class _GettextForArgparse(vfxcopy.deferred.DeferredModule):
    """gettext while argparse is first imported: its gettext and ngettext are the untranslated ones."""

    gettext = staticmethod(_untranslated)
    ngettext = staticmethod(_untranslated_plural)


def _argparse_untranslated() -> None:
    """Import argparse so that its own messages ("usage: ", "options", ...) are not passed through gettext.

    gettext looks for a catalog of the default "messages" domain at every call: it imports locale
    and stats up to four paths per message for the user's language (28 a start here). CPython
    ships no catalog for argparse, and our own texts are English: what a user sees does not
    change. Imported for the first time here, argparse takes its two names from a stand-in, so
    that gettext itself is not loaded (its plural-forms parser compiles a regular expression at
    import: 4 M instructions, 3% of a short copy); the stand-in leaves sys.modules at once, and
    anything else that asks it for a name meanwhile gets the real module's.
    """
    if "argparse" not in sys.modules and "gettext" not in sys.modules:
        stand_in = _GettextForArgparse("gettext")
        sys.modules["gettext"] = stand_in
        try:
            import argparse
        finally:
            if sys.modules.get("gettext") is stand_in:
                del sys.modules["gettext"]
    import argparse

    argparse._ = _untranslated  # type: ignore[attr-defined]
    argparse.ngettext = _untranslated_plural  # type: ignore[attr-defined]


def parser_class() -> type[argparse.ArgumentParser]:
    """ArgumentParser whose help formatters (argparse makes one for every argument it adds, to
    check it) are told the terminal's width, found once as argparse finds it: $COLUMNS, else the
    terminal's, else 80. Otherwise each of them asked shutil (importing it and zlib: 1 ms of
    every start, and one terminal query per argument). Sub-parsers are of the same class.
    Formatter classes of our own derive from help_formatter()."""
    global _PARSER_CLASS, _FORMATTER_CLASS
    if _PARSER_CLASS is not None:
        return _PARSER_CLASS
    _argparse_untranslated()
    import argparse
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    found = (columns or 80) - 2  # argparse's own margin

    class Formatter(argparse.HelpFormatter):
        def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                     width: int | None = None) -> None:
            super().__init__(prog, indent_increment, max_help_position, found if width is None else width)

    class Parser(argparse.ArgumentParser):
        """Options may come between the paths, as with cp and rsync (`copy SRC --frames 1-10 DEST`):
        a command's own parser reads its options wherever they are, then its positionals
        (argparse's intermixed parsing). Parsers of sub-commands parse as argparse does."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("formatter_class", Formatter)
            super().__init__(*args, **kwargs)
            self._intermixing = False

        def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
            # After `--` every word is a positional: argparse's own parsing (its intermixed one loses
            # a `-name` given after `--`, Python 3.11).
            if (self._intermixing or (args is not None and "--" in args)
                    or any(a.nargs in (argparse.PARSER, argparse.REMAINDER) for a in self._actions)):
                return super().parse_known_args(args, namespace)
            self._intermixing = True  # parse_known_intermixed_args calls this method back: argparse's own then
            usage = self.usage
            if usage is None:
                # argparse formats the whole usage before its first pass, for the messages of an
                # error during it (the positionals are hidden then): 3 M instructions of every
                # start, for a text shown only with an error. Formatted when shown instead.
                self.usage = _UsageWhenShown(self)  # type: ignore[assignment]
            try:
                return self.parse_known_intermixed_args(args, namespace)
            except TypeError:  # what it refuses before parsing (a positional in an exclusive group)
                self.usage = usage
                return super().parse_known_args(args, namespace)
            finally:
                self._intermixing = False
                self.usage = usage

    _PARSER_CLASS, _FORMATTER_CLASS = Parser, Formatter
    return Parser


class _UsageWhenShown:
    """A parser's usage as argparse's intermixed parsing captures it (the whole usage, the
    positionals included), made when a message shows it: the formatter asks for it with
    `usage % {"prog": ...}`."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser

    def __mod__(self, _values: object) -> str:
        import argparse

        parser = self.parser
        hidden = [a for a in parser._get_positional_actions()
                  if a.nargs == argparse.SUPPRESS and hasattr(a, "save_nargs")]
        shown = parser.usage
        try:
            parser.usage = None
            for action in hidden:  # the first pass hides them (nargs=SUPPRESS): the usage names them
                action.nargs = action.save_nargs
            return parser.format_usage()[len("usage: "):].rstrip("\n")
        finally:
            parser.usage = shown
            for action in hidden:
                action.nargs = argparse.SUPPRESS


def help_formatter() -> type[argparse.HelpFormatter]:
    """The help formatter of parser_class(), to derive formatters from."""
    parser_class()
    assert _FORMATTER_CLASS is not None
    return _FORMATTER_CLASS


def build_parser(commands: Iterable[str] | None = None, placeholders: bool = True) -> argparse.ArgumentParser:
    """The `vfxcopy` parser with the full parsers of `commands` (None: all of them).

    Only the modules of `commands` are imported; every other command gets a
    placeholder that carries its name and help, which is all `vfxcopy --help`
    and an "invalid choice" error show. Without `placeholders` (a command that
    exists is being run: neither is shown) they are left out: a dozen parsers
    took 3 ms of every start.
    """
    # argparse is imported here, not for `vfxcopy --version` (argparse, re and enum: 8 ms, 70% of a bare start)
    parser = parser_class()(
        prog="vfxcopy",
        description="Copy and convert VFX image sequences as cancellable, verified jobs.",
        epilog=("Exit codes: 0 all done, 1 some frames failed, 2 usage or safety refusal, 130 interrupted (SIGINT), "
                "143 terminated (SIGTERM)."),
    )
    parser.add_argument("--version", action="version", version=f"vfxcopy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class())
    wanted = [name for name, _, _ in COMMANDS] if commands is None else list(commands)
    modules = [m for m in (command_module(name) for name in wanted) if m is not None]
    for module in dict.fromkeys([*modules, *_unregistered_modules()]):
        importlib.import_module(module).register(sub)
    # One module may register several commands (gui_cmd: gui and demo); argparse
    # refuses a name twice, so placeholders go only where no real parser is.
    for name, _, help_text in COMMANDS if placeholders else []:
        if name not in sub.choices:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def command_in(argv: Sequence[str]) -> str | None:
    """The sub-command an argument list runs: its first word that is not an option.

    The top-level parser has no option that takes a value (only -h and --version),
    so the first such word is the command, as argparse itself reads it.
    """
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


# Commands that run one batch of work and exit (not the window, a watch, a conversion or a farm
# task, which run long or hold big buffers): run as the program, the cyclic garbage collector
# leaves alone what was imported and runs ten times less often. It traversed every object the
# run had made again and again: 4% of a verified copy of 20,000 frames (0.2 s), then once more
# at the interpreter's exit (25 ms after a copy of 10 frames, as long as starting Python).
BATCH_COMMANDS = ("ls", "check", "copy", "verify", "jobs", "clean", "report", "config", "completion")


def main(argv: Sequence[str] | None = None) -> int:
    program = argv is None  # the console script or python -m vfxcopy, not a test or a script
    code = _main(argv, program)
    if program and command_in(sys.argv[1:]) in BATCH_COMMANDS:
        import gc

        if "OpenImageIO" in sys.modules:
            # Its binding (nanobind) counts what is still alive when the interpreter ends as leaked and
            # prints each instance on stderr: 43 lines after every copy of EXR frames, whose report has
            # thumbnails. Frozen objects outlive the interpreter's last collection: none are, then.
            gc.unfreeze()
        else:
            gc.freeze()  # the interpreter exits next: files and the journal are closed, stdio is flushed at exit
    return code


def _main(argv: Sequence[str] | None, program: bool = False) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # what the parser's version action prints, without building the parser
        print(f"vfxcopy {__version__}")
        return EXIT_OK
    if not argv and command_module("gui") is not None:
        argv = ["gui"]
    command = command_in(argv)
    batch = program and command in BATCH_COMMANDS
    if batch:
        import gc

        # Python's default is 700 allocations between collections: importing the command's
        # modules alone set off dozens (3% of a short copy's instructions).
        gc.set_threshold(10_000, 10, 10)
    known = command is not None and command_module(command) is not None
    parser = build_parser([command] if known and command is not None else [], placeholders=not known)
    args = parser.parse_args(argv)
    if batch:
        gc.freeze()  # the modules imported so far
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc, command)
        if message is None:
            raise
        print(message, file=sys.stderr, flush=True)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`vfxcopy ls --json | head`): no traceback, and no
        # second error when Python flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
