"""The command line's entry point: version, help, and a reader that stops early."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vfxcopy import __version__
from vfxcopy.cli import main


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
