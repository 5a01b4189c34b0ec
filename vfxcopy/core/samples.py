"""Generated sample sequences for the demo, the tests and the benchmarks."""

from __future__ import annotations

import os
from pathlib import Path


def make_exr_sequence(
    directory: str | os.PathLike[str],
    head: str = "shot_010.",
    start: int = 1001,
    count: int = 24,
    width: int = 128,
    height: int = 72,
    padding: int = 4,
    tail: str = ".exr",
    compression: str = "zip",
    grain: float = 0.0,
) -> list[Path]:
    """Write real EXR frames (a moving colour ramp) with OpenImageIO; returns their paths.

    `grain`: the standard deviation of a per-pixel noise added to the ramp, like a scanned or
    camera plate's grain (0.02 is light film grain): a clean ramp compresses to almost nothing
    and decodes far faster than a real plate does.
    """
    import numpy as np
    import OpenImageIO as oiio

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    paths = []
    for i in range(count):
        frame = start + i
        phase = i / max(1, count)
        pixels = np.empty((height, width, 3), dtype=np.float32)
        pixels[..., 0] = (x / width + phase) % 1.0
        pixels[..., 1] = y / height
        pixels[..., 2] = 0.25 + 0.5 * ((x + y + i * 4) % 32 < 16)
        if grain:
            pixels += np.random.default_rng(frame).normal(0.0, grain, pixels.shape).astype(np.float32)
        spec = oiio.ImageSpec(width, height, 3, "half")
        spec.attribute("compression", compression)
        spec.attribute("FramesPerSecond", oiio.TypeDesc("rational"), (24, 1))  # "rational2" is not a type name
        spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), (0x01000000 + i, 0))
        spec.attribute("oiio:ColorSpace", "ACEScg")
        path = out / f"{head}{str(frame).zfill(padding)}{tail}"
        buf = oiio.ImageBuf(spec)
        buf.set_pixels(oiio.ROI(), pixels)
        if not buf.write(str(path)):
            raise OSError(f"could not write {path}: {buf.geterror()}")
        paths.append(path)
    return paths


def make_byte_sequence(
    directory: str | os.PathLike[str],
    head: str = "plate.",
    start: int = 1001,
    count: int = 10,
    size: int = 64 * 1024,
    padding: int = 4,
    tail: str = ".exr",
    seed: int = 0,
) -> list[Path]:
    """Frames of pseudo-random bytes (fast to make; for copy tests and benchmarks)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    block = os.urandom(min(size, 1 << 20)) if seed == 0 else bytes((seed * 7 + i) % 251 for i in range(min(size, 1 << 20)))
    paths = []
    for i in range(count):
        frame = start + i
        path = out / f"{head}{str(frame).zfill(padding)}{tail}"
        # A per-frame prefix keeps every frame's content (and hash) distinct.
        prefix = f"frame {frame}\n".encode()
        data = (prefix + block * (size // len(block) + 1))[:size]
        path.write_bytes(data)
        paths.append(path)
    return paths


def make_big_file(path: str | os.PathLike[str], size: int, block_size: int = 4 << 20) -> Path:
    """One file of `size` random bytes, written a block at a time (no whole-file buffer)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(block_size)
    with open(out, "wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
    return out
