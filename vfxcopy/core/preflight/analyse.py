"""Findings across frames: gaps, frames unlike the majority, sizes far from the median, identical frames."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable

from vfxcopy.core.jobs import CancelToken
from vfxcopy.core.preflight.model import Finding, FrameInfo, Kind, PreflightOptions
from vfxcopy.core.sequence import Sequence

# A sample hash (three 64 KiB pieces) screens frames of equal size before a full hash:
# distinct frames almost always differ in one of them, so only true duplicates are read whole.
SAMPLE_BYTES = 64 * 1024


def gap_findings(seq: Sequence, frames: list[int]) -> list[Finding]:
    """One finding per run of frames missing on disk between the first and last frame asked for."""
    if not frames:
        return []
    lo, hi = min(frames), max(frames)
    on_disk = [f for f in seq.frames if lo <= f <= hi]
    runs: list[tuple[int, int]] = []
    prev = lo - 1
    for f in on_disk:
        if f - prev > 1:
            runs.append((prev + 1, f - 1))
        prev = f
    if hi > prev:
        runs.append((prev + 1, hi))
    findings = []
    for first, last in runs:
        count = last - first + 1
        message = f"frame {first} is missing" if count == 1 else f"frames {first}-{last} are missing ({count})"
        findings.append(Finding(Kind.GAP, first, str(seq.path(first)), message))
    return findings


# (kind, label, how to read the fact from a frame)
_FACTS: list[tuple[Kind, str, Callable[[FrameInfo], str]]] = [
    (Kind.RESOLUTION, "resolution", lambda i: f"{i.width}x{i.height}"),
    (Kind.WINDOW, "data window", lambda i: i.data_window),
    (Kind.WINDOW, "display window", lambda i: i.display_window),
    (Kind.CHANNELS, "channels", lambda i: ",".join(i.channels)),
    (Kind.PIXEL_TYPE, "pixel type", lambda i: i.pixel_type),
    (Kind.COMPRESSION, "compression", lambda i: i.compression or "none"),
    (Kind.COLORSPACE, "colour space", lambda i: i.colorspace or "(none)"),
]


def _majority(values: list[str]) -> str:
    """The most common value; a tie goes to the one seen first (frames are in order)."""
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def _message(kind: Kind, label: str, usual: str, info: FrameInfo) -> str:
    if kind is Kind.CHANNELS:
        missing = [c for c in usual.split(",") if c and c not in info.channels]
        extra = [c for c in info.channels if c not in usual.split(",")]
        if missing:
            return f"channel{'s' if len(missing) > 1 else ''} {','.join(missing)} missing"
        if extra:
            return f"extra channel{'s' if len(extra) > 1 else ''} {','.join(extra)}"
        return "channels in another order"
    return f"{label} differs from the other frames"


def outlier_findings(infos: list[FrameInfo], options: PreflightOptions) -> list[Finding]:
    """Frames whose header facts differ from the sequence's majority, and sizes far off the median."""
    decoded = [i for i in infos if i.decoded]
    findings: list[Finding] = []
    if len(decoded) >= 2:
        usual_res = _majority([_FACTS[0][2](i) for i in decoded])
        for kind, label, fact in _FACTS:
            if not options.wants(kind):
                continue
            values = [fact(i) for i in decoded]
            usual = _majority(values)
            for info, value in zip(decoded, values, strict=True):
                if value == usual:
                    continue
                if kind is Kind.WINDOW and _FACTS[0][2](info) != usual_res and (
                    label == "display window" or info.data_window == info.display_window
                ):
                    continue  # a whole frame at another resolution: the resolution finding says it
                findings.append(Finding(kind, info.frame, info.path, _message(kind, label, usual, info),
                                        expected=usual, found=value))
    if options.wants(Kind.SIZE):
        findings.extend(size_findings(infos, options.size_factor))
    return findings


def size_findings(infos: list[FrameInfo], factor: float) -> list[Finding]:
    """Frames more than `factor` times larger or smaller than the median (empty and broken frames excluded)."""
    sized = [i for i in infos if i.size > 0 and i.error_kind is None]
    if len(sized) < 3 or factor <= 1:
        return []
    import statistics  # here, not at the top: `vfxcopy check` starts faster (8 ms on the test machine)

    median = statistics.median(i.size for i in sized)
    findings = []
    for info in sized:
        if info.size > median * factor or info.size * factor < median:
            ratio = info.size / median
            findings.append(Finding(
                Kind.SIZE, info.frame, info.path,
                f"{ratio:.2g}x the median frame size (limit {factor:g}x)",
                expected=f"about {int(median)} bytes", found=f"{info.size} bytes",
            ))
    return findings


def _sample_hash(path: str, size: int) -> str:
    import xxhash

    hasher = xxhash.xxh3_64()
    with open(path, "rb") as f:
        for offset in sorted({0, max(0, size // 2 - SAMPLE_BYTES // 2), max(0, size - SAMPLE_BYTES)}):
            f.seek(offset)
            hasher.update(f.read(SAMPLE_BYTES))
    return hasher.hexdigest()


def _groups(items: Iterable[tuple[str, FrameInfo]]) -> list[list[FrameInfo]]:
    by_key: dict[str, list[FrameInfo]] = {}
    for key, info in items:
        by_key.setdefault(key, []).append(info)
    return [group for group in by_key.values() if len(group) > 1]


def find_duplicates(infos: list[FrameInfo], token: CancelToken | None = None) -> list[Finding]:
    """Frames with the same bytes as an earlier frame.

    Only frames that share their exact size with another are read: first three
    64 KiB samples, then, where the samples match, the whole file (xxh3-128). On
    compressed EXR sizes almost never match, so this costs nearly nothing; on DPX
    (every frame the same size) it reads 192 KiB a frame plus the suspects whole.
    """
    from vfxcopy.core.hashing import hash_file

    candidates = [i for i in infos if i.size > 0 and i.error_kind is None]
    findings: list[Finding] = []
    for same_size in _groups((str(i.size), i) for i in candidates):
        sampled: list[tuple[str, FrameInfo]] = []
        for info in same_size:
            if token is not None:
                token.check()
            try:
                sampled.append((_sample_hash(info.path, info.size), info))
            except OSError:
                continue  # vanished since the header read: the copy will say so
        for same_sample in _groups(sampled):
            hashed: list[tuple[str, FrameInfo]] = []
            for info in same_sample:
                if token is not None:
                    token.check()
                try:
                    hashed.append((hash_file(info.path), info))
                except OSError:
                    continue
            for group in _groups(hashed):
                first = group[0]
                for info in group[1:]:
                    findings.append(Finding(
                        Kind.DUPLICATE, info.frame, info.path,
                        f"same bytes as frame {first.frame} ({os.path.basename(first.path)})",
                    ))
    return findings
