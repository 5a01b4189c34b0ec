"""Which files a job would meet at its destination, found before it is queued (names from core/naming)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from vfxcopy.core.jobs import JobSpec, Operation
from vfxcopy.core.naming import dest_names, is_movie


@dataclass(frozen=True)
class Conflict:
    """One destination name that exists already, beside the source that would replace it."""

    name: str  # the destination file name (the key of JobSpec.conflict_choices)
    dest: str
    source: str | None  # None for a movie (made from the whole sequence)
    dest_size: int
    dest_mtime: float
    source_size: int | None
    source_mtime: float | None

    @property
    def looks_identical(self) -> bool:
        """Same size and modification second: most likely an earlier copy of this very frame."""
        return (self.source_size == self.dest_size and self.source_mtime is not None
                and int(self.source_mtime) == int(self.dest_mtime))


def _sources(spec: JobSpec, count: int) -> list[str | None]:
    src = spec.source
    if is_movie(spec):
        return [None] * count
    if src.is_single:
        return [str(src.path())] * count
    return [str(src.path(frame)) for frame in spec.selected_frames()]


def find_conflicts(spec: JobSpec) -> list[Conflict]:
    """Destination files the job would meet that differ from what it would write.

    A copy whose destination file has the source's size and modification time is not
    listed (an earlier run of the same copy); conversions list every existing file.
    """
    if not os.path.isdir(spec.dest_dir):
        return []  # a new folder: nothing to meet (and no stat per frame on a slow share)
    names = dest_names(spec)
    sources = _sources(spec, len(names))
    found: list[Conflict] = []
    for name, source in zip(names, sources, strict=False):
        dest = os.path.join(spec.dest_dir, name)
        try:
            st = os.stat(dest, follow_symlinks=False)
        except OSError:
            continue
        src_size: int | None = None
        src_mtime: float | None = None
        if source is not None:
            try:
                sst = os.stat(source)
                src_size, src_mtime = sst.st_size, sst.st_mtime
            except OSError:
                pass
        conflict = Conflict(name, dest, source, st.st_size, st.st_mtime, src_size, src_mtime)
        if spec.operation is Operation.COPY and conflict.looks_identical:
            continue
        found.append(conflict)
    return found
