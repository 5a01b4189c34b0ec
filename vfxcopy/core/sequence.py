"""Find and parse frame sequences: padding, ranges, gaps, the three pattern syntaxes."""

from __future__ import annotations

import os
from collections.abc import Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sequence:
    """A frame sequence on disk: `directory/head + frame(padded) + tail`.

    A stray single file (no frame number, or a lone numbered non-image file) is a
    Sequence with `frames == ()`, `padding == 0` and the whole name in `head`.
    `padding` is the minimum digit count (4 for `0001`); 0 or 1 means unpadded.
    Negative frames are written `-001` with padding counting digits only.
    """

    directory: str
    head: str
    tail: str
    padding: int
    frames: tuple[int, ...]
    total_size: int | None = field(default=None, compare=False)  # bytes, None if not statted

    # -- identity --
    @property
    def is_single(self) -> bool:
        return not self.frames

    @property
    def start(self) -> int | None:
        return self.frames[0] if self.frames else None

    @property
    def end(self) -> int | None:
        return self.frames[-1] if self.frames else None

    def __len__(self) -> int:
        return max(1, len(self.frames)) if self.is_single else len(self.frames)

    # -- names --
    def format_frame(self, frame: int) -> str:
        digits = str(abs(frame)).zfill(self.padding)
        return f"-{digits}" if frame < 0 else digits

    def name(self, frame: int | None = None) -> str:
        if self.is_single or frame is None:
            return self.head + self.tail if self.is_single else self.nuke_name()
        return f"{self.head}{self.format_frame(frame)}{self.tail}"

    def path(self, frame: int | None = None) -> Path:
        return Path(self.directory) / self.name(frame)

    def paths(self, frames: Iterable[int] | None = None) -> list[Path]:
        if self.is_single:
            return [self.path()]
        return [self.path(f) for f in (self.frames if frames is None else frames)]

    def with_frames(self, frames: Iterable[int]) -> Sequence:
        return Sequence(self.directory, self.head, self.tail, self.padding, tuple(sorted(set(frames))))

    # -- the three syntaxes artists paste --
    def nuke_name(self) -> str:
        if self.is_single:
            return self.head + self.tail
        return f"{self.head}{'#' * max(1, self.padding)}{self.tail}"

    def houdini_name(self) -> str:
        if self.is_single:
            return self.head + self.tail
        token = f"$F{self.padding}" if self.padding > 1 else "$F"
        return f"{self.head}{token}{self.tail}"

    def printf_name(self) -> str:
        if self.is_single:
            return self.head + self.tail
        token = f"%0{self.padding}d" if self.padding > 1 else "%d"
        return f"{self.head}{token}{self.tail}"

    def pattern(self, syntax: str = "nuke") -> str:
        """Full path in one syntax: 'nuke', 'houdini' or 'printf'."""
        names = {"nuke": self.nuke_name, "houdini": self.houdini_name, "printf": self.printf_name}
        return os.path.join(self.directory, names[syntax]())

    # -- ranges and gaps --
    def range_str(self) -> str:
        """'1001-1781' for the full extent (gaps are listed by `missing()`)."""
        if self.is_single:
            return ""
        if self.start == self.end:
            return str(self.start)
        return f"{self.start}-{self.end}"

    def frame_set_str(self) -> str:
        """Compact frame list: '1001-1100,1105-1781'."""
        return format_frames(self.frames)

    def missing(self) -> list[int]:
        if len(self.frames) < 2:
            return []
        have = set(self.frames)
        return [f for f in range(self.frames[0], self.frames[-1] + 1) if f not in have]

    def display(self) -> str:
        if self.is_single:
            return self.head + self.tail
        return f"{self.nuke_name()} {self.range_str()}"

    # -- serialisation (journal, --json) --
    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "head": self.head,
            "tail": self.tail,
            "padding": self.padding,
            "frames": list(self.frames),
            "total_size": self.total_size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sequence:
        return cls(
            directory=data["directory"],
            head=data["head"],
            tail=data["tail"],
            padding=int(data["padding"]),
            frames=tuple(int(f) for f in data["frames"]),
            total_size=data.get("total_size"),
        )


def format_frames(frames: Seq[int]) -> str:
    """[1,2,3,5,7,8] -> '1-3,5,7-8'."""
    parts: list[str] = []
    ordered = sorted(set(frames))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def parse_frames(text: str) -> list[int]:
    """'1001-1100,1200,1300-1310x2' -> sorted unique frames. Raises ValueError."""
    raise NotImplementedError  # implemented with the scanner


IMAGE_EXTENSIONS = frozenset(
    {"exr", "sxr", "dpx", "cin", "tif", "tiff", "png", "jpg", "jpeg", "tga", "hdr", "bmp",
     "psd", "tx", "iff", "sgi", "rgb", "rla", "pic", "jp2", "j2c", "webp", "heic", "avif",
     "ari", "arw", "cr2", "dng", "nef", "raw", "r3d", "ptx", "ktx", "ppm", "pgm", "pbm",
     "ico", "gif", "vdb", "bgeo", "sc", "abc", "usd", "usdc", "obj", "ass", "rs", "ifd"}
)


def scan(paths: Iterable[str | os.PathLike[str]], *, stat: bool = False) -> list[Sequence]:
    """Group any mix of files and folders into sequences and single files."""
    raise NotImplementedError


def find_sequence(path: str | os.PathLike[str], *, stat: bool = False) -> Sequence:
    """The whole sequence a single frame belongs to (or a single-file Sequence)."""
    raise NotImplementedError
