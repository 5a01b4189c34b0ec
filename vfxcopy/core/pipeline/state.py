"""The state of a run that the Pipeline's parts share: declared once, for type checkers and readers.

Pipeline (runner.py) owns it and sets it up; its parts, mixed into it, read and change it:
Preparing (prepare.py), ItemSteps (steps.py) and Settling (settle.py). Each part declares
below this what only it uses.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.jobs import CancelToken, CopyOptions, JobSpec
    from vfxcopy.core.pipeline.durable import Committer
    from vfxcopy.core.pipeline.place import NoReplace
    from vfxcopy.core.pipeline.tally import Debug, Tally
    from vfxcopy.core.pipeline.temps import TempArea
    from vfxcopy.core.pipeline.treeparts import Folders
    from vfxcopy.core.writers.base import Item, Writer
    from vfxcopy.core.writers.fanout import Member


class RunState:
    """What a run is doing: its job, options, destination, temps, items and how it places them."""

    spec: JobSpec
    opts: CopyOptions
    token: CancelToken
    tally: Tally
    writer: Writer
    debug: Debug | None
    dest_dir: str
    dest_fd: int
    dest_fs: str  # the destination's file system type (roundtrips.fs_type)
    temps: TempArea | None
    committer: Committer | None
    preparer: object | None
    folders: Folders | None  # a tree job's sub-folders (treeparts.py); None for a flat job
    fanout: Member | None  # the run's place in its fan-out group (writers/fanout.py)
    existing: set[str] | None  # names in the destination when planned (None: not listed)
    items: list[Item]
    stat_temps: bool  # record a written temp's size and mtime from an fstat (see Preparing.plan)
    noreplace: NoReplace | None = None  # how this run places (Preparing.plan)
    watch_creates = False  # time temps' creation (ItemSteps.watch_create)
    create_times: list[float]  # the current window's (Preparing.plan)
