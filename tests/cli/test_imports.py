"""Start-up: each sub-command imports only what it uses, checked on real runs in fresh interpreters."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from vfxcopy.cli import COMMAND_MODULES, COMMANDS, build_parser
from vfxcopy.core.samples import make_byte_sequence

# The libraries that make a start slow (OpenImageIO ~30 ms, Qt ~100 ms) or need
# what a farm node may lack (display libraries).
HEAVY = ("PySide6", "shiboken6", "OpenImageIO", "watchdog", "numpy", "ascmhl")




def heavy_in(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules} & set(HEAVY)


def command_modules_in(modules: set[str]) -> set[str]:
    return {m for m in modules if m in COMMAND_MODULES}


@pytest.fixture
def frames(tmp_path: Path) -> Path:
    make_byte_sequence(tmp_path / "src", count=3, size=4096)
    return tmp_path / "src"


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["copy", "--help"]], ids=["version", "help", "copy-help"])
def test_version_and_help_import_no_other_command(tmp_path: Path, cli_imports: Any, argv: list[str]) -> None:
    code, modules = cli_imports(*argv)
    assert code == 0
    own = {"vfxcopy.cli.copy_cmd"} if argv[0] == "copy" else set()
    assert command_modules_in(modules) == own
    assert not heavy_in(modules)
    if argv[0] != "copy":
        assert not any(m.startswith("vfxcopy.core") for m in modules)


def test_version_prints_what_the_parser_prints_without_building_it(tmp_path: Path, cli_imports: Any) -> None:
    """`vfxcopy --version` answers before argparse is imported (argparse, re and enum: 70% of a bare
    start), with the very line the parser's --version action prints (`vfxcopy --version -q` and
    any other spelling still go through the parser)."""
    import subprocess

    code, modules = cli_imports("--version")
    assert code == 0 and "argparse" not in modules  # (re and typing: an editable install's finder loads them)
    fast = subprocess.run([sys.executable, "-m", "vfxcopy", "--version"], capture_output=True, text=True, timeout=60)
    parser = subprocess.run([sys.executable, "-m", "vfxcopy", "--version", "--version"], capture_output=True,
                            text=True, timeout=60)
    assert fast.returncode == parser.returncode == 0
    assert fast.stdout == parser.stdout and fast.stdout.startswith("vfxcopy ") and fast.stderr == ""


def modules_without_site(where: Path, *argv: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules `vfxcopy ARGV...` imports, run without site (-S): an editable install's finder
    imports pathlib, re and typing into every start, a wheel install does not. The third-party
    packages stay importable (their folders on PYTHONPATH), with no .pth file run."""
    import json
    import site
    import subprocess

    root = Path(__file__).resolve().parents[2]
    probe = ("import sys; from vfxcopy.cli import main; code = main(sys.argv[2:]); names = sorted(sys.modules); "
             "import json; open(sys.argv[1], 'w').write(json.dumps([code, names]))")
    report = where / "modules.json"
    path = os.pathsep.join([str(root), *site.getsitepackages()])
    done = subprocess.run([sys.executable, "-S", "-c", probe, str(report), *argv], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {}), "PYTHONPATH": path})
    assert done.returncode == 0, done.stderr
    code, names = json.loads(report.read_text())
    assert code == 0, (argv, done.stderr)
    return set(names)


def test_ls_and_version_import_no_more_of_the_standard_library_than_they_use(frames: Path) -> None:
    """`ls` lists without pathlib, typing or json (json only with --json) and builds its parser
    without shutil (argparse's help formatter asks it the terminal's width) or locale (gettext
    imported it to look for a catalog of argparse's messages), and makes its sequences without
    dataclasses, `--version` without argparse. Each was a few ms of a 12 ms bare start."""
    where = frames.parent
    assert not {"pathlib", "typing", "json", "shutil", "locale", "dataclasses"} & modules_without_site(
        where, "ls", str(frames))
    assert "json" in modules_without_site(where, "ls", "--json", str(frames))
    assert "argparse" not in modules_without_site(where, "--version")


def test_a_copy_runs_without_pathlib(tmp_path: Path, frames: Path) -> None:
    """pathlib (with urllib.parse and ipaddress, which it imports) was 16 M instructions of every
    copy's start: what a copy runs uses plain string paths, with the defaults (settings, journal,
    ASC MHL generation, report), like cp, and again into a folder whose history is read from disk."""
    pathlib_and_its = {"pathlib", "urllib.parse", "ipaddress"}
    dest = tmp_path / "dest"
    env = {"VFXCOPY_DATA_DIR": str(tmp_path / "data"), "VFXCOPY_CONFIG_DIR": str(tmp_path / "config")}
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "vfxcopy.toml").write_text('[copy]\nverify = "transfer"\n')  # a settings file is read
    assert not pathlib_and_its & modules_without_site(tmp_path, "copy", str(frames), str(dest), "-q", env=env)
    assert sorted(p.suffix for p in (dest / "ascmhl").iterdir()) == [".csv", ".html", ".mhl", ".xml"]
    fast = tmp_path / "fast"
    assert not pathlib_and_its & modules_without_site(
        tmp_path, "copy", str(frames), str(fast), "-q", "--verify", "none", "--no-fsync", "--no-journal", env=env)
    assert sorted(os.listdir(fast)) == sorted(os.listdir(frames))
    # Nor contextlib (0.4-0.6 ms): reading the settings takes no lock; the journal and the report use it.
    assert "contextlib" not in modules_without_site(
        tmp_path, "copy", str(frames), str(tmp_path / "fast2"), "-q", "--verify", "none", "--no-fsync", "--no-journal",
        env=env)
    (frames / "notes.txt").write_text("notes\n")  # one more job into the delivery: its history is read back
    assert not pathlib_and_its & modules_without_site(tmp_path, "copy", str(frames), str(dest), "-q", env=env)
    assert len([n for n in os.listdir(dest / "ascmhl") if n.endswith(".mhl")]) >= 2


def test_ls_imports_the_scanner_only(tmp_path: Path, cli_imports: Any, frames: Path) -> None:
    for argv in (["ls", str(frames)], ["ls", "--json", str(frames / "plate.1001.exr")]):
        code, modules = cli_imports(*argv)
        assert code == 0
        assert command_modules_in(modules) == {"vfxcopy.cli.ls_cmd"}
        assert not heavy_in(modules)
        # Not the job model, engine, journal or queue either (they are most of a slow start).
        assert not {"vfxcopy.core.jobs", "vfxcopy.core.engine", "vfxcopy.core.journal", "sqlite3"} & modules


@pytest.mark.parametrize("extra", [["--verify", "none"], []], ids=["no-verify", "defaults"])
def test_copy_of_three_frames_imports_no_heavy_library(tmp_path: Path, cli_imports: Any, frames: Path, extra: list[str]) -> None:
    dest = tmp_path / "dest"
    code, modules = cli_imports("copy", str(frames), str(dest), "--no-journal", "-q", *extra)
    assert code == 0
    assert sorted(p.name for p in dest.glob("plate.*.exr")) == ["plate.1001.exr", "plate.1002.exr", "plate.1003.exr"]
    assert command_modules_in(modules) == {"vfxcopy.cli.copy_cmd"}
    # With the defaults a job report is written too: its thumbnails load OpenImageIO
    # only for frames that are images, and these are not.
    assert not heavy_in(modules)
    # Nor what only a rare path needs (a foreign folder in a temp sweep, a PNG thumbnail, argparse's
    # terminal width, the open-file limit of a copy holding many files): 1.6 ms of a start.
    assert not {"shutil", "zlib", "resource"} & modules
    if extra:  # no report: nothing of its thumbnails either
        assert not {"vfxcopy.core.report", "vfxcopy.core.report_early"} & modules


def test_copy_with_the_journal_then_verify_and_jobs_import_no_gui_or_image_library(
    tmp_path: Path, cli_imports: Any, frames: Path
) -> None:
    dest = tmp_path / "dest"
    code, modules = cli_imports("copy", str(frames), str(dest), "-q", "--verify", "none")
    assert code == 0 and not heavy_in(modules)
    assert "vfxcopy.core.journal" in modules  # the journal was really used

    code, modules = cli_imports("copy", str(frames), str(tmp_path / "verified"), "-q")
    assert code == 0
    code, modules = cli_imports("verify", str(tmp_path / "verified"))
    assert code == 0
    assert command_modules_in(modules) == {"vfxcopy.cli.verify_cmd"}
    # The history's ignore patterns are plain names (ascmhl's and ours): matched without ascmhl and
    # pathspec, which only a history with other patterns loads (tests/core/test_mhl.py).
    assert not heavy_in(modules) and not {"pathspec", "click"} & modules

    for argv in (["jobs"], ["jobs", "--json"]):
        code, modules = cli_imports(*argv)
        assert code == 0
        assert command_modules_in(modules) == {"vfxcopy.cli.jobs_cmd"}
        assert not heavy_in(modules)


def test_every_registry_entry_is_the_command_its_module_registers() -> None:
    import argparse
    import importlib

    for name, module, help_text in COMMANDS:
        assert help_text and "\n" not in help_text
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(module).register(sub)
        assert name in sub.choices, f"{module}.register() does not add '{name}'"
    assert sorted(set(COMMAND_MODULES)) == sorted({module for _, module, _ in COMMANDS})


def test_the_full_parser_and_the_lazy_one_list_the_same_commands() -> None:
    full = build_parser()
    lazy = build_parser([])
    names = [name for name, _, _ in COMMANDS]
    for parser in (full, lazy):
        [sub] = [a for a in parser._actions if isinstance(a.choices, dict)]
        assert sorted(sub.choices) == sorted(names)
    assert all(name in lazy.format_help() for name in names)


def test_commands_run_as_users_run_them_import_no_platformdirs(tmp_path: Path, cli_imports: Any, frames: Path) -> None:
    """Without VFXCOPY_CONFIG_DIR (as users run it) the settings folder is found without
    platformdirs on Linux (14 ms of every start)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the folders are spelled without platformdirs on Linux only")
    env = {k: v for k, v in os.environ.items() if k not in ("VFXCOPY_CONFIG_DIR", "XDG_CONFIG_HOME")}
    env["HOME"] = str(tmp_path / "home")
    for argv in (["ls", str(frames)], ["copy", str(frames), str(tmp_path / "dest"), "-q", "--verify", "none"],
                 ["jobs"]):
        code, modules = cli_imports(*argv, env=env)
        assert code == 0
        assert not {m for m in modules if m.split(".")[0] in ("platformdirs", "socket")}, argv
        assert "vfxcopy.core.notify" not in modules  # no notification set up: not loaded
