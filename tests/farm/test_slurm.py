"""SLURM for real: a 200-frame conversion as array tasks on a private one-node SLURM, cancelled and resubmitted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vfxcopy.core.farm.plan import FarmJob, latest_results
from vfxcopy.core.farm.slurm import Slurm, _array
from vfxcopy.core.jobs import JobState


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_array_syntax() -> None:
    assert _array([0, 1, 2, 3]) == "0-3"
    assert _array([4]) == "4"
    assert _array([7, 2, 5]) == "2,5,7"


@pytest.mark.slow
def test_200_frames_as_array_tasks_cancelled_midway_then_resubmitted(
        slurm_cluster, frames_200: Path, tmp_path: Path, farm) -> None:
    dest = tmp_path / "out"
    job = farm.farm_job(farm.convert_spec(frames_200, dest), chunk=20)
    assert len(job.steps[0].chunks) == 10
    slurm = Slurm(max_running=2, env=slurm_cluster.env)
    ids = slurm.submit(job)
    assert set(ids) == {"main", "merge"}
    script = (job.folder / "slurm" / "main.sh").read_text()
    assert "--chunk-index" in script and "SLURM_ARRAY_TASK_ID" in script

    def completed() -> int:
        return sum(r.state is JobState.COMPLETED for r in latest_results(job).values())

    def running_in_slurm() -> bool:
        return any(s == "running" for s in slurm.queue(job).values())

    _wait(lambda: completed() >= 2 and running_in_slurm(), 120, "two chunks done and one running")
    assert max(1, sum(1 for s in slurm.queue(job).values() if s == "running")) <= 2  # the %2 cap
    slurm.cancel(job)
    _wait(lambda: not slurm.queue(job), 60, "the cancelled tasks to leave the queue")
    states = [c.state for c in slurm.status(FarmJob.load(job.folder))]
    assert "completed" in states and set(states) - {"completed"}, states
    assert set(states) <= {"completed", "cancelled", "not run"}, states
    assert not farm.partials(dest)
    done_before = {p.name: p.stat().st_ino for p in dest.glob("*.jpg")}
    assert 0 < len(done_before) < 200

    again = slurm.retry(FarmJob.load(job.folder))
    assert "main" in again
    _wait(lambda: not slurm.queue(job), 240, "the resubmitted tasks and the merge to finish")
    final = slurm.status(FarmJob.load(job.folder))
    assert all(c.state == "completed" for c in final), final
    assert len(list(dest.glob("*.jpg"))) == 200
    for name, ino in done_before.items():
        assert (dest / name).stat().st_ino == ino, name
    merged = json.loads((job.folder / "merged.json").read_text())
    assert merged["state"] == "completed" and merged["manifest"], merged
    assert not farm.partials(dest)
    check = farm.ascmhl_verify(dest)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow
def test_cli_submit_status_cancel_retry_on_slurm(slurm_cluster, frames_200: Path, tmp_path: Path, farm) -> None:
    env = {**os.environ, **slurm_cluster.env}

    def vfxcopy(*args: str) -> dict:  # type: ignore[type-arg]
        proc = subprocess.run([sys.executable, "-m", "vfxcopy", "farm", *args, "--json"], capture_output=True,
                              text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)  # type: ignore[no-any-return]

    dest = tmp_path / "out"
    sub = vfxcopy("submit", str(frames_200), str(dest), "--to", "png", "--chunk", "25", "--backend", "slurm",
                  "--max-running", "1")
    (entry,) = sub["jobs"]
    folder = entry["folder"]
    assert entry["task_count"] == 8 and set(entry["slurm_jobs"]) == {"main", "merge"}

    def chunk_states() -> list[str]:
        return [c["state"] for c in vfxcopy("status", folder)["chunks"]]

    _wait(lambda: chunk_states().count("completed") >= 1 and "running" in chunk_states(), 120,
          "one chunk done, the next running")
    assert chunk_states().count("running") <= 1  # --max-running 1
    vfxcopy("cancel", folder)
    _wait(lambda: not ({"running", "pending"} & set(chunk_states())), 60, "the cancel to land")
    status = vfxcopy("status", folder)
    assert status["state"] == "cancelled" and not status["merged"], status
    assert not farm.partials(dest)
    retry = vfxcopy("retry", folder)
    assert "main" in retry["slurm_jobs"]
    _wait(lambda: vfxcopy("status", folder)["merged"], 180, "the merge after the retry")
    status = vfxcopy("status", folder)
    assert status["state"] == "completed", status
    assert status["frames"]["done"] + status["frames"]["skipped"] == 200
    assert len(list(dest.glob("*.png"))) == 200
    check = farm.ascmhl_verify(dest)
    assert check.returncode == 0, check.stdout + check.stderr
