"""Byte sizes as people type them ('50M', '1.5k', '2GiB'): binary units, like rsync's --bwlimit."""

from __future__ import annotations

import re

SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?(?:/S)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'50M' -> 52428800: a byte count with an optional K, M, G or T suffix (binary, like rsync).

    'KB', 'MiB', 'M/s' are accepted too. Raises ValueError with a message a user can act on.
    """
    match = _SIZE_RE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size: use a number with K, M or G, e.g. 50M")
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2).upper()])
