"""A frame sequence as a value: its frames, padding, names, ranges, gaps and the three pattern syntaxes.

Finding sequences in folders (scans, patterns, a dropped frame) is core/seqfind.py."""

from __future__ import annotations

import os
from collections.abc import Iterable

from vfxcopy.core.datamethods import SlotRecord
from vfxcopy.core.framenames import frame_runs

TYPE_CHECKING = False  # typing's constant without importing typing (3 ms of `vfxcopy ls`)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

_FIELDS = ("directory", "head", "tail", "padding", "frames", "total_size")


def _as_pathlib_shows(path: str) -> str:
    """str(pathlib.Path(path)): no empty or "." parts, no trailing slash, "." for nothing; two
    leading slashes kept (POSIX leaves their meaning to the system), more become one."""
    if os.sep != "/":  # pragma: no cover - Windows: its own rules (drives, backslashes)
        from pathlib import Path

        return str(Path(path))
    root = "//" if path.startswith("//") and not path.startswith("///") else "/" if path.startswith("/") else ""
    return (root + "/".join(part for part in path.split("/") if part and part != ".")) or "."


class Sequence(SlotRecord):
    """A frame sequence on disk: `directory/head + frame(padded) + tail`.

    A stray single file (no frame number, or a lone numbered non-image file) is a
    Sequence with `frames == ()`, `padding == 0` and the whole name in `head`.
    `padding` is the minimum digit count (4 for `0001`); 0 or 1 means unpadded.
    Negative frames are written `-001` with padding counting digits only.

    A value, as a frozen dataclass would make it (SlotRecord's repr of its fields; equal and
    hashed by every field but `total_size`; assigning a field raises AttributeError), written out: `vfxcopy
    ls` then loads neither dataclasses nor copy, and compiles no __init__, __setattr__ and
    __delattr__ (10 % of the instructions of its start; tests/cli/test_startup.py compares it
    with a frozen dataclass).
    """

    __slots__ = _FIELDS
    directory: str
    head: str
    tail: str
    padding: int
    frames: tuple[int, ...]
    total_size: int | None  # bytes, None if not statted

    def __init__(self, directory: str, head: str, tail: str, padding: int, frames: tuple[int, ...],
                 total_size: int | None = None) -> None:
        put = object.__setattr__
        put(self, "directory", directory)
        put(self, "head", head)
        put(self, "tail", tail)
        put(self, "padding", padding)
        put(self, "frames", frames)
        put(self, "total_size", total_size)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def _key(self) -> tuple[object, ...]:
        return (self.directory, self.head, self.tail, self.padding, self.frames)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:  # type: ignore[override]  # hashable, as a frozen dataclass is
        return hash(self._key())

    def __reduce__(self) -> tuple[type[Sequence], tuple[object, ...]]:  # copy, deepcopy, pickle
        return type(self), tuple(getattr(self, name) for name in _FIELDS)

    def replace(self, **changes: Any) -> Sequence:
        """A copy with `changes` (field=value), as dataclasses.replace makes one."""
        values = {name: getattr(self, name) for name in _FIELDS}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"Sequence has no field {sorted(unknown)[0]!r}")
        values.update(changes)
        return type(self)(**values)

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
        from pathlib import Path  # not at import: `vfxcopy ls` lists names without it (3 ms of a start)

        return Path(self.directory) / self.name(frame)

    def paths(self, frames: Iterable[int] | None = None) -> list[Path]:
        if self.is_single:
            return [self.path()]
        return [self.path(f) for f in (self.frames if frames is None else frames)]

    def path_strs(self, frames: Iterable[int] | None = None) -> list[str]:
        """`[str(self.path(f)) for f in frames]` without making a Path per frame (5x faster), nor
        importing pathlib (a copy's start does without it: 16 M instructions)."""
        base = _as_pathlib_shows(self.directory)
        prefix = "" if base == "." else base if base.endswith("/") else base + "/"
        if self.is_single:
            return [_as_pathlib_shows(prefix + self.name())]
        head, tail, padding = prefix + self.head, self.tail, self.padding
        return [f"{head}{f:0{padding}d}{tail}" if f >= 0 else f"{head}-{-f:0{padding}d}{tail}"
                for f in (self.frames if frames is None else frames)]

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
        return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in frame_runs(self.frames))

    def missing(self) -> list[int]:
        if len(self.frames) < 2:
            return []
        have = set(self.frames)
        return [f for f in range(self.frames[0], self.frames[-1] + 1) if f not in have]

    def display(self) -> str:
        if self.is_single:
            return self.head + self.tail
        return f"{self.nuke_name()} {self.range_str()}"

    def missing_ranges(self) -> list[tuple[int, int]]:
        """Gaps as inclusive (first, last) pairs; cheap even for huge sparse ranges."""
        runs = frame_runs(self.frames)
        return [(a[1] + 1, b[0] - 1) for a, b in zip(runs, runs[1:], strict=False)]

    def missing_count(self) -> int:
        return sum(b - a + 1 for a, b in self.missing_ranges())

    def missing_str(self) -> str:
        """Compact gap list: '1005,1010-1012' ('' when complete)."""
        return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in self.missing_ranges())

    @property
    def extension(self) -> str:
        """Lower-case extension without the dot ('exr'), '' if none."""
        name = self.tail if not self.is_single else self.head + self.tail
        stem, dot, ext = name.rpartition(".")
        return ext.lower() if dot else ""

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
            frames=tuple(map(int, data["frames"])),
            total_size=data.get("total_size"),
        )
