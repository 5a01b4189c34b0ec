"""resume_job: finish an interrupted, cancelled or failed job from its journal record.

Only the frames not yet done are copied, under the names the job recorded when it was
planned; a frame recorded as done is checked first (`_why_stale`) and done again if it
no longer holds. The run itself is engine.run_spec, its outputs engine.finish_outputs.
"""

from __future__ import annotations

import dataclasses
import os
import time

from vfxcopy.core import naming
from vfxcopy.core.engine import RECORD_END, finish_outputs, journal_call, run_spec
from vfxcopy.core.errors import Cancelled, JobError
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    Event,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Operation,
    Progress,
    Reporter,
    null_reporter,
)
from vfxcopy.core.units import plural

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.journal import Journal, JournalFrame, JournalJob


def _why_stale(fr: JournalFrame, rehash: bool, token: CancelToken) -> str | None:
    """Why a frame the journal has as done must be copied again, or None if it is still good."""
    try:
        dst = os.stat(fr.dest)
    except FileNotFoundError:
        return "missing at the destination"
    except OSError as exc:
        return f"cannot be checked at the destination ({exc.strerror})"
    size = fr.dest_size if fr.dest_size is not None else fr.size
    if dst.st_size != size:
        return f"size changed at the destination ({size} → {dst.st_size} bytes)"
    if fr.dest_mtime_ns is not None and dst.st_mtime_ns != fr.dest_mtime_ns:
        return "modified at the destination since it was copied"
    try:
        src = os.stat(fr.source)
    except OSError:
        src = None  # the source is gone: what is in place is all there is
    if src is not None and fr.src_size is not None and (
        src.st_size != fr.src_size or (fr.src_mtime_ns is not None and src.st_mtime_ns != fr.src_mtime_ns)
    ):
        return "the source changed since it was copied"
    if rehash and fr.hash and fr.hash_algo:
        from vfxcopy.core.verify import MHL_FORMAT, hash_path

        fmt = MHL_FORMAT.get(fr.hash_algo)
        if fmt:
            try:
                if hash_path(fr.dest, fmt, token) != fr.hash:
                    return "content at the destination differs from the recorded hash"
            except OSError as exc:
                return f"cannot be read at the destination ({exc.strerror})"
    return None


def resume_job(
    job_id: str,
    journal: Journal,
    token: CancelToken | None = None,
    report: Reporter = null_reporter,
    *,
    rehash: bool = True,
    force: bool = False,
) -> JobResult:
    """Finish an interrupted, cancelled or failed job: copy only the frames not yet done.

    A frame the journal has as done is checked first (present, same size and
    mtime, source unchanged, and with `rehash` the recorded hash); a frame
    that fails the check is copied again (replacing what is there) and
    reported. Raises JobError if the job is unknown or a live process runs it.
    """
    token = token or CancelToken()
    job = journal.get_job(job_id)
    if job is None:
        raise JobError(f"no job {job_id} in the journal {journal.path}")
    if not journal.claim(job_id, force=force):
        from vfxcopy.core.journal import same_machine

        if not same_machine(job.host):
            raise JobError(f"job {job_id} is recorded as running on {job.host.partition('#')[0]} (pid {job.pid}); "
                           "if that vfxcopy is no longer running, resume with --force")
        raise JobError(f"job {job_id} is being run by another vfxcopy process (pid {job.pid})")
    try:
        return _resume_claimed(job, journal, token, report, rehash)
    except BaseException as exc:
        # A refusal (SafetyError) or a bug must not leave the job "running" under a live pid.
        journal_call(report, job_id, RECORD_END, journal.set_state, job_id, JobState.FAILED,
                     str(exc) or type(exc).__name__)
        raise


def _resume_claimed(
    job: JournalJob, journal: Journal, token: CancelToken, report: Reporter, rehash: bool
) -> JobResult:
    from vfxcopy.core.pipeline.destfolder import sweep

    job_id = job.job_id
    spec = job.spec
    started = time.monotonic()
    # A conversion's recorded hash is of its source bytes, not of what it wrote: only a
    # copy's destination can be checked against it.
    rehash = rehash and spec.operation is Operation.COPY
    try:
        sweep(spec.dest_dir, spec.job_id, min_age=0)
        single = spec.source.is_single and spec.tree is None
        frames = spec.selected_frames() if not single else []
        recorded = {fr.index: fr for fr in journal.frames(job_id)}
        kept: list[FrameResult] = []
        todo: list[int] = []
        redo: list[int] = []  # done once, now stale, and a file is in the way: replace it
        movie = naming.is_movie(spec)
        if single or movie:
            # One output for the whole job (a single file, a movie): all of it, or again.
            fr0 = recorded.get(0)
            every = len(frames) if movie else 1
            all_done = all((rec := recorded.get(i)) is not None and rec.status is FrameStatus.DONE for i in range(every))
            why = _why_stale(fr0, rehash, token) if fr0 is not None and all_done else "not done"
            if why is not None:
                owned = _owned_names(spec, recorded)
                whole_spec = dataclasses.replace(spec, names=owned)
                if spec.copy.on_conflict in (ConflictPolicy.FAIL, ConflictPolicy.RENAME):
                    whole_spec = dataclasses.replace(whole_spec, copy=dataclasses.replace(
                        spec.copy, on_conflict=ConflictPolicy.SKIP_IDENTICAL))
                if fr0 is not None and why != "not done":
                    report(LogMessage(job_id, "warning", f"{fr0.dest}: {why}; writing it again"))
                # The name is the job's own (recorded): what is there is an earlier try of this job.
                mine = os.path.join(spec.dest_dir, owned[0])
                if os.path.lexists(mine) and (movie or why != "not done"):
                    whole_spec = dataclasses.replace(
                        whole_spec, copy=dataclasses.replace(spec.copy, on_conflict=ConflictPolicy.OVERWRITE))
                recorder = journal.reporter(job_id, report, background=True)
                try:
                    whole = run_spec(whole_spec, token, recorder)
                finally:
                    recorder.flush()
                return _finish_resume(journal, spec, whole, report, token, started)
            assert fr0 is not None
            if movie:
                return _finish_resume(journal, spec, _merge(job_id, [r.to_result() for r in recorded.values()], [],
                                                          started, len(frames)), report, token, started, outputs=False)
            kept.append(fr0.to_result())
        for index, frame in enumerate(frames):
            fr = recorded.get(index)
            if fr is None or fr.status is not FrameStatus.DONE:
                todo.append(frame)
                continue
            why = _why_stale(fr, rehash, token)
            if why is None:
                kept.append(fr.to_result())
                continue
            report(LogMessage(job_id, "warning", f"{fr.dest}: {why}; copying frame {frame} again"))
            (redo if os.path.lexists(fr.dest) else todo).append(frame)
    except Cancelled:
        journal_call(report, job_id, RECORD_END, journal.set_state, job_id, JobState.CANCELLED,
                     "cancelled while checking finished frames")
        return JobResult(job_id, JobState.CANCELLED, elapsed=time.monotonic() - started, message="cancelled")

    index_of = {frame: i for i, frame in enumerate(frames)}
    kept_bytes = sum(r.size for r in kept)
    results: dict[int, FrameResult] = {r.index: r for r in kept}
    runs: list[JobResult] = []
    # A crash can land between a frame's rename and its journal commit: that frame is in
    # place but not recorded. 'fail' would refuse it, so a resume compares it instead.
    # The names are the job's own (recorded when it was planned): 'fail' and 'rename' would refuse
    # them, so a resume compares what is there instead, and never writes any other name.
    policy = spec.copy.on_conflict
    if policy in (ConflictPolicy.FAIL, ConflictPolicy.RENAME):
        policy = ConflictPolicy.SKIP_IDENTICAL
    names = _owned_names(spec, recorded)
    batches = [(todo, policy), (redo, ConflictPolicy.OVERWRITE)]
    done_before = len(kept)
    for batch, batch_policy in batches:
        if not batch:
            continue
        sub = dataclasses.replace(
            spec, frames=batch, names=[names[index_of[f]] for f in batch],
            copy=dataclasses.replace(spec.copy, on_conflict=batch_policy),
        )
        # Remap first, so the journal records each frame under its index in the whole job.
        recorder = journal.reporter(job_id, report, background=True)
        try:
            sub_result = run_spec(sub, token, _Remap(batch, index_of, len(frames), done_before, kept_bytes, recorder))
        finally:
            recorder.flush()
        for r in sub_result.frames:
            if 0 <= r.index < len(batch):
                r.index = index_of[batch[r.index]]
            results[r.index] = r
        runs.append(sub_result)
        done_before += sum(1 for r in sub_result.frames if r.status in (FrameStatus.DONE, FrameStatus.SKIPPED))
        if sub_result.state is JobState.CANCELLED:
            break
    merged = _merge(job_id, [results[i] for i in sorted(results)], runs, started, len(frames))
    return _finish_resume(journal, spec, merged, report, token, started,
                          outputs=bool(runs) or job.state is not JobState.COMPLETED)


def _owned_names(spec: JobSpec, recorded: dict[int, JournalFrame]) -> list[str]:
    """The names the job owns: recorded with it, or (journals of vfxcopy 0.1) those its frames were
    written under, with the same rename version applied to the frames never written."""
    from vfxcopy.core import naming

    if spec.names is not None:
        return list(spec.names)
    planned = naming.planned_names(spec)
    for index, fr in sorted(recorded.items()):
        if not fr.dest or index >= len(planned):
            continue
        written = os.path.basename(fr.dest)
        want = planned[index]
        # The frame part and tail are the same; only the head may carry a rename version.
        common = 0
        while common < min(len(written), len(want)) and written[-1 - common] == want[-1 - common]:
            common += 1
        old_head, new_head = want[: len(want) - common], written[: len(written) - common]
        return [new_head + n[len(old_head):] if n.startswith(old_head) else n for n in planned]
    return planned


def _finish_resume(
    journal: Journal, spec: JobSpec, result: JobResult, report: Reporter, token: CancelToken, started: float,
    outputs: bool = True,
) -> JobResult:
    if result.state is JobState.COMPLETED and outputs:
        # The manifest covers every frame of the job, also those done before the crash;
        # with nothing copied now (everything was still in place) the last one still holds.
        finish_outputs(spec, result, [f.to_result() for f in journal.frames(spec.job_id)], report, token)
    journal_call(report, spec.job_id, RECORD_END, journal.set_state, spec.job_id, result.state,
                 result.message)
    result.elapsed = time.monotonic() - started
    return result


def _merge(job_id: str, frames: list[FrameResult], runs: list[JobResult], started: float, total: int) -> JobResult:
    state = JobState.COMPLETED
    message = ""
    for run in runs:
        if run.state is JobState.CANCELLED:
            state, message = JobState.CANCELLED, run.message or "cancelled"
            break
        if run.state is JobState.FAILED:
            state, message = JobState.FAILED, run.message
    failed = sum(1 for f in frames if f.status is FrameStatus.FAILED)
    if state is JobState.COMPLETED and failed:
        state = JobState.FAILED
    if state is JobState.FAILED and failed and not message:
        message = f"{failed} of {plural(total, 'frame')} failed"
    return JobResult(
        job_id=job_id,
        state=state,
        frames=frames,
        bytes_done=sum(r.bytes_done for r in runs),
        elapsed=time.monotonic() - started,
        message=message,
    )


class _Remap:
    """Passes a partial run's events on as if they came from the whole job (indexes, totals)."""

    def __init__(
        self, batch: list[int], index_of: dict[int, int], total: int, done_before: int, kept_bytes: int,
        forward: Reporter,
    ) -> None:
        self.batch = batch
        self.index_of = index_of
        self.total = total
        self.done_before = done_before
        self.kept_bytes = kept_bytes
        self.forward = forward

    def __call__(self, event: Event) -> None:
        if isinstance(event, FrameResult):
            if 0 <= event.index < len(self.batch):
                event = dataclasses.replace(event, index=self.index_of.get(self.batch[event.index], event.index))
        elif isinstance(event, Progress):
            event = event.copy(
                frames_total=self.total,
                frames_done=event.frames_done + self.done_before,
                bytes_total=event.bytes_total + self.kept_bytes,
                bytes_done=event.bytes_done + self.kept_bytes,
            )
        self.forward(event)
