"""The one per-item pipeline (see runner.py); `run_pipeline` picks the operation's writer."""

from __future__ import annotations

from collections.abc import Callable

from vfxcopy.core.jobs import CancelToken, JobResult, JobSpec, Reporter
from vfxcopy.core.pipeline.tally import Debug


def run_pipeline(
    spec: JobSpec,
    token: CancelToken,
    report: Reporter,
    *,
    debug: Debug | None = None,
    on_planned: Callable[[JobSpec], None] | None = None,
) -> JobResult:
    """Run `spec` through the pipeline with its operation's writer; never raises for per-item problems.

    Raises SafetyError before touching anything if the request could damage data.
    """
    from vfxcopy.core.writers import run_with_writer

    return run_with_writer(spec, token, report, debug=debug, on_planned=on_planned)


__all__ = ["Debug", "run_pipeline"]
