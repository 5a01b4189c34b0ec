"""Numbers and words as people read them: sizes and speeds in binary units, durations, plurals, a rate meter."""

from __future__ import annotations

import math
import re
import time
from collections import deque

SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
# Compiled on first use (re.compile at import cost every start, most of which parse no size).
_SIZE_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?(?:/S)?\s*$"
# Labels match the grammar parse_size reads: '50M' is 50 MiB, so it is shown as '50.0 MiB'.
_LABELS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def parse_size(text: str) -> int:
    """'50M' -> 52428800: a byte count with an optional K, M, G or T suffix (binary, like rsync).

    'KB', 'MiB', 'M/s' are accepted too. Raises ValueError with a message a user can act on.
    """
    match = re.match(_SIZE_PATTERN, text, re.IGNORECASE)  # re caches the compiled pattern
    if not match:
        raise ValueError(f"{text!r} is not a size: use a number with K, M or G, e.g. 50M")
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2).upper()])


def format_size(n: float | None, unknown: str = "—") -> str:
    """1288490188 -> '1.2 GiB'; 512 -> '512 B'; None -> `unknown`. The one size format of vfxcopy."""
    if n is None or (isinstance(n, float) and not math.isfinite(n)):
        return unknown
    value = float(n)
    for label in _LABELS:
        if abs(value) < 1024 or label == _LABELS[-1]:
            if label == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {label}"
        value /= 1024
    return f"{value:.1f} {_LABELS[-1]}"  # not reached


def format_rate(bytes_per_s: float | None, unknown: str = "") -> str:
    """52428800.0 -> '50.0 MiB/s'; None or 0 -> `unknown` (no speed is better than a wrong one)."""
    if bytes_per_s is None or not math.isfinite(bytes_per_s) or bytes_per_s <= 0:
        return unknown
    return f"{format_size(bytes_per_s)}/s"


def format_duration(seconds: float | None, unknown: str = "") -> str:
    """75.2 -> '1:15'; 3725 -> '1:02:05'; None, negative or infinite -> `unknown`."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return unknown
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """'1 frame', '2 frames', '0 frames'; `plural_form` for the irregular ones ('1 job is', '2 jobs are')."""
    word = singular if count == 1 else (plural_form if plural_form is not None else singular + "s")
    return f"{count} {word}"


class RateMeter:
    """Bytes per second over a sliding window of (time, bytes done) samples.

    The first reading is withheld until `min_span` seconds of samples exist: a rate
    over the first few milliseconds (a frame landing in the page cache) can be three
    times the real one and would make the ETA a promise the copy cannot keep.
    """

    def __init__(self, window: float = 5.0, min_span: float = 1.0) -> None:
        self.window = window
        self.min_span = min_span
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, bytes_done: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self._samples and bytes_done < self._samples[-1][1]:
            self._samples.clear()  # a restart (run again, resume) begins a new measurement
        self._samples.append((now, bytes_done))
        # Keep one sample older than the window so that the span covers the whole window.
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()

    def reset(self) -> None:
        self._samples.clear()

    @property
    def span(self) -> float:
        return self._samples[-1][0] - self._samples[0][0] if len(self._samples) >= 2 else 0.0

    @property
    def rate(self) -> float | None:
        """Bytes per second, or None while fewer than `min_span` seconds were measured."""
        span = self.span
        if span < self.min_span or span <= 0:
            return None
        return (self._samples[-1][1] - self._samples[0][1]) / span

    def eta(self, bytes_left: int) -> float | None:
        """Seconds left at the measured rate; None while the rate is not known or is zero."""
        rate = self.rate
        if rate is None or rate <= 0:
            return None
        return max(0.0, bytes_left) / rate
