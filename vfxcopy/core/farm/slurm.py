"""SLURM backend: one `sbatch --array` per step (chunk i = array index i), a merge job after them.

State comes from three places, in this order of trust: the chunk results on shared
storage (what really happened to each frame), `squeue` (pending/running array
tasks), and `sacct` where the cluster keeps accounting. Cancel is a plain
`scancel JOBID` of every array job: SLURM sends SIGTERM to running tasks (the task
cancels its engine, removes its temporary and exits 143), SIGKILL after the
cluster's KillWait, and drops the pending ones. (Measured: `scancel --full
--signal=TERM` did not stop running array tasks, and queued ones then started.)
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vfxcopy.core.farm.plan import MERGED_FILE, FarmJob, Step, latest_results
from vfxcopy.core.jobs import JobState
from vfxcopy.core.outfile import replace_file
from vfxcopy.core.readfile import read_regular_file

LOG_FOLDER = "logs"


class SlurmError(RuntimeError):
    """A SLURM command failed: its stderr says why."""


def _run(argv: Sequence[str], env: dict[str, str] | None = None, check: bool = True) -> str:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SlurmError(f"{argv[0]}: {exc}") from None
    if check and proc.returncode != 0:
        raise SlurmError(f"{shlex.join(argv)}: {proc.stderr.strip() or proc.stdout.strip() or proc.returncode}")
    return proc.stdout


@dataclass
class ChunkState:
    step: str
    index: int
    frames: str
    state: str  # pending | running | completed | failed | cancelled | interrupted | not run
    counts: dict[str, int]
    scheduler: str = ""  # what squeue/sacct said, if anything


class Slurm:
    """Submit, status, cancel and requeue a FarmJob on a SLURM cluster (the `sbatch` on PATH)."""

    name = "slurm"

    def __init__(self, partition: str | None = None, max_running: int | None = None,
                 env: dict[str, str] | None = None, extra_args: Sequence[str] = ()) -> None:
        self.partition = partition
        self.max_running = max_running
        self.env = env  # e.g. {"SLURM_CONF": ...} for a private cluster; None: this process's
        self.extra_args = list(extra_args)

    # -- submit --
    def _script(self, job: FarmJob, step: Step) -> Path:
        folder = job.folder / "slurm"
        folder.mkdir(parents=True, exist_ok=True)
        spec = str(job.folder / step.spec_file)
        argv = [*job.command, "farm", "task", "--spec", spec, "--step", step.name, *job.map_args(), "--chunk-index"]
        path = folder / f"{step.name}.sh"
        # exec: the task is the batch step's main process, so scancel's SIGTERM reaches it directly.
        replace_file(path, f"#!/bin/sh\nexec {shlex.join(argv)} \"$SLURM_ARRAY_TASK_ID\"\n".encode(), mode=0o755)
        return path

    def _sbatch(self, job: FarmJob, name: str, script: Path, array: str | None, deps: list[str],
                dep_kind: str) -> str:
        logs = job.folder / LOG_FOLDER
        logs.mkdir(parents=True, exist_ok=True)
        argv = ["sbatch", "--parsable", f"--job-name=vfxcopy-{job.job_id}-{name}",
                f"--chdir={job.folder}", "--kill-on-invalid-dep=yes"]
        if array is not None:
            cap = f"%{self.max_running}" if self.max_running else ""
            argv += [f"--array={array}{cap}", f"--output={logs}/{name}-%a.out"]
        else:
            argv += [f"--output={logs}/{name}.out"]
        if deps:
            argv.append(f"--dependency={dep_kind}:" + ":".join(deps))
        if self.partition:
            argv.append(f"--partition={self.partition}")
        argv += [*self.extra_args, str(script)]
        out = _run(argv, self.env).strip()
        return out.split(";")[0]  # "jobid[;cluster]"

    def submit(self, job: FarmJob, indexes: dict[str, list[int]] | None = None) -> dict[str, Any]:
        """Submit every step's chunks (or only `indexes[step]`) and a merge job after them."""
        ids: dict[str, str] = {}
        for step in job.steps:
            wanted = list(range(len(step.chunks))) if indexes is None else indexes.get(step.name, [])
            if not wanted:
                continue
            deps = [ids[d] for d in step.depends_on if d in ids]
            ids[step.name] = self._sbatch(job, step.name, self._script(job, step), _array(wanted), deps, "afterok")
        merge = job.folder / "slurm" / "merge.sh"
        replace_file(merge, f"#!/bin/sh\nexec {shlex.join(job.merge_argv())}\n".encode(), mode=0o755)
        # afterany: the merge also runs after a failed or cancelled chunk, to record the state and sweep.
        ids["merge"] = self._sbatch(job, "merge", merge, None, list(ids.values()), "afterany")
        history = list(job.scheduler.get("slurm_history", []))
        history.append(ids)
        job.scheduler.update({"slurm_jobs": ids, "slurm_history": history})
        job.backend = self.name
        job.save()
        return ids

    # -- state --
    def _all_ids(self, job: FarmJob) -> list[str]:
        out: list[str] = []
        for ids in job.scheduler.get("slurm_history", []) or [job.scheduler.get("slurm_jobs", {})]:
            out.extend(str(v) for v in ids.values())
        return out

    def queue(self, job: FarmJob) -> dict[tuple[str, int], str]:
        """(step, array index) -> squeue state for the job's tasks still known to the controller."""
        prefix = f"vfxcopy-{job.job_id}-"
        # By name, not by id: ids the controller has purged make squeue fail for the whole list.
        names = ",".join(prefix + n for n in [*(s.name for s in job.steps), "merge"])
        out = _run(["squeue", "-h", "-r", f"--name={names}", "-o", "%A|%F|%K|%j|%T"], self.env)
        states: dict[tuple[str, int], str] = {}
        for line in out.splitlines():
            parts = line.strip().split("|")
            if len(parts) != 5 or not parts[3].startswith(prefix):
                continue
            step = parts[3][len(prefix):]
            index = int(parts[2]) if parts[2].isdigit() else -1
            states[(step, index)] = parts[4].lower()
        return states

    def accounting(self, job: FarmJob) -> dict[str, str] | None:
        """sacct's view (job id -> state), or None where the cluster keeps no accounting."""
        ids = self._all_ids(job)
        try:
            out = _run(["sacct", "-n", "-P", "-X", "-j", ",".join(ids), "-o", "JobID,State"], self.env)
        except SlurmError:
            return None
        return dict(line.split("|", 1) for line in out.splitlines() if "|" in line)

    def status(self, job: FarmJob) -> list[ChunkState]:
        results = latest_results(job)
        queue = self.queue(job)
        out: list[ChunkState] = []
        for step in job.steps:
            for i, chunk in enumerate(step.chunks):
                res = results.get((step.name, chunk.first, chunk.last))
                live = queue.get((step.name, i), "")
                if live in ("running", "completing") or (live and res is None):
                    state = "running" if live in ("running", "completing") else "pending"
                elif res is not None:
                    state = res.state.value
                    if res.state is JobState.RUNNING and not live:
                        state = "interrupted"  # the task is gone without a final record (killed)
                else:
                    state = "not run"
                out.append(ChunkState(step.name, i, chunk.frames_arg, state, res.counts() if res else {}, live))
        return out

    def cancel(self, job: FarmJob) -> None:
        ids = self._all_ids(job)
        if ids:
            _run(["scancel", *ids], self.env)

    def retry(self, job: FarmJob) -> dict[str, Any]:
        """Resubmit only the chunks not completed (failed, cancelled, interrupted, never run)."""
        todo: dict[str, list[int]] = {}
        for cs in self.status(job):
            if cs.state not in ("completed", "running", "pending"):
                todo.setdefault(cs.step, []).append(cs.index)
        if not todo and _merged(job):
            return {}
        return self.submit(job, todo)  # with no chunk to redo: the merge step alone


def _merged(job: FarmJob) -> bool:
    import json

    try:
        return bool(json.loads(read_regular_file(job.folder / MERGED_FILE).decode("utf-8")).get("state") == "completed")
    except (OSError, ValueError):
        return False


def _array(indexes: list[int]) -> str:
    """SLURM's --array syntax for the indexes: '0-9' or '0,3,7'."""
    ordered = sorted(indexes)
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}-{ordered[-1]}" if len(ordered) > 1 else str(ordered[0])
    return ",".join(str(i) for i in ordered)


def slurm_available() -> bool:
    from shutil import which

    return all(which(tool) for tool in ("sbatch", "squeue", "scancel"))


def env_with(conf: str | os.PathLike[str]) -> dict[str, str]:
    env = dict(os.environ)
    env["SLURM_CONF"] = str(conf)
    return env
