"""The one entry point every runner calls: run_job(spec, token, report) -> JobResult."""

from __future__ import annotations

from vfxcopy.core.jobs import CancelToken, JobResult, JobSpec, Operation, Reporter, null_reporter


def run_job(spec: JobSpec, token: CancelToken | None = None, report: Reporter = null_reporter) -> JobResult:
    """Run one job to its end in this thread; never raises for per-frame problems."""
    token = token or CancelToken()
    if spec.operation is Operation.COPY:
        from vfxcopy.core.copier import copy_sequence

        return copy_sequence(spec, token, report)
    from vfxcopy.core.convert import convert_sequence

    return convert_sequence(spec, token, report)
