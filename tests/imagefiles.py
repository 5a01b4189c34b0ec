"""Helpers the image tests share: a folder of the session's sample plates, and a written file's header."""

from __future__ import annotations

import shutil
from pathlib import Path

import OpenImageIO as oiio


def copy_plates(frames: list[Path], folder: Path) -> Path:
    """`folder` (made here) holding copies of `frames`: a source a test may change without touching the session's."""
    folder.mkdir()
    for p in frames:
        shutil.copy(p, folder / p.name)
    return folder


def spec_of(path: Path) -> oiio.ImageSpec:
    """The header of the image at `path` (fails the test when it does not open)."""
    inp = oiio.ImageInput.open(str(path))
    assert inp is not None, oiio.geterror()
    spec = inp.spec()
    inp.close()
    return spec
