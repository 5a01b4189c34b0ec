"""Job reports beside the ASC MHL manifest: one self-contained HTML page and a CSV of every frame.

Both are written all or nothing (fsynced temps, then put in place; see
core/verify/files.py): a full disk gives a ManifestError and no partial report.
Thumbnails read only frames that look like images (by their first bytes) and are
at most THUMB_MAX_BYTES, and the job's CancelToken is checked between frames:
probing a multi-GB frame that is not an image took OpenImageIO over a minute.
"""

from __future__ import annotations

import os
import stat
import struct

from vfxcopy import __version__
from vfxcopy.core.jobs import CancelToken, FrameResult, FrameStatus, JobResult, JobSpec
from vfxcopy.core.stamps import iso_time
from vfxcopy.core.textsafe import undecodable_escaped
from vfxcopy.core.units import format_size, plural
from vfxcopy.core.verify import MHL_FOLDER, MHL_FORMAT, ManifestResult, manifest_lock, write_files

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import Protocol

    from vfxcopy.core.report_early import EarlyStrip

    class Checks(Protocol):
        def check(self) -> None: ...  # raises Cancelled

THUMBNAILS = 8
THUMB_SIZE = 160
# Larger frames get no thumbnail (a note instead): decoding is bounded by what is read.
THUMB_MAX_BYTES = 256 << 20
# First bytes of the formats worth decoding; anything else (a zero-filled or data file named
# like a frame) is not handed to OpenImageIO, whose format probing can read the whole file.
_IMAGE_MAGIC = (
    b"\x76\x2f\x31\x01",  # OpenEXR
    b"SDPX", b"XPDS",  # DPX
    b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+",  # TIFF, BigTIFF
    b"\x89PNG", b"\xff\xd8\xff",  # PNG, JPEG
    b"\x80\x2a\x5f\xd7", b"\xd7\x5f\x2a\x80",  # Cineon
    b"8BPS", b"BM", b"#?RADIANCE", b"#?RGBE",  # PSD, BMP, Radiance HDR
    b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51",  # JPEG 2000
)
CSV_FIELDS = ("index", "frame", "status", "source", "dest", "size", "hash_algo", "hash", "error")


def report_paths(spec: JobSpec) -> tuple[str, str]:
    folder = os.path.join(spec.dest_dir, MHL_FOLDER)
    stem = f"vfxcopy_report_{spec.job_id}"
    return os.path.join(folder, f"{stem}.html"), os.path.join(folder, f"{stem}.csv")


def _text(value: object) -> str:
    """Printable text for any value; undecodable name bytes become \\x escapes."""
    text = str(value)
    if text.isascii():  # six calls per frame: most names need no round trip through bytes
        return text
    return undecodable_escaped(text)


# What html.escape(text, quote=True) replaces, in one pass: importing html loads its table
# of 2,000 named entities (2 ms of every verified copy) for a function that needs five.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def _h(value: object) -> str:
    text = _text(value)
    # translate() with a table costs about 1 us a name; five `in` tests a tenth of that, and
    # names rarely hold any of these characters.
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        return text.translate(_ESCAPES)
    return text


def png_bytes(width: int, height: int, channels: int, pixels: bytes) -> bytes:
    """Encode 8-bit RGB/RGBA rows as a PNG (stdlib only, for inline thumbnails)."""
    import zlib  # here: a report without thumbnails (and a copy's start) needs neither

    import numpy as np

    colour_type = {3: 2, 4: 6}[channels]
    rows = np.frombuffer(pixels, dtype=np.uint8, count=width * height * channels).reshape(height, width * channels)
    # PNG filter 'Up' (each row minus the one above, mod 256) shrinks smooth images
    # to about a third of the unfiltered size.
    filtered = rows.copy()
    filtered[1:] = rows[1:] - rows[:-1]
    kinds = np.full((height, 1), 2, dtype=np.uint8)
    kinds[0, 0] = 0  # the first row has nothing above it
    raw = np.hstack([kinds, filtered]).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def thumbnail_candidate(path: str, name: str) -> str | None:
    """None if `path` may be decoded, else why not (a note for the report, about the frame `name`).

    Opened without waiting (a FIFO named like a frame must not hold the report up) and told a
    regular file by the open file, not by a look at the name before."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            st = os.fstat(fd)
            head = os.read(fd, 16) if stat.S_ISREG(st.st_mode) else b""
        finally:
            os.close(fd)
    except OSError as exc:
        return f"{_text(name)}: no thumbnail ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return f"{_text(name)}: no thumbnail (not a regular file)"
    size = st.st_size
    if size > THUMB_MAX_BYTES:
        return (f"{_text(name)}: no thumbnail ({format_size(size)}, above the "
                f"{format_size(THUMB_MAX_BYTES)} thumbnail limit)")
    if not any(head.startswith(magic) for magic in _IMAGE_MAGIC):
        return f"{_text(name)}: no thumbnail (not an image file)"
    return None


def thumbnail_strip(
    paths: list[str],
    count: int = THUMBNAILS,
    size: int = THUMB_SIZE,
    *,
    token: CancelToken | Checks | None = None,
    notes: list[str] | None = None,
    read_from: list[str] | None = None,
) -> list[tuple[str, str]]:
    """(label, data: URI) for up to `count` frames spread over the sequence; frames that do not decode are left out.

    `read_from[i]`, when given, is a file with the same bytes as `paths[i]` to read instead
    (see `shown_frames`); labels and notes name `paths[i]`. Raises Cancelled between frames
    when `token` is cancelled; why a frame got no thumbnail is appended to `notes`.
    """
    if not paths:
        return []
    sources = read_from if read_from is not None else paths
    strip: list[tuple[str, str]] = []
    for i in picked_indexes(len(paths), count):
        if token is not None:
            token.check()
        name, path = os.path.basename(paths[i]), sources[i]
        if path != paths[i] and not os.path.isfile(path):  # the source went away since: read the delivered file
            path = paths[i]
        why_not = thumbnail_candidate(path, name)
        if why_not is not None:
            if notes is not None:
                notes.append(why_not)
            continue
        try:
            # Imported only once a frame looks like an image: a copy of data files never loads OpenImageIO.
            from vfxcopy.core.thumbnail import make_thumbnail
        except ImportError:  # OpenImageIO is an optional, separately packaged library
            return strip
        try:
            thumb = make_thumbnail(path, size)
        except (OSError, ValueError, RuntimeError):
            if notes is not None:
                notes.append(f"{_text(name)}: no thumbnail (cannot be decoded)")
            continue
        data = png_bytes(thumb.width, thumb.height, thumb.channels, thumb.data)
        import base64  # once a frame made a thumbnail: a copy of data files never needs it

        strip.append((name, "data:image/png;base64," + base64.b64encode(data).decode("ascii")))
    return strip


def picked_indexes(total: int, count: int = THUMBNAILS) -> list[int]:
    """Which of `total` frames get a thumbnail: up to `count`, spread over them, the last one included."""
    if total <= 0:
        return []
    step = max(1, total // count)
    picked = list(range(0, total, step))[:count]
    if picked[-1] != total - 1 and len(picked) == count:
        picked[-1] = total - 1
    return picked


def placed_frames(frames: list[FrameResult]) -> list[FrameResult]:
    """The delivered frames (copied or skipped) in order: those the report's thumbnails are taken from."""
    return [f for f in sorted(frames, key=lambda r: r.index) if f.status in (FrameStatus.DONE, FrameStatus.SKIPPED)]


def shown_frames(spec: JobSpec, frames: list[FrameResult]) -> tuple[list[str], list[str]]:
    """The delivered frames in order (the copied and the skipped), and for each the file its
    thumbnail is read from.

    A frame this job copied holds its source's bytes (hashed as they were copied). When the
    destination is on network storage and the source is not, its thumbnail is read from the
    source: eight frames of 4K EXR are hundreds of MB to read back over the network otherwise.
    A skipped frame is read where it is (with policy 'skip' it need not be the source's)."""
    from vfxcopy.core.roundtrips import on_network

    placed = placed_frames(frames)
    dests = [f.dest for f in placed]
    if not placed or not on_network(spec.dest_dir) or on_network(spec.source.directory or "."):
        return dests, dests
    return dests, [f.source if f.status is FrameStatus.DONE and f.source else f.dest for f in placed]


def _csv_field(value: object) -> str:
    """One field as the csv module's excel dialect writes it (quoted when it holds , " CR or LF)."""
    text = "" if value is None else str(value)
    if "," in text or '"' in text or "\r" in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_text(frames: list[FrameResult]) -> str:
    """The CSV of every frame, byte for byte what csv.writer writes (its import: 2 M instructions of each copy).

    Numbers and status words are written as they are; text that may hold a comma, a quote or a
    line break goes through _csv_field (one f-string a row: 20,000 frames 47 -> 20 ms)."""
    rows = [",".join(CSV_FIELDS)]
    formats, field = MHL_FORMAT, _csv_field
    for f in sorted(frames, key=lambda r: r.index):
        algo = f.hash_algo or ""
        frame = "" if f.frame is None else f.frame  # (None: a tree's file; csv writes None as nothing)
        rows.append(f"{f.index},{frame},{f.status.value},{field(_text(f.source))},{field(_text(f.dest))},{f.size},"
                    f"{field(formats.get(algo, algo))},{field(f.hash or '')},{field(_text(f.error or ''))}")
    return "\r\n".join(rows) + "\r\n"


def write_csv(path: str, frames: list[FrameResult]) -> None:
    folder, name = os.path.split(path)
    write_files(folder, [(name, csv_text(frames).encode("utf-8"), True)], "the job report")


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f2f2f2}
.summary td:first-child{font-weight:600}
.ok{color:#16713a}.bad{color:#b3261e;font-weight:600}
.strip{display:flex;gap:6px;flex-wrap:wrap}
.strip figure{margin:0;font-size:11px;text-align:center}
code{font-size:12px}
"""


def render_html(
    spec: JobSpec,
    result: JobResult,
    frames: list[FrameResult],
    manifest: ManifestResult | None,
    problems: list[str],
    strip: list[tuple[str, str]],
    notes: list[str] | None = None,
) -> str:
    frames = sorted(frames, key=lambda r: r.index)
    placed = [f for f in frames if f.status in (FrameStatus.DONE, FrameStatus.SKIPPED)]
    failed = [f for f in frames if f.status is FrameStatus.FAILED]
    total_bytes = sum(f.size for f in placed)
    verified = spec.copy.verify.value
    algo = MHL_FORMAT.get(spec.copy.hash_algo.value, spec.copy.hash_algo.value)
    ok = not failed and not problems
    verdict = (
        f'<span class="ok">all {plural(len(placed), "frame")} in place; verification "{verified}" ({algo}) passed</span>'
        if ok
        else f'<span class="bad">{plural(len(failed), "frame")} failed, {plural(len(problems), "problem")}</span>'
    )
    rows = [
        ("Job", f"{_h(spec.display_name())} <code>{_h(spec.job_id)}</code>"),
        ("State", _h(result.state.value) + (f" — {_h(result.message)}" if result.message else "")),
        ("Source", f"<code>{_h(spec.source.pattern())}</code> ({_h(spec.source.frame_set_str() or 'single file')})"),
        ("Destination", f"<code>{_h(spec.dest_dir)}</code>"),
        ("Frames", f"{len(placed)} in place of {len(frames)}; {len(failed)} failed"),
        ("Size", f"{format_size(total_bytes)} ({total_bytes} bytes)"),
        ("Verification", verdict),
        ("Manifest", f"<code>{_h(os.path.basename(manifest.path))}</code> (generation {manifest.generation}, {manifest.entries} files)"
         if manifest else "none"),
        ("Written", _h(iso_time()) + f" by vfxcopy {__version__}"),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>vfxcopy report — {_h(spec.display_name())}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>vfxcopy job report: {_h(spec.display_name())}</h1>",
        '<table class="summary">' + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows) + "</table>",
    ]
    if strip:
        parts.append('<h2>Thumbnails</h2><div class="strip">')
        for label, uri in strip:
            parts.append(f'<figure><img src="{uri}" alt="{_h(label)}"><figcaption>{_h(label)}</figcaption></figure>')
        parts.append("</div>")
    if notes:
        parts.append('<p class="notes">' + "<br>".join(_h(n) for n in notes) + "</p>")
    if failed or problems:
        parts.append("<h2>Errors</h2><ul>")
        parts.extend(f"<li>{_h(f.error or f.dest)}</li>" for f in failed)
        parts.extend(f"<li>{_h(p)}</li>" for p in problems)
        parts.append("</ul>")
    parts.append("<h2>Frames</h2><table><tr><th>#</th><th>Frame</th><th>File</th><th>Status</th>"
                 "<th>Size</th><th>Hash</th></tr>")
    failed_status, formats = FrameStatus.FAILED, MHL_FORMAT
    for f in frames:  # one f-string a row (20,000 frames: a row's escaping was most of the page's time)
        dest, algo = f.dest, f.hash_algo or ""
        hash_text = _h(f"{formats.get(algo, algo)} {f.hash}") if f.hash else ""
        parts.append(
            f'<tr class="{"bad" if f.status is failed_status else ""}"><td>{f.index}</td><td>{f.frame}</td>'
            f"<td><code>{_h(dest[dest.rfind(os.sep) + 1:])}</code></td><td>{f.status.value}</td><td>{f.size}</td>"
            f"<td><code>{hash_text}</code></td></tr>"
        )
    parts.append("</table></body></html>")
    return "\n".join(parts)


def write_job_report(
    spec: JobSpec,
    result: JobResult,
    frames: list[FrameResult],
    manifest: ManifestResult | None,
    problems: list[str] | None = None,
    *,
    thumbnails: bool = True,
    token: CancelToken | None = None,
    early: EarlyStrip | None = None,
) -> tuple[str, str]:
    """Write the HTML page and the CSV into `<dest>/ascmhl/`, the PDF beside `<dest>`; returns the HTML and CSV paths.

    All or nothing: ManifestError (path, cause, what to do) when they cannot be
    written, with no partial file left; Cancelled when `token` is cancelled. `early`: the
    thumbnails made while the job copied (report_early.py), used when they show these frames.
    """
    html_path, csv_path = report_paths(spec)
    folder = os.path.dirname(html_path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        from vfxcopy.core.verify.files import manifest_error

        raise manifest_error(folder, "the job report", exc) from exc
    notes: list[str] = []
    shown = shown_frames(spec, frames) if thumbnails or spec.copy.pdf_report else None  # for both reports
    made = early.result_for(frames) if early is not None and thumbnails and shown else None
    if made is not None:
        strip, notes = made
    else:
        strip = thumbnail_strip(shown[0], token=token, notes=notes, read_from=shown[1]) if thumbnails and shown else []
    page = render_html(spec, result, frames, manifest, problems or [], strip, notes)
    # The report is ours by name (it carries the job id): a re-run replaces it. Under the manifest
    # lock, so a sweep of leftovers by another job never sees its temps half-way.
    with manifest_lock(folder, token):
        write_files(folder, [(os.path.basename(html_path), page.encode("utf-8"), True),
                             (os.path.basename(csv_path), csv_text(frames).encode("utf-8"), True)],
                    "the job report", token)
    # The handover PDF (fpdf2, the report extra) beside the destination folder, not inside it:
    # when asked for (importing fpdf2 alone takes about 0.6 s, numpy and Pillow with it).
    if not spec.copy.pdf_report:
        return html_path, csv_path
    from vfxcopy.core.report_pdf import PdfError, write_pdf_report

    try:
        write_pdf_report(spec, result, frames, manifest, problems or [], strip, notes, token=token, shown=shown)
    except PdfError as exc:
        if problems is not None:
            problems.append(str(exc))
    return html_path, csv_path
