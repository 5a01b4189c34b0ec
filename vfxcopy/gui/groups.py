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
    """What tells `folder` apart from the other folders of its group, with '…' for the parts they all share
    ('…/shuttle_A/…' for /mnt/shuttle_A/show/day_012 beside /mnt/raid_work/show/day_012): a narrow column
    still shows the difference. The whole path when the folders share nothing but the root."""
    parts = [os.path.normpath(f).split(os.sep) for f in folders]
    mine = os.path.normpath(folder).split(os.sep)
    head = 0
    while all(len(p) > head + 1 and p[head] == parts[0][head] for p in parts):
        head += 1
    tail = 0
    while all(len(p) > head + tail + 1 and p[-1 - tail] == parts[0][-1 - tail] for p in parts):
        tail += 1
    if head <= 1 and tail == 0:  # only the root in common
        return folder
    middle = mine[head:len(mine) - tail]
    if not middle:
        return folder
    return os.sep.join(["…" if head > 1 else "", *middle, *(["…"] if tail else [])])
