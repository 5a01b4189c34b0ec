"""Pre-flight records: finding kinds, findings, per-frame header facts, options and the report."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from vfxcopy.core.sequence import Sequence


class Kind(str, enum.Enum):
    """What is wrong with a frame (or between frames). The values are the CLI and JSON names."""

    GAP = "gap"  # frames missing inside the range
    EMPTY = "empty"  # a 0-byte file
    TRUNCATED = "truncated"  # the file ends before its last pixel chunk
    UNDECODABLE = "undecodable"  # the header (or, with deep, the pixels) does not decode
    RESOLUTION = "resolution"
    WINDOW = "window"  # data or display window
    CHANNELS = "channels"
    PIXEL_TYPE = "pixel_type"
    COMPRESSION = "compression"
    COLORSPACE = "colorspace"  # the oiio:ColorSpace attribute
    SIZE = "size"  # bytes more than size_factor x off the median
    DUPLICATE = "duplicate"  # same bytes as another frame

    def __str__(self) -> str:
        return self.value


# Frames that differ from the majority of their sequence.
OUTLIER_KINDS: frozenset[Kind] = frozenset(
    {Kind.RESOLUTION, Kind.WINDOW, Kind.CHANNELS, Kind.PIXEL_TYPE, Kind.COMPRESSION, Kind.COLORSPACE, Kind.SIZE}
)
# Frames that cannot be used at all.
BROKEN_KINDS: frozenset[Kind] = frozenset({Kind.EMPTY, Kind.TRUNCATED, Kind.UNDECODABLE})

# Names a policy or `--only` may use for several kinds at once.
GROUPS: dict[str, frozenset[Kind]] = {
    "outlier": OUTLIER_KINDS,
    "broken": BROKEN_KINDS,
    "all": frozenset(Kind),
}


@dataclass(frozen=True)
class Finding:
    """One problem: which frame, what is wrong, and for outliers what was expected and what was found."""

    kind: Kind
    frame: int | None  # the frame number; for a gap, its first missing frame
    path: str
    message: str  # says what is wrong in words a person reads
    expected: str = ""
    found: str = ""

    def text(self) -> str:
        """'path: message (expected X, found Y)'."""
        extra = ""
        if self.expected or self.found:
            extra = f" (expected {self.expected or '-'}, found {self.found or '-'})"
        return f"{self.path}: {self.message}{extra}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "frame": self.frame,
            "path": self.path,
            "message": self.message,
            "expected": self.expected,
            "found": self.found,
        }


@dataclass
class FrameInfo:
    """What one frame's header (and file size) says; `error` when it could not be read."""

    frame: int | None
    path: str
    size: int = -1  # bytes; -1 when stat failed
    width: int = 0
    height: int = 0
    data_window: str = ""
    display_window: str = ""
    channels: tuple[str, ...] = ()
    pixel_type: str = ""
    compression: str = ""
    colorspace: str = ""
    decoded: bool = False  # header read (and, with deep, every pixel)
    error_kind: Kind | None = None
    error: str = ""


@dataclass
class PreflightOptions:
    """How much a pre-flight reads. Header mode reads each header and the last pixel chunk only."""

    deep: bool = False  # decode every pixel (a full read of every frame)
    duplicates: bool = False  # hash frames of equal size to find identical ones (see analyse.find_duplicates)
    size_factor: float = 3.0  # a frame more than this many times off the median size is an outlier
    threads: int = 8  # frames read at once: header reads wait on storage latency, not on the CPU
    kinds: frozenset[Kind] | None = None  # look only for these (None: all)

    def wants(self, kind: Kind) -> bool:
        return self.kinds is None or kind in self.kinds


@dataclass
class Report:
    """The outcome of one pre-flight of one sequence."""

    sequence: Sequence
    frames_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    cancelled: bool = False
    elapsed: float = 0.0
    options: PreflightOptions = field(default_factory=PreflightOptions)

    @property
    def ok(self) -> bool:
        return not self.findings and not self.cancelled

    def counts(self) -> dict[str, int]:
        """Finding kind -> how many (only kinds found)."""
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.kind.value] = out.get(f.kind.value, 0) + 1
        return out

    def of_kind(self, kind: Kind) -> list[Finding]:
        return [f for f in self.findings if f.kind is kind]

    def summary(self) -> str:
        """'OK', 'cancelled' or '3 findings: 1 truncated, 2 resolution'."""
        if self.cancelled:
            return "cancelled"
        if not self.findings:
            return "OK"
        n = len(self.findings)
        parts = ", ".join(f"{count} {kind}" for kind, count in self.counts().items())
        return f"{n} finding{'s' if n != 1 else ''}: {parts}"

    def to_dict(self) -> dict[str, Any]:
        seq = self.sequence
        return {
            "sequence": seq.pattern() if not seq.is_single else str(seq.path()),
            "range": seq.range_str(),
            "frames_checked": self.frames_checked,
            "ok": self.ok,
            "cancelled": self.cancelled,
            "elapsed": round(self.elapsed, 6),
            "deep": self.options.deep,
            "duplicates": self.options.duplicates,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
        }
