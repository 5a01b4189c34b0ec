"""The one entry point every runner calls: run_job(spec, token, report) -> JobResult.

With a `journal`, the job and every frame's result are recorded as they
happen, so a crash loses at most the frames in flight and `resume_job`
(core/resume.py) can finish the job later. A verified copy that completes ends with an ASC MHL
generation and a job report in `<dest>/ascmhl/`.
"""

from __future__ import annotations

import os

from vfxcopy.core.errors import Cancelled, JobError
from vfxcopy.core.jobs import (
    CancelToken,
    FrameResult,
    FrameStatus,
    JobResult,
    JobSpec,
    JobState,
    LogMessage,
    Operation,
    Progress,
    Reporter,
    VerifyMode,
    null_reporter,
)
from vfxcopy.core.units import plural

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from collections.abc import Callable

    from vfxcopy.core.journal import Journal
    from vfxcopy.core.report_early import EarlyStrip


def run_spec(spec: JobSpec, token: CancelToken, report: Reporter, journal: Journal | None = None) -> JobResult:
    """The pipeline on `spec`, its planned names recorded in `journal` (run_job and resume_job)."""
    from vfxcopy.core.pipeline import run_pipeline

    on_planned = None
    if journal is not None:
        def on_planned(planned: JobSpec) -> None:
            journal_call(report, planned.job_id, RECORD_NAMES, journal.update_spec, planned)
    return run_pipeline(spec, token, report, on_planned=on_planned)


def _is_journal_error(exc: BaseException) -> bool:
    from vfxcopy.core.journal import JournalError
    from vfxcopy.core.sqlite import sqlite3

    return isinstance(exc, (JournalError, OSError, sqlite3.Error))


# The journal calls a run makes: what each does, and what its failure costs the user.
RECORD_JOB = ("record this job", "the job runs without it and cannot be resumed if it stops")
RECORD_NAMES = ("record the job's planned names", "a resume may not find what the job wrote")
RECORD_END = ("record the job's end", "`vfxcopy jobs` will list it as interrupted")


def journal_call(
    report: Reporter, job_id: str, step: tuple[str, str], call: Callable[..., object], *args: object
) -> bool:
    """`call(*args)` on the journal (`step`: one of the RECORD_ pairs above). A journal that fails
    (a full or read-only disk, a damaged file) is said as a warning and never stops the copy.
    True if it worked."""
    try:
        call(*args)
        return True
    except Exception as exc:
        if not _is_journal_error(exc):
            raise
        report(LogMessage(job_id, "warning", f"the job journal cannot {step[0]} ({exc}); {step[1]}"))
        return False


def run_job(
    spec: JobSpec,
    token: CancelToken | None = None,
    report: Reporter = null_reporter,
    journal: Journal | None = None,
    *,
    outputs: bool = True,
) -> JobResult:
    """Run one job to its end in this thread; never raises for per-frame problems.

    `outputs`: a verified copy ends with its ASC MHL generation and job report; a farm task's
    chunk does not (outputs=False): the job's merge step writes one generation and one report
    for all its chunks, instead of one more per chunk, each under the folder's lock."""
    token = token or CancelToken()
    refused = _preflight(spec, token, report)
    if refused is not None:
        if journal is not None and journal_call(report, spec.job_id, RECORD_JOB, journal.add_job, spec):
            journal_call(report, spec.job_id, RECORD_END, journal.set_state, spec.job_id, refused.state,
                          refused.message)
        return refused
    _warm_pdf(spec)
    early = _start_early_strip(spec, token) if outputs else None
    try:
        return _run_started(spec, token, report, journal, outputs, early)
    finally:
        if early is not None:
            early.stop()  # ended without a report, or cancelled: its thread stops at its next frame


def _run_started(
    spec: JobSpec, token: CancelToken, report: Reporter, journal: Journal | None, outputs: bool,
    early: EarlyStrip | None,
) -> JobResult:
    if journal is not None and not journal_call(report, spec.job_id, RECORD_JOB, journal.add_and_start, spec):
        journal = None  # the copy runs all the same
    if journal is None:
        result = run_spec(spec, token, report)
        _check_sources(spec, result, report, token)
        if outputs:
            finish_outputs(spec, result, result.frames, report, token, early=early)
        return result
    recorder = journal.reporter(spec.job_id, report, background=True)
    try:
        result = run_spec(spec, token, recorder, journal)
    except BaseException as exc:
        recorder.flush()
        journal_call(report, spec.job_id, RECORD_END, journal.set_state, spec.job_id, JobState.FAILED,
                      str(exc) or type(exc).__name__)
        raise
    _check_sources(spec, result, recorder, token)
    recorder.flush()
    if outputs:
        finish_outputs(spec, result, result.frames, report, token, early=early)
    journal_call(report, spec.job_id, RECORD_END, journal.set_state, spec.job_id, result.state, result.message)
    return result


def _start_early_strip(spec: JobSpec, token: CancelToken) -> EarlyStrip | None:
    """The job report's thumbnails, made while a verified copy of images runs (core/report_early.py)."""
    if not has_outputs(spec):
        return None
    from vfxcopy.core.report_early import start_early_strip

    return start_early_strip(spec, token)


def has_outputs(spec: JobSpec) -> bool:
    """A verified copy: it ends with an ASC MHL generation and a job report (finish_outputs)."""
    return spec.operation is Operation.COPY and spec.copy.verify is not VerifyMode.NONE


def _warm_pdf(spec: JobSpec) -> None:
    """A verified copy with the handover PDF: its layout process starts importing while the job copies."""
    if has_outputs(spec) and spec.copy.pdf_report:
        from vfxcopy.core.pdf_child import warm

        warm()


def _preflight(spec: JobSpec, token: CancelToken, report: Reporter) -> JobResult | None:
    """The job's pre-flight policy (JobSpec.preflight), before any byte moves: None to go on,
    or the job's end (refused: failed; cancelled during the check)."""
    if spec.preflight is None:
        return None
    from vfxcopy.core.preflight import policy_verdict, preflight_job

    total = len(spec.selected_frames()) or 1

    def progress(done: int, of: int) -> None:
        report(Progress(spec.job_id, JobState.RUNNING, total, message=f"pre-flight check {done}/{of}"))

    checked = preflight_job(spec, token, progress)
    if checked.cancelled:
        report(Progress(spec.job_id, JobState.CANCELLED, total, message="cancelled during the pre-flight check"))
        return JobResult(spec.job_id, JobState.CANCELLED, message="cancelled during the pre-flight check")
    refuse, warnings = policy_verdict(spec, checked)
    for line in warnings:
        report(LogMessage(spec.job_id, "warning", line))
    if refuse is None:
        return None
    report(LogMessage(spec.job_id, "error", refuse))
    report(Progress(spec.job_id, JobState.FAILED, total, message=refuse))
    return JobResult(spec.job_id, JobState.FAILED, message=refuse)


def _check_sources(spec: JobSpec, result: JobResult, report: Reporter, token: CancelToken) -> None:
    """`verify_source`: re-read the sources copied in this run (core/source_check.py); a difference fails the job."""
    if not spec.copy.verify_source or result.state not in (JobState.COMPLETED, JobState.FAILED):
        return
    from vfxcopy.core.source_check import verify_sources

    try:
        failed = verify_sources(spec, result.frames, report, token)
    except Cancelled:
        _fail_outputs(spec, result, report, "cancelled while verifying the sources", JobState.CANCELLED)
        return
    if failed:
        result.state = JobState.FAILED
        result.message = (f"{len(failed)} of {plural(len(result.frames), 'file')} failed source verification: "
                          "the source changed or reads back differently after the copy; do not wipe it")
        report(Progress(spec.job_id, JobState.FAILED, len(result.frames), message=result.message))
    else:
        done = sum(1 for f in result.frames if f.status is FrameStatus.DONE and f.hash)
        report(LogMessage(spec.job_id, "info", f"source verified: {plural(done, 'file')} read again, all identical"))


def finish_outputs(
    spec: JobSpec, result: JobResult, frames: list[FrameResult], report: Reporter, token: CancelToken,
    *, early: EarlyStrip | None = None,
) -> None:
    """After a completed verified copy: the ASC MHL generation and the job report (with the
    thumbnails `early` made while the job copied, when they show its frames).

    Never raises: a manifest or report that cannot be written (nothing partial is left
    by verify/report) fails the job, so that its exit code is not 0.
    """
    if not has_outputs(spec):
        return
    if result.state is not JobState.COMPLETED:
        return
    from vfxcopy.core.report import write_job_report
    from vfxcopy.core.verify import entries_from_frames, write_generation

    if spec.tree is not None:
        # A tree's own ASC MHL folders are its history, continued by this generation, not content.
        # A link to a folder has no content of its own to hash.
        frames = [f for f in frames if "ascmhl" not in os.path.relpath(f.dest, spec.dest_dir).split(os.sep)[:-1]
                  and not (os.path.islink(f.dest) and os.path.isdir(f.dest))]
    manifest = None
    try:
        entries, problems = entries_from_frames(spec.dest_dir, frames, token)
        for problem in problems:
            report(LogMessage(spec.job_id, "warning", problem))
        manifest = write_generation(spec.dest_dir, entries, comment=f"vfxcopy job {spec.job_id}: {spec.display_name()}",
                                    token=token)
        for name in manifest.skipped:
            report(LogMessage(spec.job_id, "warning", f"{name}: an XML manifest cannot hold this name (bytes that are not "
                                                      "UTF-8, or a control character); left out of the ASC MHL "
                                                      "manifest, verified against the journal"))
        for name in manifest.failed:
            report(LogMessage(spec.job_id, "warning",
                              f"{name}: differs from the hash an earlier manifest in this folder recorded"))
        for name in getattr(manifest, "replaced", []):
            report(LogMessage(spec.job_id, "info", f"{name}: re-delivered; the manifest records its new hash"))
        html, _csv = write_job_report(spec, result, frames, manifest, problems, token=token, early=early)
        report(LogMessage(spec.job_id, "info", f"manifest {manifest.path}; report {html}"))
    except Cancelled:
        # After the manifest, a cancel stops the job report (its thumbnails, its PDF waiting for its turn).
        said = ("cancelled while writing the manifest; none written" if manifest is None else
                f"cancelled while writing the job report; the ASC MHL manifest {os.path.basename(manifest.path)} is written")
        _fail_outputs(spec, result, report, said, JobState.CANCELLED)
    except JobError as exc:
        _fail_outputs(spec, result, report, str(exc))
    except (OSError, ValueError) as exc:
        _fail_outputs(spec, result, report,
                      f"{spec.dest_dir}: cannot write the ASC MHL manifest or report ({exc}); "
                      "the copied files are complete: run 'vfxcopy verify' on them once the problem is fixed")


def _fail_outputs(
    spec: JobSpec, result: JobResult, report: Reporter, message: str, state: JobState = JobState.FAILED
) -> None:
    result.state = state
    result.message = message
    report(LogMessage(spec.job_id, "error" if state is JobState.FAILED else "warning", message))
    report(Progress(spec.job_id, state, len(result.frames), frames_done=len(result.frames), message=message))
