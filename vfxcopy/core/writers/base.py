"""What a writer is: the one step of the pipeline that differs between copy, convert and movie.

A writer only produces bytes into the temporary the pipeline hands it (an open fd
inside the run's private folder, or a path pinned to that folder for libraries
that open by path). It never names, places, fsyncs or removes anything: the
pipeline does (see core/pipeline/runner.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from vfxcopy.core.datamethods import Record
from vfxcopy.core.jobs import FrameResult
from vfxcopy.core.pipeline.tally import Debug
from vfxcopy.core.pipeline.temps import TempFile

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # the protocols below only guide type checkers


# repr and == shared (core/datamethods.py): the same results, made without compiling them per class;
# made per item, __init__ is written out as @dataclass would write it (see FrameResult in core/jobs.py).
@dataclass(init=False, repr=False, eq=False)
class Item(Record):
    """One output of the job: a frame (copy, image) or the whole job (a movie)."""

    index: int  # position in the job's selected frames (0 for a single file or a movie)
    frame: int
    src: str
    name: str  # the final name in the destination folder
    size: int = 0  # source bytes (all frames for a movie)
    lst: os.stat_result | None = None  # lstat taken when planning (None: it failed)
    frames: list[tuple[int, int, str]] | None = None  # a movie's inputs: (index, frame, source path)

    def __init__(self, index: int, frame: int, src: str, name: str, size: int = 0, lst: os.stat_result | None = None,
                 frames: list[tuple[int, int, str]] | None = None) -> None:
        self.index = index
        self.frame = frame
        self.src = src
        self.name = name
        self.size = size
        self.lst = lst
        self.frames = frames


@dataclass(init=False, repr=False, eq=False)
class Written(Record):
    """What the writer made of an item."""

    hash: str | None = None  # of the source bytes (copies): verification and the manifest use it
    hash_algo: str | None = None
    frames: list[FrameResult] | None = None  # a movie: the outcome of each input frame
    source: os.stat_result | None = None  # the source as read (copies: checked unchanged after the copy)

    def __init__(self, hash: str | None = None, hash_algo: str | None = None, frames: list[FrameResult] | None = None,
                 source: os.stat_result | None = None) -> None:
        self.hash = hash
        self.hash_algo = hash_algo
        self.frames = frames
        self.source = source


class Context(Protocol):
    """What the pipeline offers a writer while it writes one item."""

    worker: int
    debug: Debug | None

    def check(self) -> None: ...  # raises Cancelled; blocks while paused

    def add_bytes(self, n: int) -> None: ...  # progress inside the item (and the bandwidth limit)

    def log(self, level: str, text: str) -> None: ...

    def temp_path(self, temp: TempFile) -> str: ...  # for writers that open by path

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]: ...


class Writer(Protocol):
    """One operation's writer; one instance per worker thread (it may keep per-thread state)."""

    kind: str  # "copy" | "image" | "movie"
    unit: str  # what the job counts: "frame" (or "file")
    creates_by_path: bool  # True: the writer creates its temp by path (OpenImageIO, ffmpeg)
    temp_suffix: str  # e.g. ".exr": some libraries pick the format by extension
    verify_attempts: int  # a VerificationError is retried this many times in all
    hashes_source: bool  # Written.hash is the source's content hash (a copy's)

    def source_check(self, item: Item) -> os.stat_result: ...  # FrameError if not a usable source

    def identical(self, item: Item, st: os.stat_result, dest_fd: int, ctx: Context) -> tuple[bool | None, str | None]:
        """Before writing: is the existing file the same? (None: only after writing.)"""
        ...

    def identical_after(self, temp_path: str, dest_path: str, cancelled: Callable[[], bool] | None = None) -> bool:
        """After writing, the name being taken: is the file there the same? (`cancelled`: stop, False.)"""
        ...

    def write(self, item: Item, st: os.stat_result, temp: TempFile, ctx: Context) -> Written: ...

    def verify(self, item: Item, temp: TempFile, written: Written, ctx: Context) -> None: ...
