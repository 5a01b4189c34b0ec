"""Command-line manners: help texts, colour on a terminal, --progress json lines, bash/zsh completion."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vfxcopy.cli import COMMANDS, main
from vfxcopy.cli.completion_cmd import script
from vfxcopy.core.samples import make_byte_sequence


def vfxcopy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "vfxcopy", *args], capture_output=True, text=True, timeout=120,
                          env=full)


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", [name for name, _, _ in COMMANDS])
def test_every_help_text_reads_right(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, command)
    assert text.startswith(f"usage: vfxcopy {command}")
    assert "%%" not in text  # a doubled percent sign is argparse's escape leaking into the output
    assert "[SRC... DEST ...]" not in text and "DEST [SRC" not in text


def test_ls_help_shows_the_printf_pattern_as_typed(capsys: pytest.CaptureFixture[str]) -> None:
    assert "shot.%04d.exr" in help_text(capsys, "ls")


@pytest.mark.parametrize("command,usage_end", [("copy", " SRC... DEST\n"), ("convert", " [SRC... DEST]\n")])
def test_copy_and_convert_usage_lines_name_sources_then_one_destination(
        command: str, usage_end: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, command)
    usage = text.split("\n\n")[0] + "\n"
    assert usage.endswith(usage_end), usage
    assert len(re.findall(r"\bDEST\b", usage)) == 1  # one destination (--also DEST2 is another option)


def test_top_level_help_lists_the_exit_codes_and_new_commands(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys)
    assert "143 terminated (SIGTERM)" in " ".join(text.split())
    for name in ("config", "completion"):
        assert f"    {name}" in text


# -- colour ----------------------------------------------------------------------------

RED = "\x1b[31m"


def test_errors_are_plain_in_a_pipe_and_red_with_force_color(tmp_path: Path) -> None:
    args = ("copy", str(tmp_path / "missing.####.exr"), str(tmp_path / "dest"))
    plain = vfxcopy(*args)
    assert plain.returncode == 2 and "error:" in plain.stderr and "\x1b[" not in plain.stderr
    forced = vfxcopy(*args, env={"FORCE_COLOR": "1"})
    assert forced.returncode == 2 and forced.stderr.startswith(RED + "vfxcopy copy: error:")
    assert forced.stderr.rstrip("\n").endswith("\x1b[0m")
    # NO_COLOR wins over FORCE_COLOR (no-color.org: the user's wish)
    both = vfxcopy(*args, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" not in both.stderr


def run_on_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Exit code and everything written to a pseudo-terminal (stdout and stderr both)."""
    master, slave = pty.openpty()
    full = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full.update(env)
    proc = subprocess.Popen([sys.executable, "-m", "vfxcopy", *argv], stdin=slave, stdout=slave, stderr=slave,
                            env=full)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_failed_frames_are_red_on_a_terminal_unless_no_color(tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=3, size=1000)[0].parent
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "plate.1002.exr").write_bytes(b"something else")  # exists and differs: that frame fails
    argv = ["copy", str(src), str(dest), "--no-fsync", "--no-journal"]
    code, out = run_on_terminal(argv, {"TERM": "xterm"})
    assert code == 1
    assert RED + "vfxcopy: frame 1002 failed: " in out, out  # after the bar is cleared
    code, out = run_on_terminal(argv, {"TERM": "xterm", "NO_COLOR": "1"})
    assert code == 1 and "frame 1002 failed" in out and RED not in out


# -- --progress json ---------------------------------------------------------------------


def json_lines(text: str) -> list[dict[str, object]]:
    lines = text.splitlines()
    assert lines, "no output"
    return [json.loads(line) for line in lines]  # every line is one JSON object


def test_progress_json_is_one_object_per_line_on_stdout(tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=4, size=2000)[0].parent
    proc = vfxcopy("copy", str(src), str(tmp_path / "dest"), "--progress", "json", "--no-fsync")
    assert proc.returncode == 0, proc.stderr
    events = json_lines(proc.stdout)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-2:] == ["finished", "result"] and "progress" in kinds
    start, finished, result = events[0], events[-2], events[-1]
    assert start["frames_total"] == 4 and start["bytes_total"] == 8000 and start["dest_dir"] == str(tmp_path / "dest")
    assert finished["state"] == "completed" and finished["frames_done"] == 4 and finished["job_id"] == start["job_id"]
    last_progress = [e for e in events if e["event"] == "progress"][-1]
    assert last_progress["fraction"] == 1.0 and last_progress["bytes_done"] == 8000
    assert result["exit_code"] == 0 and len(result["jobs"]) == 1  # type: ignore[arg-type]
    assert "completed, 4 copied" in proc.stderr  # the human summary stays on stderr


def test_progress_json_tells_failed_frames_and_the_exit_code(tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=3, size=1000)[0].parent
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "plate.1003.exr").write_bytes(b"different")
    proc = vfxcopy("copy", str(src), str(dest), "--progress", "json", "--no-fsync", "--json")
    assert proc.returncode == 1
    events = json_lines(proc.stdout)  # --json too: the result is still a single line
    frames = [e for e in events if e["event"] == "frame"]
    assert [(f["frame"], f["status"]) for f in frames] == [(1003, "failed")]
    assert "differs" in str(frames[0]["error"])
    assert events[-1]["event"] == "result" and events[-1]["exit_code"] == 1


def test_progress_json_refusal_is_a_result_line(tmp_path: Path) -> None:
    proc = vfxcopy("copy", str(tmp_path / "nothing.####.exr"), str(tmp_path / "d"), "--progress", "json")
    assert proc.returncode == 2
    (result,) = json_lines(proc.stdout)
    assert result["event"] == "result" and result["exit_code"] == 2 and result["error"]


# -- completion --------------------------------------------------------------------------

COMPLETE = r"""
t() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ));
      _vfxcopy vfxcopy "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}";
      echo "${COMPREPLY[*]}"; }
t vfxcopy co
t vfxcopy copy --bwl
t vfxcopy copy --verify ''
t vfxcopy copy --verify full --on-conflict s
t vfxcopy jobs ''
t vfxcopy completion ''
t vfxcopy copy SRCDIR/pl
t vfxcopy config set copy.v
"""

EXPECTED = [
    "copy convert config completion",
    "--bwlimit",
    "none transfer full",
    "skip skip-identical",
    "resume show clear",
    "bash zsh",
    "SRCDIR/plate.1001.exr",
    "copy.verify",
]


def test_bash_completion_from_the_parsers(tmp_path: Path) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    make_byte_sequence(tmp_path / "src", count=1, size=10)
    (tmp_path / "completion.bash").write_text(script("bash"))
    proc = subprocess.run(
        [bash, "-c", f"source {tmp_path / 'completion.bash'}\n" + COMPLETE.replace("SRCDIR", str(tmp_path / "src"))],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [e.replace("SRCDIR", str(tmp_path / "src")) for e in EXPECTED]
    assert "complete -o filenames -o bashdefault -F _vfxcopy vfxcopy" in script("bash")


# zsh's completion system stands in: compadd keeps the words that start with what was typed
# ($PREFIX), _files says it would complete file names.
ZSH_HARNESS = r"""
compdef() { :; }
compadd() { [[ $1 == -- ]] && shift; local w r=(); for w in "$@"; do [[ $w == ${PREFIX}* ]] && r+=($w); done; echo "${r[*]}"; }
_files() { echo FILES; }
source COMPLETION
t() { words=("$@"); CURRENT=${#words}; PREFIX=${words[-1]}; _vfxcopy_zsh; }
t vfxcopy co
t vfxcopy copy --bwl
t vfxcopy copy --verify ''
t vfxcopy copy --verify full --on-conflict s
t vfxcopy jobs ''
t vfxcopy completion ''
t vfxcopy copy --frames ''
t vfxcopy copy src/pl
t vfxcopy config set copy.v
"""


def test_zsh_completion_runs_in_zsh(tmp_path: Path) -> None:
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("zsh is not installed (CI installs it)")
    (tmp_path / "completion.zsh").write_text(script("zsh"))
    proc = subprocess.run([zsh, "-f", "-c", ZSH_HARNESS.replace("COMPLETION", str(tmp_path / "completion.zsh"))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [*EXPECTED[:-2], "FILES", "FILES", "copy.verify"]
    assert script("zsh").rstrip().endswith("compdef _vfxcopy_zsh vfxcopy")


def test_completion_command_prints_the_script(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# vfxcopy completion") and "_vfxcopy()" in out
    assert main(["completion", "zsh"]) == 0
    assert "compdef _vfxcopy_zsh vfxcopy" in capsys.readouterr().out


# -- a missing extra ---------------------------------------------------------------------

WITHOUT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # as if not installed: importing it raises ModuleNotFoundError
from vfxcopy.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("missing,argv,extra", [
    ("OpenImageIO", ["convert", "SRC", "OUT", "--to", "png"], "convert"),
    ("PySide6", ["gui"], "gui"),
])
def test_a_command_whose_extra_is_missing_names_it_in_one_line(
        missing: str, argv: list[str], extra: str, tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=1, size=10)[0].parent
    argv = [a.replace("SRC", str(src)).replace("OUT", str(tmp_path / "out")) for a in argv]
    proc = subprocess.run([sys.executable, "-c", WITHOUT, missing, *argv], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 2
    assert proc.stderr == (f"vfxcopy {argv[0]}: error: this needs {missing}, which is not installed: install the "
                           f"{extra} extra, e.g. pip install 'vfxcopy[{extra}]' (or uv tool install 'vfxcopy[{extra}]')\n")
    assert not (tmp_path / "out").exists()
