"""Splitting a job into farm steps of contiguous frame chunks, and the final merge step.

A `FarmJob` is stored as `DEST/.vfxcopy-farm/<job_id>/job.json` next to one spec file
per step, so every task, the merge step and `vfxcopy farm status` need nothing but
the shared storage. A movie step cannot be split (one encoder writes one file): it
is one task that waits for the step whose frames it encodes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfxcopy.core.errors import Cancelled, VfxCopyError
from vfxcopy.core.farm.pathmap import PathMap
from vfxcopy.core.farm.task import (
    ChunkResult,
    read_chunk_results,
    results_dir,
    write_json_atomic,
)
from vfxcopy.core.framenames import format_frames
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    Operation,
    VerifyMode,
)
from vfxcopy.core.readfile import read_regular_file
from vfxcopy.core.textsafe import printable

JOB_FILE = "job.json"
MERGED_FILE = "merged.json"
MERGE_STEP = "merge"
# Rough seconds per frame when sizing chunks by task time without a measurement.
DEFAULT_FRAME_SECONDS = {Operation.COPY: 0.05, Operation.CONVERT: 0.5}


class PlanError(ValueError):
    """A job that cannot run as farm tasks (e.g. the rename policy, which needs one planner)."""


@dataclass
class Chunk:
    first: int
    last: int
    count: int

    @property
    def frames_arg(self) -> str:
        return f"{self.first}-{self.last}" if self.first != self.last else str(self.first)

    @property
    def name(self) -> str:
        return f"{self.first}-{self.last}"


@dataclass
class Step:
    name: str
    spec_file: str  # relative to the results folder
    chunks: list[Chunk]
    depends_on: list[str] = field(default_factory=list)


@dataclass
class FarmJob:
    """A farm job: its steps and chunks, the command tasks run, and what the scheduler said."""

    job_id: str
    name: str
    dest_dir: str
    steps: list[Step]
    backend: str = ""
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "vfxcopy"])
    scheduler: dict[str, Any] = field(default_factory=dict)  # backend ids, e.g. {"slurm_job_id": "12"}
    created: float = field(default_factory=time.time)
    # FROM=TO rules passed to every task as --path-map (SLURM, Deadline 10, OpenCue; OpenJD
    # schedulers hand tasks their own rules file instead).
    path_rules: list[str] = field(default_factory=list)
    # Set by `mapped()`: this job as a worker with other mount points sees it (never saved).
    view: PathMap | None = field(default=None, repr=False, compare=False)

    @property
    def folder(self) -> Path:
        return results_dir(self.dest_dir, self.job_id)

    @property
    def job_file(self) -> Path:
        return self.folder / JOB_FILE

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def spec(self, step: str) -> JobSpec:
        data = json.loads(read_regular_file(self.folder / self.step(step).spec_file).decode("utf-8"))
        spec = JobSpec.from_dict(data)
        return self.view.apply_spec(spec) if self.view else spec

    def mapped(self, view: PathMap) -> FarmJob:
        """A read-only copy of this job with its paths as seen through `view` (a worker's mounts)."""
        if not view:
            return self
        return dataclasses.replace(self, dest_dir=view.apply(self.dest_dir), view=view)

    def chunks(self) -> list[tuple[Step, Chunk]]:
        return [(s, c) for s in self.steps for c in s.chunks]

    # -- the command lines the scheduler runs --
    def map_args(self) -> list[str]:
        return [arg for rule in self.path_rules for arg in ("--path-map", rule)]

    def task_argv(self, step: Step, frames: str) -> list[str]:
        return [*self.command, "farm", "task", "--spec", str(self.folder / step.spec_file),
                "--step", step.name, *self.map_args(), "--frames", frames]

    def merge_argv(self) -> list[str]:
        return [*self.command, "farm", "merge", *self.map_args(), str(self.job_file)]

    def task_shell(self, step: Step, frames: str) -> str:
        return shlex.join(self.task_argv(step, frames))

    # -- storage --
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(dataclasses.replace(self, view=None))
        data.pop("view", None)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FarmJob:
        steps = [Step(s["name"], s["spec_file"], [Chunk(**c) for c in s["chunks"]], list(s.get("depends_on", [])))
                 for s in data["steps"]]
        return cls(job_id=data["job_id"], name=data.get("name", ""), dest_dir=data["dest_dir"], steps=steps,
                   backend=data.get("backend", ""), command=list(data.get("command") or []),
                   scheduler=dict(data.get("scheduler") or {}), created=float(data.get("created", 0.0)),
                   path_rules=list(data.get("path_rules") or []))

    def save(self) -> Path:
        if self.view is not None:
            raise RuntimeError("a path-mapped view of a farm job is read-only")
        write_json_atomic(self.job_file, self.to_dict())
        return self.job_file

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FarmJob:
        p = Path(path)
        if p.is_dir():
            p = p / JOB_FILE
        return cls.from_dict(json.loads(read_regular_file(p).decode("utf-8")))


def split_frames(frames: list[int], chunk: int) -> list[Chunk]:
    """Contiguous chunks of at most `chunk` frames; a gap in the numbers never joins two chunks' ranges."""
    if chunk < 1:
        raise PlanError("the chunk size must be at least 1 frame")
    out: list[Chunk] = []
    ordered = sorted(set(frames))
    i = 0
    while i < len(ordered):
        part = ordered[i:i + chunk]
        out.append(Chunk(part[0], part[-1], len(part)))
        i += chunk
    return out


def chunk_for_time(target_seconds: float, frame_seconds: float) -> int:
    """Frames per task so that a task runs about `target_seconds` (at least one frame)."""
    if target_seconds <= 0 or frame_seconds <= 0:
        raise PlanError("task time and frame time must be positive")
    return max(1, int(target_seconds / frame_seconds))


def measure_frame_seconds(spec: JobSpec, frames: int = 2) -> float | None:
    """Seconds per frame of this job here: its first frames run into a scratch folder, then deleted.

    For chunk sizes by task time (`task_seconds`) when no estimate is given. None for a
    movie or a single file (one task anyway) or when the trial fails.
    """
    import shutil
    import tempfile

    from vfxcopy.core.engine import run_job
    from vfxcopy.core.jobs import new_job_id

    picked = spec.selected_frames()[:frames]
    if not picked or _is_movie(spec):
        return None
    parent = results_dir(spec.dest_dir, "probe").parent
    parent.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="probe-", dir=parent)
    try:
        trial = dataclasses.replace(spec, dest_dir=scratch, frames=picked, job_id=new_job_id(), names=None)
        result = run_job(trial)
        if result.state is not JobState.COMPLETED or not result.frames:
            return None
        return max(result.elapsed / len(picked), 0.001)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _is_movie(spec: JobSpec) -> bool:
    from vfxcopy.core.naming import is_movie

    return is_movie(spec)


def _check_text(path: str, what: str, named: str) -> None:
    """PlanError when `path` is not valid UTF-8 text (bytes a file name may hold): schedulers' files
    (OpenJD and Deadline templates, sbatch scripts, job info files) name it as text."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise PlanError(f"{path}: {what} is not valid UTF-8 text, and a farm job's files name {named} "
                        "as text; rename the folder (or copy through one whose name is UTF-8)") from None


def plan_job(
    specs: list[tuple[str, JobSpec, list[str]]],
    *,
    chunk: int | None = None,
    task_seconds: float | None = None,
    frame_seconds: float | None = None,
    job_id: str | None = None,
    name: str = "",
    command: list[str] | None = None,
    backend: str = "",
    path_rules: list[str] | None = None,
) -> FarmJob:
    """A FarmJob from steps (name, spec, names of the steps it waits for), written to shared storage.

    Every step's spec gets the farm job's id; the chunk size is `chunk` frames, or
    `task_seconds / frame_seconds`. Refuses the `rename` conflict policy: every chunk
    would pick its own free version, so the job's names would not agree.
    """
    if not specs:
        raise PlanError("nothing to submit")
    first_spec = specs[0][1]
    jid = job_id or first_spec.job_id
    dest_dir = os.path.abspath(first_spec.dest_dir)
    _check_text(dest_dir, "the destination folder", "the job's folder inside it")
    for word in command or []:
        _check_text(word, "the command a worker runs", "the path of the program")
    steps: list[Step] = []
    known: set[str] = set()
    for step_name, spec, deps in specs:
        if step_name == MERGE_STEP or step_name in known:
            raise PlanError(f"step name {step_name!r} is taken")
        for dep in deps:
            if dep not in known:
                raise PlanError(f"step {step_name!r} waits for {dep!r}, which is not an earlier step")
        if spec.copy.on_conflict is ConflictPolicy.RENAME:
            raise PlanError("the rename conflict policy cannot run as farm tasks (each task would pick its own "
                            "version); use skip-identical, skip, overwrite or fail")
        spec = dataclasses.replace(spec, job_id=jid, names=None, dest_dir=os.path.abspath(spec.dest_dir))
        frames = spec.selected_frames()
        if spec.source.is_single or _is_movie(spec) or not frames:
            chunks = [Chunk(frames[0], frames[-1], len(frames))] if frames else [Chunk(0, 0, 1)]
        else:
            size = chunk
            if size is None:
                per_frame = frame_seconds or DEFAULT_FRAME_SECONDS[spec.operation]
                size = chunk_for_time(task_seconds or 300.0, per_frame)
            chunks = split_frames(frames, size)
        spec_file = f"spec-{step_name}.json"
        write_json_atomic(results_dir(dest_dir, jid) / spec_file, spec.to_dict())
        steps.append(Step(step_name, spec_file, chunks, list(deps)))
        known.add(step_name)
    # The name goes into schedulers' job names and templates (OpenJD takes only valid Unicode text) and
    # onto terminals: a source named with bytes that are not UTF-8, or with control characters, is shown
    # escaped there (\xff, \n), as every message shows it.
    job = FarmJob(jid, printable(name or first_spec.display_name()), dest_dir, steps, backend=backend,
                  path_rules=list(path_rules or []))
    if command is not None:
        job.command = list(command)
    job.save()
    return job


# -- the merge step ---------------------------------------------------------------------------


@dataclass
class MergeResult:
    state: JobState
    frames: list[FrameResult]
    missing: list[str]  # chunks without a result, or not completed
    manifest: str | None
    report: str | None
    swept: list[str]
    problems: list[str]

    @property
    def exit_code(self) -> int:
        if self.state is JobState.COMPLETED:
            return 0
        return 130 if self.state is JobState.CANCELLED else 1

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for fr in self.frames:
            counts[fr.status.value] = counts.get(fr.status.value, 0) + 1
        return {"state": self.state.value, "exit_code": self.exit_code, "counts": counts,
                "missing": self.missing, "manifest": self.manifest, "report": self.report,
                "swept": self.swept, "problems": self.problems}


def latest_results(job: FarmJob) -> dict[tuple[str, int, int], ChunkResult]:
    return {(r.step, r.first, r.last): r for r in read_chunk_results(job.folder) if r.job_id == job.job_id}


def merge_job(job: FarmJob, token: CancelToken | None = None) -> MergeResult:
    """The final step: chunk results -> one ASC MHL generation and report per destination; sweep temporaries.

    The manifest is written only when every chunk completed (a half-done job gets no
    manifest that would look final); the sweep runs always, since by the time the
    merge runs no task of the job is running any more.
    """
    from vfxcopy.core.journal import remove_temps

    token = token or CancelToken()
    results = latest_results(job)
    frames: list[FrameResult] = []
    missing: list[str] = []
    state = JobState.COMPLETED
    by_dest: dict[str, list[tuple[JobSpec, list[FrameResult]]]] = {}
    for step in job.steps:
        spec = job.spec(step.name)
        step_frames: list[FrameResult] = []
        for chunk in step.chunks:
            res = results.get((step.name, chunk.first, chunk.last))
            if res is None or res.state is not JobState.COMPLETED:
                missing.append(f"{step.name} {chunk.frames_arg}: " + (res.state.value if res else "no result"))
                if res is not None and res.state is JobState.CANCELLED:
                    state = JobState.CANCELLED
                elif state is JobState.COMPLETED:
                    state = JobState.FAILED
            if res is not None:
                step_frames.extend(res.frames)
        for i, fr in enumerate(step_frames):
            fr.index = i
        frames.extend(step_frames)
        by_dest.setdefault(spec.dest_dir, []).append((spec, step_frames))
    if any(f.status is FrameStatus.FAILED for f in frames) and state is JobState.COMPLETED:
        state = JobState.FAILED
    swept: list[str] = []
    for dest in by_dest:
        swept.extend(remove_temps(dest, job.job_id))
    manifest_path: str | None = None
    report_path: str | None = None
    problems: list[str] = []
    if state is JobState.COMPLETED:
        try:
            manifest_path, report_path = _write_outputs(job, by_dest, token, problems)
        except Cancelled:
            state = JobState.CANCELLED
            problems.append("cancelled while writing the ASC MHL manifest; none written")
        except (VfxCopyError, OSError) as exc:
            # A damaged history, a full or read-only destination: the frames are in place, the
            # job is not complete until its manifest is; said, and failed (a merge run again retries it).
            state = JobState.FAILED
            problems.append(f"cannot write the ASC MHL manifest: {exc}")
    merged = MergeResult(state, frames, missing, manifest_path, report_path, swept, problems)
    write_json_atomic(job.folder / MERGED_FILE, {**merged.to_dict(), "merged_at": time.time()})
    return merged


def _write_outputs(
    job: FarmJob, by_dest: dict[str, list[tuple[JobSpec, list[FrameResult]]]], token: CancelToken,
    problems: list[str],
) -> tuple[str | None, str | None]:
    from vfxcopy.core.report import write_job_report
    from vfxcopy.core.verify import entries_from_frames, write_generation

    manifest_path = report_path = None
    for dest, parts in by_dest.items():
        all_frames = [f for _spec, fs in parts for f in fs]
        entries, found = entries_from_frames(dest, all_frames, token)
        problems.extend(found)
        spec = parts[0][0]
        want = any(s.operation is Operation.CONVERT or s.copy.verify is not VerifyMode.NONE for s, _ in parts)
        if not want:
            continue
        frames_text = format_frames([f.frame for f in all_frames]) if all_frames else ""
        manifest = write_generation(dest, entries, comment=f"vfxcopy farm job {job.job_id}: {job.name} {frames_text}")
        manifest_path = str(manifest.path)
        result = JobResult(job.job_id, JobState.COMPLETED, all_frames,
                           bytes_done=sum(f.size for f in all_frames), message="farm job")
        report_spec = dataclasses.replace(spec, frames=[f.frame for f in all_frames] or spec.frames)
        try:
            html, _csv = write_job_report(report_spec, result, all_frames, manifest, found)
            report_path = str(html)
        except (OSError, ValueError) as exc:
            problems.append(f"{dest}: cannot write the job report ({exc})")
    return manifest_path, report_path
