"""Frame sets kept as ranges (`--frames 1-10000000` on a short sequence takes kilobytes, not a list)."""

from __future__ import annotations

import bisect
import heapq
import math
import re
from collections.abc import Iterable, Iterator
from collections.abc import Sequence as Seq
from dataclasses import dataclass

_FRAME_PART_RE = re.compile(r"^(-?\d+)(?:[-:](-?\d+)(?:x(\d+))?)?$")
MAX_FRAMES = 10_000_000


@dataclass(frozen=True)
class FrameRange:
    """`first`..`last` inclusive, every `step` frames; `last` lies on the step."""

    first: int
    last: int
    step: int = 1

    def __len__(self) -> int:
        return (self.last - self.first) // self.step + 1

    def __contains__(self, frame: object) -> bool:
        return (
            isinstance(frame, int)
            and self.first <= frame <= self.last
            and (frame - self.first) % self.step == 0
        )

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.first, self.last + 1, self.step))

    def __str__(self) -> str:
        if self.first == self.last:
            return str(self.first)
        return f"{self.first}-{self.last}" + (f"x{self.step}" if self.step > 1 else "")


def parse_frame_ranges(text: str) -> list[FrameRange]:
    """The parts of a frame list as ranges, in the order given (nothing expanded). Raises ValueError."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts:
        raise ValueError(f"no frames in {text!r}")
    ranges: list[FrameRange] = []
    for part in parts:
        m = _FRAME_PART_RE.match(part)
        if m is None:
            raise ValueError(f"bad frame range {part!r} (expected e.g. 1001-1100,1200,1300-1310x2)")
        first = int(m.group(1))
        if m.group(2) is None:
            ranges.append(FrameRange(first, first))
            continue
        last = int(m.group(2))
        step = int(m.group(3) or 1)
        if last < first:
            raise ValueError(f"bad frame range {part!r}: end before start")
        if step < 1:
            raise ValueError(f"bad frame range {part!r}: step must be at least 1")
        ranges.append(FrameRange(first, last - (last - first) % step, step))
    return ranges


def parse_frame_set(text: str) -> FrameSet:
    """A user's frame list ('1-10000000', '1001-1100,1200x2') as a FrameSet. Raises ValueError."""
    return FrameSet(parse_frame_ranges(text))


class FrameSet:
    """A set of frames held as ranges: memory and time depend on the parts, not the frames.

    `--frames 1-10000000` on a 10-frame sequence costs a few objects, not ten
    million ints (715 MB once). Supports `in`, `len()` (the exact count, overlaps
    counted once), ascending iteration, and `select(frames)` for the frames of a
    sequence that it holds. Unit ranges are merged; stepped ranges are kept as given.
    """

    def __init__(self, ranges: Iterable[FrameRange]) -> None:
        plain: list[tuple[int, int]] = []
        stepped: list[FrameRange] = []
        for r in ranges:
            if r.step == 1 or r.first == r.last:
                plain.append((r.first, r.last))
            else:
                stepped.append(r)
        plain.sort()
        merged: list[list[int]] = []
        for first, last in plain:
            if merged and first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        self._starts = [a for a, _ in merged]
        self._ends = [b for _, b in merged]
        self._stepped = tuple(sorted(set(stepped), key=lambda r: (r.first, r.last, r.step)))
        self.ranges: tuple[FrameRange, ...] = tuple(
            sorted([FrameRange(a, b) for a, b in merged] + list(self._stepped), key=lambda r: (r.first, r.last))
        )
        self._count = _union_size(self.ranges)

    @classmethod
    def of(cls, frames: Iterable[int]) -> FrameSet:
        """The FrameSet of explicit frame numbers."""
        return cls(FrameRange(f, f) for f in frames)

    def __contains__(self, frame: object) -> bool:
        if not isinstance(frame, int):
            return False
        i = bisect.bisect_right(self._starts, frame) - 1
        if i >= 0 and frame <= self._ends[i]:
            return True
        return any(frame in r for r in self._stepped)

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __iter__(self) -> Iterator[int]:
        last: int | None = None
        for frame in heapq.merge(*self.ranges):
            if frame != last:
                yield frame
                last = frame

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FrameSet) and self.ranges == other.ranges

    def __hash__(self) -> int:
        return hash(self.ranges)

    def __repr__(self) -> str:
        return f"FrameSet({str(self)!r})"

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.ranges)

    @property
    def first(self) -> int | None:
        return self.ranges[0].first if self.ranges else None

    def select(self, frames: Iterable[int]) -> list[int]:
        """The `frames` (e.g. a sequence's, on disk) that this set holds, in their order."""
        return [f for f in frames if f in self]


# Inclusion-exclusion steps before giving up on an exact count of overlapping stepped ranges.
_UNION_BUDGET = 200_000


def _union_size(ranges: Seq[FrameRange]) -> int:
    """How many distinct frames `ranges` (sorted by first) hold, without listing them.

    Inclusion-exclusion over the ranges, where the intersection of arithmetic
    progressions is one again (Chinese remainder); an empty intersection prunes
    every larger term, so disjoint parts cost one comparison each. Raises
    ValueError for pathological overlaps (many stepped ranges over one span).
    """
    total = 0
    steps = 0
    # (lo, hi, residue, modulus, next index, sign)
    stack: list[tuple[int, int, int, int, int, int]] = []
    for i, r in enumerate(ranges):
        total += len(r)
        stack.append((r.first, r.last, r.first % r.step, r.step, i + 1, -1))
    while stack:
        lo, hi, res, mod, start, sign = stack.pop()
        for j in range(start, len(ranges)):
            other = ranges[j]
            if other.first > hi:
                break  # sorted by first: no later range reaches back into [lo, hi]
            term = _intersect(lo, hi, res, mod, other)
            if term is None:
                continue
            steps += 1
            if steps > _UNION_BUDGET:
                raise ValueError("too many overlapping stepped frame ranges to count; simplify the frame list")
            t_lo, t_hi, t_res, t_mod = term
            total += sign * ((t_hi - t_lo) // t_mod + 1)
            stack.append((t_lo, t_hi, t_res, t_mod, j + 1, -sign))
    return total


def _intersect(lo: int, hi: int, res: int, mod: int, r: FrameRange) -> tuple[int, int, int, int] | None:
    """{x in [lo, hi], x = res (mod mod)} and `r`, as (first, last, residue, modulus); None if empty."""
    g = math.gcd(mod, r.step)
    diff = r.first - res
    if diff % g:
        return None
    lcm = mod // g * r.step
    # x = res + mod * t with mod * t = diff (mod step)
    m = r.step // g
    t = (diff // g) * pow(mod // g, -1, m) % m if m > 1 else 0
    x0 = (res + mod * t) % lcm
    lo, hi = max(lo, r.first), min(hi, r.last)
    first = lo + (x0 - lo) % lcm
    if first > hi:
        return None
    return first, first + (hi - first) // lcm * lcm, x0, lcm
