"""The PDF handover report of a verified copy (fpdf2), written next to the destination folder."""

from __future__ import annotations

import base64
import datetime as dt
import io
import os
import threading
from collections.abc import Sequence as Seq
from pathlib import Path
from typing import Any

from vfxcopy import __version__
from vfxcopy.core.jobs import CancelToken, FrameResult, FrameStatus, JobResult, JobSpec
from vfxcopy.core.textsafe import undecodable_escaped
from vfxcopy.core.units import format_size, plural
from vfxcopy.core.verify import MHL_FOLDER, MHL_FORMAT, ManifestResult, write_files

# Fonts with every character a file name may carry; Helvetica (Latin-1 only) where they are missing.
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/Library/Fonts",
              os.path.expanduser("~/.local/share/fonts"))
# The frame table lists at most this many rows (the CSV beside the HTML has every frame).
MAX_FRAME_ROWS = 400
# One child lays out a process's PDFs (pdf_child), one at a time: a window's jobs finishing
# together queue here, and a cancel stops a job's wait at once.
_ONE_AT_A_TIME = threading.Lock()


class PdfError(Exception):
    """The PDF could not be made; the caller tells it as a warning and the job stands."""


def pdf_report_path(spec: JobSpec) -> Path:
    """`<parent>/<dest name>_vfxcopy_report_<job>.pdf`: beside the delivered folder, not inside it.

    Inside, `vfxcopy verify` and `ascmhl verify` would count it as a file the manifest lacks.
    """
    dest = Path(os.path.abspath(spec.dest_dir))
    return dest.parent / f"{dest.name}_vfxcopy_report_{spec.job_id}.pdf"


def image_metadata(path: str) -> dict[str, str]:
    """What a handover sheet tells of a frame: resolution, channels, pixel type, compression, timecode, colour space.

    Empty when OpenImageIO is not installed (the convert extra) or the frame is not an image.
    """
    try:
        import OpenImageIO as oiio
    except ImportError:
        return {}
    from vfxcopy.core.oiiopath import open_image_input

    try:
        inp = open_image_input(path)
    except OSError:
        return {}
    if inp is None:
        oiio.geterror()
        return {}
    try:
        spec = inp.spec()
        info = {
            "Format": inp.format_name(),
            "Resolution": f"{spec.width} x {spec.height}",
            "Channels": f"{spec.nchannels} ({','.join(spec.channelnames)})",
            "Pixel type": str(spec.format),
        }
        for label, attr in (("Compression", "compression"), ("Timecode", "smpte:TimeCode"),
                            ("Colour space", "oiio:ColorSpace"), ("Frame rate", "FramesPerSecond")):
            value = spec.getattribute(attr)
            if value is not None and value != "":
                if attr == "smpte:TimeCode" and not isinstance(value, str):
                    value = _timecode(value)
                elif attr == "FramesPerSecond" and isinstance(value, (tuple, list)) and len(value) == 2 and value[1]:
                    value = f"{value[0] / value[1]:g} fps"  # a rational, (24, 1)
                info[label] = str(value)
        return info
    finally:
        inp.close()


def _timecode(value: Any) -> str:
    """SMPTE timecode packed as two ints (OpenEXR's TimeCode: BCD hours, minutes, seconds, frames)."""
    try:
        packed = int(value[0])
    except (TypeError, ValueError, IndexError):
        return str(value)

    def bcd(shift: int, mask: int) -> int:
        v = (packed >> shift) & mask
        return (v >> 4) * 10 + (v & 0xF)

    return f"{bcd(24, 0x3F):02d}:{bcd(16, 0x7F):02d}:{bcd(8, 0x7F):02d}:{bcd(0, 0x3F):02d}"


class _Sheet:
    """fpdf2 with the few layouts the report needs."""

    def __init__(self, title: str) -> None:
        from fpdf import FPDF

        self.pdf = FPDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_auto_page_break(True, margin=14)
        self.pdf.set_title(_clean(title))
        self.pdf.set_creator(f"vfxcopy {__version__}")
        self.font = "Helvetica"
        regular, bold = _font("DejaVuSans.ttf"), _font("DejaVuSans-Bold.ttf")
        if regular and bold:
            self.pdf.add_font("DejaVu", "", regular)
            self.pdf.add_font("DejaVu", "B", bold)
            self.font = "DejaVu"
        self.pdf.add_page()

    def text(self, value: object) -> str:
        text = _clean(value)
        return text if self.font != "Helvetica" else text.encode("latin-1", "replace").decode("latin-1")

    def heading(self, text: str, size: float = 12) -> None:
        self.pdf.set_font(self.font, "B", size)
        self.pdf.ln(2)
        self.pdf.multi_cell(0, size * 0.55, self.text(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1)

    def rows(self, rows: list[tuple[str, str]], widths: tuple[float, float] = (40, 142), bad: set[str] | None = None
             ) -> None:
        self.pdf.set_font(self.font, "", 9)
        with self.pdf.table(col_widths=widths, text_align="LEFT", first_row_as_headings=False,
                            line_height=4.6, padding=1) as table:
            for label, value in rows:
                row = table.row()
                row.cell(self.text(label))
                if bad and label in bad:
                    self.pdf.set_text_color(179, 38, 30)
                    row.cell(self.text(value))
                    self.pdf.set_text_color(0, 0, 0)
                else:
                    row.cell(self.text(value))

    def table(self, header: tuple[str, ...], body: Seq[tuple[str, ...]], widths: tuple[float, ...]) -> None:
        self.pdf.set_font(self.font, "", 7.5)
        with self.pdf.table(col_widths=widths, text_align="LEFT", line_height=3.8, padding=0.8) as table:
            head = table.row()
            for cell in header:
                head.cell(cell)
            for values in body:
                row = table.row()
                for value in values:
                    row.cell(self.text(value))

    def thumbnails(self, strip: list[tuple[str, bytes]]) -> None:
        size, gap = 42.0, 3.0
        left = self.pdf.l_margin
        per_row = max(1, int((self.pdf.w - 2 * left + gap) // (size + gap)))
        self.pdf.set_font(self.font, "", 7)
        for start in range(0, len(strip), per_row):
            chunk = strip[start:start + per_row]
            if self.pdf.get_y() + size + 8 > self.pdf.h - self.pdf.b_margin:
                self.pdf.add_page()
            top = self.pdf.get_y()
            tallest = 0.0
            for i, (label, png) in enumerate(chunk):
                x = left + i * (size + gap)
                info = self.pdf.image(io.BytesIO(png), x=x, y=top, w=size)
                tallest = max(tallest, float(info.rendered_height))
                self.pdf.set_xy(x, top + float(info.rendered_height) + 0.5)
                self.pdf.cell(size, 3, self.text(label)[:34], align="C")
            self.pdf.set_xy(left, top + tallest + 5)

    def paragraph(self, text: str, size: float = 8.5) -> None:
        self.pdf.set_font(self.font, "", size)
        self.pdf.multi_cell(0, size * 0.5, self.text(text), new_x="LMARGIN", new_y="NEXT")

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _clean(value: object) -> str:
    """Printable text: undecodable name bytes (surrogates) become \\x escapes, which a PDF string can carry."""
    return undecodable_escaped(str(value))


def _font(name: str) -> str | None:
    for folder in _FONT_DIRS:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def render_pdf(
    spec: JobSpec,
    result: JobResult,
    frames: list[FrameResult],
    manifest: ManifestResult | None,
    problems: list[str],
    strip: list[tuple[str, bytes]],
    metadata: dict[str, str],
    notes: list[str] | None = None,
) -> bytes:
    """The handover report: summary, sequence (range, missing frames), image metadata, thumbnails, frames."""
    frames = sorted(frames, key=lambda r: r.index)
    placed = [f for f in frames if f.status in (FrameStatus.DONE, FrameStatus.SKIPPED)]
    failed = [f for f in frames if f.status is FrameStatus.FAILED]
    total = sum(f.size for f in placed)
    algo = MHL_FORMAT.get(spec.copy.hash_algo.value, spec.copy.hash_algo.value)
    ok = not failed and not problems
    source = spec.source
    sheet = _Sheet(f"vfxcopy handover report: {spec.display_name()}")
    sheet.heading(f"Handover report: {spec.display_name()}", 15)
    result_text = (f"OK: all {plural(len(placed), 'frame')} in place and verified ({spec.copy.verify.value}, {algo})" if ok
                   else f"NOT OK: {plural(len(failed), 'frame')} failed, {plural(len(problems), 'problem')}")
    sheet.rows([
        ("Result", result_text),
        ("Job", f"{spec.display_name()}  ({spec.job_id}, {spec.operation.value})"),
        ("State", result.state.value + (f" - {result.message}" if result.message else "")),
        ("Source", source.pattern()),
        ("Destination", os.path.abspath(spec.dest_dir)),
        ("Frames", f"{len(placed)} in place of {len(frames)}; {len(failed)} failed"),
        ("Size", f"{format_size(total)} ({total} bytes)"),
        ("Hash", algo),
        ("Verification", spec.copy.verify.value),
        ("Manifest", f"{MHL_FOLDER}/{os.path.basename(manifest.path)} (generation {manifest.generation}, {manifest.entries} files)"
         if manifest else "none"),
        ("Written", dt.datetime.now().astimezone().isoformat(timespec="seconds") + f" by vfxcopy {__version__}"),
    ], bad=set() if ok else {"Result"})
    if spec.tree is None:
        sheet.heading("Sequence")
        missing = "" if source.is_single else source.missing_str()
        sheet.rows([
            ("Pattern", source.pattern()),
            ("Range", source.frame_set_str() or "single file"),
            ("Frame count", str(len(source))),
            ("Missing frames", f"{missing} ({source.missing_count()} frame{'s' if source.missing_count() != 1 else ''})"
             if missing else "none"),
        ], bad={"Missing frames"} if missing else set())
    else:
        sheet.heading("Sequences and files delivered")
        sheet.table(("Sequence or file", "Range", "Frames", "Missing frames"),
                    delivered_sequences(spec.dest_dir, [f.dest for f in placed]), (82, 40, 16, 44))
    if metadata:
        sheet.heading("Image")
        sheet.rows(list(metadata.items()))
    if strip:
        sheet.heading("Thumbnails")
        sheet.thumbnails(strip)
    if notes:
        sheet.paragraph("\n".join(notes))
    if failed or problems:
        sheet.heading("Errors")
        sheet.paragraph("\n".join([f.error or f.dest for f in failed] + problems))
    sheet.heading("Frames")
    shown = frames[:MAX_FRAME_ROWS]
    sheet.table(("Frame", "File", "Status", "Size", "Hash"),
                [(str(f.frame), os.path.relpath(f.dest, spec.dest_dir) if spec.tree is not None
                  else os.path.basename(f.dest), f.status.value, str(f.size),
                  f"{MHL_FORMAT.get(f.hash_algo or '', f.hash_algo or '')} {f.hash}" if f.hash else "")
                 for f in shown], (14, 64, 18, 22, 64))
    if len(frames) > len(shown):
        sheet.paragraph(f"... and {len(frames) - len(shown)} more frames: every frame is in the CSV report "
                        f"in {MHL_FOLDER}/.")
    return sheet.output()


def delivered_sequences(dest_dir: str, paths: list[str]) -> list[tuple[str, str, str, str]]:
    """(pattern relative to the destination, range, count, missing) of each sequence and single file placed."""
    from vfxcopy.core.seqfind import group_files

    by_folder: dict[str, dict[str, int | None]] = {}
    for path in paths:
        by_folder.setdefault(os.path.dirname(path), {})[os.path.basename(path)] = None
    rows: list[tuple[str, str, str, str]] = []
    for folder in sorted(by_folder):
        for seq in group_files(folder, by_folder[folder]):
            name = os.path.relpath(seq.pattern(), dest_dir)
            if seq.is_single:
                rows.append((name, "", "1", ""))
            else:
                rows.append((name, seq.frame_set_str(), str(len(seq)), seq.missing_str()))
    return rows


def decode_strip(strip: list[tuple[str, str]]) -> list[tuple[str, bytes]]:
    """The HTML report's thumbnails (PNG data URIs) as PNG bytes."""
    prefix = "data:image/png;base64,"
    return [(label, base64.b64decode(uri[len(prefix):])) for label, uri in strip if uri.startswith(prefix)]


def write_pdf_report(
    spec: JobSpec,
    result: JobResult,
    frames: list[FrameResult],
    manifest: ManifestResult | None,
    problems: list[str],
    strip: list[tuple[str, str]],
    notes: list[str] | None = None,
    *,
    token: CancelToken | None = None,
    shown: tuple[list[str], list[str]] | None = None,
) -> Path | None:
    """Write the PDF beside the destination (inside its ascmhl/ when the parent is not writable).

    None without fpdf2 (the report extra). All or nothing, like the other reports. `shown`:
    report.shown_frames' answer, when the caller has it already.
    """
    from vfxcopy.core.pdf_child import fpdf_installed, render_apart

    if not fpdf_installed():
        return None
    from vfxcopy.core.errors import JobError
    from vfxcopy.core.report import shown_frames

    # The metadata of the first frame that has a thumbnail: an image (a tree may start with a text
    # file); read where its thumbnail was (an upload's local source: see report.shown_frames).
    placed, read_from = shown if shown is not None else shown_frames(spec, frames)
    first = next((i for i, p in enumerate(placed) if strip and os.path.basename(p) == strip[0][0]), None)
    metadata = image_metadata(read_from[first]) if first is not None else {}
    while not _ONE_AT_A_TIME.acquire(timeout=0.05):  # another job's PDF is being laid out
        if token is not None:
            token.check()
    try:
        # The handover sheet is a courtesy beside the manifest, HTML and CSV: a PdfError never fails a copy.
        data = render_apart((spec, result, frames, manifest, problems, decode_strip(strip), metadata, notes), token)
    finally:
        _ONE_AT_A_TIME.release()
    path = pdf_report_path(spec)
    try:
        write_files(path.parent, [(path.name, data, True)], "the PDF report", token)
        return path
    except JobError:
        # The parent of a delivery may be a share's root we cannot write: keep it with the other reports.
        fallback = Path(spec.dest_dir) / MHL_FOLDER
        write_files(fallback, [(path.name, data, True)], "the PDF report", token)
        return fallback / path.name


def day_report_pdf(title: str, jobs: list[tuple[str, ...]], totals: list[tuple[str, str]]) -> bytes:
    """`vfxcopy report --pdf`: the jobs of a date range (time, state, frames, failed, size, what) and totals."""
    sheet = _Sheet(title)
    sheet.heading(title, 13)
    sheet.rows(totals)
    sheet.heading("Jobs")
    sheet.table(("Created", "State", "Frames", "Failed", "Size", "Source -> destination"),
                jobs or [("", "", "", "", "", "no jobs")], (20, 18, 16, 12, 18, 98))
    return sheet.output()
