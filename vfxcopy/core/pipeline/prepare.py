"""Before any byte moves: the items and their names, the destination opened (and swept of dead runs'
temporaries), the policy's version, and how the run will work (items in flight, a committer)."""

from __future__ import annotations

import os

from vfxcopy.core.errors import DISK_FULL_ERRNOS, JobError, disk_full_message, explain
from vfxcopy.core.jobs import ConflictPolicy, JobSpec
from vfxcopy.core.pipeline.context import JobLevelError
from vfxcopy.core.pipeline.destfolder import locks_are_trustworthy, make_folder, sweep_listed
from vfxcopy.core.pipeline.durable import Committer, Finished
from vfxcopy.core.pipeline.place import NoReplace
from vfxcopy.core.pipeline.plan import choose_version, plan_items, recall_listing
from vfxcopy.core.pipeline.state import RunState
from vfxcopy.core.pipeline.temps import TempArea, TempFile
from vfxcopy.core.pipeline.treeparts import Folders
from vfxcopy.core.roundtrips import fs_type, is_shared_fs, on_network

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from collections.abc import Callable


_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
SHARED_FS_COPY_WORKERS = 8  # items in flight per copy on a network file system


class Preparing(RunState):
    """Mixed into Pipeline (runner.py), which owns the run's state (state.py)."""

    workers: int
    on_planned: Callable[[JobSpec], None] | None

    def place_finished(self, fin: Finished) -> None:
        raise NotImplementedError

    def discard(self, temp: TempFile) -> None:
        raise NotImplementedError

    def set_dir_sync_error(self, text: str) -> None:
        raise NotImplementedError

    def open_destination(self) -> None:
        try:
            created = make_folder(self.dest_dir)
            self.dest_fd = os.open(self.dest_dir, os.O_RDONLY | os.O_DIRECTORY | _O_CLOEXEC)
        except OSError as exc:
            raise JobLevelError(
                explain(exc, self.dest_dir, "destination").replace(": ", ": cannot open the folder: ", 1)
            ) from exc
        self.dest_fs = fs_type(self.dest_dir)
        # The folder is read once, here, for the sweep below and for the conflict checks (plan):
        # on a network file system each listing is several round trips. One this run has just
        # made holds nothing yet: it is not read at all; one the pre-flight read a moment ago
        # (preview.plan_job) is not read again.
        seen = recall_listing(self.spec)
        try:
            names = [] if created else seen if seen is not None else os.listdir(self.dest_fd)
        except OSError:
            self.existing = None
        else:
            # Temporaries of runs that died here: this job's own (a retry, a resume), and on a local
            # file system, where a live run's lock is seen, any job's dead temp folder. Old plain temp
            # files of other jobs and shared storage are left to recovery and `vfxcopy clean`.
            gone = set(sweep_listed(self.dest_fd, names, self.spec.job_id, min_age=0))
            if names and locks_are_trustworthy(self.dest_dir, self.dest_fs):
                gone.update(sweep_listed(self.dest_fd, [n for n in names if n not in gone], files=False))
            self.existing = set(names) - gone
        try:
            self.temps = TempArea(self.dest_fd, self.spec.job_id)
        except OSError as exc:
            if exc.errno in DISK_FULL_ERRNOS:
                raise JobLevelError(disk_full_message(self.dest_dir, "the job", None)) from exc
            raise JobLevelError(
                explain(exc, self.dest_dir, "destination").replace(": ", ": cannot write in the folder: ", 1)
            ) from exc
        if self.spec.tree is not None:
            from vfxcopy.core.tree import spec_folders

            self.folders = Folders(self.dest_fd, self.dest_dir)
            if self.existing is not None:  # the root, read (or made) above: not listed again
                self.folders.listings[""] = self.existing
            try:
                self.folders.make(spec_folders(self.spec))
            except JobError as exc:
                raise JobLevelError(str(exc)) from exc

    def plan_names(self) -> None:
        """The items and their unversioned names (a job that cannot start still lists its frames)."""
        try:
            if self.spec.tree is not None and self.spec.names is None and self.opts.on_conflict is ConflictPolicy.RENAME:
                raise JobError(f"{self.dest_dir}: policy 'rename' is not available for a folder tree; "
                               "choose skip, skip-identical, overwrite or fail")
            self.items = plan_items(self.spec, self.writer.kind == "movie")
        except JobError as exc:
            raise JobLevelError(str(exc)) from exc
        self.tally.total = sum(len(item.frames) if item.frames else 1 for item in self.items)

    def plan(self) -> None:
        spec = self.spec
        try:
            note = choose_version(spec, self.items, self.dest_fd)
        except JobError as exc:
            raise JobLevelError(str(exc)) from exc
        if note:
            self.tally.log("info", note)
        if spec.names is None:
            spec.names = [item.name for item in self.items]
            if self.on_planned is not None:
                self.on_planned(spec)
        tally = self.tally
        tally.total = sum(len(item.frames) if item.frames else 1 for item in self.items)
        tally.bytes_total = sum(item.size for item in self.items)
        # self.existing (open_destination's listing) instead of a stat per item: only names seen
        # there are checked against the policy. A file created later is still never clobbered:
        # placing refuses it.
        copy = self.writer.kind == "copy"
        dest_fs = self.dest_fs if copy else ""
        # On a network file system every create, write, fsync, rename and close is a round trip
        # to the server: several items in flight overlap them (sshfs, 200 x 200 KB: 1 item at a
        # time took 2.4x cp -r). Each worker then fsyncs and places its own items.
        shared = copy and (is_shared_fs(dest_fs) or on_network(spec.source.directory or "."))
        # A written temp's size and mtime (for the journal) come from one fstat of the open temp,
        # not from a stat of the placed file by the journal's thread. On a network file system
        # only when the source's times are put on the temp (--preserve): that is the last change
        # of its mtime, and the fstat after it is answered from the attributes that setting them
        # brought back (sshfs: no round trip; the same size and mtime as a stat of the placed
        # file later, test_network_fs). Without it, the journal stats the path once it is placed.
        self.stat_temps = copy and (not is_shared_fs(dest_fs) or self.opts.preserve)
        # renameat2(RENAME_NOREPLACE) until the destination refuses it once (sshfs: every time,
        # a lookup round trip each, under the file system's rename lock), then link + unlink
        # directly; refused already when the run's temp folder was named: not asked at all.
        self.noreplace = NoReplace(self.temps.renameat2 if self.temps is not None else True)
        if shared and self.workers == 1 and len(self.items) > 1:
            self.workers = SHARED_FS_COPY_WORKERS
            if self.temps is not None and is_shared_fs(dest_fs):
                # A create or a removal holds its folder's lock for its round trips: the items in
                # flight each get a sub-folder of the run's temp folder instead of queueing in one.
                self.temps.lanes = self.workers
        # Copies overlap the fsync of item N with copying N+1 (measured: 1.47x cp+sync).
        # Conversions are CPU-bound: each worker fsyncs its own frame, so results come at once.
        # Not in memory (tmpfs): an fsync there returns at once, and a second thread only competes
        # for the interpreter (20,000 small frames: 49 us of CPU a frame with it, 41 without).
        if (self.opts.fsync and self.opts.verify.value != "full" and copy and self.workers == 1
                and dest_fs not in ("tmpfs", "ramfs")):
            self.committer = Committer(
                spec.job_id, self.dest_fd, self.place_finished, self.discard, lambda: self.token.cancelled,
                self.set_dir_sync_error, syncfs=not is_shared_fs(dest_fs),
            )
        # Opening ahead pays only where creating a file is slow: the copying thread watches how long
        # its creates take and starts the preparer if they are (steps.watch_create).
        self.watch_creates = self.workers == 1 and self.existing is not None and copy and len(self.items) > 1
        self.create_times = []

    def join_group(self) -> None:
        """Share each item's read with the other destinations of the group (copies)."""
        spec = self.spec
        if spec.group is not None and self.writer.kind == "copy":
            from vfxcopy.core.writers import fanout

            existing = self.existing
            # The items this destination will most likely write (its name is free): the group's
            # reader reads them ahead, before the members ask (not those a re-run skips).
            wanted = [item for item in self.items if existing is None or item.name not in existing]
            self.fanout = fanout.join(spec.group, spec.job_id, wanted, self.writer)  # type: ignore[arg-type]
