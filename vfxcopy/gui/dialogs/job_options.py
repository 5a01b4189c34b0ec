"""What the New job and Settings dialogs offer (labels of the engine's options) and the checks of their fields."""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox

from vfxcopy.core.errors import SafetyError
from vfxcopy.core.framenames import parse_frames
from vfxcopy.core.jobs import ConflictPolicy, ConvertOptions, HashAlgo, VerifyMode
from vfxcopy.core.safety import check_name, is_same_or_inside
from vfxcopy.core.sequence import Sequence

WARNING_COLOUR = QColor("#d98c00")
ERROR_COLOUR = QColor("#e5534b")

FORMATS = ("exr", "dpx", "tif", "png", "jpg", "mp4", "mov")
DATA_FORMATS = ("", "half", "float", "uint8", "uint10", "uint16")
COMPRESSIONS = ("", "zip", "piz", "dwaa:45", "dwab", "none", "lzw")
COLOUR_SPACES = ("", "ACEScg", "ACES2065-1", "ACEScct", "Linear Rec.709 (sRGB)", "sRGB - Display",
                 "Rec.1886 Rec.709 - Display")
RESIZE_RE = re.compile(r"^\s*(\d+(\.\d+)?%|\d+x\d+)\s*$")

VERIFY_LABELS = {
    VerifyMode.NONE: "None",
    VerifyMode.TRANSFER: "Hash while copying",
    VerifyMode.FULL: "Hash, then read back",
}
HASH_LABELS = {HashAlgo.XXH3: "xxh3-128", HashAlgo.XXH64: "xxh64", HashAlgo.MD5: "MD5"}
CONFLICT_LABELS = {
    ConflictPolicy.SKIP_IDENTICAL: "Skip identical (compare by hash), fail if different",
    ConflictPolicy.SKIP: "Skip existing files",
    ConflictPolicy.OVERWRITE: "Overwrite",
    ConflictPolicy.RENAME: "Keep both (new versioned name)",
    ConflictPolicy.FAIL: "Fail the frame",
}


def labelled_combo(object_name: str, labels: dict[Any, str], current: Any) -> QComboBox:
    """A combo box of `labels` (value -> text) with each value as item data, `current` selected."""
    combo = QComboBox()
    combo.setObjectName(object_name)
    for value, label in labels.items():
        combo.addItem(label, value)
    combo.setCurrentIndex(combo.findData(current))
    return combo


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def sequence_size(seq: Sequence) -> int | None:
    """Bytes on disk: the scanner's figure, else a stat of every frame (None if none is readable)."""
    if seq.total_size is not None:
        return seq.total_size
    total, seen = 0, False
    for path in seq.paths():
        try:
            total += path.stat().st_size
            seen = True
        except OSError:
            continue
    return total if seen else None


def parse_frame_text(text: str) -> list[int] | None:
    """'' -> None (all frames); else the sorted frames. Raises ValueError with a readable message."""
    text = text.strip()
    if not text:
        return None
    frames = parse_frames(text)
    if not frames:
        raise ValueError("no frames given")
    return list(frames)


def dest_inside_source(dest: str, source_dir: str) -> str | None:
    """A message if `dest` is the source folder or inside it, else None."""
    if is_same_or_inside(dest, source_dir):
        return f"The destination {dest} is inside the source folder {source_dir}: choose a folder outside it."
    return None


def name_problem(name: str) -> str | None:
    try:
        check_name(name, "new name")
    except SafetyError as exc:
        return sentence(str(exc))
    return None


def convert_problem(opts: ConvertOptions) -> str | None:
    """The conversion engine's own objection to these options, as a sentence (None if fine)."""
    # Imported here: the conversion engine loads OpenImageIO, which only conversions need.
    from vfxcopy.core.convert import validate_options

    try:
        validate_options(opts)
    except ValueError as exc:
        text = str(exc)
        return f"Conversion: {text}." if not text.endswith(".") else f"Conversion: {text}"
    return None


def free_space(path: str) -> int | None:
    """Free bytes on the file system that `path` (or its nearest existing parent) is on."""
    probe = path
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None
