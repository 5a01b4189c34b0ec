"""How a run settles: the committer's results, a clean stop, the cancel path, and closing the folders."""

from __future__ import annotations

import os
import time

from vfxcopy.core.errors import (
    DISK_FULL_ERRNOS,
    Cancelled,
    disk_full_message,
)
from vfxcopy.core.jobs import (
    FrameStatus,
)
from vfxcopy.core.pipeline.context import DiskFull, StopOnError
from vfxcopy.core.pipeline.durable import Error, Finished
from vfxcopy.core.pipeline.state import RunState
from vfxcopy.core.pipeline.temps import (
    TempFile,
)

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    pass


class Settling(RunState):
    """Mixed into Pipeline (runner.py), which owns the run's state (state.py)."""

    def discard(self, temp: TempFile) -> None:
        if self.temps is None:
            return
        debug = self.debug
        removed = self.temps.discard(temp, close=not temp.submitted or temp.fd >= 0,
                                     on_closed=debug.closed if debug is not None else None)
        if removed and debug is not None and debug.temp_unlinked is None:
            debug.temp_unlinked = time.monotonic()

    # -- the committer's results --
    def drain(self) -> None:
        committer = self.committer
        if committer is None:
            return
        stop: Exception | None = None
        for fin, error in committer.take_done():  # record every one before stopping
            if error is None:
                self.tally.finish(fin.result, fin.item.size, committed=True)
                continue
            stop = stop or self.commit_failed(fin, error)
        if stop is not None:
            raise stop

    def commit_failed(self, fin: Finished, error: Error) -> Exception | None:
        res = fin.result
        res.status = FrameStatus.FAILED
        res.hash = res.hash_algo = None
        if error[1] in DISK_FULL_ERRNOS:
            res.error = error[0]
            self.tally.finish(res, fin.item.size, committed=True)
            return DiskFull(disk_full_message(self.dest_dir, f"{self.writer.unit} {fin.item.frame}", fin.item.size))
        res.error = error[0]
        self.tally.finish(res, fin.item.size, committed=True)
        self.tally.log("error", error[0])
        if self.opts.stop_on_error:
            return StopOnError(f"stopped at the first error: {error[0]}")
        return None

    # -- ends --
    def finish_committer_quietly(self) -> None:
        """A clean stop: items already complete are still put in place; nothing else is left."""
        if self.committer is not None:
            try:
                self.committer.finish(self.token.check)
                self.drain()
                if self.dest_fd >= 0:
                    os.fsync(self.dest_fd)
            except (Cancelled, DiskFull, StopOnError, OSError):
                pass
        self.abort()

    def abort(self) -> None:
        """Cancel path: remove every temp not yet in place; items already placed count as done."""
        if self.preparer is not None:
            self.preparer.stop()  # type: ignore[attr-defined]
        if self.committer is not None:
            for fin, error in self.committer.abort():
                if error is not None:
                    fin.result.status = FrameStatus.FAILED
                    fin.result.error = error[0]
                self.tally.finish(fin.result, fin.item.size, committed=True)
        if self.temps is not None:
            for temp in self.temps.open_temps():
                if not temp.submitted:
                    self.discard(temp)
                else:
                    self.temps.unlink(temp)  # the committer closes its fd

    def close(self) -> None:
        if self.fanout is not None:
            self.fanout.leave()
        temps, dest_fd, folders = self.temps, self.dest_fd, self.folders
        self.dest_fd = -1

        def release() -> None:
            if folders is not None:
                folders.close()
            if temps is not None:
                temps.close()
            if dest_fd >= 0:
                os.close(dest_fd)

        if self.committer is not None:
            # A cancelled run's committer may still be fsyncing one temp: the names go now,
            # the folders' fds when it is done (an fd closed under it could be reused).
            if temps is not None:
                temps.remove_all()
            self.committer.call_at_exit(release)
        else:
            release()
