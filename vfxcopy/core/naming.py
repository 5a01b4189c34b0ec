"""Every output name of a job, decided in one place: the engine, the New job dialog, Copy Path,
watch templates, resume and retry all ask this module.

A job writes one file per selected frame (copies and image conversions) or one file
for the whole job (a movie, a single file). The names are planned from the spec
(`rename_head`, `offset`, the conversion's target extension); the `rename` conflict
policy then picks one free version for the whole job (`first_free_version`). The
pipeline records the chosen names in `JobSpec.names`, and from then on
`dest_names(spec)` returns exactly those, so a resume never writes a name the
original run did not own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from vfxcopy.core.jobs import JobSpec, Operation
from vfxcopy.core.sequence import Sequence

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from typing import Any

IMAGE_TARGETS = ("exr", "dpx", "tif", "png", "jpg")
MOVIE_TARGETS = ("mp4", "mov")
TARGETS = IMAGE_TARGETS + MOVIE_TARGETS
_ALIASES = {"tiff": "tif", "jpeg": "jpg", "openexr": "exr"}


def normalise_target(to: str) -> str:
    """'TIFF' -> 'tif', '.jpeg' -> 'jpg': the one spelling of a target format and its extension."""
    target = to.lower().lstrip(".")
    return _ALIASES.get(target, target)


def is_movie(spec: JobSpec) -> bool:
    return spec.operation is Operation.CONVERT and spec.convert is not None and (
        normalise_target(spec.convert.to) in MOVIE_TARGETS
    )


def output_extension(spec: JobSpec) -> str | None:
    """The extension a conversion writes (without the dot); None for a copy (names keep theirs)."""
    if spec.operation is not Operation.CONVERT or spec.convert is None:
        return None
    return normalise_target(spec.convert.to)


def dest_head(spec: JobSpec) -> str:
    """The part of the output names before the frame number (the stem for a single file)."""
    src = spec.source
    if spec.rename_head is not None:
        return spec.rename_head
    if src.is_single:
        return os.path.splitext(src.head + src.tail)[0] if output_extension(spec) else src.head
    return src.head


def _frame_tail(src: Sequence, extension: str | None) -> str:
    """What follows the frame number: the source's tail, with a conversion's extension swapped in
    ('.1001_matte.exr' -> '_matte.jpg' after the number)."""
    if extension is None:
        return src.tail
    stem = src.tail[: src.tail.rfind(".")] if "." in src.tail else src.tail
    return f"{stem}.{extension}"


def planned_names(spec: JobSpec) -> list[str]:
    """The output names before any conflict policy: one per selected frame, or one for the job."""
    src = spec.source
    if spec.tree is not None:  # a folder tree keeps its layout: each item's relative path
        return [e["path"] for e in spec.tree if e.get("kind") != "dir"] if spec.frames is None else [
            e["path"] for e in _tree_selected(spec)]
    ext = output_extension(spec)
    if is_movie(spec):
        if src.is_single:
            return [f"{dest_head(spec)}.{ext}"]
        stem = dest_head(spec).rstrip("._- ") or "movie"
        return [f"{stem}.{ext}"]
    if src.is_single:
        if ext is not None:
            return [f"{dest_head(spec)}.{ext}"]
        if spec.rename_head is not None:
            return [spec.rename_head + os.path.splitext(src.head + src.tail)[1]]
        return [src.head + src.tail]
    head = dest_head(spec)
    tail = _frame_tail(src, ext)
    return [f"{head}{src.format_frame(frame + spec.offset)}{tail}" for frame in spec.selected_frames()]


def _tree_selected(spec: JobSpec) -> list[dict[str, Any]]:
    from vfxcopy.core.tree import spec_items

    return spec_items(spec)


def dest_names(spec: JobSpec) -> list[str]:
    """The names the job writes: the recorded ones once planned, else the planned ones."""
    return list(spec.names) if spec.names is not None else planned_names(spec)


def dest_paths(spec: JobSpec) -> list[str]:
    return [os.path.join(spec.dest_dir, name) for name in dest_names(spec)]


def dest_sequence(spec: JobSpec) -> Sequence | None:
    """Where the frames land as a Sequence (None for a movie or a single file)."""
    src = spec.source
    if src.is_single or is_movie(spec):
        return None
    names = dest_names(spec)
    frames = tuple(f + spec.offset for f in spec.selected_frames())
    head = dest_head(spec)
    tail = _frame_tail(src, output_extension(spec))
    if names and frames:
        # A recorded rename version changes the head: recover it from the first name.
        first = src.format_frame(frames[0]) + tail
        if names[0].endswith(first):
            head = names[0][: len(names[0]) - len(first)]
    return Sequence(spec.dest_dir, head, tail, src.padding, frames)


def dest_pattern(spec: JobSpec, syntax: str = "nuke") -> str:
    """The destination in the job's sequence syntax (for Copy Path), or the one file's path."""
    seq = dest_sequence(spec)
    if seq is None:
        names = dest_names(spec)
        return os.path.join(spec.dest_dir, names[0]) if names else spec.dest_dir
    return os.path.join(spec.dest_dir, seq.pattern(syntax))


# -- the 'rename' policy: one free version for the whole job ---------------------------------


def _split_version(head: str) -> tuple[str, str, re.Match[str] | None]:
    """`shot_v003.` -> ('shot_v003', '.', match of '003'); the match is None without a version."""
    sep = head[-1] if head and head[-1] in "._-" else ""
    stem = head[: -len(sep)] if sep else head
    return stem, sep, re.search(r"(?<=[._-]v)(\d+)$", stem)


def versioned_head(head: str, version: int) -> str:
    """The head used by the `rename` policy for `version` (2, 3 ...).

    `shot_010.` -> `shot_010_v2.`; a head that already ends in a version is
    bumped keeping its padding: `shot_010_v003.` -> `shot_010_v004.` for 4.
    """
    stem, sep, match = _split_version(head)
    if match:
        digits = match.group(1)
        return stem[: match.start()] + str(version).zfill(len(digits)) + sep
    return f"{stem}_v{version}{sep}"


def first_free_version(names: list[str], head: str, taken: Callable[[str], bool]) -> list[str] | None:
    """`names` (all starting with `head`) under the lowest new version of `head` whose names
    are all free; None if no free version was found."""
    match = _split_version(head)[2]
    start = (int(match.group(1)) if match else 1) + 1
    for version in range(start, start + 10000):
        new_head = versioned_head(head, version)
        candidates = [new_head + name[len(head) :] for name in names]
        if not any(taken(name) for name in candidates):
            return candidates
    return None


def version_base(spec: JobSpec, names: list[str]) -> str:
    """The head the `rename` policy versions: the frame head, or a single file's stem."""
    if spec.source.is_single or is_movie(spec):
        return os.path.splitext(names[0])[0]
    return dest_head(spec)
