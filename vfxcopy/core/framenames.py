"""Frame numbers in file names and in lists: where a name's frame is, natural order, padding,
and the `1-3,5` frame-list syntax (the name rules sequence.py groups files by)."""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Sequence as Seq

TYPE_CHECKING = False  # typing's constant without importing typing (3 ms of `vfxcopy ls`)

if TYPE_CHECKING:
    from vfxcopy.core.sequence import Sequence


def format_frames(frames: Seq[int]) -> str:
    """[1,2,3,5,7,8] -> '1-3,5,7-8'."""
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in frame_runs(sorted(set(frames))))


def frame_runs(frames: Seq[int]) -> list[tuple[int, int]]:
    """Sorted, unique frames -> runs of consecutive frames as inclusive (first, last) pairs.

    A slice is one run when its last frame minus its first equals its length
    minus one, so halving finds the gaps: the cost grows with the number of gaps,
    not of frames (`ls --json` of 100,000 frames walked every frame three times).
    """
    runs: list[tuple[int, int]] = []
    if not frames:
        return runs
    todo = [(0, len(frames) - 1)]
    while todo:
        i, j = todo.pop()
        first, last = frames[i], frames[j]
        if last - first == j - i:
            if runs and runs[-1][1] + 1 == first:
                runs[-1] = (runs[-1][0], last)
            else:
                runs.append((first, last))
        else:
            middle = (i + j) // 2
            todo.append((middle + 1, j))  # the left half first: runs come out in order
            todo.append((i, middle))
    return runs


def parse_frames(text: str) -> list[int]:
    """'1001-1100,1200,1300-1310x2' -> sorted unique frames. Raises ValueError.

    Parts are separated by commas or spaces; a part is `N`, `A-B` or `A-BxSTEP`
    (also `A:B`); negative frames are written `-5`, so `-10--1` is a range.
    This makes one int per frame: where the text comes from a user and is
    applied to frames on disk, use `parse_frame_set` (ranges, no expansion).
    """
    # core.frames (ranges and frame sets) loads with the first frame list read: a run without
    # --frames never needs it (a dataclass, bisect, heapq and a pattern at every start).
    from vfxcopy.core.frames import MAX_FRAMES, parse_frame_ranges

    frames: set[int] = set()
    for part in parse_frame_ranges(text):
        # A typo such as 1-1000000000 must not eat the machine's memory.
        if len(part) + len(frames) > MAX_FRAMES:
            raise ValueError(f"frame range {part} is larger than {MAX_FRAMES} frames")
        frames.update(part)
    return sorted(frames)



IMAGE_EXTENSIONS = frozenset(
    {"exr", "sxr", "dpx", "cin", "tif", "tiff", "png", "jpg", "jpeg", "tga", "hdr", "bmp",
     "psd", "tx", "iff", "sgi", "rgb", "rla", "pic", "jp2", "j2c", "webp", "heic", "avif",
     "ari", "arw", "cr2", "dng", "nef", "raw", "r3d", "ptx", "ktx", "ppm", "pgm", "pbm",
     "ico", "gif", "vdb", "bgeo", "sc", "abc", "usd", "usdc", "obj", "ass", "rs", "ifd"}
)

# Files that are whole things on their own even when numbered (versions, takes,
# notes): they never become frame sequences, however many there are.
NON_FRAME_EXTENSIONS = frozenset(
    {"mov", "mp4", "m4v", "mxf", "avi", "mkv", "webm", "wmv", "mpg", "mpeg", "wav", "aif",
     "aiff", "mp3", "flac", "txt", "md", "pdf", "doc", "docx", "xls", "xlsx", "csv", "json",
     "xml", "yaml", "yml", "edl", "ale", "otio", "nk", "hip", "hiplc", "hipnc", "ma", "mb",
     "blend", "c4d", "max", "aep", "prproj", "drp", "py", "sh", "log", "zip", "tar", "gz",
     "7z", "rar", "mhl", "md5", "ocio", "cube", "lut", "3dl", "cdl", "cc", "ccc", "html"}
)

# Numbered files of any other extension form a sequence only from this many members
# on, so that `notes_2.txt` or a pair of `take1.foo take2.foo` stay single files.
MIN_OTHER_MEMBERS = 3

# The frame is the last digit group of the name before the extension. Most names
# are `<head><digits>.<ext>`: rpartition + rstrip find it in C without a regex.
# The rest (`name.1001`, `beauty.1001_denoised.exr`, `a.0001.tar.gz`) go through
# the regex, whose greedy head backtracks from the end (a few steps per name).
# Both are compiled on first use (compiled at import they cost every start a million instructions,
# and a copy of a folder of frames uses neither): the frame's by re's own cache, the natural sort's,
# which a tree's listing calls per name, once into _natural_split.
_DIGITS = "0123456789"
_FRAME_PATTERN = r"^(.*\D)?(\d+)(\D*)$"
_natural_split: Callable[[str], list[str]] | None = None


def split_frame(name: str) -> tuple[str, str, str] | None:
    """'shot_v003.1001.exr' -> ('shot_v003.', '1001', '.exr'); None without a frame number.

    The frame keeps its sign and zeros ('-0001'). A '-' right after '.', '_' or at the
    start is a minus sign; after anything else (`plate-0001`) it is a separator.
    """
    stem, dot, ext = name.rpartition(".")
    head = stem.rstrip(_DIGITS)
    if dot and len(head) != len(stem):
        digits, tail = stem[len(head):], dot + ext
    else:
        slow = _split_slow(name)
        if slow is None:
            return None
        head, digits, tail = slow
    if head.endswith("-") and (len(head) == 1 or head[-2] in "._"):
        return head[:-1], "-" + digits, tail
    return head, digits, tail


def _split_slow(name: str) -> tuple[str, str, str] | None:
    """Names whose last digit group is not right before the last dot."""
    m = re.match(_FRAME_PATTERN, name, re.DOTALL)
    if m is None:
        return None
    head, digits, tail = m.groups()
    if "." in tail or "." not in name:
        return head or "", digits, tail
    stem, _, ext = name.rpartition(".")
    if ext.isdigit() or not stem:
        return head or "", digits, tail  # 'name.1001': the frame is the extension
    # The digits were inside the extension ('take.v2'): look before it instead.
    m = re.match(_FRAME_PATTERN, stem, re.DOTALL)
    if m is None:
        return None
    return m.group(1) or "", m.group(2), m.group(3) + "." + ext


def natural_key(text: str) -> tuple[tuple[int, str | int], ...]:
    """Sort 'shot2' before 'shot10'; case-insensitive, then by the exact text."""
    global _natural_split
    if _natural_split is None:
        _natural_split = re.compile(r"(\d+)").split
    parts = _natural_split(text)
    key: list[tuple[int, str | int]] = []
    for i, part in enumerate(parts):
        key.append((1, int(part)) if i % 2 else (0, part.casefold()))
    key.append((0, text))
    return tuple(key)


def _sort_key(seq: Sequence) -> tuple[str, tuple[tuple[int, str | int], ...], tuple[tuple[int, str | int], ...], int]:
    return (seq.directory, natural_key(seq.head), natural_key(seq.tail), seq.padding)


def _is_sequence_group(tail: str, count: int) -> bool:
    """The rule that keeps numbered non-image files from turning into sequences."""
    ext = tail.rpartition(".")[2].lower() if "." in tail else ""
    if ext in IMAGE_EXTENSIONS:
        return True
    if ext in NON_FRAME_EXTENSIONS:
        return False
    return count >= MIN_OTHER_MEMBERS


def _split_padding(frames: list[str]) -> dict[int, list[int]]:
    """Digit strings of one head/tail -> {padding: indexes}.

    A zero-led number ('0001') fixes its padding to its length; any other number
    ('1001', '10') fits every padding up to its length and joins the largest such
    fixed padding, else the unpadded group, whose padding is its shortest length
    (so 1001-1100 reads as '####', and 1, 10, 100 as '#').
    """
    lengths = {len(f) for f in frames}
    if len(lengths) == 1 and not any(f[0] == "-" for f in frames):
        return {lengths.pop(): list(range(len(frames)))}
    bodies = [f.lstrip("-") for f in frames]
    fixed = sorted({len(b) for b in bodies if len(b) > 1 and b[0] == "0"}, reverse=True)
    buckets: dict[int, list[int]] = {}
    loose: list[int] = []
    for i, body in enumerate(bodies):
        size = len(body)
        if size > 1 and body[0] == "0":
            buckets.setdefault(size, []).append(i)
            continue
        for pad in fixed:
            if pad <= size:
                buckets.setdefault(pad, []).append(i)
                break
        else:
            loose.append(i)
    if loose:
        # Loose numbers are all shorter than every fixed padding, so no clash.
        buckets[min(len(bodies[i]) for i in loose)] = loose
    return buckets
