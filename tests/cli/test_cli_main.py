"""The command line's entry point: version, help, the command registry, --frames ranges, a reader that stops early."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from vfxcopy import __version__
from vfxcopy.cli import COMMANDS, main
from vfxcopy.core.samples import make_byte_sequence


def test_version_is_the_package_version(capsys) -> None:  # type: ignore[no-untyped-def]
    try:
        main(["--version"])
    except SystemExit as stop:
        assert stop.code == 0
    assert capsys.readouterr().out.strip() == f"vfxcopy {__version__}"


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(tmp_path: Path) -> None:
    # Enough single files that `ls --json` writes far more than a pipe buffer holds.
    for i in range(400):
        (tmp_path / f"reference_notes_{chr(97 + i % 26)}{i // 26}.txt").write_text("x")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vfxcopy", "ls", "--json", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10)  # like `| head -c 10`
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in stderr


def test_no_arguments_opens_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    from vfxcopy.cli import gui_cmd

    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(gui_cmd, "run_gui", lambda args: seen.append(args) or 0)
    assert main([]) == 0
    assert [a.command for a in seen] == ["gui"] and seen[0].paths == []


def test_an_unknown_command_lists_every_registered_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["cpoy", "a", "b"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'cpoy'" in err
    assert all(f"'{name}'" in err for name, _, _ in COMMANDS)


def test_help_lists_every_command_with_its_one_line_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for name, _, help_text in COMMANDS:
        assert f"{name} {' '.join(help_text.split())}" in out


@pytest.mark.parametrize("argv", [["copy", "--help"], ["jobs", "resume", "--help"], ["farm", "--help"]])
def test_help_is_wrapped_to_the_width_argparse_would_find(argv: list[str]) -> None:
    """$COLUMNS, else the terminal's width, else 80 columns (a pipe): found once, for every parser."""
    import os

    def lines(columns: str | None) -> list[str]:
        env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | ({"COLUMNS": columns} if columns else {})
        done = subprocess.run([sys.executable, "-m", "vfxcopy", *argv], capture_output=True, text=True, env=env,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    narrow, piped, wide = lines("50"), lines(None), lines("200")
    # argparse breaks no choice list: `{skip,skip-identical,...}` may run past the width.
    assert all(len(line) <= 50 or "{" in line for line in narrow)
    assert all(len(line) <= 80 or "{" in line for line in piped)
    assert len(narrow) > len(piped) > len(wide) and max(map(len, wide)) > 80


def test_frames_far_beyond_a_short_sequence_copy_its_frames_in_little_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    make_byte_sequence(src, count=3, size=1024)
    tracemalloc.start()
    try:
        code = main(["copy", str(src), str(tmp_path / "dest"), "--frames", "1-10000000", "--no-journal", "-q",
                     "--verify", "none"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == [
        "plate.1001.exr", "plate.1002.exr", "plate.1003.exr"
    ]
    assert "9999997 of the chosen frames do not exist" in capsys.readouterr().err
    assert peak < 32 << 20, f"peak {peak >> 20} MiB"  # a list of the frames asked for took 715 MB


def test_the_program_leaves_its_output_and_journal_whole_when_it_exits(tmp_path: Path) -> None:
    """Run as the program, the CLI skips the garbage collection of the interpreter's exit
    (gc.freeze): what it printed and what it recorded must all be there."""
    import json
    import os

    from vfxcopy.core.journal import JOURNAL_FILE, Journal

    make_byte_sequence(tmp_path / "src", count=300, size=100)
    env = dict(os.environ, VFXCOPY_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "-m", "vfxcopy", "copy", "--json", str(tmp_path / "src"),
                           str(tmp_path / "dest")], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)  # the whole document, flushed at exit
    [job] = report["jobs"]
    assert job["state"] == "completed" and len(list((tmp_path / "dest").glob("plate.*.exr"))) == 300
    with Journal(tmp_path / "data" / JOURNAL_FILE) as journal:
        assert journal.integrity_check() == "ok"
        [recorded] = journal.jobs()
        assert recorded.state.value == "completed" and recorded.frames_done == 300
        assert len(journal.frames(recorded.job_id)) == 300


@pytest.mark.parametrize("argv", [["copy", "SRC", "OUT", "--verify", "bogus"], ["copy", "SRC", "OUT", "--frames"],
                                  ["ls", "--json", "--bogus-too", "-r", "--frames"]],
                         ids=["bad-choice", "missing-value", "ls"])
def test_an_error_while_options_are_read_shows_the_whole_usage(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Options may come between the paths: argparse reads the options first, with the paths hidden.
    The usage an error shows then still names the paths, exactly as --help's usage does (it is
    made when shown, not before every parse), and the parser keeps no usage of its own after."""
    from vfxcopy.cli import build_parser

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    command = build_parser([argv[0]])._subparsers._group_actions[0].choices[argv[0]]  # type: ignore[union-attr]
    usage = command.format_usage()
    assert err.startswith(usage) and ("SRC... DEST" in usage or "PATH [PATH ...]" in usage), err
    assert f"vfxcopy {argv[0]}: error: " in err
    command.parse_args(["SRC", "DEST"] if argv[0] == "copy" else ["PATH"])
    assert command.usage is None and command.format_usage() == usage
