"""The conflict policy, decided in one place for every operation: what to do with an existing name."""

from __future__ import annotations

import enum
import os
import stat

from vfxcopy.core.errors import FrameError
from vfxcopy.core.jobs import ConflictPolicy


class Action(enum.Enum):
    WRITE = "write"  # the name is free: write, place without clobbering
    OVERWRITE = "overwrite"  # replace what is there (policy 'overwrite' only)
    SKIP = "skip"
    FAIL = "fail"
    COMPARE = "compare"  # skip-identical: compare before writing where the writer can
    WRITE_COMPARE = "write-compare"  # ... or write, then compare with what is there


class Decision:
    """What the conflict policy says to do with one item, and why (the message)."""

    __slots__ = ("action", "message")

    def __init__(self, action: Action, message: str = "") -> None:
        self.action = action
        self.message = message  # for FAIL, and for COMPARE when the files differ

    def after_write(self) -> Decision:
        return Decision(Action.WRITE_COMPARE, self.message)

    def __repr__(self) -> str:
        return f"Decision({self.action}, {self.message!r})"


def decide(
    policy: ConflictPolicy, src: os.stat_result, dst: os.stat_result | None, dest_path: str, recorded: bool
) -> Decision:
    """What the policy says about `dest_path` (lstat `dst`, None when free) for source `src`."""
    if dst is None:
        return Decision(Action.WRITE)
    if (dst.st_dev, dst.st_ino) == (src.st_dev, src.st_ino):
        return Decision(Action.FAIL, FrameError(dest_path, "is the source file itself", "choose another destination").message)
    if stat.S_ISDIR(dst.st_mode) and policy is not ConflictPolicy.SKIP:
        return Decision(Action.FAIL, FrameError(
            dest_path, "a folder has this name", "remove or rename that folder, or choose another destination").message)
    if policy is ConflictPolicy.SKIP:
        return Decision(Action.SKIP)
    if policy is ConflictPolicy.FAIL:
        return Decision(Action.FAIL, FrameError(
            dest_path, "already exists", "choose skip, skip-identical, overwrite or rename").message)
    if policy is ConflictPolicy.OVERWRITE:
        return Decision(Action.OVERWRITE)
    if policy is ConflictPolicy.SKIP_IDENTICAL:
        if not stat.S_ISREG(dst.st_mode):
            return Decision(Action.FAIL, FrameError(
                dest_path, "exists and is not a regular file", "remove it or choose another destination").message)
        return Decision(Action.COMPARE, FrameError(
            dest_path, "exists and differs",
            "choose overwrite, rename or skip to decide what happens to the existing file").message)
    # RENAME: the job's version was free when its names were chosen; someone took it since.
    return Decision(Action.FAIL, FrameError(
        dest_path, "was created by another program meanwhile; it was left untouched", "run the job again").message)
