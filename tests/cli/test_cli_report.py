"""`vfxcopy report --since DATE`: the jobs of a date range from the journal, as a table, JSON, CSV and PDF."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from vfxcopy.cli import main
from vfxcopy.cli.report_cmd import parse_date
from vfxcopy.core.samples import make_byte_sequence


@pytest.fixture
def two_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """One completed copy and one with a failed frame, recorded in this test's journal."""
    src = make_byte_sequence(tmp_path / "src", count=3, size=1000)[0].parent
    assert main(["copy", str(src), str(tmp_path / "good"), "-q", "--no-fsync"]) == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "plate.1002.exr").write_bytes(b"other")
    assert main(["copy", str(src), str(bad), "-q", "--no-fsync"]) == 1
    capsys.readouterr()
    return tmp_path


def test_dates_read_as_people_write_them() -> None:
    today = dt.date(2026, 11, 30)
    assert parse_date("today", today) == dt.datetime(2026, 11, 30)
    assert parse_date("yesterday", today) == dt.datetime(2026, 11, 29)
    assert parse_date("7d", today) == dt.datetime(2026, 11, 23)
    assert parse_date("2026-11-02", today) == dt.datetime(2026, 11, 2)
    assert parse_date("2026-11-02T14:30", today) == dt.datetime(2026, 11, 2, 14, 30)
    with pytest.raises(ValueError, match="not a date"):
        parse_date("last tuesday", today)


def test_report_lists_the_days_jobs_with_totals(two_jobs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--since", "today", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    states = sorted((Path(j["dest_dir"]).name, j["state"], j["frames_done"], j["frames_failed"]) for j in data["jobs"])
    assert states == [("bad", "failed", 2, 1), ("good", "completed", 3, 0)]
    assert data["totals"]["jobs"] == 2 and data["totals"]["frames_done"] == 5 and data["totals"]["bytes"] == 5000
    assert main(["report", "--since", "today"]) == 0
    text = capsys.readouterr().out
    assert f"-> {two_jobs / 'good'}" in text and "2 jobs (" in text and "5 frames done, 1 failed" in text


def test_a_range_before_the_jobs_has_none(two_jobs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--since", "2000-01-01", "--until", "2000-01-02", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["jobs"] == []
    assert main(["report", "--since", "next week"]) == 2
    assert "not a date" in capsys.readouterr().err


def test_report_as_csv_and_pdf(two_jobs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pdf = tmp_path / "day.pdf"
    assert main(["report", "--since", "today", "--csv", "-", "--pdf", str(pdf)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(r["state"] for r in rows) == ["completed", "failed"]
    assert pdf.read_bytes().startswith(b"%PDF-")
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext is not installed (poppler-utils; CI installs it)")
    text = " ".join(subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout.split())
    assert "vfxcopy jobs from" in text and "completed" in text and "failed" in text and "Frames done 5" in text


def test_a_report_file_that_cannot_be_written_is_said_and_nothing_is_left(
        two_jobs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--csv/--pdf onto a folder, a FIFO (the open blocked for ever) or into a folder that is not
    there: exit 1 with the path and the cause, no traceback, nothing written; a good one replaces
    an older report whole. A range that ends before it starts is a usage error."""
    import os

    today = dt.date.today().isoformat()
    (tmp_path / "folder.csv").mkdir()
    os.mkfifo(tmp_path / "pipe.csv")
    for target, said in ((tmp_path / "folder.csv", "is a folder, not a file"),
                         (tmp_path / "pipe.csv", "is a FIFO, not a file"),
                         (tmp_path / "missing" / "r.csv", f"cannot be written in {tmp_path / 'missing'}")):
        assert main(["report", "--since", today, "--csv", str(target)]) == 1
        err = capsys.readouterr().err
        assert f"vfxcopy report: error: {target}: {said}" in err and "nothing was written" in err, err
    assert main(["report", "--since", today, "--pdf", str(tmp_path / "folder.csv")]) == 1
    assert "is a folder, not a file" in capsys.readouterr().err
    good = tmp_path / "r.csv"
    good.write_text("an older report, much longer than the new one will be " * 200)
    assert main(["report", "--since", today, "--csv", str(good)]) == 0
    assert good.read_text().startswith("job_id,") and "older report" not in good.read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
    assert main(["report", "--since", today, "--until", "2020-01-01"]) == 2
    assert "is not after --since" in capsys.readouterr().err


def test_replace_file_never_writes_through_a_link_planted_at_its_temporary_or_target(tmp_path: Path) -> None:
    import os

    from vfxcopy.core.outfile import replace_file

    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    (tmp_path / "out").mkdir()
    os.symlink(outside, tmp_path / "out" / "r.csv")  # the target itself a link: replaced, not followed
    replace_file(tmp_path / "out" / "r.csv", b"new")
    assert outside.read_text() == "precious" and not os.path.islink(tmp_path / "out" / "r.csv")
    assert (tmp_path / "out" / "r.csv").read_bytes() == b"new"
    replace_file(tmp_path / "out" / "secret.toml", b"pw", mode=0o600)
    assert os.stat(tmp_path / "out" / "secret.toml").st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path / "out")) == ["r.csv", "secret.toml"]


def test_the_shared_temp_step_removes_its_temporary_on_a_cancel_or_a_failed_write(tmp_path: Path) -> None:
    """core/outfile.fill_temp serves the settings, reports and farm files and the manifests: a cancel
    between two writes or a write that fails leaves no temporary; a name taken (a planted link) is
    refused by create_temp, and what the link points at is untouched."""
    import errno
    import os

    import pytest

    from vfxcopy.core.errors import Cancelled
    from vfxcopy.core.jobs import CancelToken
    from vfxcopy.core.outfile import WRITE_STEP, create_temp, fill_temp

    temp = str(tmp_path / ".x.tmp")
    token = CancelToken()
    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 2:  # after the first WRITE_STEP bytes
            token.cancel()
        token.check()

    with pytest.raises(Cancelled):
        fill_temp(create_temp(temp), temp, b"x" * (3 * WRITE_STEP), check)
    assert os.listdir(tmp_path) == [] and len(calls) == 2

    fd = create_temp(temp)
    os.close(fd)  # a write that fails: EBADF, the same path as EIO or ENOSPC
    with pytest.raises(OSError) as failed:
        fill_temp(fd, temp, b"data")
    assert failed.value.errno == errno.EBADF and os.listdir(tmp_path) == []

    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    os.symlink(outside, temp)
    with pytest.raises(FileExistsError):
        create_temp(temp)
    assert outside.read_text() == "precious"
    fill_temp(create_temp(temp + "2", 0o600), temp + "2", b"whole")
    assert open(temp + "2", "rb").read() == b"whole" and os.stat(temp + "2").st_mode & 0o777 == 0o600
