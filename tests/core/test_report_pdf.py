"""The PDF handover report: beside the destination, with range, missing frames, metadata and thumbnails, rendered."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vfxcopy.cli import main
from vfxcopy.core.jobs import CancelToken, FrameResult, JobResult, JobSpec
from vfxcopy.core.samples import make_exr_sequence


@pytest.fixture(autouse=True)
def no_pdf_child_between_tests() -> Iterator[None]:
    """Each test starts without the PDF child that a test before it left waiting for the next PDF."""
    from vfxcopy.core import pdf_child

    pdf_child.retire(wait=True)
    yield
    pdf_child.retire(wait=True)


@pytest.fixture
def delivered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """Eleven real EXR frames 1001-1012 without 1005, copied with verification: (destination, PDF)."""
    frames = make_exr_sequence(tmp_path / "src", count=12)
    frames[4].unlink()  # 1005: a gap the report must name
    dest = tmp_path / "delivery" / "shot_010"
    assert main(["copy", str(tmp_path / "src"), str(dest), "-q", "--no-fsync", "--pdf"]) == 0
    capsys.readouterr()
    (pdf,) = (tmp_path / "delivery").glob("shot_010_vfxcopy_report_*.pdf")
    return dest, pdf


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (poppler-utils; CI installs it)")
    return found


def test_the_pdf_lies_beside_the_destination_and_verify_still_passes(delivered: tuple[Path, Path]) -> None:
    dest, pdf = delivered
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert not list(dest.rglob("*.pdf"))  # neither in the delivery nor hidden in ascmhl/
    assert len(list((dest / "ascmhl").glob("vfxcopy_report_*.html"))) == 1  # the HTML and CSV as before
    proc = subprocess.run([sys.executable, "-m", "vfxcopy", "verify", str(dest)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "0 extra" in proc.stdout + proc.stderr


def test_the_pdf_says_what_a_handover_needs(delivered: tuple[Path, Path]) -> None:
    dest, pdf = delivered
    text = subprocess.run([tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                          timeout=60).stdout
    words = " ".join(text.split())
    for expected in ("Handover report: shot_010.####.exr", "OK: all 11 frames in place and verified (transfer, xxh128)",
                     f"Destination {dest}", "Range 1001-1004,1006-1012", "Missing frames 1005 (1 frame)",
                     "Resolution 128 x 72", "Channels 3 (R,G,B)", "Compression zip", "Timecode", "Colour space",
                     "Manifest ascmhl/0001_shot_010_", "shot_010.1012.exr done"):
        assert expected in words, expected


def test_the_pdf_renders_with_its_thumbnails(delivered: tuple[Path, Path], tmp_path: Path) -> None:
    import numpy as np
    import OpenImageIO as oiio

    _, pdf = delivered
    out = tmp_path / "page"
    proc = subprocess.run([tool("pdftoppm"), "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf), str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    (png,) = tmp_path.glob("page*.png")
    pixels = oiio.ImageBuf(str(png)).get_pixels(oiio.FLOAT)
    assert pixels.shape[0] > pixels.shape[1] > 300  # an A4 portrait page
    rgb = pixels[..., :3]
    saturated = (rgb.max(axis=2) - rgb.min(axis=2)) > 0.5
    # The thumbnails are the only strongly coloured things on the page (text is black, the gap red).
    assert saturated.mean() > 0.05, "no thumbnails drawn"
    assert np.isclose(rgb[5, 5], 1.0).all()  # white paper around


def test_without_fpdf2_there_is_no_pdf_and_the_other_reports_stay(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from vfxcopy.core.engine import run_job
    from vfxcopy.core.jobs import CopyOptions
    from vfxcopy.core.seqfind import resolve

    monkeypatch.setitem(sys.modules, "fpdf", None)  # as in the base install
    make_exr_sequence(tmp_path / "src", count=2)
    (seq,) = resolve([str(tmp_path / "src")])
    spec = JobSpec(source=seq, dest_dir=str(tmp_path / "out"), copy=CopyOptions(fsync=False, pdf_report=True))
    result = run_job(spec, CancelToken(), lambda event: None)
    assert result.state.value == "completed"
    assert list((tmp_path / "out" / "ascmhl").glob("*.html")) and not list(tmp_path.rglob("*.pdf"))


def test_the_pdf_is_written_only_when_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """fpdf2 costs about 0.6 s to import: a copy without --pdf (or report.pdf) neither loads nor writes it."""
    make_exr_sequence(tmp_path / "src", count=2)
    assert main(["copy", str(tmp_path / "src"), str(tmp_path / "out"), "-q", "--no-fsync"]) == 0
    assert not list(tmp_path.rglob("*.pdf")) and list((tmp_path / "out" / "ascmhl").glob("*.html"))
    assert main(["config", "set", "report.pdf", "always"]) == 0
    assert main(["copy", str(tmp_path / "src"), str(tmp_path / "out2"), "-q", "--no-fsync"]) == 0
    assert len(list(tmp_path.glob("out2_vfxcopy_report_*.pdf"))) == 1
    assert main(["copy", str(tmp_path / "src"), str(tmp_path / "out3"), "-q", "--no-fsync", "--no-pdf"]) == 0
    assert not list(tmp_path.glob("out3_vfxcopy_report_*.pdf"))
    capsys.readouterr()


def test_a_tree_reports_each_sequence_and_file_it_delivered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vfxcopy.core.samples import make_byte_sequence

    make_exr_sequence(tmp_path / "src" / "comp", count=3)
    frames = make_byte_sequence(tmp_path / "src" / "plates" / "bg", count=4, size=100)
    frames[1].unlink()  # plate.1002 missing in the source: missing in the delivery too
    (tmp_path / "src" / "notes.txt").write_text("handover notes")
    assert main(["copy", str(tmp_path / "src"), str(tmp_path / "out"), "-q", "--no-fsync", "--pdf"]) == 0
    capsys.readouterr()
    (pdf,) = tmp_path.glob("out_vfxcopy_report_*.pdf")
    text = " ".join(subprocess.run([tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                                   timeout=60).stdout.split())
    assert "Sequences and files delivered" in text
    assert "comp/shot_010.####.exr 1001-1003 3" in text
    assert "plates/bg/plate.####.exr 1001,1003-1004 3 1002" in text
    assert "notes.txt" in text and "Resolution 128 x 72" in text  # metadata from an image, not the text file


def test_jobs_finishing_together_lay_out_their_pdfs_one_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each PDF's child takes a core and about 100 MB: a window's jobs finishing together make
    theirs one at a time; a job cancelled while it waits for its turn stops at once."""
    import threading
    import time

    from vfxcopy.core import pdf_child, report_pdf
    from vfxcopy.core.errors import Cancelled
    from vfxcopy.core.jobs import JobResult, JobState
    from vfxcopy.core.seqfind import find_sequence

    inside: list[int] = []
    overlaps: list[int] = []

    def slow_render(*args: object, **kw: object) -> bytes:
        inside.append(1)
        overlaps.append(len(inside))
        time.sleep(0.2)
        inside.pop()
        return b"%PDF-1.4\n"

    monkeypatch.setattr(pdf_child, "render_apart", slow_render)
    frames = make_exr_sequence(tmp_path / "src", count=2)
    specs = [JobSpec(find_sequence(frames[0]), str(tmp_path / f"dest{n}" / "shot")) for n in range(3)]
    for spec in specs:
        (tmp_path / f"{spec.dest_dir}").mkdir(parents=True)
    errors: list[BaseException] = []

    def write(spec: JobSpec, token: CancelToken) -> None:
        try:
            report_pdf.write_pdf_report(spec, JobResult(spec.job_id, JobState.COMPLETED), [], None, [], [],
                                       token=token)
        except BaseException as exc:  # noqa: BLE001 - looked at below
            errors.append(exc)

    tokens = [CancelToken() for _ in specs]
    threads = [threading.Thread(target=write, args=(spec, token)) for spec, token in zip(specs, tokens, strict=True)]
    threads[0].start()
    deadline = time.monotonic() + 5
    while not inside and time.monotonic() < deadline:  # the first one is making its PDF
        time.sleep(0.005)
    threads[1].start()
    threads[2].start()
    time.sleep(0.05)
    tokens[2].cancel()  # the third waits for its turn behind the others: cancelled meanwhile
    started = time.monotonic()
    threads[2].join(5)
    assert time.monotonic() - started < 0.2
    for t in threads:
        t.join(5)
    assert overlaps == [1, 1]  # two PDFs made, never two at once
    assert len(errors) == 1 and isinstance(errors[0], Cancelled)
    assert sorted(p.name.endswith(".pdf") for p in tmp_path.glob("dest[01]/*.pdf")) == [True, True]


def _children(pid: int | str = "self") -> list[int]:
    """The processes `pid` (this one) has started and not yet reaped (Linux /proc); [] when it is gone."""
    try:
        return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                for child in (task / "children").read_text().split()]
    except OSError:
        return []


def _running(pid: int) -> bool:
    """Whether process `pid` runs (neither gone nor a zombie waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _finished_job(tmp_path: Path) -> tuple[JobSpec, JobResult, list[FrameResult]]:
    from vfxcopy.core.engine import run_job
    from vfxcopy.core.jobs import CopyOptions
    from vfxcopy.core.seqfind import resolve

    make_exr_sequence(tmp_path / "src", count=3)
    (seq,) = resolve([str(tmp_path / "src")])
    spec = JobSpec(source=seq, dest_dir=str(tmp_path / "out" / "shot"), copy=CopyOptions(fsync=False))
    result = run_job(spec, CancelToken(), lambda event: None)
    return spec, result, list(result.frames)


def test_the_pdf_is_laid_out_in_a_child_that_leaves_with_the_command(tmp_path: Path) -> None:
    """fpdf2, fontTools, numpy and Pillow (about 50 MB) stay out of a long-lived window or watch;
    the child waiting for a next PDF leaves when the command ends."""
    import time

    code = ("import sys; from vfxcopy.cli import main; from vfxcopy.core import pdf_child; rc = main(sys.argv[1:]); "
            "print('fpdf loaded' if 'fpdf' in sys.modules else 'fpdf not loaded', pdf_child._child.proc.pid); "
            "sys.exit(rc)")
    make_exr_sequence(tmp_path / "src", count=3)
    proc = subprocess.run([sys.executable, "-c", code, "copy", "-q", "--no-fsync", "--pdf", str(tmp_path / "src"),
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded, child = proc.stdout.strip().rsplit(" ", 1)
    assert loaded == "fpdf not loaded"
    (pdf,) = tmp_path.glob("out_vfxcopy_report_*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF-") and pdf.read_bytes().rstrip().endswith(b"%%EOF")
    deadline = time.monotonic() + 5
    while _running(int(child)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _running(int(child))


def test_a_child_still_starting_when_the_command_ends_is_gone_with_it() -> None:
    """A job that ended before it needed its PDF (a failure, a refusal) leaves no child behind, even
    one still importing fpdf2, which would read the end of its input only once done."""
    code = "from vfxcopy.core import pdf_child; pdf_child.warm(); print(pdf_child._child.proc.pid)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    child = int(proc.stdout)
    assert not _running(child)  # reaped by the command before it ended: not even a zombie's parent is left
    assert not Path(f"/proc/{child}").exists()


def test_a_cancel_while_the_child_lays_out_ends_it_at_once(tmp_path: Path) -> None:
    import threading
    import time

    from vfxcopy.core.errors import Cancelled
    from vfxcopy.core.report_pdf import write_pdf_report

    spec, result, frames = _finished_job(tmp_path)
    token = CancelToken()
    outcome: list[BaseException | object] = []

    def write() -> None:
        try:
            outcome.append(write_pdf_report(spec, result, frames, None, [], [], token=token))
        except BaseException as exc:  # noqa: BLE001 - looked at below
            outcome.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    deadline = time.monotonic() + 10
    while not _children() and time.monotonic() < deadline:  # the child is starting: importing fpdf2
        time.sleep(0.002)
    assert _children(), "no child process was started"
    token.cancel()
    cancelled = time.monotonic()
    thread.join(10)
    assert time.monotonic() - cancelled < 0.3
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
    assert not _children()  # killed and reaped
    assert not list(tmp_path.rglob("*.pdf")) and not [p for p in (tmp_path / "out").iterdir() if p.name != "shot"]


@pytest.mark.parametrize(("command", "why"), [
    ([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
     "its process was ended by signal 9"),
    ([sys.executable, "-c", "import sys; sys.exit('fpdf2 is broken here')"], "its process failed: fpdf2 is broken here"),
    (["/nonexistent/python3"], "its process did not start: No such file or directory"),
])
def test_a_child_that_fails_is_a_warning_and_the_copy_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], why: str
) -> None:
    from vfxcopy.core import pdf_child
    from vfxcopy.core.report import write_job_report

    spec, result, frames = _finished_job(tmp_path)
    monkeypatch.setattr(pdf_child, "child_command", lambda: command)
    spec.copy.pdf_report = True
    problems: list[str] = []
    write_job_report(spec, result, frames, None, problems, thumbnails=False)
    assert problems == [f"the PDF report could not be made ({why}); the manifest and the HTML/CSV reports are written"]
    assert not list(tmp_path.rglob("*.pdf")) and list((tmp_path / "out" / "shot" / "ascmhl").glob("*.html"))
    assert not _children()


def test_a_big_job_reaches_its_child_whole(tmp_path: Path) -> None:
    """3,000 frames' results are far more than a pipe holds: the child gets them all (a pipe fed
    by communicate() with a timeout lost what did not fit at the first call: the child waited)."""
    import threading

    from vfxcopy.core.jobs import FrameResult, FrameStatus, JobResult, JobState
    from vfxcopy.core.pdf_child import render_apart
    from vfxcopy.core.seqfind import find_sequence

    frames = make_exr_sequence(tmp_path / "src", count=2)
    spec = JobSpec(find_sequence(frames[0]), str(tmp_path / "out"))
    results = [FrameResult(spec.job_id, i, 1001 + i, f"/src/shot.{1001 + i}.exr", f"/out/shot.{1001 + i}.exr",
                           FrameStatus.DONE, 4096, f"{i:032x}", "xxh128") for i in range(3000)]
    made: list[bytes] = []
    thread = threading.Thread(target=lambda: made.append(render_apart(
        (spec, JobResult(spec.job_id, JobState.COMPLETED, results), results, None, [], [], {}, None), None)),
        daemon=True)
    thread.start()
    thread.join(60)
    assert made and made[0].startswith(b"%PDF-")


def test_a_temporary_folder_that_takes_no_file_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from vfxcopy.core.report import write_job_report

    spec, result, frames = _finished_job(tmp_path)
    spec.copy.pdf_report = True
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    problems: list[str] = []
    write_job_report(spec, result, frames, None, problems, thumbnails=False)
    assert problems == [f"the PDF report could not be made (no file for its process's messages in the temporary "
                        f"folder {tmp_path / 'gone'}: No such file or directory); the manifest and the HTML/CSV "
                        "reports are written"]


def _copy_with_a_long_pdf(tmp_path: Path, **popen: Any) -> subprocess.Popen[Any]:
    """`vfxcopy copy --pdf` of 3,000 frames started: its PDF takes about a second to lay out."""
    src = tmp_path / "src"
    src.mkdir()
    for frame in range(1001, 4001):
        (src / f"plate.{frame}.dpx").write_bytes(b"%d" % frame)
    return subprocess.Popen([sys.executable, "-m", "vfxcopy", "copy", "-q", "--no-fsync", "--pdf", str(src),
                             str(tmp_path / "out")], **popen)


def test_the_child_ends_with_a_parent_killed_outright(tmp_path: Path) -> None:
    """kill -9 of a copy while its PDF is laid out: the layout does not run on, orphaned (Linux)."""
    import os
    import signal
    import time

    proc = _copy_with_a_long_pdf(tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    deadline = time.monotonic() + 60
    while not (child := _children(proc.pid)) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert child, "the copy made no PDF child"
    time.sleep(0.1)  # the child is importing fpdf2: it would lay out for a second more
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)

    deadline = time.monotonic() + 0.25
    while _running(child[0]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _running(child[0])
    assert not list(tmp_path.glob("*.pdf"))


def test_the_next_pdf_reuses_the_child_which_leaves_when_idle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A child's start and imports took 0.45 s a job: the next job's PDF finds it waiting; idle, it leaves."""
    import time

    from vfxcopy.core import pdf_child
    from vfxcopy.core.report_pdf import write_pdf_report

    spec, result, frames = _finished_job(tmp_path)
    monkeypatch.setattr(pdf_child, "IDLE_S", 1.0)
    started = time.monotonic()
    write_pdf_report(spec, result, frames, None, [], [])
    first = time.monotonic() - started
    (child,) = _children()
    started = time.monotonic()
    write_pdf_report(spec, result, frames, None, [], [])
    second = time.monotonic() - started
    assert _children() == [child]  # the same process laid out both
    assert second < first / 2, (first, second)
    deadline = time.monotonic() + 10
    while _children() and time.monotonic() < deadline:  # idle for IDLE_S: it leaves, and is reaped
        time.sleep(0.05)
    assert not _children()
    write_pdf_report(spec, result, frames, None, [], [])  # and a later PDF starts a new one
    assert len(_children()) == 1 and _children() != [child]


def test_a_forked_process_does_not_share_the_child(tmp_path: Path) -> None:
    import os

    from vfxcopy.core import pdf_child
    from vfxcopy.core.report_pdf import write_pdf_report

    spec, result, frames = _finished_job(tmp_path)
    write_pdf_report(spec, result, frames, None, [], [])
    assert pdf_child._child is not None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the forked process: its parent's child is not its own to write to
        os.write(write_end, b"none" if pdf_child._child is None else b"shared")
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    assert os.read(read_end, 16) == b"none"
    os.close(read_end)
    assert pdf_child._child is not None  # the parent keeps its own


def test_ctrl_c_in_a_terminal_cancels_the_job_not_just_its_pdf(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group, the PDF child too: the job is told cancelled, not a PDF failure."""
    import os
    import signal
    import time

    proc = _copy_with_a_long_pdf(tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 start_new_session=True)
    deadline = time.monotonic() + 60
    while not list((tmp_path / "out" / "ascmhl").glob("*.html")) and time.monotonic() < deadline:
        time.sleep(0.005)  # the report is written: the PDF is next
    time.sleep(0.3)  # the PDF is being laid out
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "PDF report could not be made" not in err and "Traceback" not in err
    assert "cancelled while writing the job report" in err
    assert not list(tmp_path.glob("*.pdf"))
