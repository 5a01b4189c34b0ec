"""Conversion jobs in the journal: a cancelled conversion resumes with only the frames not yet done."""

from __future__ import annotations

import os
from pathlib import Path

from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import (
    CancelToken,
    ConvertOptions,
    Event,
    FrameResult,
    FrameStatus,
    JobSpec,
    JobState,
    Operation,
)
from vfxcopy.core.journal import Journal
from vfxcopy.core.resume import resume_job
from vfxcopy.core.sequence import Sequence


def test_cancelled_conversion_resumes_where_it_stopped(exr_seq_session: list[Path], tmp_path: Path) -> None:
    seq = Sequence(str(exr_seq_session[0].parent), "shot_010.", ".exr", 4, tuple(range(1001, 1007)))
    token = CancelToken()

    def cancel_after_two(event: Event) -> None:
        if isinstance(event, FrameResult) and event.index == 1:
            token.cancel()

    spec = JobSpec(seq, str(tmp_path / "out"), Operation.CONVERT,
                   convert=ConvertOptions(to="jpg", to_space="sRGB - Display", threads=1))
    with Journal() as journal:
        first = run_job(spec, token, cancel_after_two, journal=journal)
        assert first.state is JobState.CANCELLED
        kept = {n: os.stat(tmp_path / "out" / n).st_mtime_ns for n in os.listdir(tmp_path / "out")}
        assert sorted(kept) == ["shot_010.1001.jpg", "shot_010.1002.jpg"]

        converted: list[int] = []
        second = resume_job(spec.job_id, journal, report=lambda e: converted.append(e.frame)
                            if isinstance(e, FrameResult) and e.status is FrameStatus.DONE else None)
        assert second.state is JobState.COMPLETED and second.exit_code == 0
        assert sorted(os.listdir(tmp_path / "out")) == [f"shot_010.{f}.jpg" for f in range(1001, 1007)]
        assert converted == [1003, 1004, 1005, 1006]  # the two done frames were not converted again
        for name, mtime in kept.items():
            assert os.stat(tmp_path / "out" / name).st_mtime_ns == mtime
