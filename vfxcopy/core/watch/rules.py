"""Watch rules: which folder, which files, where to and how; the job a landed sequence becomes."""

from __future__ import annotations

import datetime as _dt
import fnmatch
import json
import os
import string
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from vfxcopy.core.framenames import IMAGE_EXTENSIONS
from vfxcopy.core.jobs import CopyOptions, JobSpec, Operation
from vfxcopy.core.safety import is_same_or_inside
from vfxcopy.core.sequence import Sequence

DEFAULT_SETTLE = 10.0
DEFAULT_RESCAN_INTERVAL = 45.0
DESTINATION_TOKENS = ("head", "date", "parent", "rule", "ext")


class WatchError(ValueError):
    """A watch rule that cannot work (bad folder, unknown token, destination inside the folder)."""



@dataclass
class WatchRule:
    """One watched folder and what to do with each sequence that lands in it."""

    name: str
    folder: str
    destination: str  # a folder pattern: {head} {date} {parent} {rule} {ext}
    recursive: bool = False
    include: list[str] = field(default_factory=list)  # globs ("*.exr") or extensions ("dpx"); empty: images
    operation: Operation = Operation.COPY
    preset: str | None = None  # conversion preset name, for Operation.CONVERT
    settle: float = DEFAULT_SETTLE  # seconds without a new or growing frame
    expected_range: tuple[int, int] | None = None  # landed as soon as every frame of it is there
    polling: bool = False  # network mounts that send no change events
    enabled: bool = True
    process_existing: bool = True  # sequences already there when watching starts are queued too

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "folder": self.folder,
            "destination": self.destination,
            "recursive": self.recursive,
            "include": list(self.include),
            "operation": self.operation.value,
            "preset": self.preset,
            "settle": self.settle,
            "expected_range": list(self.expected_range) if self.expected_range else None,
            "polling": self.polling,
            "enabled": self.enabled,
            "process_existing": self.process_existing,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WatchRule:
        """Unknown keys are ignored so that a newer settings file still loads."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "operation" in values:
            values["operation"] = Operation(values["operation"])
        rng = values.get("expected_range")
        values["expected_range"] = (int(rng[0]), int(rng[1])) if rng else None
        if "include" in values:
            values["include"] = [str(p) for p in values["include"] or []]
        if "settle" in values:
            values["settle"] = float(values["settle"])
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> WatchRule:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise WatchError("a watch rule must be a JSON object")
        return cls.from_dict(data)

    def problems(self) -> list[str]:
        """What stops this rule from working, in words the user can act on; [] if fine."""
        out: list[str] = []
        if not self.name.strip():
            out.append("the rule needs a name")
        if not self.folder:
            out.append("choose a folder to watch")
        elif not os.path.isdir(self.folder):
            out.append(f"the watched folder {self.folder} does not exist (or is not a folder)")
        if not self.destination:
            out.append("choose a destination")
        else:
            try:
                unknown = [t for t in destination_tokens(self.destination) if t not in DESTINATION_TOKENS]
            except ValueError as exc:
                unknown = []
                out.append(f"destination pattern {self.destination!r} is malformed ({exc})")
            if unknown:
                out.append(
                    f"unknown token(s) {', '.join('{' + t + '}' for t in unknown)} in the destination; "
                    f"use {', '.join('{' + t + '}' for t in DESTINATION_TOKENS)}"
                )
            if self.folder and _static_prefix_inside(self.destination, self.folder):
                out.append(_INSIDE)
        if self.operation is Operation.CONVERT and not self.preset:
            out.append("a conversion rule needs a preset")
        if self.settle <= 0:
            out.append("the settle time must be more than 0 seconds")
        if self.expected_range and self.expected_range[0] > self.expected_range[1]:
            out.append("the expected range's first frame is after its last")
        return out

    def validate(self) -> None:
        problems = self.problems()
        if problems:
            raise WatchError(f"watch rule {self.name!r}: " + "; ".join(problems))

    def matches(self, name: str) -> bool:
        """Whether a file name is one this rule cares about (not counting hidden/temporary)."""
        lowered = name.lower()
        if not self.include:
            ext = lowered.rsplit(".", 1)[-1] if "." in lowered else ""
            return ext in IMAGE_EXTENSIONS
        for pattern in self.include:
            pat = pattern.strip().lower()
            if not pat:
                continue
            if any(c in pat for c in "*?["):
                if fnmatch.fnmatchcase(lowered, pat):
                    return True
            elif lowered.endswith("." + pat.lstrip("*").lstrip(".")):
                return True
        return False

    def destination_for(self, sequence: Sequence, when: _dt.date | None = None) -> str:
        """The destination folder for one landed sequence, tokens filled in."""
        when = when or _dt.date.today()
        head = sequence.head.rstrip("._- ") or Path(sequence.directory).name or "frames"
        values = {
            "head": head,
            "date": when.strftime("%Y-%m-%d"),
            "parent": Path(sequence.directory).name,
            "rule": self.name,
            "ext": sequence.tail.lstrip(".").lower(),
        }
        try:
            result = self.destination.format_map(values)
        except (KeyError, ValueError, IndexError) as exc:
            raise WatchError(f"destination pattern {self.destination!r}: {exc}") from exc
        return os.path.expanduser(result)


def destination_tokens(pattern: str) -> list[str]:
    """The {token} names used by a destination pattern (ValueError if malformed)."""
    return [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]


def _static_prefix_inside(pattern: str, folder: str) -> bool:
    """Whether every destination the pattern can give lies in `folder` (by spelling, or by
    device and inode along the path: a symlink or bind mount back into it counts too)."""
    prefix = pattern.split("{", 1)[0]
    if not prefix:
        return False
    dest = os.path.abspath(os.path.expanduser(prefix))
    base = os.path.abspath(folder)
    if "{" in pattern and not prefix.endswith(os.sep):
        dest = os.path.dirname(dest)  # "…/out_{date}": only the complete components count
    return dest == base or dest.startswith(base.rstrip(os.sep) + os.sep) or is_same_or_inside(dest, base)


_INSIDE = ("the destination is inside the watched folder: every copy would be picked up "
           "again; choose a destination outside it")


def make_spec(
    rule: WatchRule,
    sequence: Sequence,
    frames: list[int] | None = None,
    *,
    copy: CopyOptions | None = None,
    when: _dt.date | None = None,
) -> JobSpec:
    """The job a landed sequence becomes; `frames` is the follow-up's new frames (None: all)."""
    convert = None
    if rule.operation is Operation.CONVERT:
        from vfxcopy.core.presets import get_preset

        if not rule.preset:
            raise WatchError(f"watch rule {rule.name!r} converts but names no preset")
        convert = get_preset(rule.preset)
    dest_dir = rule.destination_for(sequence, when)
    if is_same_or_inside(dest_dir, rule.folder):
        # The tokens filled in (or a link made since the rule was checked) lead back inside.
        raise WatchError(f"{dest_dir}: {_INSIDE}")
    name = ""
    if frames is not None:
        name = f"{sequence.display()} (+{len(frames)} new frame{'s' if len(frames) != 1 else ''})"
    return JobSpec(
        source=sequence,
        dest_dir=dest_dir,
        operation=rule.operation,
        frames=list(frames) if frames is not None else None,
        copy=copy or CopyOptions(),
        convert=convert,
        name=name,
        origin=f"watch:{rule.name}",
    )


def rule_name_from_origin(origin: str) -> str | None:
    """'watch:Plates in' -> 'Plates in'; None for jobs that no rule made."""
    return origin[len("watch:"):] if origin.startswith("watch:") else None
