"""One small interface over the farm backends: submit, status, cancel, retry (requeue failed chunks).

Status always starts from the chunk results on shared storage (what happened to
every frame) and adds what the scheduler says about tasks that are still queued
or running. Backends that only write files (Deadline 10, OpenCue) cannot cancel
or requeue from here: their own monitor does that.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import time
from typing import Any, Protocol

from vfxcopy.core.farm.plan import FarmJob, latest_results
from vfxcopy.core.jobs import FrameStatus, JobState
from vfxcopy.core.outfile import replace_file
from vfxcopy.core.readfile import read_regular_file


class FarmError(RuntimeError):
    """A backend cannot do what was asked (not configured, not supported, scheduler error)."""


class Backend(Protocol):
    name: str

    def submit(self, job: FarmJob) -> dict[str, Any]: ...

    def status(self, job: FarmJob) -> dict[str, Any]: ...

    def cancel(self, job: FarmJob) -> None: ...

    def retry(self, job: FarmJob) -> dict[str, Any]: ...


def results_status(job: FarmJob, live: dict[tuple[str, int], str] | None = None) -> dict[str, Any]:
    """The job's state from its chunk results (and the scheduler's live task states, if known)."""
    results = latest_results(job)
    chunks: list[dict[str, Any]] = []
    frames = {"total": 0, "done": 0, "skipped": 0, "failed": 0}
    for step in job.steps:
        for i, chunk in enumerate(step.chunks):
            res = results.get((step.name, chunk.first, chunk.last))
            sched = (live or {}).get((step.name, i), "")
            if sched in ("running", "completing"):
                state = "running"
            elif sched and res is None:
                state = "pending"
            elif res is not None:
                state = res.state.value
                if res.state is JobState.RUNNING and (
                        (live is not None and not sched) or _dead_here(res.host, res.pid, res.pid_start)):
                    state = "interrupted"  # gone without a final record (killed, node lost)
            else:
                state = "not run"
            counts = res.counts() if res else {}
            frames["total"] += chunk.count
            frames["done"] += counts.get(FrameStatus.DONE.value, 0)
            frames["skipped"] += counts.get(FrameStatus.SKIPPED.value, 0)
            frames["failed"] += counts.get(FrameStatus.FAILED.value, 0)
            chunks.append({"step": step.name, "index": i, "frames": chunk.frames_arg, "state": state,
                           "scheduler": sched, "counts": counts})
    states = {c["state"] for c in chunks}
    if states <= {"completed"}:
        overall = "completed"
    elif states & {"running", "pending"}:
        overall = "running"
    elif "failed" in states or frames["failed"]:
        overall = "failed"
    elif states & {"cancelled", "interrupted"} or job.scheduler.get("cancelled_at"):
        overall = "cancelled"
    else:
        overall = "incomplete"
    merged = _merged(job)
    merge_state = merged.get("state")
    # A merge that ran while chunks were missing wrote nothing and says nothing of the chunks done since.
    outputs_failed = merge_state in ("failed", "cancelled") and not merged.get("missing")
    if overall == "completed" and merge_state != "completed":
        # Every chunk is done: the manifest and report are being written, or their merge failed
        # (a damaged history, a full destination: said in its problems; a merge run again retries).
        overall = str(merge_state) if outputs_failed else "merging"
    problems = [str(p) for p in merged.get("problems") or []] if outputs_failed else []
    return {"job_id": job.job_id, "name": job.name, "backend": job.backend, "state": overall,
            "frames": frames, "chunks": chunks, "merged": merge_state == "completed", "merge_state": merge_state,
            "merge_problems": problems, "results": str(job.folder)}


def _merged(job: FarmJob) -> dict[str, Any]:
    """The merge step's record (merged.json): {} when it has not run (or cannot be read)."""
    import json

    from vfxcopy.core.farm.plan import MERGED_FILE

    try:
        data = json.loads(read_regular_file(job.folder / MERGED_FILE).decode("utf-8"))
        return data if isinstance(data, dict) and isinstance(data.get("state"), str) else {}
    except (OSError, ValueError):
        return {}


def _merge_state(job: FarmJob) -> str | None:
    """The merge step's outcome from merged.json (None: it has not run)."""
    return _merged(job).get("state")


def note_cancel(job: FarmJob, cancelled: bool) -> None:
    """Record (or clear, on a retry) that the user cancelled the job: chunks never run are then 'cancelled'."""
    if cancelled:
        job.scheduler["cancelled_at"] = time.time()
    else:
        job.scheduler.pop("cancelled_at", None)
    job.save()


def _dead_here(host: str, pid: int, pid_start: int | None) -> bool:
    """A task that ran on this computer and whose process is gone (a scheduler may not be asked)."""
    if host != socket.gethostname() or pid <= 0:
        return False
    from vfxcopy.core.journal import process_alive

    return not process_alive(pid, pid_start)


class SlurmBackend:
    name = "slurm"

    def __init__(self, partition: str | None = None, max_running: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        from vfxcopy.core.farm.slurm import Slurm

        self.slurm = Slurm(partition=partition, max_running=max_running, env=env)

    def submit(self, job: FarmJob) -> dict[str, Any]:
        return {"slurm_jobs": self.slurm.submit(job)}

    def status(self, job: FarmJob) -> dict[str, Any]:
        from vfxcopy.core.farm.slurm import SlurmError

        try:
            live: dict[tuple[str, int], str] | None = self.slurm.queue(job)
        except SlurmError as exc:
            # No SLURM client here, or the controller is down: the results folder still tells a lot.
            out = results_status(job)
            out["scheduler_error"] = str(exc)
            return out
        out = results_status(job, live)
        accounting = self.slurm.accounting(job)  # None where the cluster keeps no accounting (no slurmdbd)
        if accounting is not None:
            out["sacct"] = accounting
        return out

    def cancel(self, job: FarmJob) -> None:
        self.slurm.cancel(job)
        note_cancel(job, True)

    def retry(self, job: FarmJob) -> dict[str, Any]:
        note_cancel(job, False)
        return {"slurm_jobs": self.slurm.retry(job)}


class OpenJDBackend:
    """Writes a job bundle; with `run_local`, runs it here with the OpenJD runtime (openjd-sessions)."""

    name = "openjd"

    def __init__(self, run_local: bool = False) -> None:
        self.run_local = run_local

    def submit(self, job: FarmJob) -> dict[str, Any]:
        from vfxcopy.core.farm import openjd

        bundle = openjd.write_bundle(job)
        job.backend = self.name
        job.scheduler.update({"bundle": str(bundle)})
        out: dict[str, Any] = {"bundle": str(bundle)}
        if self.run_local:
            out["tasks"] = self._run(job, None)
        job.save()
        return out

    def _run(self, job: FarmJob, only: set[tuple[str, int]] | None) -> list[dict[str, Any]]:
        import shutil
        import tempfile
        from pathlib import Path

        from vfxcopy.core.farm import openjd

        # The sessions' working folders in a private folder of this run (0700, removed after it), not
        # the runtime's default /tmp/OpenJD: that one is shared by every user of the machine, and
        # the first to make it owns it (another user's run then failed "Permission denied").
        root = tempfile.mkdtemp(prefix="vfxcopy-openjd-")
        try:
            return self._run_in(job, only, openjd.LocalRunner(openjd.job_template(job), openjd.job_parameters(job),
                                                              session_root=Path(root)))
        except FarmError:
            raise
        except (RuntimeError, OSError) as exc:
            raise FarmError(f"the OpenJD runtime could not run the job's tasks here: {exc}") from exc
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _run_in(self, job: FarmJob, only: set[tuple[str, int]] | None, runner: Any) -> list[dict[str, Any]]:
        firsts = {(s.name, c.first): i for s in job.steps for i, c in enumerate(s.chunks)}

        def wanted(step: str, params: dict[str, Any]) -> bool:
            if only is None or "ChunkStart" not in params:
                return True
            return (step, firsts.get((step, int(params["ChunkStart"])), -1)) in only

        job.scheduler["local_pid"] = os.getpid()
        job.save()
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        handler = lambda signum, frame: runner.cancel()  # noqa: E731 - the runtime's notify-then-terminate
        try:
            signal.signal(signal.SIGTERM, handler)
            signal.signal(signal.SIGINT, handler)
        except ValueError:
            pass  # not the main thread: no signal hooks
        try:
            runs = runner.run(only=wanted)
        finally:
            try:
                for sig, before in previous.items():
                    signal.signal(sig, before)
            except (ValueError, TypeError):
                pass
            job.scheduler.pop("local_pid", None)
            job.save()
        return [dataclasses.asdict(r) for r in runs]

    def status(self, job: FarmJob) -> dict[str, Any]:
        return results_status(job)

    def cancel(self, job: FarmJob) -> None:
        pid = job.scheduler.get("local_pid")
        if not pid:
            raise FarmError("no local OpenJD run of this job is going on (submit the bundle to a farm to cancel there)")
        try:
            os.kill(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            raise FarmError(f"the local run (pid {pid}) has ended") from None
        note_cancel(job, True)

    def retry(self, job: FarmJob) -> dict[str, Any]:
        note_cancel(job, False)
        todo = {(c["step"], c["index"]) for c in results_status(job)["chunks"] if c["state"] != "completed"}
        if not todo and _merge_state(job) == "completed":
            return {"tasks": []}
        return {"tasks": self._run(job, todo)}  # with nothing to redo: the merge step alone


class DeadlineCloudBackend:
    name = "deadline"

    def __init__(self, farm_id: str | None, queue_id: str | None, client: Any = None,
                 max_workers: int | None = None) -> None:
        farm_id = farm_id or os.environ.get("DEADLINE_FARM_ID")
        queue_id = queue_id or os.environ.get("DEADLINE_QUEUE_ID")
        self._ids = (farm_id, queue_id)
        self._client = client
        self.max_workers = max_workers
        self._cloud: Any = None  # an openjd.DeadlineCloud, made on first use

    def _api(self, job: FarmJob | None = None) -> Any:
        from vfxcopy.core.farm.openjd import DeadlineCloud

        if self._cloud is None:
            farm_id, queue_id = self._ids
            if job is not None:
                farm_id = farm_id or job.scheduler.get("farm_id")
                queue_id = queue_id or job.scheduler.get("queue_id")
            if not farm_id or not queue_id:
                raise FarmError("Deadline Cloud needs --farm-id and --queue-id (or $DEADLINE_FARM_ID, "
                                "$DEADLINE_QUEUE_ID)")
            self._cloud = DeadlineCloud(farm_id, queue_id, client=self._client)
        return self._cloud

    def _call(self, job: FarmJob, action: str) -> Any:
        try:
            return getattr(self._api(job), action)(job)
        except FarmError:
            raise
        except Exception as exc:  # botocore: no credentials or region, ClientError, endpoint errors
            raise FarmError(f"Deadline Cloud {action}: {exc}") from exc

    def submit(self, job: FarmJob) -> dict[str, Any]:
        try:
            return {"deadline_job_id": self._api(job).submit(job, max_workers=self.max_workers)}
        except FarmError:
            raise
        except Exception as exc:  # botocore, as in _call
            raise FarmError(f"Deadline Cloud submit: {exc}") from exc

    def status(self, job: FarmJob) -> dict[str, Any]:
        out = results_status(job)
        out["scheduler"] = self._call(job, "status")
        return out

    def cancel(self, job: FarmJob) -> None:
        self._call(job, "cancel")
        note_cancel(job, True)

    def retry(self, job: FarmJob) -> dict[str, Any]:
        note_cancel(job, False)
        return {"requeued": self._call(job, "retry")}


class FilesBackend:
    """Deadline 10 or OpenCue: writes the submission files; their own monitor cancels and requeues."""

    def __init__(self, name: str, partition: str | None = None, max_running: int | None = None) -> None:
        self.name = name
        self.partition = partition
        self.max_running = max_running

    def submit(self, job: FarmJob) -> dict[str, Any]:
        from vfxcopy.core.farm.files import deadline10_files, opencue_outline

        folder = job.folder / self.name
        if self.name == "deadline10":
            paths = [str(p) for p in deadline10_files(job, folder, pool=self.partition,
                                                        machine_limit=self.max_running)]
        else:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "outline.py"
            replace_file(path, opencue_outline(job, show=self.partition or "vfxcopy").encode("utf-8"))
            paths = [str(path)]
        job.backend = self.name
        job.save()
        return {"files": paths}

    def status(self, job: FarmJob) -> dict[str, Any]:
        return results_status(job)

    def cancel(self, job: FarmJob) -> None:
        raise FarmError(f"cancel {self.name} jobs in its monitor; the tasks stop within a frame and leave "
                        "nothing partial")

    def retry(self, job: FarmJob) -> dict[str, Any]:
        raise FarmError(f"requeue failed tasks in the {self.name} monitor (each retried chunk skips done frames)")


def get_backend(name: str, **options: Any) -> Backend:
    if name == "slurm":
        return SlurmBackend(options.get("partition"), options.get("max_running"), options.get("env"))
    if name == "openjd":
        return OpenJDBackend(bool(options.get("run_local")))
    if name == "deadline":
        return DeadlineCloudBackend(options.get("farm_id"), options.get("queue_id"), options.get("client"),
                                    options.get("max_running"))
    if name in ("deadline10", "opencue"):
        return FilesBackend(name, options.get("partition"), options.get("max_running"))
    raise FarmError(f"unknown farm backend {name!r}")
