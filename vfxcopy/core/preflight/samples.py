"""Sequences with one frame per defect kind, for the pre-flight tests and the demo."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

# The defects each maker plants: frame -> finding kind it must produce.
EXR_DEFECTS: dict[int, str] = {
    1003: "truncated",
    1004: "empty",
    1005: "resolution",
    1006: "compression",
    1007: "channels",
    1008: "duplicate",  # a byte copy of 1002
    1010: "gap",
    1011: "undecodable",
    1012: "colorspace",
    1013: "pixel_type",
    1014: "window",
}
EXR_CLEAN = (1001, 1002, 1009, 1015, 1016)

DPX_DEFECTS: dict[int, str] = {
    3: "truncated",
    4: "empty",
    5: "resolution",
    6: "channels",
    7: "duplicate",  # a byte copy of 2
    8: "gap",
    9: "pixel_type",
}
DPX_CLEAN = (1, 2, 10, 11, 12)


def _write(path: Path, width: int, height: int, channels: int, fmt: str, seed: int,
           attrs: dict[str, Any] | None = None, data_window: tuple[int, int, int, int] | None = None) -> None:
    import numpy as np
    import OpenImageIO as oiio

    rng = np.random.default_rng(seed)
    full_w, full_h = width, height
    x = y = 0
    if data_window is not None:
        x, y, width, height = data_window
    pixels = rng.random((height, width, channels), dtype=np.float32)
    spec = oiio.ImageSpec(width, height, channels, fmt)
    spec.x, spec.y, spec.full_width, spec.full_height = x, y, full_w, full_h
    for key, value in (attrs or {}).items():
        spec.attribute(key, value)
    out = oiio.ImageOutput.create(str(path))
    if out is None or not out.open(str(path), spec):
        raise OSError(f"could not write {path}: {oiio.geterror()}")
    ok = out.write_image(pixels)
    out.close()
    if not ok:
        raise OSError(f"could not write {path}: {out.geterror()}")


def _cut(path: Path, fraction: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def make_defective_exr_sequence(directory: str | os.PathLike[str], head: str = "plate.",
                                width: int = 64, height: int = 48) -> Path:
    """plate.1001-1016.exr (RGBA half zip, ACEScg) with one frame per kind in EXR_DEFECTS; returns the folder."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    base: dict[str, Any] = {"compression": "zip", "oiio:ColorSpace": "ACEScg"}
    for frame in range(1001, 1017):
        path = out / f"{head}{frame}.exr"
        w, h, ch, fmt, attrs, window = width, height, 4, "half", dict(base), None
        if frame == 1005:
            w, h = width // 2, height // 2
        elif frame == 1006:
            attrs["compression"] = "piz"
        elif frame == 1007:
            ch = 3
        elif frame == 1012:
            attrs["oiio:ColorSpace"] = "srgb_rec709_scene"
        elif frame == 1013:
            fmt = "float"  # twice the bytes of half: still inside the 3x size band
        elif frame == 1014:
            window = (4, 4, width - 8, height - 8)
        _write(path, w, h, ch, fmt, seed=frame, attrs=attrs, data_window=window)
    _cut(out / f"{head}1003.exr")
    (out / f"{head}1004.exr").write_bytes(b"")
    shutil.copyfile(out / f"{head}1002.exr", out / f"{head}1008.exr")
    (out / f"{head}1010.exr").unlink()
    size = (out / f"{head}1001.exr").stat().st_size
    (out / f"{head}1011.exr").write_bytes(bytes((i * 37 + 11) % 256 for i in range(size)))
    return out


def make_defective_dpx_sequence(directory: str | os.PathLike[str], head: str = "scan_",
                                width: int = 64, height: int = 48) -> Path:
    """scan_0001-0012.dpx (RGB 10-bit) with one frame per kind in DPX_DEFECTS; returns the folder."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for frame in range(1, 13):
        path = out / f"{head}{frame:04d}.dpx"
        # 10-bit DPX: 16-bit integers in memory, BitsPerSample says how they are packed.
        w, h, ch, bits = width, height, 3, 10
        if frame == 5:
            w, h = width * 2, height  # wider: bigger too, but under 3x the median
        elif frame == 6:
            ch = 4
        elif frame == 9:
            bits = 16
        _write(path, w, h, ch, "uint16", seed=frame, attrs={"oiio:BitsPerSample": bits})
    _cut(out / f"{head}0003.dpx")
    (out / f"{head}0004.dpx").write_bytes(b"")
    shutil.copyfile(out / f"{head}0002.dpx", out / f"{head}0007.dpx")
    (out / f"{head}0008.dpx").unlink()
    return out
