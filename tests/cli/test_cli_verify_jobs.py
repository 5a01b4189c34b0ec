"""`vfxcopy verify` and `vfxcopy jobs`: exit codes, JSON, history, resume and clear from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vfxcopy.cli import main
from vfxcopy.core.jobs import JobSpec, JobState
from vfxcopy.core.journal import Journal
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.verify import ManifestEntry, write_generation

REPO = Path(__file__).resolve().parents[2]


def vfxcopy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vfxcopy", *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO)


def out_json(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_copy_then_verify_catches_missing_altered_and_extra(
    byte_seq: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "delivery"
    assert main(["copy", str(byte_seq[0].parent), str(dest), "-q"]) == 0
    capsys.readouterr()
    assert main(["verify", str(dest), "--json", "-q"]) == 0
    data = out_json(capsys)
    assert data["passed"] and data["files_ok"] == 10 and data["reference"] == "ascmhl"

    with open(dest / "plate.1005.exr", "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\xff\xfe")
    (dest / "plate.1009.exr").unlink()
    (dest / "stray.txt").write_text("?")
    assert main(["verify", str(dest), "-q"]) == 1
    text = capsys.readouterr().out
    assert "ALTERED  plate.1005.exr" in text
    assert "missing  plate.1009.exr" in text
    assert "extra    stray.txt" in text
    assert "MISMATCH: 8 files match" in text


def test_verify_without_anything_to_compare_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "a.exr").write_bytes(b"a")
    assert main(["verify", str(tmp_path / "plain")]) == 2
    said = capsys.readouterr().err
    assert "no ASC MHL history" in said and "give a checksum list (--checksum-list FILE)" in said
    assert main(["verify", str(tmp_path / "nothing-here")]) == 2
    # What the message suggests works, and one file is one file.
    (tmp_path / "sums.md5").write_text("0cc175b9c0f1b6a831c399e269772661  a.exr\n")  # md5 of b"a"
    assert main(["verify", str(tmp_path / "plain"), "--checksum-list", str(tmp_path / "sums.md5")]) == 0
    assert "OK: 1 file matches" in capsys.readouterr().out


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or sys.platform == "win32", reason="POSIX signals")
def test_verify_cancelled_by_ctrl_c_exits_130(tmp_path: Path) -> None:
    dest = tmp_path / "big"
    dest.mkdir()
    big = dest / "plate.1001.exr"
    with open(big, "wb") as fh:
        fh.truncate(6 << 30)  # sparse: no disk space, but md5 takes seconds to read it
    write_generation(dest, [ManifestEntry("plate.1001.exr", 6 << 30, big.stat().st_mtime, "md5", "0" * 32)])
    proc = subprocess.Popen([sys.executable, "-m", "vfxcopy", "verify", str(dest), "--json"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert proc.poll() is None, "verify ended before it could be cancelled"
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 5
    data = json.loads(out)
    assert data["cancelled"] and not data["passed"] and data["altered"] == []


def test_jobs_lists_history_and_clear_forgets_it(
    byte_seq: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["copy", str(byte_seq[0].parent), str(tmp_path / "a"), "-q", "--no-fsync"]) == 0
    assert main(["copy", str(byte_seq[0].parent), str(tmp_path / "b"), "-q", "--verify", "none"]) == 0
    capsys.readouterr()
    assert main(["jobs", "--json"]) == 0
    jobs = out_json(capsys)["jobs"]
    assert [j["dest_dir"] for j in jobs] == [str(tmp_path / "b"), str(tmp_path / "a")]  # newest first
    assert all(j["state"] == "completed" and j["frames_done"] == 10 and j["origin"] == "cli" for j in jobs)
    assert jobs[0]["bytes_done"] == 10 * 64 * 1024

    assert main(["jobs"]) == 0
    table = capsys.readouterr().out
    assert jobs[0]["job_id"] in table and "completed" in table and "10/10" in table

    assert main(["jobs", "clear", "--json"]) == 0
    assert out_json(capsys) == {"command": "jobs clear", "removed": 2}
    assert main(["jobs", "--json", "--all"]) == 0
    assert out_json(capsys)["jobs"] == []


CRASHED = """
import os, sys
from vfxcopy.core.journal import Journal
from vfxcopy.core.jobs import JobSpec
from vfxcopy.core.seqfind import find_sequence
spec = JobSpec(source=find_sequence(sys.argv[1]), dest_dir=sys.argv[2], origin="cli")
j = Journal()
j.add_job(spec)
j.start_job(spec.job_id)
os.makedirs(sys.argv[2], exist_ok=True)
open(os.path.join(sys.argv[2], f".vfxcopy-{spec.job_id}-3.part"), "wb").write(b"half a frame")
print(spec.job_id)
os._exit(0)  # as if the machine lost power: no state recorded at the end
"""


def test_interrupted_job_shows_and_resumes_from_the_command_line(
    byte_seq: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "dst"
    run = subprocess.run([sys.executable, "-c", CRASHED, str(byte_seq[0]), str(dest)], capture_output=True,
                         text=True, timeout=60, cwd=REPO, env=os.environ.copy())
    assert run.returncode == 0, run.stderr
    job_id = run.stdout.strip()

    assert main(["jobs", "--json"]) == 0
    (job,) = out_json(capsys)["jobs"]
    assert job["job_id"] == job_id and job["state"] == "interrupted" and job["frames_done"] == 0
    assert os.listdir(dest) == []  # its temporary file is gone

    assert job["resumable"] is True
    assert main(["jobs", "show", job_id]) == 0
    shown = capsys.readouterr().out
    assert "interrupted" in shown and "(10 frames not started)" in shown

    assert main(["jobs", "resume", job_id[:6], "--json", "-q"]) == 0
    data = out_json(capsys)
    assert data["exit_code"] == 0 and data["job"]["state"] == "completed" and data["job"]["frames_done"] == 10
    assert {p.name: p.read_bytes() for p in byte_seq} == {
        n: (dest / n).read_bytes() for n in os.listdir(dest) if n.endswith(".exr")
    }
    assert main(["verify", str(dest), "-q"]) == 0
    capsys.readouterr()
    assert main(["jobs", "show", job_id, "--json"]) == 0
    frames = out_json(capsys)["frames"]
    assert [f["status"] for f in frames] == ["done"] * 10
    assert [f["frame"] for f in frames] == list(range(1001, 1011)) and all(f["hash"] for f in frames)


def test_resume_unknown_or_ambiguous_job_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["jobs", "resume", "doesnotexist"]) == 2
    assert "no job 'doesnotexist'" in capsys.readouterr().err
    with Journal() as journal:
        for job_id in ("abc000000001", "abc000000002"):
            journal.add_job(JobSpec(source=Sequence(str(tmp_path), "p.", ".exr", 4, (1,)),
                                    dest_dir=str(tmp_path / "d"), job_id=job_id))
            journal.set_state(job_id, JobState.INTERRUPTED)
    assert main(["jobs", "resume", "abc"]) == 2
    assert "matches 2 jobs" in capsys.readouterr().err


def test_a_real_copy_process_records_its_job(byte_seq: list[Path], tmp_path: Path) -> None:
    proc = vfxcopy("copy", str(byte_seq[0].parent), str(tmp_path / "out"), "-q")
    assert proc.returncode == 0, proc.stderr
    listing = vfxcopy("jobs", "--json")
    assert listing.returncode == 0, listing.stderr
    (job,) = json.loads(listing.stdout)["jobs"]
    assert job["state"] == "completed" and job["pid"] != os.getpid() and job["frames_done"] == 10


def test_names_that_are_not_utf8_go_through_copy_jobs_and_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vfxcopy.core.samples import make_byte_sequence

    src_dir = os.fsdecode(os.fsencode(tmp_path) + b"/src\xff")
    make_byte_sequence(src_dir, head=os.fsdecode(b"pl\xe9te."), count=3, size=1000)
    dest = os.fsdecode(os.fsencode(tmp_path) + b"/dst\xff")
    assert main(["copy", src_dir, dest, "-q"]) == 0
    capsys.readouterr()
    assert main(["jobs", "--json"]) == 0
    (job,) = out_json(capsys)["jobs"]
    assert job["state"] == "completed" and job["frames_done"] == 3
    assert job["dest_dir"].endswith("/dst\\xff")  # shown escaped, stored exactly
    with Journal() as journal:
        (stored,) = journal.jobs()
        assert os.fsencode(stored.spec.dest_dir).endswith(b"/dst\xff")
        assert {os.fsencode(Path(f.dest).name) for f in journal.frames(stored.job_id)} == {
            b"pl\xe9te.1001.exr", b"pl\xe9te.1002.exr", b"pl\xe9te.1003.exr"}
    assert main(["jobs"]) == 0
    assert "pl\\xe9te.####.exr" in capsys.readouterr().out
    # XML cannot name these files: the manifest leaves them out, verify checks them against the journal.
    assert main(["verify", dest, "-q"]) == 0
    assert "OK: 3 files match" in capsys.readouterr().out
    victim = os.path.join(dest, os.fsdecode(b"pl\xe9te.1002.exr"))
    with open(victim, "r+b") as fh:
        fh.write(b"X")
    assert main(["verify", dest, "-q"]) == 1
    assert "ALTERED  pl\\xe9te.1002.exr" in capsys.readouterr().out


def test_copy_still_works_when_the_journal_is_unusable(
    byte_seq: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vfxcopy.core.journal import default_journal_path

    path = Path(default_journal_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database " * 100)
    assert main(["copy", str(byte_seq[0].parent), str(tmp_path / "out"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "job journal unavailable" in err and "cannot be resumed" in err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.exr")) == [p.name for p in byte_seq]
    assert main(["jobs"]) == 2
    assert "cannot open the job journal" in capsys.readouterr().err


def test_verify_of_a_corrupt_chain_exits_2_with_a_clear_message_and_no_traceback(
    byte_seq: list[Path], tmp_path: Path
) -> None:
    dest = tmp_path / "delivery"
    assert main(["copy", str(byte_seq[0].parent), str(dest), "-q"]) == 0
    chain = dest / "ascmhl" / "ascmhl_chain.xml"
    chain.write_bytes(chain.read_bytes()[:150])  # cut short, as a full disk or a bad sync leaves it
    proc = vfxcopy("verify", str(dest))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert f"{chain}: not valid XML" in proc.stderr and "restore it from a backup" in proc.stderr
    proc = vfxcopy("verify", str(dest), "--json")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    assert data["exit_code"] == 2 and "not valid XML" in data["error"]


def test_verify_prints_names_with_escape_characters_escaped(
    byte_seq: list[Path], tmp_path: Path
) -> None:
    dest = tmp_path / "delivery"
    assert main(["copy", str(byte_seq[0].parent), str(dest), "-q"]) == 0
    (dest / "evil\x1b]0;owned\x07\x1b[2J.exr").write_bytes(b"sets the title and clears the screen")
    (dest / "gnp.\u202eexr").write_bytes(b"shows its name reversed")
    proc = vfxcopy("verify", str(dest))
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "extra    evil\\x1b]0;owned\\x07\\x1b[2J.exr" in out
    assert "extra    gnp.\\u202eexr" in out
    proc = vfxcopy("verify", str(dest), "--json")  # JSON escapes them itself; the names stay exact
    assert proc.returncode == 1
    assert "\x1b" not in proc.stdout + proc.stderr and "\u202e" not in proc.stdout + proc.stderr
    assert sorted(json.loads(proc.stdout)["extra"]) == ["evil\x1b]0;owned\x07\x1b[2J.exr", "gnp.\u202eexr"]


def test_verify_writes_a_checksum_list_md5sum_accepts_and_checks_against_one(
    byte_seq: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    if shutil.which("md5sum") is None:
        pytest.skip("md5sum is not installed")
    dest = tmp_path / "delivery"
    assert main(["copy", str(byte_seq[0].parent), str(dest), "-q", "--hash", "md5"]) == 0
    capsys.readouterr()
    assert main(["verify", str(dest), "-q", "--write-checksum-list", "md5", "--json"]) == 0
    listing = Path(out_json(capsys)["checksum_list"])
    assert listing.parent == dest / "ascmhl" and listing.suffix == ".md5"
    checked = subprocess.run(["md5sum", "-c", os.path.relpath(listing, dest)], cwd=dest, capture_output=True,
                             text=True)
    assert checked.returncode == 0 and checked.stdout.count(": OK") == 10, checked.stdout + checked.stderr

    with open(dest / "plate.1003.exr", "r+b") as fh:
        fh.write(b"#")
    assert main(["verify", str(dest), "-q", "--checksum-list", str(listing)]) == 1
    text = capsys.readouterr().out
    assert "ALTERED  plate.1003.exr" in text and "9 files match" in text


def test_verify_start_up_does_not_import_ascmhl_until_a_history_is_read(tmp_path: Path) -> None:
    code = ("import sys\n"
            "from vfxcopy.cli import main\n"
            "code = main(['verify', sys.argv[1], '-q'])\n"
            "print(code, 'ascmhl' in sys.modules, 'lxml.etree' in sys.modules)\n")
    (tmp_path / "plain").mkdir()
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path / "plain")], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert run.stdout.split() == ["2", "False", "False"], run.stdout + run.stderr


def test_a_name_with_escape_sequences_and_a_newline_never_reaches_the_terminal_as_it_is(tmp_path: Path) -> None:
    """`jobs`, `jobs show`, `check` and `report` printed such a name as it was (a name could recolour the terminal
    or split a line), and verify escaped its altered file twice (`\\\\x1b`)."""
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    name = "esc\x1b[31mred\nx.0001.exr"
    (src / name).write_bytes(b"x")

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "vfxcopy", *argv], capture_output=True, text=True, timeout=120)

    assert run("copy", "-q", str(src), str(dest)).returncode == 0
    (dest / name).write_bytes(b"y")
    listed = run("jobs")
    job_id = listed.stdout.splitlines()[1].split()[0]
    outputs = [listed, run("jobs", "show", job_id), run("check", str(src)), run("verify", str(dest)),
               run("report", "--since", "today")]
    for proc in outputs:
        text = proc.stdout + proc.stderr
        assert "\x1b" not in text and "red\nx" not in text, text
    assert "esc\\x1b[31mred\\x0ax" in outputs[0].stdout and "esc\\x1b[31mred\\x0ax" in outputs[1].stdout
    verify = outputs[3]
    assert verify.returncode == 1 and "esc\\x1b[31mred\\x0ax.0001.exr: altered" in verify.stderr
    assert "\\\\x1b" not in verify.stderr
    assert "esc\\x1b[31mred\\x0ax.####.exr" in outputs[4].stdout
