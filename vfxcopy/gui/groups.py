"""Jobs that read one source once (JobSpec.group): how the table and the details pane name them."""

from __future__ import annotations

import os

from vfxcopy.core.jobs import Operation
from vfxcopy.gui.records import JobRecord


def member_word(record: JobRecord) -> str:
    """What one member of a group is to the user: a copy's destination, or a conversion's rendition."""
    return "rendition" if record.spec.operation is Operation.CONVERT else "destination"


def member_label(record: JobRecord) -> str:
    """One member in a list of its group: its folder, and for a rendition its format."""
    spec = record.spec
    if spec.operation is Operation.CONVERT and spec.convert is not None:
        return f"{spec.convert.to.upper()} → {spec.dest_dir}"
    return spec.dest_dir


def group_position(members: list[JobRecord], record: JobRecord) -> str:
    """'Destination 2 of 3' ('' when the job is not one of several)."""
    if len(members) < 2 or record not in members:
        return ""
    word = member_word(record)
    return f"{word.capitalize()} {members.index(record) + 1} of {len(members)}"


def group_text(members: list[JobRecord], record: JobRecord) -> str:
    """The group as a tooltip: which member this row is, and every member's folder."""
    position = group_position(members, record)
    if not position:
        return ""
    read = "one decode" if record.spec.operation is Operation.CONVERT else "one read"
    lines = [f"{position} from {read} of the source (each its own job: cancel one, the others go on):"]
    for n, member in enumerate(members, start=1):
        mark = "▸" if member is record else " "
        lines.append(f"{mark} {n}. {member_label(member)}")
    return "\n".join(lines)


def distinct_folder(folder: str, folders: list[str]) -> str:
    """`folder` without the part every folder of its group shares ('…/raid_work/day_012'), so that a narrow
    column still shows what tells the destinations apart; the whole path when they share nothing but the root."""
    try:
        common = os.path.commonpath(folders)
    except ValueError:  # relative and absolute mixed, or different drives
        return folder
    if common in ("", os.sep) or any(os.path.normpath(f) == common for f in folders):
        return folder
    return "…" + os.sep + os.path.relpath(folder, common)
