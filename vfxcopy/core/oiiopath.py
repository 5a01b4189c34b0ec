"""File names OpenImageIO can open, whatever bytes they hold.

OpenImageIO takes names as UTF-8 text. A name that is not valid UTF-8 (Python holds its bytes
as surrogates) was refused by its binding with a TypeError (a traceback from `vfxcopy check`),
read as nothing ("Uninitialized input image" from a conversion), or left a reference-count
warning at exit (the job report's thumbnails). Such a file is opened here first and
OpenImageIO is given /proc/self/fd/N, a name of plain ASCII for the same open file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from vfxcopy.core.textsafe import is_utf8

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


@contextlib.contextmanager
def oiio_name(path: str) -> Iterator[str]:
    """`path` itself, or while the block runs a /proc/self/fd name of the file (OSError if it cannot
    be opened; O_NONBLOCK: a FIFO never holds the open). OpenImageIO must open it in the block."""
    if is_utf8(path) or not os.path.isdir("/proc/self/fd"):
        yield path
        return
    fd = os.open(path, os.O_RDONLY | _O_CLOEXEC | _O_NONBLOCK)
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def open_image_input(path: str) -> Any:
    """OpenImageIO's `ImageInput.open` of `path`, whatever bytes its name holds: None where
    OpenImageIO cannot read it (its `geterror()` says why), OSError where the file cannot be opened."""
    import OpenImageIO as oiio  # here: importing this module costs nothing without it

    with oiio_name(path) as source:
        return oiio.ImageInput.open(source)
