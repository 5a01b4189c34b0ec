"""Job reports beside the ASC MHL manifest: one self-contained HTML page and a CSV of every frame."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import os
import struct
import zlib
from pathlib import Path

from vfxcopy import __version__
from vfxcopy.core.jobs import FrameResult, FrameStatus, JobResult, JobSpec
from vfxcopy.core.verify import MHL_FOLDER, MHL_FORMAT, ManifestResult

THUMBNAILS = 8
THUMB_SIZE = 160
CSV_FIELDS = ("index", "frame", "status", "source", "dest", "size", "hash_algo", "hash", "error")


def report_paths(spec: JobSpec) -> tuple[Path, Path]:
    folder = Path(spec.dest_dir) / MHL_FOLDER
    stem = f"vfxcopy_report_{spec.job_id}"
    return folder / f"{stem}.html", folder / f"{stem}.csv"


def _text(value: object) -> str:
    """Printable text for any value; undecodable name bytes become \\x escapes."""
    return str(value).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _h(value: object) -> str:
    return html.escape(_text(value))


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def png_bytes(width: int, height: int, channels: int, pixels: bytes) -> bytes:
    """Encode 8-bit RGB/RGBA rows as a PNG (stdlib only, for inline thumbnails)."""
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


def thumbnail_strip(paths: list[str], count: int = THUMBNAILS, size: int = THUMB_SIZE) -> list[tuple[str, str]]:
    """(label, data: URI) for up to `count` frames spread over the sequence; frames that do not decode are left out."""
    try:
        from vfxcopy.core.thumbnail import make_thumbnail
    except ImportError:
        return []
    if not paths:
        return []
    step = max(1, len(paths) // count)
    picked = paths[::step][:count]
    if paths[-1] not in picked and len(picked) == count:
        picked[-1] = paths[-1]
    strip: list[tuple[str, str]] = []
    import base64

    for path in picked:
        try:
            thumb = make_thumbnail(path, size)
        except (OSError, ValueError, RuntimeError):
            continue  # not an image OpenImageIO can read (or a plain data file): no thumbnail
        data = png_bytes(thumb.width, thumb.height, thumb.channels, thumb.data)
        strip.append((os.path.basename(path), "data:image/png;base64," + base64.b64encode(data).decode("ascii")))
    return strip


def write_csv(path: Path, frames: list[FrameResult]) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(CSV_FIELDS)
    for f in sorted(frames, key=lambda r: r.index):
        writer.writerow([f.index, f.frame, f.status.value, _text(f.source), _text(f.dest), f.size,
                         MHL_FORMAT.get(f.hash_algo or "", f.hash_algo or ""), f.hash or "", _text(f.error or "")])
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


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
) -> str:
    frames = sorted(frames, key=lambda r: r.index)
    placed = [f for f in frames if f.status in (FrameStatus.DONE, FrameStatus.SKIPPED)]
    failed = [f for f in frames if f.status is FrameStatus.FAILED]
    total_bytes = sum(f.size for f in placed)
    verified = spec.copy.verify.value
    algo = MHL_FORMAT.get(spec.copy.hash_algo.value, spec.copy.hash_algo.value)
    ok = not failed and not problems
    verdict = (
        f'<span class="ok">all {len(placed)} frames in place; verification "{verified}" ({algo}) passed</span>'
        if ok
        else f'<span class="bad">{len(failed)} frames failed, {len(problems)} problems</span>'
    )
    rows = [
        ("Job", f"{_h(spec.display_name())} <code>{_h(spec.job_id)}</code>"),
        ("State", _h(result.state.value) + (f" — {_h(result.message)}" if result.message else "")),
        ("Source", f"<code>{_h(spec.source.pattern())}</code> ({_h(spec.source.frame_set_str() or 'single file')})"),
        ("Destination", f"<code>{_h(spec.dest_dir)}</code>"),
        ("Frames", f"{len(placed)} in place of {len(frames)}; {len(failed)} failed"),
        ("Size", f"{_size(total_bytes)} ({total_bytes} bytes)"),
        ("Verification", verdict),
        ("Manifest", f"<code>{_h(manifest.path.name)}</code> (generation {manifest.generation}, {manifest.entries} files)"
         if manifest else "none"),
        ("Written", _h(dt.datetime.now().astimezone().isoformat(timespec="seconds")) + f" by vfxcopy {__version__}"),
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
    if failed or problems:
        parts.append("<h2>Errors</h2><ul>")
        parts.extend(f"<li>{_h(f.error or f.dest)}</li>" for f in failed)
        parts.extend(f"<li>{_h(p)}</li>" for p in problems)
        parts.append("</ul>")
    parts.append("<h2>Frames</h2><table><tr><th>#</th><th>Frame</th><th>File</th><th>Status</th>"
                 "<th>Size</th><th>Hash</th></tr>")
    for f in frames:
        cls = "bad" if f.status is FrameStatus.FAILED else ""
        hash_text = f"{MHL_FORMAT.get(f.hash_algo or '', f.hash_algo or '')} {f.hash}" if f.hash else ""
        parts.append(
            f'<tr class="{cls}"><td>{f.index}</td><td>{f.frame}</td><td><code>{_h(os.path.basename(f.dest))}</code></td>'
            f"<td>{_h(f.status.value)}</td><td>{f.size}</td><td><code>{_h(hash_text)}</code></td></tr>"
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
) -> tuple[Path, Path]:
    """Write the HTML page and the CSV into `<dest>/ascmhl/`; returns their paths."""
    html_path, csv_path = report_paths(spec)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    placed = [f.dest for f in sorted(frames, key=lambda r: r.index)
              if f.status in (FrameStatus.DONE, FrameStatus.SKIPPED)]
    strip = thumbnail_strip(placed) if thumbnails else []
    html_path.write_text(render_html(spec, result, frames, manifest, problems or [], strip), encoding="utf-8")
    write_csv(csv_path, frames)
    return html_path, csv_path
